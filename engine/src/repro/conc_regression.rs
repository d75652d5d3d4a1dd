//! Concurrent regression files: a minimized concurrent scenario (`thread`, `walk` and
//! `preempt` lines) under the same header as a sequential one ([`super::regression`]), kept in
//! `corpus/regressions/` and replayed by `cargo test` with the concurrent runner.

use super::expectation::{Expect, Unmet};
use super::regression::{save_text, Header, RegressionError};
use crate::check::finding::Check;
use crate::conc::scenario::ConcScenario;
use crate::conc::text;
use crate::lineup::Lineup;
use crate::plant::PlantedBug;
use std::path::{Path, PathBuf};

/// A concurrent regression scenario and what it once found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConcRegression {
    pub scenario: ConcScenario,
    pub check: Check,
    pub implementation: String,
    /// The planted bug it was found with, if any.
    pub plant: Option<PlantedBug>,
    /// The input it was minimized from.
    pub origin: String,
    /// The finding's report (with the interleaving), kept as comments for the reader.
    pub finding: String,
}

impl ConcRegression {
    fn header(&self) -> Header {
        Header {
            check: self.check,
            implementation: self.implementation.clone(),
            plant: self.plant,
            origin: self.origin.clone(),
            finding: self.finding.clone(),
        }
    }

    /// The file contents: headers, the finding as comments, the scenario.
    pub fn render(&self) -> String {
        let mut out = self.header().render();
        out.push_str(&text::print(&self.scenario));
        out
    }

    /// Reads a concurrent regression file; `check`, `implementation` and an expectation are
    /// required.
    pub fn parse(source: &str) -> Result<ConcRegression, RegressionError> {
        let scenario = text::parse(source)?;
        let h = Header::parse(source)?;
        Ok(ConcRegression {
            scenario,
            check: h.check,
            implementation: h.implementation,
            plant: h.plant,
            origin: h.origin,
            finding: String::new(),
        })
    }

    /// What a replay must give: a clean run, and with its planted bug (if any) the recorded
    /// check.
    pub fn expectations(&self) -> Vec<Expect> {
        self.header().expectations()
    }

    /// Replays the regression with the concurrent runner on fresh tables of `tables`: every
    /// expectation, skipping a planted bug the build lacks.
    pub fn verify_with(&self, tables: &Lineup) -> Result<(), Unmet> {
        let compiled = cfg!(feature = "planted-bugs");
        for expect in self.expectations() {
            if compiled || !expect.needs_planted_bugs() {
                expect.verify_concurrent(&self.scenario, tables)?;
            }
        }
        Ok(())
    }
}

/// Saves `regression` in `dir` as `conc-<check>-<implementation>[-<plant>]-<n>.scn` with the
/// first free `n`; never overwrites a file. Returns the path written.
pub fn save(dir: &Path, regression: &ConcRegression) -> std::io::Result<PathBuf> {
    save_text(dir, &format!("conc-{}", regression.header().stem()), &regression.render())
}
