//! `ptdiff minimize`: shrink a failing input and save it as a regression file (a concurrent
//! input with the concurrent minimizer, [`crate::repro::conc_minimize`]).

use crate::check::finding::Finding;
use crate::cli::args::MinimizeArgs;
use crate::cli::concurrent::print_finding;
use crate::cli::load::{load, Input};
use crate::cli::{EXIT_BAD_INPUT, EXIT_FINDING};
use crate::conc::runner::run_concurrent_on;
use crate::conc::scenario::ConcScenario;
use crate::lineup::Lineup;
use crate::plant::Plant;
use crate::repro::conc_minimize::minimize_concurrent;
use crate::repro::conc_regression::ConcRegression;
use crate::repro::minimize::minimize_with;
use crate::repro::regression::{self, Header, Regression};
use std::io::Write;
use std::path::Path;

/// The header of a regression minimized from the input at `origin` to `finding`, with the
/// report `finding_text` kept as comments.
fn header(finding: &Finding, plant: Plant, origin: &Path, finding_text: String) -> Header {
    Header {
        check: finding.check,
        implementation: finding.implementation.clone(),
        plant: plant.bug(),
        origin: origin.display().to_string(),
        finding: finding_text,
    }
}

/// Minimizes `args.file` and saves the result under `args.out`; exits 1 (the finding) on
/// success, 2 when the input is bad or has no finding.
pub fn minimize_command(
    args: &MinimizeArgs,
    tables: &Lineup,
    plant: Plant,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> u8 {
    let path = &args.file;
    let Some(loaded) = load(path, &args.format, err) else { return EXIT_BAD_INPUT };
    let _ = writeln!(out, "{}", loaded.describe(path));
    let scenario = match &loaded.input {
        Input::Sequential(scenario) => scenario,
        Input::Concurrent(s) => {
            return minimize_concurrent_input(args, s, tables, plant, out, err);
        }
    };
    let Some(min) = minimize_with(scenario, tables, plant) else {
        let _ =
            writeln!(err, "{}: the input produces no finding; nothing to minimize", path.display());
        return EXIT_BAD_INPUT;
    };
    let header = header(&min.finding, plant, path, min.finding.to_string());
    let regression = Regression { scenario: min.scenario, header };
    match regression::save(&args.out, &regression) {
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
            let _ = writeln!(err, "{}: cannot save the regression: {e}", args.out.display());
            EXIT_BAD_INPUT
        }
    }
}

/// Minimizes the concurrent scenario `s` read from `args.file` and saves it under `args.out`;
/// the regression's comments hold the finding and the failing table's interleaving.
fn minimize_concurrent_input(
    args: &MinimizeArgs,
    s: &ConcScenario,
    tables: &Lineup,
    plant: Plant,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> u8 {
    let path = &args.file;
    let Some(min) = minimize_concurrent(s, tables, plant) else {
        let _ =
            writeln!(err, "{}: the input produces no finding; nothing to minimize", path.display());
        return EXIT_BAD_INPUT;
    };
    let mut finding = Vec::new();
    if let Ok(report) = run_concurrent_on(&min.scenario, tables, plant) {
        print_finding(&report, &mut finding);
    }
    let header = header(&min.finding, plant, path, String::from_utf8_lossy(&finding).into_owned());
    let regression = ConcRegression { scenario: min.scenario, header };
    let size = |s: &ConcScenario| {
        let thread_ops: usize = s.threads.iter().map(Vec::len).sum();
        format!(
            "{} thread ops, {} walks, {} preemptions, {} setup ops",
            thread_ops,
            s.walks.len(),
            s.preempts.len(),
            s.setup.len()
        )
    };
    match regression::save(&args.out, &regression) {
        Ok(saved) => {
            let _ = writeln!(
                out,
                "{} -> {} in {} runs; saved {}\n\n{}",
                size(s),
                size(&regression.scenario),
                min.runs,
                saved.display(),
                regression.render()
            );
            EXIT_FINDING
        }
        Err(e) => {
            let _ = writeln!(err, "{}: cannot save the regression: {e}", args.out.display());
            EXIT_BAD_INPUT
        }
    }
}
