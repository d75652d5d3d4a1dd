//! What an operation changed and the invalidations it issued: the evidence the portable
//! flush rule ([`super::flush`]) judges and a `flush` finding shows.

use crate::substrate::commands::ALL_PAGES_ORDER;
use crate::table::Perm;
use std::fmt;

/// How an operation changed a translation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChangeKind {
    /// It translated before and does not now.
    Removed,
    /// It translates to the same frame with permissions lacking one it had.
    Narrowed,
    /// It translates to another frame.
    Redirected,
}

impl fmt::Display for ChangeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ChangeKind::Removed => "removed",
            ChangeKind::Narrowed => "narrowed",
            ChangeKind::Redirected => "redirected",
        })
    }
}

/// A run of DFNs `first..=last` whose translations one operation changed in the same way,
/// with the translation of `first` before and after.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Change {
    pub first: u64,
    pub last: u64,
    pub kind: ChangeKind,
    /// `(mfn, perm)` of `first` before the operation.
    pub before: (u64, Perm),
    /// What `first` translates to after it.
    pub after: Option<(u64, Perm)>,
}

/// One INVALIDATE_IOMMU_PAGES an operation issued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Issued {
    pub domain: u16,
    pub dfn: u64,
    /// 52 or more: every page of the domain.
    pub order: u32,
    /// A COMPLETION_WAIT followed it within the operation.
    pub completed: bool,
}

impl Issued {
    /// First and last DFN the invalidation covers.
    pub fn range(&self) -> (u64, u64) {
        if self.order >= ALL_PAGES_ORDER {
            (0, u64::MAX)
        } else {
            (self.dfn, self.dfn.saturating_add((1u64 << self.order) - 1))
        }
    }
}

impl fmt::Display for Issued {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = if self.completed { "completed" } else { "never completed" };
        if self.order >= ALL_PAGES_ORDER {
            write!(f, "all pages of domain {} ({state})", self.domain)
        } else {
            let (first, last) = self.range();
            write!(f, "domain {} dfns {first:#x}..={last:#x} ({state})", self.domain)
        }
    }
}
