//! What a corpus file expects of a run, stated in its header: the comment lines before its
//! first operation or config line. Every file of `corpus/scenarios/` and `corpus/regressions/`
//! states at least one expectation, and each expectation is its own test
//! (`engine/tests/scenarios.rs`, `engine/tests/regressions.rs`):
//!
//! ```text
//! # expect: clean        runs with no finding on the built-in tables, no bug planted
//! # catches: D1 dte      with planted bug D1, the run stops at a `dte` finding in D1's table
//! ```
//!
//! A file replayed with other tables ([`Expect::verify_with`], a [`Lineup`] with your table)
//! expects the same of them. A concurrent scenario file states its expectations the same way;
//! the concurrent runner checks them ([`Expect::verify_concurrent`]).
//!
//! A file may have several `catches` lines (one per bug). The bug is a planted-bug id
//! (`ptdiff plants`), the check a check name as findings print it. Other comment lines of the
//! header (`# origin:`, free text) are not expectations.

use crate::check::finding::{Check, Finding};
use crate::conc::runner::run_concurrent_on;
use crate::conc::{ConcError, ConcScenario};
use crate::lineup::{Lineup, LineupError};
use crate::plant::{Plant, PlantError, PlantedBug};
use crate::scenario::{Scenario, ScenarioError};
use std::fmt;
use thiserror::Error;

/// One expectation of a corpus file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// `# expect: clean`: no finding on the tables (the built-in ones unless replayed with
    /// others), with no bug planted.
    Clean,
    /// `# catches: ID CHECK`: with `bug` planted, the run stops at a `check` finding in the
    /// bug's implementation.
    Catches { bug: PlantedBug, check: Check },
}

/// A header that does not state its expectations properly (`line` counts from 1).
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum HeaderError {
    #[error("line {line}: `# expect:` takes `clean`, not `{value}`")]
    Expect { line: usize, value: String },
    #[error(
        "line {line}: `# catches:` takes a planted-bug id and a check, as in `# catches: D1 dte`"
    )]
    Catches { line: usize },
    #[error("line {line}: {source}")]
    Bug { line: usize, source: PlantError },
    #[error("line {line}: unknown check `{name}`")]
    Check { line: usize, name: String },
    #[error("no `# expect:` or `# catches:` line in the header")]
    Nothing,
}

/// Why a run did not meet an expectation.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum Unmet {
    #[error("the scenario is not well-formed: {0}")]
    Scenario(#[from] ScenarioError),
    #[error("the concurrent scenario is not well-formed: {0}")]
    Concurrent(#[from] ConcError),
    #[error("expected a clean run, got:\n{0}")]
    Finding(Box<Finding>),
    #[error(transparent)]
    Plant(#[from] PlantError),
    #[error(transparent)]
    Lineup(#[from] LineupError),
    #[error("with {bug} planted, no finding: the {check} check did not fire", check = .check.name())]
    Missed { bug: PlantedBug, check: Check },
    #[error("with {bug} planted, expected a `{check}` finding in `{implementation}`, got:\n{finding}", check = .check.name(), implementation = .bug.implementation())]
    Other { bug: PlantedBug, check: Check, finding: Box<Finding> },
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expect::Clean => f.write_str("clean"),
            Expect::Catches { bug, check } => write!(f, "catches {bug} with {}", check.name()),
        }
    }
}

/// The expectations in the header of `source`, in file order.
pub fn parse(source: &str) -> Result<Vec<Expect>, HeaderError> {
    let header =
        source.lines().take_while(|l| l.trim().is_empty() || l.trim_start().starts_with('#'));
    let mut expectations = Vec::new();
    for (i, text) in header.enumerate() {
        let line = i + 1;
        let comment = text.trim_start().trim_start_matches('#').trim();
        if let Some(value) = comment.strip_prefix("expect:").map(str::trim) {
            if value != "clean" {
                return Err(HeaderError::Expect { line, value: value.to_string() });
            }
            expectations.push(Expect::Clean);
        } else if let Some(value) = comment.strip_prefix("catches:") {
            let words: Vec<&str> = value.split_whitespace().collect();
            let [id, name] = words[..] else {
                return Err(HeaderError::Catches { line });
            };
            let bug = id.parse().map_err(|source| HeaderError::Bug { line, source })?;
            let check = Check::from_name(name)
                .ok_or(HeaderError::Check { line, name: name.to_string() })?;
            expectations.push(Expect::Catches { bug, check });
        }
    }
    if expectations.is_empty() {
        return Err(HeaderError::Nothing);
    }
    Ok(expectations)
}

impl Expect {
    /// True when meeting the expectation needs a build with `planted-bugs`.
    pub fn needs_planted_bugs(self) -> bool {
        matches!(self, Expect::Catches { .. })
    }

    /// Runs `scenario` on the built-in tables as the expectation says and tells whether the
    /// result is the one expected.
    pub fn verify(self, scenario: &Scenario) -> Result<(), Unmet> {
        self.verify_with(scenario, &Lineup::built_in())
    }

    /// Like [`Expect::verify`], on fresh tables of `tables` (a planted bug's table must be
    /// one of them).
    pub fn verify_with(self, scenario: &Scenario, tables: &Lineup) -> Result<(), Unmet> {
        match self {
            Expect::Clean => match tables.run(scenario, Plant::NONE)?.finding {
                None => Ok(()),
                Some(finding) => Err(Unmet::Finding(Box::new(finding))),
            },
            Expect::Catches { bug, check } => {
                let plant = Plant::select(bug)?;
                tables.check_plant(plant)?;
                Self::caught(bug, check, tables.run(scenario, plant)?.finding)
            }
        }
    }

    /// Runs the concurrent `scenario` on fresh tables of `tables` with the concurrent runner
    /// as the expectation says, and tells whether the result is the one expected.
    pub fn verify_concurrent(self, scenario: &ConcScenario, tables: &Lineup) -> Result<(), Unmet> {
        match self {
            Expect::Clean => match run_concurrent_on(scenario, tables, Plant::NONE)?.finding {
                None => Ok(()),
                Some(finding) => Err(Unmet::Finding(Box::new(finding))),
            },
            Expect::Catches { bug, check } => {
                let plant = Plant::select(bug)?;
                tables.check_plant(plant)?;
                Self::caught(bug, check, run_concurrent_on(scenario, tables, plant)?.finding)
            }
        }
    }

    /// Whether `finding` is the one a `# catches: bug check` line expects.
    fn caught(bug: PlantedBug, check: Check, finding: Option<Finding>) -> Result<(), Unmet> {
        match finding {
            None => Err(Unmet::Missed { bug, check }),
            Some(f) if f.check == check && f.implementation == bug.implementation() => Ok(()),
            Some(finding) => Err(Unmet::Other { bug, check, finding: Box::new(finding) }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::text;

    #[test]
    fn header_lines_parse_in_order() {
        let source = "# A scenario.\n# expect: clean\n#\n# catches: d1 dte\n# catches: T2-CACHE \
                      stale-dte\nconfig devices=1\n# catches: S5 translation\nassign 0\n";
        let d1 = Expect::Catches { bug: PlantedBug::D1StaleDeviceList, check: Check::Dte };
        let t2 = Expect::Catches { bug: PlantedBug::T2StaleDteCache, check: Check::StaleDte };
        assert_eq!(parse(source), Ok(vec![Expect::Clean, d1, t2]), "only the header counts");
        assert_eq!(d1.to_string(), "catches D1 with dte");
        assert_eq!(Expect::Clean.to_string(), "clean");
        assert!(d1.needs_planted_bugs() && !Expect::Clean.needs_planted_bugs());
    }

    #[test]
    fn bad_headers_are_errors_with_their_line() {
        let cases = [
            ("# expect: dirty\n", HeaderError::Expect { line: 1, value: "dirty".into() }),
            ("#\n# catches: D1\n", HeaderError::Catches { line: 2 }),
            ("# catches: D1 dte x\n", HeaderError::Catches { line: 1 }),
            (
                "# catches: X9 dte\n",
                HeaderError::Bug { line: 1, source: PlantError::Unknown("X9".into()) },
            ),
            ("# catches: D1 dtee\n", HeaderError::Check { line: 1, name: "dtee".into() }),
            ("# just a comment\nassign 0\n# expect: clean\n", HeaderError::Nothing),
        ];
        for (source, error) in cases {
            assert_eq!(parse(source), Err(error), "{source}");
        }
    }

    #[test]
    fn clean_runs_are_met_and_findings_are_not() {
        let clean = text::parse("config devices=1\nassign 0\nmap 0x10 0x10 0 rw\n").unwrap();
        assert_eq!(Expect::Clean.verify(&clean), Ok(()));
        let bad = Scenario { config: crate::Config { max_levels: 9, ..clean.config }, ..clean };
        assert!(matches!(Expect::Clean.verify(&bad), Err(Unmet::Scenario(_))));
    }

    #[test]
    fn catches_are_checked_against_the_planted_run() {
        let source = "config initial_levels=2 max_levels=4 devices=1\nassign 0\n\
                      map 0x200 0x200 9 r\nunmap 0x200 0\n";
        let scenario = text::parse(source).unwrap();
        let bug = PlantedBug::SplitGrantsRw;
        let caught = Expect::Catches { bug, check: Check::Translation }.verify(&scenario);
        let elsewhere = Expect::Catches { bug, check: Check::Dte }.verify(&scenario);
        let absent = PlantedBug::T2DeassignKeepsDte;
        let missed =
            Expect::Catches { bug: absent, check: Check::UnassignedAccess }.verify(&scenario);
        if cfg!(feature = "planted-bugs") {
            assert_eq!(caught, Ok(()));
            assert!(
                matches!(&elsewhere, Err(Unmet::Other { finding, .. }) if finding.check == Check::Translation),
                "{elsewhere:?}"
            );
            assert_eq!(missed, Err(Unmet::Missed { bug: absent, check: Check::UnassignedAccess }));
        } else {
            assert_eq!(caught, Err(Unmet::Plant(PlantError::NotCompiled(bug))));
        }
    }

    #[test]
    fn concurrent_scenarios_are_checked_by_the_concurrent_runner() {
        // SPLIT-RW fires in the setup (sequential, every check); the threads are concurrent.
        let source = "config initial_levels=2 max_levels=4 devices=1\nassign 0\n\
                      map 0x200 0x200 9 r\nunmap 0x200 0\nthread 0 p2m map 0x10 0x10 0 rw\n\
                      thread 1 p2m unmap 0x201 0\npreempt t0.0#2 -> t1\n";
        let scenario = crate::conc::text::parse(source).unwrap();
        let tables = Lineup::built_in();
        assert_eq!(Expect::Clean.verify_concurrent(&scenario, &tables), Ok(()));
        let mut bad = scenario.clone();
        bad.threads.clear();
        assert_eq!(
            Expect::Clean.verify_concurrent(&bad, &tables),
            Err(Unmet::Concurrent(ConcError::Threads(0)))
        );
        let bug = PlantedBug::SplitGrantsRw;
        let caught = Expect::Catches { bug, check: Check::Translation }
            .verify_concurrent(&scenario, &tables);
        if cfg!(feature = "planted-bugs") {
            assert_eq!(caught, Ok(()));
            let other =
                Expect::Catches { bug, check: Check::Dte }.verify_concurrent(&scenario, &tables);
            assert!(
                matches!(&other, Err(Unmet::Other { finding, .. }) if finding.check == Check::Translation),
                "{other:?}"
            );
        } else {
            assert_eq!(caught, Err(Unmet::Plant(PlantError::NotCompiled(bug))));
        }
    }
}
