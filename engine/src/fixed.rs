//! The fixed 4-level table (what Xen 4.13 shipped).
//! Being written: see issue 3.

use crate::iommu::Iommu;
use crate::page_table::{PageTable, Perm, PtError};
use crate::plant::Plant;

/// A page table that always has 4 levels.
#[derive(Debug)]
pub struct Fixed {
    iommu: Iommu,
}

impl Fixed {
    /// Creates domain `domain` with an empty 4-level root.
    pub fn new(domain: u16, plant: Plant) -> Result<Fixed, PtError> {
        let _ = (domain, plant);
        Ok(Fixed { iommu: Iommu::new() })
    }
}

impl PageTable for Fixed {
    fn name(&self) -> &str {
        "fixed"
    }
    fn iommu(&self) -> &Iommu {
        &self.iommu
    }
    fn iommu_mut(&mut self) -> &mut Iommu {
        &mut self.iommu
    }
    fn domain_id(&self) -> u16 {
        1
    }
    fn levels(&self) -> u8 {
        0
    }
    fn max_levels(&self) -> u8 {
        0
    }
    fn root(&self) -> Option<u64> {
        None
    }
    fn map(&mut self, _dfn: u64, _mfn: u64, _order: u32, _perm: Perm) -> Result<(), PtError> {
        Err(PtError::TornDown)
    }
    fn unmap(&mut self, _dfn: u64, _order: u32) -> Result<(), PtError> {
        Err(PtError::TornDown)
    }
    fn notify_dfn(&mut self, _dfn: u64) -> Result<(), PtError> {
        Err(PtError::TornDown)
    }
    fn lookup(&self, _dfn: u64) -> Option<(u64, Perm)> {
        None
    }
    fn assign(&mut self, _dev: u16) -> Result<(), PtError> {
        Err(PtError::TornDown)
    }
    fn deassign(&mut self, _dev: u16) -> Result<(), PtError> {
        Err(PtError::TornDown)
    }
    fn teardown(&mut self) -> Result<(), PtError> {
        Err(PtError::TornDown)
    }
}
