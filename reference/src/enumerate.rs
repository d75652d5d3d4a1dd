//! The leaf enumerator: every translation reachable from a DTE, consistent with [`crate::walk`].
//!
//! Contract: for every IOVA, `walk_dte(.., iova, Perm::NONE)` succeeds with kind `Table` iff
//! exactly one returned [`Leaf`] covers it, and then `spa == leaf.spa + (iova - leaf.iova)` and
//! `perm == leaf.perm`. Work is bounded by a leaf budget; garbage memory never panics.

use crate::dte::Dte;
use crate::fault::Fault;
use crate::memory::PhysMem;
use crate::perm::Perm;
use crate::walk::WalkConfig;
use thiserror::Error;

/// One present, valid leaf entry as seen from the DTE: the slot it occupies in IOVA space.
///
/// For an NL = 7 leaf replicated over several slots, each replica is its own `Leaf` covering
/// its own slot (hardware reads only the replica the IOVA indexes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Leaf {
    /// First IOVA of the slot.
    pub iova: u64,
    /// log2 of the slot's size in bytes (the entry size of its level).
    pub slot_log2: u32,
    /// SPA that `iova` translates to.
    pub spa: u64,
    /// log2 of the page size the entry encodes (`slot_log2` for NL = 0, larger for NL = 7).
    pub page_size_log2: u32,
    /// Effective permissions (AND of DTE and every entry on the path).
    pub perm: Perm,
    /// Level of the table holding the entry.
    pub level: u8,
}

/// What a DTE lets a device reach.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reach {
    /// Every access faults before a table is read (e.g. TV = 0, mode 7, DTE permissions none
    /// ... note: DTE perms are still returned per leaf otherwise).
    Blocked(Fault),
    /// Accesses are not translated (V = 0, mode 0, TV = 0 pass-through) with these permissions.
    Untranslated(Perm),
    /// Translated by these leaves, sorted by IOVA.
    Table(Vec<Leaf>),
}

/// Enumeration could not complete.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum EnumerateError {
    /// More leaves than the budget allows (garbage trees can alias a frame at many places).
    #[error("more than {budget} leaves")]
    TooManyLeaves { budget: usize },
}

/// Enumerates every leaf reachable from `dte`, stopping with an error after `leaf_budget` leaves.
pub fn enumerate(
    mem: &impl PhysMem,
    cfg: &WalkConfig,
    dte: &Dte,
    leaf_budget: usize,
) -> Result<Reach, EnumerateError> {
    todo!("issue 2")
}
