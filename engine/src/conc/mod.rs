//! Concurrent scenarios (`../shared/CONCURRENCY.md` sections 5.3 and 6): a sequential setup,
//! then up to three CPU threads, each running a short program of operations from a call site,
//! hardware walks that read one entry per step, and anchored preemptions that say where the
//! executor switches tasks.
//!
//! - [`scenario`]: [`ConcScenario`], its tasks and anchors, and its validation;
//! - [`site`]: the call sites and the locks their callers hold;
//! - [`text`]: the readable form (`thread`, `walk`, `preempt` and `shadow` lines after the
//!   setup), its parser with line:col errors and its canonical printer;
//! - [`decode`]: the one decoder from fuzz bytes, which keeps mutations local (one anchor's
//!   bytes move one switch point);
//! - [`encode`]: its inverse, for seeds written as `corpus/scenarios/conc-*.scn`;
//! - [`reduce`]: the reductions a minimizer tries (drop a preemption, walk, op or thread).

pub mod decode;
pub mod encode;
pub mod reduce;
pub mod scenario;
pub mod site;
pub mod text;

pub use scenario::{Anchor, ConcError, ConcScenario, Preempt, TaskRef, ThreadOp, WalkSpec};
pub use site::Site;
