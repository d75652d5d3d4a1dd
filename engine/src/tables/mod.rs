//! The built-in page-table implementations under test, one folder each, sharing no table code.

pub mod dynamic;
pub mod fixed;
