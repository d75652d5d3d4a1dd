//! Running one scenario and printing its outcome: `PASS` with counts, or `FAIL` and the finding.

use crate::cli::{EXIT_BAD_INPUT, EXIT_FINDING, EXIT_PASS};
use crate::lineup::Lineup;
use crate::plant::Plant;
use crate::run::Report;
use crate::scenario::Scenario;
use std::io::Write;

/// Runs `scenario` (named `name` in the output) on `tables` and returns the exit status.
pub fn report(
    name: &str,
    scenario: &Scenario,
    tables: &Lineup,
    plant: Plant,
    trace: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> u8 {
    let result =
        if trace { tables.run_traced(scenario, plant) } else { tables.run(scenario, plant) };
    let report = match result {
        Ok(report) => report,
        Err(e) => {
            let _ = writeln!(err, "{name}: invalid scenario: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    for line in &report.trace {
        let _ = writeln!(out, "  {line}");
    }
    match report {
        Report { finding: None, stats, .. } => {
            let _ = writeln!(
                out,
                "PASS {name}: {} ops, {} rejected as specified, {} missed notification(s), \
                 height up to {}",
                stats.ops, stats.rejected, stats.missed_notifications, stats.highest_levels
            );
            EXIT_PASS
        }
        Report { finding: Some(finding), .. } => {
            let _ = writeln!(out, "FAIL {name}\n{finding}");
            EXIT_FINDING
        }
    }
}
