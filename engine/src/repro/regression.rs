//! Regression files: minimized scenarios that once produced a finding, kept in
//! `corpus/regressions/` and replayed by `cargo test`, one test per expectation.
//!
//! A regression is a scenario file whose header records the finding and states what a replay
//! must give, in the syntax of [`super::expectation`]:
//!
//! ```text
//! # check: translation          the check that failed   } what was found
//! # implementation: dynamic     where                   }
//! # expect: clean               the current tables pass it
//! # catches: SPLIT-RW translation   only for a planted bug: with it, the check still fires
//! ```
//!
//! The `catches` line keeps the check itself from silently regressing. `cargo test` replays
//! `corpus/regressions/` on the built-in tables; a regression of your own table replays on
//! your tables ([`Regression::verify_with`], [`super::replay::replay_dir`]).

use super::expectation::{self, Expect, HeaderError, Unmet};
use crate::check::finding::Check;
use crate::lineup::Lineup;
use crate::plant::PlantedBug;
use crate::scenario::text::{self, ParseError};
use crate::scenario::Scenario;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// A regression file: a minimized scenario `S` (sequential, or concurrent:
/// [`super::conc_regression::ConcRegression`]) under the header that records what it once found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegressionFile<S> {
    pub scenario: S,
    pub header: Header,
}

/// A sequential regression.
pub type Regression = RegressionFile<Scenario>;

/// A kind of scenario a regression file holds: its text, its file names and how it replays.
pub trait RegressionScenario: Sized {
    /// What the file name puts before the header's stem (`conc-` for concurrent files).
    const FILE_PREFIX: &'static str;
    /// Reads the scenario of a regression file (its `#` lines are comments to it).
    fn parse_text(source: &str) -> Result<Self, RegressionError>;
    /// The scenario as text.
    fn print_text(&self) -> String;
    /// Replays the scenario on fresh tables of `tables` against one expectation.
    fn verify(&self, expect: Expect, tables: &Lineup) -> Result<(), Unmet>;
}

impl RegressionScenario for Scenario {
    const FILE_PREFIX: &'static str = "";

    fn parse_text(source: &str) -> Result<Scenario, RegressionError> {
        Ok(text::parse(source)?)
    }

    fn print_text(&self) -> String {
        text::print(self)
    }

    fn verify(&self, expect: Expect, tables: &Lineup) -> Result<(), Unmet> {
        expect.verify_with(self, tables)
    }
}

/// A regression file that does not parse.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum RegressionError {
    #[error(transparent)]
    Scenario(#[from] ParseError),
    #[error(transparent)]
    Header(#[from] HeaderError),
    #[error("missing `# {0}:` header")]
    Missing(&'static str),
    #[error("unknown check `{0}`")]
    UnknownCheck(String),
}

impl<S: RegressionScenario> RegressionFile<S> {
    /// The file contents: headers, the finding as comments, the scenario.
    pub fn render(&self) -> String {
        let mut out = self.header.render();
        out.push_str(&self.scenario.print_text());
        out
    }

    /// Reads a regression file; `check`, `implementation` and an expectation are required.
    /// `plant` is the bug of the first `# catches:` line; the finding is not read back.
    pub fn parse(source: &str) -> Result<RegressionFile<S>, RegressionError> {
        let scenario = S::parse_text(source)?;
        Ok(RegressionFile { scenario, header: Header::parse(source)? })
    }

    /// What a replay must give: a clean run, and with its planted bug (if any) the recorded
    /// check.
    pub fn expectations(&self) -> Vec<Expect> {
        self.header.expectations()
    }

    /// Replays the regression on the built-in tables: every expectation, skipping a planted
    /// bug the build lacks.
    pub fn verify(&self) -> Result<(), Unmet> {
        self.verify_with(&Lineup::built_in())
    }

    /// Replays the regression on fresh tables of `tables` (yours, for a regression your table
    /// was minimized on): every expectation, skipping a planted bug the build lacks.
    pub fn verify_with(&self, tables: &Lineup) -> Result<(), Unmet> {
        let compiled = cfg!(feature = "planted-bugs");
        for expect in self.expectations() {
            if compiled || !expect.needs_planted_bugs() {
                self.scenario.verify(expect, tables)?;
            }
        }
        Ok(())
    }
}

/// What every regression file's header records (sequential and concurrent alike).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// The check that fired.
    pub check: Check,
    /// The implementation it fired in.
    pub implementation: String,
    /// The planted bug it was found with, if any.
    pub plant: Option<PlantedBug>,
    /// The input it was minimized from.
    pub origin: String,
    /// The finding's report, kept as comments for the reader (not read back).
    pub finding: String,
}

impl Header {
    /// The header lines and the finding as comments.
    pub fn render(&self) -> String {
        let mut out =
            String::from("# ptdiff regression, written by `ptdiff minimize`; edit freely.\n");
        let _ = writeln!(out, "# origin: {}", self.origin);
        let _ = writeln!(out, "# check: {}", self.check.name());
        let _ = writeln!(out, "# implementation: {}", self.implementation);
        for expect in self.expectations() {
            match expect {
                Expect::Clean => out.push_str("# expect: clean\n"),
                Expect::Catches { bug, check } => {
                    let _ = writeln!(out, "# catches: {bug} {}", check.name());
                }
            }
        }
        out.push_str("#\n");
        for line in self.finding.lines() {
            let _ = writeln!(out, "# {line}");
        }
        out
    }

    /// Reads the header of `source` (the finding is not read back).
    pub fn parse(source: &str) -> Result<Header, RegressionError> {
        let header = |key: &str| {
            source.lines().find_map(|l| {
                l.strip_prefix("# ")?.strip_prefix(key)?.strip_prefix(": ").map(str::trim)
            })
        };
        let check_name = header("check").ok_or(RegressionError::Missing("check"))?;
        let check = Check::from_name(check_name)
            .ok_or_else(|| RegressionError::UnknownCheck(check_name.to_string()))?;
        let implementation =
            header("implementation").ok_or(RegressionError::Missing("implementation"))?;
        let plant = expectation::parse(source)?.into_iter().find_map(|e| match e {
            Expect::Catches { bug, .. } => Some(bug),
            Expect::Clean => None,
        });
        Ok(Header {
            check,
            implementation: implementation.to_string(),
            plant,
            origin: header("origin").unwrap_or("").to_string(),
            finding: String::new(),
        })
    }

    /// A clean run, and with the planted bug (if any) the recorded check.
    pub fn expectations(&self) -> Vec<Expect> {
        let catches = self.plant.map(|bug| Expect::Catches { bug, check: self.check });
        std::iter::once(Expect::Clean).chain(catches).collect()
    }

    /// The file name stem: `<check>-<implementation>[-<plant>]`.
    pub fn stem(&self) -> String {
        let plant = self.plant.map(|b| format!("-{}", b.id().to_lowercase())).unwrap_or_default();
        format!("{}-{}{plant}", self.check.name(), self.implementation)
    }
}

/// Saves `regression` in `dir` as `[conc-]<check>-<implementation>[-<plant>]-<n>.scn` with the
/// first free `n`; never overwrites a file. Returns the path written.
pub fn save<S: RegressionScenario>(
    dir: &Path,
    regression: &RegressionFile<S>,
) -> std::io::Result<PathBuf> {
    let stem = format!("{}{}", S::FILE_PREFIX, regression.header.stem());
    save_text(dir, &stem, &regression.render())
}

/// Saves `text` in `dir` as `<stem>-<n>.scn` with the first free `n`.
fn save_text(dir: &Path, stem: &str, text: &str) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    for n in 1.. {
        let path = dir.join(format!("{stem}-{n}.scn"));
        match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(mut file) => {
                file.write_all(text.as_bytes())?;
                return Ok(path);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other("no free file name"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Op;

    #[test]
    fn render_then_parse_keeps_headers_and_scenario() {
        let header = Header {
            check: Check::UnassignedAccess,
            implementation: "fixed".into(),
            plant: Some(PlantedBug::T2DeassignKeepsDte),
            origin: "crash-1".into(),
            finding: "FINDING [x]\n  got: y".into(),
        };
        let scenario = Scenario {
            ops: vec![Op::Assign { dev: 0 }, Op::Notify { dfn: 5 }],
            ..Scenario::default()
        };
        let regression = Regression { scenario, header };
        let text = regression.render();
        assert!(
            text.contains(
                "# check: unassigned-access\n# implementation: fixed\n# expect: clean\n\
                 # catches: T2 unassigned-access\n"
            ),
            "{text}"
        );
        assert!(text.contains("#   got: y\n"), "{text}");
        let back = Regression::parse(&text).unwrap();
        let header = Header { finding: String::new(), ..regression.header };
        assert_eq!(back, Regression { header, ..regression });
    }

    #[test]
    fn save_never_overwrites() {
        let dir =
            std::env::temp_dir().join(format!("ptdiff-regression-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let header = Header {
            check: Check::Dte,
            implementation: "dynamic".into(),
            plant: None,
            origin: String::new(),
            finding: String::new(),
        };
        let regression = Regression { scenario: Scenario::default(), header };
        let a = save(&dir, &regression).unwrap();
        let b = save(&dir, &regression).unwrap();
        assert_eq!(a.file_name().unwrap(), "dte-dynamic-1.scn");
        assert_eq!(b.file_name().unwrap(), "dte-dynamic-2.scn");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn missing_headers_are_errors() {
        let parse = |s: &str| Regression::parse(s).map(|_| ());
        assert_eq!(parse("assign 0\n"), Err(RegressionError::Missing("check")));
        assert_eq!(parse("# check: bogus\n"), Err(RegressionError::UnknownCheck("bogus".into())));
        assert_eq!(
            parse("# check: dte\n# implementation: fixed\n"),
            Err(RegressionError::Header(HeaderError::Nothing))
        );
        let clean = "# check: dte\n# implementation: fixed\n# expect: clean\n";
        assert_eq!(Regression::parse(clean).unwrap().header.plant, None);
    }
}
