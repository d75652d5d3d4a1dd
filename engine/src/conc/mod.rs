//! Concurrency (`../shared/CONCURRENCY.md`): scenarios with threads, hardware walks and
//! anchored preemptions, run on the step substrate ([`crate::step`]) and checked for
//! linearizable translations.
//!
//! - [`schedule`]: anchored preemptions as an executor policy;
//! - [`walk_task`]: a hardware walk as a task, one read per step.

pub mod schedule;
pub mod walk_task;
