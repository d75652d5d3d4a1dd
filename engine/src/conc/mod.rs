//! Concurrency (`../shared/CONCURRENCY.md`): scenarios with threads, hardware walks and
//! anchored preemptions, run on the step substrate ([`crate::step`]) and checked for
//! linearizable translations.
//!
//! - [`walk_task`]: a hardware walk as a task, one read per step.

pub mod walk_task;
