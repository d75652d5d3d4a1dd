//! The state one domain's page table shares between operations, all of it outside the
//! implementation: the simulated IOMMU (memory, frames, device table, commands) and the cells
//! that real drivers keep in the domain structure — the top of the table (root and height), a
//! few spare cells for implementations that split it, and the domain's device list.
//!
//! Keeping these here, and not in fields of the implementation, is what makes every access to
//! them a step ([`super::Cx`]) that another task can interleave with.

use crate::substrate::device_set::DeviceSet;
use crate::substrate::iommu::Iommu;

/// The top of a table: its root table's SPA and its height.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Top {
    pub root: u64,
    pub levels: u8,
}

/// Number of spare 64-bit cells ([`Shared::cells`]).
pub const CELLS: usize = 4;

/// Everything a domain's table shares between operations.
#[derive(Clone, Debug)]
pub struct Shared {
    pub iommu: Iommu,
    /// The top, as one cell (`None`: torn down, or not built yet).
    pub top: Option<Top>,
    /// Spare cells, for an implementation that keeps part of its top elsewhere (say root and
    /// height in two words) or other per-domain words.
    pub cells: [u64; CELLS],
    /// The devices of the domain (the driver's device list).
    pub devices: DeviceSet,
}

impl Shared {
    /// A fresh domain on `iommu`: no top, no device, zero cells.
    pub fn new(iommu: Iommu) -> Shared {
        Shared { iommu, top: None, cells: [0; CELLS], devices: DeviceSet::EMPTY }
    }
}
