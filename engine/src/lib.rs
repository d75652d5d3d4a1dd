//! # ptdiff: differential testing of AMD-Vi I/O page tables
//!
//! Two independent implementations of a domain's AMD IOMMU page table, the dynamic-height one
//! with a `notify_dfn` growth hook ([`tables::dynamic`]) and the fixed 4-level one
//! ([`tables::fixed`]), are driven by the same operation sequences and checked after every
//! operation against each other, against the abstract model and against the hardware-walk
//! oracle of `ptdiff-reference`, which reads the raw table memory.
//!
//! Layout:
//! - [`substrate`]: memory, frame allocator and ledger, device table, command log, the IOMMU;
//! - [`mod@step`]: the step substrate (every shared access a step; executor; the sequential
//!   adapter);
//! - [`table`]: the implementation contract; [`tables`]: the built-in implementations;
//! - [`plant`]: planted bugs, selected at run time;
//! - [`scenario`]: the op language (scenarios, fuzz-byte decoder, encoder, text format);
//! - [`conc`]: concurrent scenarios (threads, walks, anchored preemptions), their schedules and
//!   the linearizability oracle;
//! - [`check`]: the specification of results, probes, the checks and their findings;
//! - [`mod@run`]: the differential runner; [`lineup`]: the tables a run compares (the built-in
//!   ones, or yours next to one of them);
//! - [`repro`]: minimizer, regression files, seed writer;
//! - [`fuzz`] (engine-neutral fuzz entry points) and [`cli`].

pub mod check;
pub mod cli;
pub mod conc;
pub mod fuzz;
pub mod lineup;
pub mod plant;
pub mod repro;
pub mod run;
pub mod scenario;
pub mod step;
pub mod substrate;
pub mod table;
pub mod tables;
pub mod walker;

pub use check::finding::{Check, Finding, Phase};
pub use lineup::Lineup;
pub use plant::{Plant, PlantedBug};
pub use run::{run, run_tables, run_traced, Report, RunStats, Runner};
pub use scenario::{Config, Op, Scenario};
pub use substrate::iommu::Iommu;
pub use table::{ErrorClass, PageTable, Perm, PtError};
