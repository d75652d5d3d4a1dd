//! Running one concurrent scenario and printing its outcome: `PASS` with what the run
//! exercised, or `FAIL`, the finding, and the interleaving the failing table took.

use crate::cli::{EXIT_BAD_INPUT, EXIT_FINDING, EXIT_PASS};
use crate::conc::linear::MAX_CONFIGS;
use crate::conc::runner::{run_concurrent_with, ConcOptions, ConcReport};
use crate::conc::scenario::ConcScenario;
use crate::lineup::Lineup;
use crate::plant::Plant;
use std::io::Write;

/// How a concurrent scenario is run and shown: judged as `options` say; with `trace`, every
/// table's interleaving is printed first.
#[derive(Clone, Copy, Debug)]
pub struct Shown {
    pub options: ConcOptions,
    pub trace: bool,
}

/// Runs `s` (named `name` in the output) on `tables` and returns the exit status.
pub fn report_concurrent(
    name: &str,
    s: &ConcScenario,
    tables: &Lineup,
    plant: Plant,
    Shown { options, trace }: Shown,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> u8 {
    let result = run_concurrent_with(s, tables, plant, options);
    if let (true, Ok(report)) = (trace, &result) {
        for interleaving in &report.interleavings {
            let _ = write!(out, "{interleaving}");
        }
    }
    match result {
        Ok(report) if report.finding.is_none() => {
            let st = &report.stats;
            let mut unjudged = match st.unjudged_reads {
                0 => String::new(),
                n => format!(
                    " ({n} reads not judged: they would take the frontier past {MAX_CONFIGS} \
                     configurations)"
                ),
            };
            if st.unjudged_phases > 0 {
                unjudged.push_str(&format!(
                    " (NOT JUDGED from the concurrent phase on: the orders of its operations \
                     would take the frontier past {MAX_CONFIGS} configurations)"
                ));
            }
            let _ = writeln!(
                out,
                "PASS {name}: {} concurrent phases, {} thread ops, {} preemptions taken, {} \
                 scheduled walks, {} shadow walks, frontier up to {}{unjudged}",
                st.phases,
                st.thread_ops,
                st.preemptions,
                st.walks,
                st.shadow_walks,
                st.frontier_peak
            );
            EXIT_PASS
        }
        Ok(report) => {
            let _ = writeln!(out, "FAIL {name}");
            print_finding(&report, out);
            EXIT_FINDING
        }
        Err(e) => {
            let _ = writeln!(err, "{name}: invalid concurrent scenario: {e}");
            EXIT_BAD_INPUT
        }
    }
}

/// Prints the finding of `report` and the interleaving of the implementation it names
/// ([`ConcReport::explain`]).
pub fn print_finding(report: &ConcReport, out: &mut dyn Write) {
    if let Some(text) = report.explain() {
        let _ = write!(out, "{text}");
    }
}
