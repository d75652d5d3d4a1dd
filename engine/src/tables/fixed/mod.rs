//! The fixed 4-level table: what Xen 4.13 shipped instead of dynamic growth (amd-vi.md 4.6),
//! with current Xen's map/unmap behaviour (amd-vi.md 4.7): superpages of 2 MiB and 1 GiB,
//! superpages split when partly replaced or unmapped, tables freed when they become empty.
//!
//! Everything the hardware sees is real AMD-Vi v1 entries in the [`Iommu`]'s memory. The root
//! is a level-4 table spanning DFNs `[0, 2^36)` (48-bit IOVAs); an entry in a level-`L` table
//! covers `2^(9(L-1))` DFNs and is indexed by `(dfn >> 9(L-1)) & 511`. A map of order `o`
//! writes its leaf into the level-`o/9 + 1` table; there is no level skipping and no NL = 7.
//!
//! The operations are recursive descents from the root, one level per call. Every operation
//! that needs new tables builds them *off-line* (filled, not yet reachable) and publishes
//! them with a single PDE write, so an allocation failure leaves the hardware-visible tree
//! untouched and only has to free what it built. Tables that stop being reachable are freed
//! only after the IOTLB invalidation that covers them has completed.
//!
//! Files: `entry` (the entry format), `geometry` (limits and indices), `checks` (argument
//! checks), `install` (the descent of map and unmap, building, splitting, settling),
//! `devices`, `page_table` (the [`PageTable`](crate::table::PageTable) impl), [`Seams`] (the
//! table's named decision points).

mod checks;
mod devices;
mod entry;
mod geometry;
mod install;
mod page_table;
mod seams;
#[cfg(test)]
mod tests;

pub use seams::{Correct, Seams};

use crate::substrate::frames::Placement;
use crate::substrate::iommu::Iommu;
use crate::table::PtError;
use entry::Entry;
use std::collections::BTreeSet;

/// A page table that always has 4 levels.
///
/// `S` names the table's decision points ([`Seams`]); the default, [`Correct`], is the table
/// as designed, and the only one [`Fixed::new`] builds.
#[derive(Debug)]
pub struct Fixed<S: Seams = Correct> {
    iommu: Iommu,
    domain: u16,
    seams: S,
    /// SPA of the level-4 root; `None` once torn down.
    root: Option<u64>,
    /// Devices whose DTE translates through this table, in device-ID order.
    assigned: BTreeSet<u16>,
}

impl Fixed {
    /// Creates domain `domain` with an empty 4-level root (one zeroed table frame), its frames
    /// placed low.
    ///
    /// Errors: [`PtError::NoMemory`] if the root cannot be allocated.
    pub fn new(domain: u16) -> Result<Fixed, PtError> {
        Fixed::with_seams(domain, Placement::Low, Correct)
    }
}

impl<S: Seams> Fixed<S> {
    /// Like [`Fixed::new`], placing table frames by `placement`, with the decision points of
    /// `seams`.
    pub fn with_seams(domain: u16, placement: Placement, seams: S) -> Result<Fixed<S>, PtError> {
        let mut iommu = Iommu::with_placement(placement);
        let root = iommu.alloc_table(domain)?;
        Ok(Fixed { iommu, domain, seams, root: Some(root), assigned: BTreeSet::new() })
    }

    /// The root, or [`PtError::TornDown`].
    fn live_root(&self) -> Result<u64, PtError> {
        self.root.ok_or(PtError::TornDown)
    }

    /// Reads and decodes the entry at `spa` of a level-`level` table.
    fn read(&self, spa: u64, level: u8) -> Result<Entry, PtError> {
        Ok(Entry::decode(self.iommu.read_entry(spa)?, level))
    }

    fn write(&mut self, spa: u64, entry: Entry) -> Result<(), PtError> {
        Ok(self.iommu.write_entry(spa, entry.encode())?)
    }
}
