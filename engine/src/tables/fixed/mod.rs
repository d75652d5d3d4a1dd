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
//! The table is a [`StepTable`](crate::step::StepTable): its operations are `async` over a
//! `Cx`, every access to shared state (table memory, frames, commands,
//! DTEs, the top, the device list) one step. [`Fixed`] itself holds only its domain and its
//! seams; the root lives in the top cell ([`Shared::top`](crate::step::Shared::top), 4 levels,
//! `None` once torn down) and the assigned devices in the domain's device list. Map, unmap,
//! notify and teardown hold the `Domain` lock for their whole work; assign and deassign are
//! called with the `Devices` lock held by their caller and take none. The constructors return
//! the ordinary page table, the table in the [`Sequential`] adapter.
//!
//! Files: `entry` (the entry format), `geometry` (limits and indices), `checks` (argument
//! checks), `install` (the descent of map and unmap, building, splitting, settling),
//! `devices`, `step_table` (the [`StepTable`](crate::step::StepTable) impl), [`Seams`] (the
//! table's named decision points).

mod checks;
mod devices;
mod entry;
mod geometry;
mod install;
mod seams;
mod step_table;
#[cfg(test)]
mod tests;

pub use seams::{Correct, Seams};

use crate::step::Sequential;
use crate::substrate::frames::Placement;
use crate::substrate::iommu::Iommu;
use crate::table::PtError;

/// A page table that always has 4 levels, as a step table: configuration only.
///
/// `S` names the table's decision points ([`Seams`]); the default, [`Correct`], is the table
/// as designed, and the only one [`Fixed::new`] builds.
#[derive(Debug)]
pub struct Fixed<S: Seams = Correct> {
    domain: u16,
    seams: S,
}

impl Fixed {
    /// Creates domain `domain` with an empty 4-level root (one zeroed table frame), its frames
    /// placed low: the page table, [`Fixed`] in the [`Sequential`] adapter.
    ///
    /// Errors: [`PtError::NoMemory`] if the root cannot be allocated.
    pub fn new(domain: u16) -> Result<Sequential<Fixed>, PtError> {
        Fixed::with_seams(domain, Placement::Low, Correct)
    }
}

impl<S: Seams> Fixed<S> {
    /// Like [`Fixed::new`], placing table frames by `placement`, with the decision points of
    /// `seams`.
    pub fn with_seams(
        domain: u16,
        placement: Placement,
        seams: S,
    ) -> Result<Sequential<Fixed<S>>, PtError> {
        Sequential::new(Fixed { domain, seams }, Iommu::with_placement(placement))
    }
}
