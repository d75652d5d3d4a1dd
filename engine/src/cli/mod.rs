//! The `ptdiff` command line, as a library function so tests can drive it.
//!
//! ```text
//! ptdiff run [--plant BUG] [--trace] FILE...   run scenario files (text format)
//! ptdiff repro [--plant BUG] [--trace] FILE     decode a raw fuzz input, print it as a scenario, run it
//! ptdiff minimize [--plant BUG] [--out DIR] FILE
//!                                               shrink a failing input (raw or .scn) and save it as a
//!                                               regression scenario in DIR (corpus/regressions)
//! ptdiff plants                                 list the planted bugs
//! ptdiff seeds [--check] [CORPUS]               compile CORPUS/scenarios/*.scn into fuzz seeds
//! ```
//!
//! Exit status: [`EXIT_PASS`], [`EXIT_FINDING`] or [`EXIT_BAD_INPUT`].

use crate::plant::{Plant, PlantedBug};
use crate::repro::minimize::minimize;
use crate::repro::regression::{self, Regression};
use crate::repro::seeds;
use crate::run::{run_traced, Report};
use crate::scenario::decode::decode;
use crate::scenario::text;
use crate::scenario::Scenario;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Every run passed.
pub const EXIT_PASS: u8 = 0;
/// Some run reported a finding (or, for `seeds --check`, the seeds are out of date).
pub const EXIT_FINDING: u8 = 1;
/// Bad arguments or bad input.
pub const EXIT_BAD_INPUT: u8 = 2;

const USAGE: &str = "\
usage:
  ptdiff run [--plant BUG] [--trace] FILE...    run scenario files (see corpus/scenarios/)
  ptdiff repro [--plant BUG] [--trace] FILE     decode a raw fuzz input (a crash file), print it as
                                                a scenario, run it and report
  ptdiff minimize [--plant BUG] [--out DIR] FILE
                                                shrink a failing input (raw bytes, or a .scn file)
                                                to the smallest scenario with the same finding and
                                                save it in DIR (default corpus/regressions), never
                                                overwriting a file
  ptdiff plants                                 list the planted bugs (id, table, check, summary)
  ptdiff seeds [--check] [CORPUS]               compile CORPUS/scenarios/*.scn (default corpus)
                                                into CORPUS/differential/ and CORPUS/scenario_text/
                                                seeds, plus CORPUS/walker/ seeds; --check only
                                                reports seeds that are missing or out of date

BUG is a planted bug id (D1, D4, R2, S5, T2, SPLIT-RW, UNMAP-GROW); it needs a build with
`--features planted-bugs`.
exit status: 0 pass, 1 finding (or stale seeds), 2 bad input";

/// Options shared by the subcommands.
#[derive(Default)]
struct Options {
    plant: Plant,
    trace: bool,
    check: bool,
    out: Option<PathBuf>,
    files: Vec<String>,
}

fn parse_options(args: &[String]) -> Result<Options, String> {
    let mut o = Options::default();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--plant" => {
                let id = it.next().ok_or("--plant needs a bug id")?;
                let bug: PlantedBug = id.parse().map_err(|e| format!("{e}"))?;
                o.plant = Plant::select(bug).map_err(|e| format!("{e}"))?;
            }
            "--out" => o.out = Some(PathBuf::from(it.next().ok_or("--out needs a directory")?)),
            "--trace" => o.trace = true,
            "--check" => o.check = true,
            flag if flag.starts_with("--") => return Err(format!("unknown option `{flag}`")),
            file => o.files.push(file.to_string()),
        }
    }
    Ok(o)
}

/// Runs the command line `args` (without the program name); returns the exit status.
pub fn main(args: &[String], out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    let Some((command, rest)) = args.split_first() else {
        let _ = writeln!(err, "{USAGE}");
        return EXIT_BAD_INPUT;
    };
    let options = match parse_options(rest) {
        Ok(o) => o,
        Err(message) => {
            let _ = writeln!(err, "ptdiff: {message}\n{USAGE}");
            return EXIT_BAD_INPUT;
        }
    };
    let files = &options.files;
    match command.as_str() {
        "run" if !files.is_empty() => run_files(&options, out, err),
        "repro" if files.len() == 1 => repro(&files[0], &options, out, err),
        "minimize" if files.len() == 1 => minimize_file(&files[0], &options, out, err),
        "seeds" if files.len() <= 1 => {
            let corpus = files.first().map_or("corpus", String::as_str);
            seeds_command(Path::new(corpus), options.check, out, err)
        }
        "plants" if files.is_empty() => {
            for bug in PlantedBug::ALL {
                let (id, implementation, check) = (bug.id(), bug.implementation(), bug.check());
                let _ =
                    writeln!(out, "{id}\t{implementation}\t{}\t{}", check.name(), bug.summary());
            }
            EXIT_PASS
        }
        "help" | "--help" | "-h" => {
            let _ = writeln!(out, "{USAGE}");
            EXIT_PASS
        }
        _ => {
            let _ = writeln!(err, "ptdiff: bad command line\n{USAGE}");
            EXIT_BAD_INPUT
        }
    }
}

/// Reads a scenario: text when the file name ends in `.scn`, else raw fuzz bytes to decode.
fn load(path: &str, err: &mut dyn Write) -> Option<(Scenario, Option<usize>)> {
    if path.ends_with(".scn") {
        let source = std::fs::read_to_string(path)
            .map_err(|e| writeln!(err, "{path}: cannot read: {e}"))
            .ok()?;
        match text::parse(&source) {
            Ok(s) => Some((s, None)),
            Err(e) => {
                let _ = writeln!(err, "{path}:{}:{}: {}", e.line, e.column, e.message);
                None
            }
        }
    } else {
        let bytes =
            std::fs::read(path).map_err(|e| writeln!(err, "{path}: cannot read: {e}")).ok()?;
        Some((decode(&bytes), Some(bytes.len())))
    }
}

fn run_files(options: &Options, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    let mut status = EXIT_PASS;
    for path in &options.files {
        let scenario = match std::fs::read_to_string(path) {
            Ok(source) => match text::parse(&source) {
                Ok(s) => s,
                Err(e) => {
                    let _ = writeln!(err, "{path}:{}:{}: {}", e.line, e.column, e.message);
                    status = EXIT_BAD_INPUT;
                    continue;
                }
            },
            Err(e) => {
                let _ = writeln!(err, "{path}: cannot read: {e}");
                status = EXIT_BAD_INPUT;
                continue;
            }
        };
        let result = report(path, &scenario, options, out);
        if result == EXIT_FINDING && status == EXIT_PASS {
            status = EXIT_FINDING;
        }
    }
    status
}

fn repro(path: &str, options: &Options, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    let Some((scenario, bytes)) = load(path, err) else { return EXIT_BAD_INPUT };
    if let Some(len) = bytes {
        let _ = writeln!(out, "# scenario decoded from {path} ({len} bytes); save it as a .scn file to edit it\n{scenario}");
    }
    report(path, &scenario, options, out)
}

/// Runs one scenario and prints `PASS` or the finding; returns the exit status.
fn report(name: &str, scenario: &Scenario, options: &Options, out: &mut dyn Write) -> u8 {
    let result = run_traced(scenario, options.plant);
    if let Ok(report) = &result {
        if options.trace {
            for line in &report.trace {
                let _ = writeln!(out, "  {line}");
            }
        }
    }
    match result {
        Ok(Report { finding: None, stats, .. }) => {
            let _ = writeln!(
                out,
                "PASS {name}: {} ops, {} rejected as specified, {} missed notification(s), height up to {}",
                stats.ops, stats.rejected, stats.missed_notifications, stats.highest_levels
            );
            EXIT_PASS
        }
        Ok(Report { finding: Some(finding), .. }) => {
            let _ = writeln!(out, "FAIL {name}\n{finding}");
            EXIT_FINDING
        }
        Err(e) => {
            let _ = writeln!(out, "{name}: invalid scenario: {e}");
            EXIT_BAD_INPUT
        }
    }
}

fn minimize_file(path: &str, options: &Options, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    let Some((scenario, _)) = load(path, err) else { return EXIT_BAD_INPUT };
    let Some(min) = minimize(&scenario, options.plant) else {
        let _ = writeln!(err, "{path}: the input produces no finding; nothing to minimize");
        return EXIT_BAD_INPUT;
    };
    let dir = options.out.clone().unwrap_or_else(|| PathBuf::from("corpus/regressions"));
    let regression = Regression {
        scenario: min.scenario,
        check: min.finding.check,
        implementation: min.finding.implementation.clone(),
        plant: options.plant.bug(),
        origin: path.to_string(),
        finding: min.finding.to_string(),
    };
    match regression::save(&dir, &regression) {
        Ok(saved) => {
            let _ = writeln!(
                out,
                "{} ops -> {} ops in {} runs; saved {}\n\n{}",
                scenario.ops.len(),
                regression.scenario.ops.len(),
                min.runs,
                saved.display(),
                regression.render()
            );
            EXIT_FINDING
        }
        Err(e) => {
            let _ = writeln!(err, "{}: cannot save the regression: {e}", dir.display());
            EXIT_BAD_INPUT
        }
    }
}

fn seeds_command(corpus: &Path, check: bool, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    let plan = match seeds::plan(corpus) {
        Ok(plan) => plan,
        Err(e) => {
            let _ = writeln!(err, "ptdiff seeds: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    if check {
        let stale = seeds::stale(&plan);
        for file in &stale {
            let _ = writeln!(out, "out of date: {}", file.display());
        }
        if stale.is_empty() {
            let _ = writeln!(out, "{} seed files up to date", plan.len());
            EXIT_PASS
        } else {
            let _ = writeln!(out, "run `cargo run -p ptdiff -- seeds` to regenerate");
            EXIT_FINDING
        }
    } else {
        match seeds::write(&plan) {
            Ok(written) => {
                let _ = writeln!(
                    out,
                    "{written} of {} seed files written under {}",
                    plan.len(),
                    corpus.display()
                );
                EXIT_PASS
            }
            Err(e) => {
                let _ = writeln!(err, "ptdiff seeds: {e}");
                EXIT_BAD_INPUT
            }
        }
    }
}
