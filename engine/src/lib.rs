//! # ptdiff: differential testing of AMD-Vi I/O page tables
//!
//! Two independent implementations of a domain's AMD IOMMU page table, the dynamic-height one
//! with a `notify_dfn` growth hook ([`dynamic`]) and the fixed 4-level one ([`fixed`]), are
//! driven by the same operation sequences and checked after every operation against each
//! other, against the abstract model and against the hardware-walk oracle of
//! `ptdiff-reference`, which reads the raw table memory.
//!
//! Layout:
//! - substrate: [`memory`], [`frames`] (allocator and ledger), [`device_table`], [`commands`]
//!   (the invalidation log), [`iommu`] (all four, one per implementation);
//! - the implementation contract [`page_table`] and the implementations [`dynamic`], [`fixed`],
//!   with planted bugs selected by [`plant`];
//! - the op language: [`scenario`], [`decode`] (fuzz bytes), [`encode`] (its inverse),
//!   [`text`] (the readable format);
//! - checking: [`expect`] (the specification of results), [`probe`], [`runner`], [`checks`],
//!   [`finding`];
//! - around it: [`fuzz`] (engine-neutral fuzz entry points), [`minimize`], [`regression`],
//!   [`seeds`], [`cli`].

pub mod checks;
pub mod cli;
pub mod commands;
pub mod decode;
pub mod device_table;
pub mod dynamic;
pub mod encode;
pub mod expect;
pub mod finding;
pub mod fixed;
pub mod frames;
pub mod fuzz;
pub mod iommu;
pub mod memory;
pub mod minimize;
pub mod page_table;
pub mod plant;
pub mod probe;
pub mod regression;
pub mod runner;
pub mod scenario;
pub mod seeds;
pub mod text;

pub use finding::{Check, Finding, Phase};
pub use iommu::Iommu;
pub use page_table::{ErrorClass, PageTable, Perm, PtError};
pub use plant::{Plant, PlantedBug};
pub use runner::{run, run_tables, run_traced, Report, RunStats, Runner};
pub use scenario::{Config, Op, Scenario};
