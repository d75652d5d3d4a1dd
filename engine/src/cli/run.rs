//! `ptdiff run`: text scenario files, and directories of them, each run and reported;
//! concurrent scenario files (with `thread` lines) by the concurrent runner.

use crate::cli::args::{Format, RunArgs};
use crate::cli::concurrent::{report_concurrent, Shown};
use crate::cli::content::{self, Reason};
use crate::cli::input::{self, Kind};
use crate::cli::load::{parse_concurrent, parse_text, print_parse_error};
use crate::cli::report::report;
use crate::cli::{EXIT_BAD_INPUT, EXIT_FINDING, EXIT_PASS};
use crate::conc;
use crate::lineup::Lineup;
use crate::plant::Plant;
use std::io::Write;
use std::path::{Path, PathBuf};

/// How many files ended which way, and whether some path was not usable at all.
#[derive(Default)]
struct Tally {
    passed: usize,
    failed: usize,
    bad: usize,
    bad_path: bool,
}

impl Tally {
    fn add(&mut self, status: u8) {
        match status {
            EXIT_PASS => self.passed += 1,
            EXIT_FINDING => self.failed += 1,
            _ => self.bad += 1,
        }
    }

    /// Bad input wins over a finding, a finding over a pass.
    fn status(&self) -> u8 {
        if self.bad > 0 || self.bad_path {
            EXIT_BAD_INPUT
        } else if self.failed > 0 {
            EXIT_FINDING
        } else {
            EXIT_PASS
        }
    }
}

/// Runs every file of `args.paths`, expanding directories; prints a tally when more than one
/// file was named or a directory was given.
pub fn run_command(
    args: &RunArgs,
    tables: &Lineup,
    plant: Plant,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> u8 {
    let mut tally = Tally::default();
    let mut files = Vec::new();
    let mut saw_directory = false;
    for path in &args.paths {
        match input::kind(path) {
            Ok(Kind::Directory) => {
                saw_directory = true;
                match scenario_files(path, out) {
                    Ok(found) if found.is_empty() => {
                        let _ = writeln!(err, "{}: no .scn file in this directory", path.display());
                        tally.bad_path = true;
                    }
                    Ok(found) => files.extend(found),
                    Err(e) => {
                        let _ = writeln!(err, "{}: cannot list the directory: {e}", path.display());
                        tally.bad_path = true;
                    }
                }
            }
            Ok(_) => files.push(path.clone()),
            Err(e) => {
                let _ = writeln!(err, "{}: {e}", path.display());
                tally.bad += 1;
            }
        }
    }
    for file in &files {
        let shown = Shown { options: args.lock_rules.options(), trace: args.trace };
        tally.add(run_file(file, tables, plant, shown, out, err));
    }
    if saw_directory || args.paths.len() > 1 {
        let _ = writeln!(
            out,
            "ran {}: {} passed, {} failed, {} bad input",
            plural(tally.passed + tally.failed + tally.bad, "scenario file"),
            tally.passed,
            tally.failed,
            tally.bad
        );
    }
    tally.status()
}

/// The `.scn` entries of `dir` (extension in any case), sorted by name; says which entries
/// were skipped.
fn scenario_files(dir: &Path, out: &mut dyn Write) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let is_scenario = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("scn"));
        if is_scenario {
            files.push(path);
        } else if let Some(name) = path.file_name() {
            skipped.push(name.to_string_lossy().into_owned());
        }
    }
    files.sort();
    skipped.sort();
    if !skipped.is_empty() {
        let _ = writeln!(
            out,
            "{}: skipping {} without a .scn extension: {}",
            dir.display(),
            plural(skipped.len(), "entry"),
            skipped.join(", ")
        );
    }
    Ok(files)
}

/// Runs one text scenario file; a raw fuzz input is refused with the command that runs it.
fn run_file(
    path: &Path,
    tables: &Lineup,
    plant: Plant,
    shown: Shown,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> u8 {
    let bytes = match input::read(path) {
        Ok(bytes) => bytes,
        Err(e) => {
            let _ = writeln!(err, "{}: {e}", path.display());
            return EXIT_BAD_INPUT;
        }
    };
    if let (Format::Bytes, Reason::NotText(at, flaw)) = content::recognise(&bytes) {
        let _ = writeln!(
            err,
            "{path}:{}:{}: not a text scenario ({flaw}); this looks like a raw fuzz input (a \
             crash file): run it with `ptdiff repro {path}`",
            at.line,
            at.column,
            path = path.display()
        );
        return EXIT_BAD_INPUT;
    }
    if conc::text::is_concurrent(&bytes) {
        return match parse_concurrent(&bytes) {
            Ok(s) => {
                report_concurrent(&path.display().to_string(), &s, tables, plant, shown, out, err)
            }
            Err(e) => {
                print_parse_error(err, path, &e);
                EXIT_BAD_INPUT
            }
        };
    }
    match parse_text(&bytes) {
        Ok(scenario) => {
            report(&path.display().to_string(), &scenario, tables, plant, shown.trace, out, err)
        }
        Err(e) => {
            print_parse_error(err, path, &e);
            EXIT_BAD_INPUT
        }
    }
}

fn plural(n: usize, noun: &str) -> String {
    match (n, noun.strip_suffix('y')) {
        (1, _) => format!("1 {noun}"),
        (_, Some(stem)) => format!("{n} {stem}ies"),
        (_, None) => format!("{n} {noun}s"),
    }
}
