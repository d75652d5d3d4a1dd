//! The abstract translation model: what must be mapped after a sequence of successful map and
//! unmap operations (DESIGN.md section 4), as DFN ranges, independent of any table layout.
//!
//! `map` replaces whatever the range held; `unmap` removes the range and keeps everything
//! outside it, splitting extents that straddle its ends. Extents are kept coalesced, so two
//! models (or a model and an enumeration) that translate identically compare equal.

use crate::enumerate::Leaf;
use crate::perm::Perm;
use std::collections::BTreeMap;

/// A run of DFNs `[dfn, dfn + frames)` mapping to `[mfn, mfn + frames)` with `perm`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Extent {
    pub dfn: u64,
    pub frames: u64,
    pub mfn: u64,
    pub perm: Perm,
}

/// The first DFN where two translation maps differ, with what each side gives there
/// (`None` = not mapped).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModelDifference {
    pub dfn: u64,
    pub expected: Option<(u64, Perm)>,
    pub got: Option<(u64, Perm)>,
}

/// DFN → (MFN, permissions), stored as non-overlapping, maximally coalesced extents.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Model {
    /// Keyed by first DFN.
    extents: BTreeMap<u64, Extent>,
}

impl Model {
    /// An empty model: nothing translates.
    pub fn new() -> Model {
        Model::default()
    }

    /// After this, every DFN in `[dfn, dfn + 2^order)` translates to `mfn + offset` with `perm`.
    /// DFNs are taken modulo nothing: a range that would pass 2^64 is clipped at `u64::MAX`.
    pub fn map(&mut self, dfn: u64, mfn: u64, order: u32, perm: Perm) {
        todo!("issue 2")
    }

    /// After this, nothing in `[dfn, dfn + 2^order)` translates; the rest is unchanged.
    pub fn unmap(&mut self, dfn: u64, order: u32) {
        todo!("issue 2")
    }

    /// Forgets every mapping (domain teardown).
    pub fn clear(&mut self) {
        self.extents.clear();
    }

    /// What `dfn` translates to, in O(log n).
    pub fn translate(&self, dfn: u64) -> Option<(u64, Perm)> {
        todo!("issue 2")
    }

    /// The extents in DFN order.
    pub fn extents(&self) -> impl Iterator<Item = &Extent> + '_ {
        self.extents.values()
    }

    /// True when nothing translates.
    pub fn is_empty(&self) -> bool {
        self.extents.is_empty()
    }

    /// The model that translates exactly like `leaves` (from [`crate::enumerate`]). Leaves
    /// whose IOVA or SPA is not 4 KiB aligned translate frame by frame in the same way, so only
    /// 4 KiB granularity is kept.
    pub fn from_leaves(leaves: &[Leaf]) -> Model {
        todo!("issue 2")
    }

    /// The lowest DFN where `self` (expected) and `other` (got) differ, or `None` when they
    /// translate identically.
    pub fn first_difference(&self, other: &Model) -> Option<ModelDifference> {
        todo!("issue 2")
    }
}
