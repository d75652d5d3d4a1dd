//! Concurrent regression files: a minimized concurrent scenario (`thread`, `walk` and
//! `preempt` lines) under the same header as a sequential one ([`super::regression`]), kept in
//! `corpus/regressions/` as `conc-<check>-<implementation>[-<plant>]-<n>.scn` and replayed by
//! `cargo test` with the concurrent runner.

use super::expectation::{Expect, Unmet};
use super::regression::{RegressionError, RegressionFile, RegressionScenario};
use crate::conc::scenario::ConcScenario;
use crate::conc::text;
use crate::lineup::Lineup;

/// A concurrent regression; its finding's report holds the interleaving.
pub type ConcRegression = RegressionFile<ConcScenario>;

impl RegressionScenario for ConcScenario {
    const FILE_PREFIX: &'static str = "conc-";

    fn parse_text(source: &str) -> Result<ConcScenario, RegressionError> {
        Ok(text::parse(source)?)
    }

    fn print_text(&self) -> String {
        text::print(self)
    }

    fn verify(&self, expect: Expect, tables: &Lineup) -> Result<(), Unmet> {
        expect.verify_concurrent(self, tables)
    }
}
