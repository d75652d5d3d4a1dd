//! The substrate every implementation under test runs on, as real hardware gives it: physical
//! memory ([`memory`]), the table-frame allocator and its ledger ([`frames`]), the device table
//! ([`device_table`]), the IOMMU command log ([`commands`]) and the IOMMU that holds them all
//! ([`iommu`]). This is the only code the implementations share; no table code lives here.

pub mod commands;
pub mod device_set;
pub mod device_table;
pub mod frame_index;
pub mod frames;
pub mod iommu;
pub mod memory;
