//! The dynamic-height table (Xen 2011-2019 `update_paging_mode` with the 2019 `notify_dfn`
//! hook). Being written: see issue 3.

use crate::iommu::Iommu;
use crate::page_table::{PageTable, Perm, PtError};
use crate::plant::Plant;

/// Heights and domain of a [`Dynamic`] table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DynamicConfig {
    /// Levels at creation, 1..=6 (Xen HVM used 2, Linux uses 3).
    pub initial_levels: u8,
    /// Highest height growth may reach, 4..=6 (4 + HATS).
    pub max_levels: u8,
    /// Domain ID written into DTEs.
    pub domain: u16,
}

/// A page table that starts low and grows on notification.
#[derive(Debug)]
pub struct Dynamic {
    iommu: Iommu,
}

impl Dynamic {
    /// Creates the domain with an empty root of `config.initial_levels` levels.
    pub fn new(config: DynamicConfig, plant: Plant) -> Result<Dynamic, PtError> {
        let _ = (config, plant);
        Ok(Dynamic { iommu: Iommu::new() })
    }
}

impl PageTable for Dynamic {
    fn name(&self) -> &str {
        "dynamic"
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
