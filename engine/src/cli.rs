//! The `ptdiff` command line, as a library function so tests can drive it.
//!
//! ```text
//! ptdiff run [--plant BUG] FILE...     run scenario files (text format)
//! ptdiff repro [--plant BUG] FILE      decode a raw fuzzer input, print it as a scenario, run it
//! ```
//!
//! Exit status: [`EXIT_PASS`], [`EXIT_FINDING`] or [`EXIT_BAD_INPUT`].

use crate::decode::decode;
use crate::plant::{Plant, PlantedBug};
use crate::runner::{run, Report};
use crate::scenario::Scenario;
use crate::text;
use std::io::Write;

/// Every run passed.
pub const EXIT_PASS: u8 = 0;
/// Some run reported a finding.
pub const EXIT_FINDING: u8 = 1;
/// Bad arguments or bad input.
pub const EXIT_BAD_INPUT: u8 = 2;

const USAGE: &str = "\
usage:
  ptdiff run [--plant BUG] FILE...   run scenario files (see corpus/scenarios/)
  ptdiff repro [--plant BUG] FILE    decode a raw fuzz input, print it as a scenario, run it

BUG is a planted bug id (D1, D4, R2, S5, T2, SPLIT-RW, UNMAP-GROW); it needs a build with
`--features planted-bugs`.
exit status: 0 pass, 1 finding, 2 bad input";

/// Options shared by the subcommands.
struct Options {
    plant: Plant,
    files: Vec<String>,
}

fn parse_options(args: &[String]) -> Result<Options, String> {
    let mut plant = Plant::NONE;
    let mut files = Vec::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--plant" => {
                let id = it.next().ok_or("--plant needs a bug id")?;
                let bug: PlantedBug = id.parse().map_err(|e| format!("{e}"))?;
                plant = Plant::select(bug).map_err(|e| format!("{e}"))?;
            }
            flag if flag.starts_with("--") => return Err(format!("unknown option `{flag}`")),
            file => files.push(file.to_string()),
        }
    }
    Ok(Options { plant, files })
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
    match command.as_str() {
        "run" if !options.files.is_empty() => run_files(&options, out, err),
        "repro" if options.files.len() == 1 => repro(&options.files[0], options.plant, out, err),
        "help" | "--help" | "-h" => {
            let _ = writeln!(out, "{USAGE}");
            EXIT_PASS
        }
        _ => {
            let _ = writeln!(err, "{USAGE}");
            EXIT_BAD_INPUT
        }
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
        let result = report(path, &scenario, options.plant, out);
        if result == EXIT_FINDING && status == EXIT_PASS {
            status = EXIT_FINDING;
        }
    }
    status
}

fn repro(path: &str, plant: Plant, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            let _ = writeln!(err, "{path}: cannot read: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    let scenario = decode(&bytes);
    let _ = writeln!(out, "# scenario decoded from {path} ({} bytes)\n{scenario}", bytes.len());
    report(path, &scenario, plant, out)
}

/// Runs one scenario and prints `PASS` or the finding; returns the exit status.
fn report(name: &str, scenario: &Scenario, plant: Plant, out: &mut dyn Write) -> u8 {
    match run(scenario, plant) {
        Ok(Report { finding: None, stats }) => {
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
