//! How the oracle reads physical memory: one little-endian u64 at a time, like the IOMMU's
//! table walker. A read of memory that does not exist is `None`, which the walker turns into a
//! hardware-error fault; it never panics.

use std::collections::{BTreeMap, HashMap};

/// Qwords in a 4 KiB table frame.
pub const TABLE_QWORDS: usize = 512;

/// Physical memory as the IOMMU sees it.
pub trait PhysMem {
    /// The little-endian u64 stored at system physical address `spa`, or `None` when there is
    /// no memory there or `spa` is not 8-byte aligned.
    fn read_u64(&self, spa: u64) -> Option<u64>;

    /// All 512 qwords of the 4 KiB frame at `spa` (4 KiB aligned) in one piece, when the
    /// memory can lend them; `None` otherwise (the default), and then readers fall back to
    /// [`PhysMem::read_u64`]. When `Some`, entry `i` must equal `read_u64(spa + 8 i)`. A
    /// speed-up for readers of whole tables (the enumerator), never a change of meaning.
    fn table(&self, spa: u64) -> Option<&[u64; TABLE_QWORDS]> {
        let _ = spa;
        None
    }
}

impl<T: PhysMem + ?Sized> PhysMem for &T {
    fn read_u64(&self, spa: u64) -> Option<u64> {
        (**self).read_u64(spa)
    }

    fn table(&self, spa: u64) -> Option<&[u64; TABLE_QWORDS]> {
        (**self).table(spa)
    }
}

/// A map from 8-byte-aligned SPA to qword: handy for tests and the walker fuzz target.
impl PhysMem for HashMap<u64, u64> {
    fn read_u64(&self, spa: u64) -> Option<u64> {
        if spa % 8 != 0 {
            return None;
        }
        self.get(&spa).copied()
    }
}

/// A map from 8-byte-aligned SPA to qword: handy for tests and the walker fuzz target.
impl PhysMem for BTreeMap<u64, u64> {
    fn read_u64(&self, spa: u64) -> Option<u64> {
        if spa % 8 != 0 {
            return None;
        }
        self.get(&spa).copied()
    }
}
