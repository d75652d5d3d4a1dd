//! `ptdiff minimize`: shrink a failing input and save it as a regression file.

use crate::cli::args::MinimizeArgs;
use crate::cli::load::{load, Input};
use crate::cli::{EXIT_BAD_INPUT, EXIT_FINDING};
use crate::lineup::Lineup;
use crate::plant::Plant;
use crate::repro::minimize::minimize_with;
use crate::repro::regression::{self, Regression};
use std::io::Write;

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
    let (format, concurrent) = (args.format.format, args.format.concurrent);
    let Some(loaded) = load(path, format, concurrent, err) else { return EXIT_BAD_INPUT };
    let _ = writeln!(out, "{}", loaded.describe(path));
    let scenario = match &loaded.input {
        Input::Sequential(scenario) => scenario,
        Input::Concurrent(_) => {
            let _ = writeln!(
                err,
                "{}: minimizing concurrent scenarios is not supported yet",
                path.display()
            );
            return EXIT_BAD_INPUT;
        }
    };
    let Some(min) = minimize_with(scenario, tables, plant) else {
        let _ =
            writeln!(err, "{}: the input produces no finding; nothing to minimize", path.display());
        return EXIT_BAD_INPUT;
    };
    let regression = Regression {
        scenario: min.scenario,
        check: min.finding.check,
        implementation: min.finding.implementation.clone(),
        plant: plant.bug(),
        origin: path.display().to_string(),
        finding: min.finding.to_string(),
    };
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
