//! From a finding to a kept regression: the minimizer, regression files and the seed writer.

pub mod conc_minimize;
pub mod conc_regression;
pub mod expectation;
pub mod minimize;
pub mod regression;
pub mod replay;
pub mod seeds;
