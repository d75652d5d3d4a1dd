//! Concurrency: the linearizability oracle ([`linear`]) over the sequential specification
//! ([`spec`]).

pub mod linear;
pub mod spec;

pub use linear::{EventId, Frontier, FrontierError, LinViolation, PendingOp};
pub use spec::{Observed, Reader, Spec};
