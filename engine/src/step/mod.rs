//! The step substrate (`../shared/CONCURRENCY.md` sections 5.1-5.3): every access an
//! implementation makes to shared state — a table-memory load, store or compare-and-swap, a
//! table allocation or free, an IOMMU command, the top cell and spare cells, the device list, a
//! lock acquire or release — goes through [`Cx`] and is one **step**, at which the executor
//! may run another task.
//!
//! - [`shared`]: the state a domain's table shares between operations, outside the
//!   implementation;
//! - [`access`]: the kinds of step and the lock classes;
//! - [`cx`]: the substrate itself, with the per-operation step budget and lock blocking;
//! - [`task_position`]: where each task of a run is;
//! - [`exec`]: the deterministic executor (tasks, policies, deadlock detection);
//! - [`lockdep`]: locking profiles and the lock rules checked at every step;
//! - [`step_table`]: the step contract for implementations (`async` operations over `Cx`);
//! - [`sequential`]: the adapter that makes a step table an ordinary
//!   [`crate::table::PageTable`] (one task, no interleaving), so the sequential runner and
//!   everything built on it keep working.
//!
//! A plug-in table may stay a plain synchronous [`crate::table::PageTable`]: the runner then
//! treats each of its operations as one step ("no interleavings inside your operations"). It
//! opts into steps by implementing [`StepTable`] and wrapping it in [`Sequential`].

pub mod access;
pub mod cx;
pub mod exec;
pub mod lockdep;
pub mod sequential;
pub mod shared;
pub mod step_table;
pub mod task_position;

pub use access::{Access, LockClass};
pub use cx::{Cx, LockSet, StepObserver, TaskId, DEFAULT_STEP_BUDGET};
pub use lockdep::{LockRule, LockRules, LockViolation, LockingProfile, OpLabel, Resource};
pub use sequential::{Sequential, StepPageTable};
pub use shared::{Shared, Top};
pub use step_table::{OpFuture, PagesFuture, StepTable};

#[cfg(test)]
mod tests;
