//! Concurrency (`../shared/CONCURRENCY.md`): scenarios with threads, hardware walks and
//! anchored preemptions, run on the step substrate ([`crate::step`]) and checked for
//! linearizable translations.
//!
//! - [`history`]: what happened, in order: invocations, returns, observed translations;
//! - [`schedule`]: anchored preemptions as an executor policy;
//! - [`shadow`]: the hardware walker between two stores (shadow walks);
//! - [`walk_task`]: a hardware walk as a task, one read per step;
//! - [`spec`]: the sequential specification of one implementation's abstract state;
//! - [`linear`]: the linearizability oracle (the just-in-time frontier) over it.

pub mod history;
pub mod linear;
pub mod schedule;
pub mod shadow;
pub mod spec;
pub mod walk_task;

pub use linear::{EventId, Frontier, FrontierError, LinViolation, PendingOp};
pub use spec::{Observed, Reader, Spec};
