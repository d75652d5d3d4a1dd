//! `ptdiff explore`: every schedule of a concurrent scenario with at most N preemptions
//! ([`crate::conc::explore`]), reporting how many ran and the first finding with the
//! `preempt` lines that reproduce it.

use crate::cli::args::{ExploreArgs, Format, FormatArg};
use crate::cli::concurrent::print_finding;
use crate::cli::load::{load, Input};
use crate::cli::{EXIT_BAD_INPUT, EXIT_FINDING, EXIT_PASS};
use crate::conc::explore::{explore_with, Bounds, Exploration};
use crate::conc::runner::run_concurrent_with;
use crate::conc::scenario::ConcScenario;
use crate::lineup::Lineup;
use crate::plant::Plant;
use crate::scenario::decode::MAX_DECODED_OPS;
use std::io::Write;

/// Loads `args.file` as a concurrent scenario and explores it.
pub fn explore_command(
    args: &ExploreArgs,
    tables: &Lineup,
    plant: Plant,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> u8 {
    let path = &args.file;
    let how = FormatArg { format: args.format, concurrent: true, max_ops: MAX_DECODED_OPS };
    let Some(loaded) = load(path, &how, err) else { return EXIT_BAD_INPUT };
    let s = match &loaded.input {
        Input::Concurrent(s) => s,
        Input::Sequential(_) => {
            let _ = writeln!(
                err,
                "{}: not a concurrent scenario (no `thread` line); run it with `ptdiff run`",
                path.display()
            );
            return EXIT_BAD_INPUT;
        }
    };
    let _ = writeln!(out, "{}", loaded.describe(path));
    if loaded.format == Format::Bytes {
        let _ = write!(out, "{s}");
    }
    if !s.preempts.is_empty() {
        let _ = writeln!(out, "# its {} set aside", plural(s.preempts.len(), "preemption"));
    }
    let bounds = Bounds { preemptions: args.preemptions, max_schedules: args.max_schedules };
    let options = args.lock_rules.options();
    let run = |schedule: &ConcScenario| run_concurrent_with(schedule, tables, plant, options);
    let e = match explore_with(s, bounds, run) {
        Ok(e) => e,
        Err(e) => {
            let _ = writeln!(err, "{}: {e}", path.display());
            return EXIT_BAD_INPUT;
        }
    };
    let name = path.display();
    match (&e.found, e.complete) {
        (Some(found), _) => {
            let _ = writeln!(
                out,
                "FAIL {name}: a finding in schedule {} ({}); {}",
                e.total(),
                plural(found.scenario.preempts.len(), "preemption"),
                counts(&e)
            );
            print_finding(&found.report, out);
            let _ = writeln!(out, "# the schedule that reproduces it (the scenario's walks kept):");
            for preempt in &found.scenario.preempts {
                let _ = writeln!(out, "preempt {preempt}");
            }
            if found.scenario.preempts.is_empty() {
                let _ = writeln!(out, "# (none: it fails without any preemption)");
            }
            EXIT_FINDING
        }
        (None, true) => {
            let _ = writeln!(
                out,
                "PASS {name}: every schedule with at most {} passed; {}",
                plural(args.preemptions, "preemption"),
                counts(&e)
            );
            EXIT_PASS
        }
        (None, false) => {
            let _ = writeln!(
                out,
                "INCOMPLETE {name}: stopped at --max-schedules {} before every schedule with at \
                 most {} had run; {}; no finding so far",
                args.max_schedules,
                plural(args.preemptions, "preemption"),
                counts(&e)
            );
            let _ = writeln!(
                err,
                "{name}: too many schedules to explore within --max-schedules {}: raise it, lower \
                 --preemptions, or shorten the scenario",
                args.max_schedules
            );
            EXIT_BAD_INPUT
        }
    }
}

/// `explored 14 schedules (1 with 0 preemptions, 2 with 1, 11 with 2)`.
fn counts(e: &Exploration) -> String {
    let by_depth: Vec<String> = e
        .schedules
        .iter()
        .enumerate()
        .map(|(depth, n)| match depth {
            0 => format!("{n} with 0 preemptions"),
            _ => format!("{n} with {depth}"),
        })
        .collect();
    format!("explored {} ({})", plural(e.total() as usize, "schedule"), by_depth.join(", "))
}

fn plural(n: usize, noun: &str) -> String {
    match n {
        1 => format!("1 {noun}"),
        _ => format!("{n} {noun}s"),
    }
}
