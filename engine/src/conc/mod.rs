//! Concurrency (`../shared/CONCURRENCY.md`): scenarios with a sequential setup, then up to
//! three CPU threads each running a short program of operations from a call site, hardware
//! walks that read one entry per step, and anchored preemptions that say where the executor
//! switches tasks; run on the step substrate ([`crate::step`]) and checked for linearizable
//! translations.
//!
//! The scenario form:
//! - [`scenario`]: [`ConcScenario`], its tasks and anchors, and its validation;
//! - [`site`]: the call sites and the locks their callers hold;
//! - [`text`]: the readable form (`thread`, `walk`, `preempt` and `shadow` lines after the
//!   setup), its parser with line:col errors and its canonical printer;
//! - [`decode`]: the one decoder from fuzz bytes, which keeps mutations local (one anchor's
//!   bytes move one switch point); [`encode`]: its inverse, for seeds;
//! - [`reduce`]: the reductions a minimizer tries (drop a preemption, walk, op or thread).
//!
//! Running and judging it:
//! - [`schedule`]: anchored preemptions as an executor policy; [`interleaving`]: the
//!   interleaving a run took, and the preemptions it could have taken;
//! - [`walk_task`]: a hardware walk as a task, one read per step;
//! - [`shadow`]: the hardware walker between two stores (shadow walks);
//! - [`history`]: what happened, in order: invocations, returns, observed translations;
//! - [`spec`]: the sequential specification of one implementation's abstract state;
//! - [`linear`]: the linearizability oracle (the just-in-time frontier) over it;
//! - [`protocol`]: maps of fresh DFNs not preceded by a covering notify (`protocol` outcomes);
//! - [`runner`]: setup, the concurrent phase on every table, its judgement, the quiescent checks;
//! - [`explore`]: every schedule with at most N preemptions (iterative context bounding).

pub mod decode;
pub mod encode;
pub mod explore;
pub mod history;
pub mod interleaving;
pub mod linear;
pub mod protocol;
pub mod reduce;
pub mod runner;
pub mod scenario;
pub mod schedule;
pub mod shadow;
pub mod site;
pub mod spec;
pub mod text;
pub mod walk_task;

pub use linear::{EventId, Frontier, FrontierError, LinViolation, PendingOp};
pub use scenario::{Anchor, ConcError, ConcScenario, Preempt, TaskRef, ThreadOp, WalkSpec};
pub use site::Site;
pub use spec::{Observed, Reader, Spec};
