//! Regression files: minimized scenarios that once produced a finding, kept in
//! `corpus/regressions/` and replayed by `cargo test`, one test per file.
//!
//! A regression is a scenario file with machine-readable header comments:
//!
//! ```text
//! # check: translation          the check that failed
//! # implementation: fixed       where
//! # plant: S5                   only for findings of a planted bug
//! ```
//!
//! Replaying: the scenario must pass on the current implementations; when it records a planted
//! bug (and the build has `planted-bugs`) it must still produce the same finding with that bug,
//! which keeps the check itself from silently regressing.

use crate::check::finding::Check;
use crate::plant::{Plant, PlantedBug};
use crate::run::run;
use crate::scenario::text;
use crate::scenario::Scenario;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// A regression scenario and what it once found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Regression {
    pub scenario: Scenario,
    pub check: Check,
    pub implementation: String,
    pub plant: Option<PlantedBug>,
    /// The input it was minimized from.
    pub origin: String,
    /// The finding's report, kept as comments for the reader.
    pub finding: String,
}

impl Regression {
    /// The file contents: headers, the finding as comments, the scenario.
    pub fn render(&self) -> String {
        let mut out =
            String::from("# ptdiff regression, written by `ptdiff minimize`; edit freely.\n");
        let _ = writeln!(out, "# origin: {}", self.origin);
        let _ = writeln!(out, "# check: {}", self.check.name());
        let _ = writeln!(out, "# implementation: {}", self.implementation);
        if let Some(bug) = self.plant {
            let _ = writeln!(out, "# plant: {bug}");
        }
        out.push_str("#\n");
        for line in self.finding.lines() {
            let _ = writeln!(out, "# {line}");
        }
        out.push_str(&text::print(&self.scenario));
        out
    }

    /// Reads a regression file; the headers `check` and `implementation` are required.
    pub fn parse(source: &str) -> Result<Regression, String> {
        let scenario = text::parse(source).map_err(|e| e.to_string())?;
        let header = |key: &str| {
            source.lines().find_map(|l| {
                l.strip_prefix("# ")?.strip_prefix(key)?.strip_prefix(": ").map(str::trim)
            })
        };
        let check_name = header("check").ok_or("missing `# check:` header")?;
        let check = Check::from_name(check_name).ok_or(format!("unknown check `{check_name}`"))?;
        let implementation =
            header("implementation").ok_or("missing `# implementation:` header")?.to_string();
        let plant =
            header("plant").map(str::parse::<PlantedBug>).transpose().map_err(|e| e.to_string())?;
        Ok(Regression {
            scenario,
            check,
            implementation,
            plant,
            origin: header("origin").unwrap_or("").to_string(),
            finding: String::new(),
        })
    }

    /// Replays the regression: passes without any planted bug; with its planted bug (when
    /// compiled in) it fails the recorded check in the recorded implementation.
    pub fn verify(&self) -> Result<(), String> {
        let clean = run(&self.scenario, Plant::NONE).map_err(|e| e.to_string())?;
        if let Some(finding) = clean.finding {
            return Err(format!("still fails:\n{finding}"));
        }
        if let Some(bug) = self.plant {
            if let Ok(plant) = Plant::select(bug) {
                let planted = run(&self.scenario, plant).map_err(|e| e.to_string())?;
                match planted.finding {
                    Some(f) if f.check == self.check && f.implementation == self.implementation => {
                    }
                    Some(f) => {
                        return Err(format!("with {bug} planted, a different finding:\n{f}"))
                    }
                    None => {
                        return Err(format!(
                            "with {bug} planted, no finding any more: the {} check no longer fires",
                            self.check.name()
                        ))
                    }
                }
            }
        }
        Ok(())
    }
}

/// Saves `regression` in `dir` as `<check>-<implementation>[-<plant>]-<n>.scn` with the first
/// free `n`; never overwrites a file. Returns the path written.
pub fn save(dir: &Path, regression: &Regression) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let plant = regression.plant.map(|b| format!("-{}", b.id().to_lowercase())).unwrap_or_default();
    let stem = format!("{}-{}{plant}", regression.check.name(), regression.implementation);
    for n in 1.. {
        let path = dir.join(format!("{stem}-{n}.scn"));
        match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(mut file) => {
                file.write_all(regression.render().as_bytes())?;
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
        let regression = Regression {
            scenario: Scenario {
                ops: vec![Op::Assign { dev: 0 }, Op::Notify { dfn: 5 }],
                ..Scenario::default()
            },
            check: Check::UnassignedAccess,
            implementation: "fixed".into(),
            plant: Some(PlantedBug::T2DeassignKeepsDte),
            origin: "crash-1".into(),
            finding: "FINDING [x]\n  got: y".into(),
        };
        let text = regression.render();
        assert!(
            text.contains("# check: unassigned-access\n# implementation: fixed\n# plant: T2\n"),
            "{text}"
        );
        assert!(text.contains("#   got: y\n"), "{text}");
        let back = Regression::parse(&text).unwrap();
        assert_eq!(back, Regression { finding: String::new(), ..regression });
    }

    #[test]
    fn save_never_overwrites() {
        let dir =
            std::env::temp_dir().join(format!("ptdiff-regression-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let regression = Regression {
            scenario: Scenario::default(),
            check: Check::Dte,
            implementation: "dynamic".into(),
            plant: None,
            origin: String::new(),
            finding: String::new(),
        };
        let a = save(&dir, &regression).unwrap();
        let b = save(&dir, &regression).unwrap();
        assert_eq!(a.file_name().unwrap(), "dte-dynamic-1.scn");
        assert_eq!(b.file_name().unwrap(), "dte-dynamic-2.scn");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn missing_headers_are_errors() {
        assert_eq!(Regression::parse("assign 0\n"), Err("missing `# check:` header".to_string()));
        assert_eq!(Regression::parse("# check: bogus\n"), Err("unknown check `bogus`".to_string()));
    }
}
