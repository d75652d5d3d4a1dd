//! How the oracle reads physical memory: one little-endian u64 at a time, like the IOMMU's
//! table walker. A read of memory that does not exist is `None`, which the walker turns into a
//! hardware-error fault; it never panics.

use std::collections::{BTreeMap, HashMap};

/// Physical memory as the IOMMU sees it.
pub trait PhysMem {
    /// The little-endian u64 stored at system physical address `spa`, or `None` when there is
    /// no memory there or `spa` is not 8-byte aligned.
    fn read_u64(&self, spa: u64) -> Option<u64>;
}

impl<T: PhysMem + ?Sized> PhysMem for &T {
    fn read_u64(&self, spa: u64) -> Option<u64> {
        (**self).read_u64(spa)
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
