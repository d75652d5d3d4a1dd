//! `ptdiff repro`: run one input, printing a decoded fuzz input as an editable scenario.

use crate::cli::args::{Format, ReproArgs};
use crate::cli::concurrent::{report_concurrent, Shown};
use crate::cli::load::{load, Input};
use crate::cli::report::report;
use crate::cli::EXIT_BAD_INPUT;
use crate::lineup::Lineup;
use crate::plant::Plant;
use std::io::Write;

/// Loads `args.file`, says how it was read, prints it when decoded from bytes, and runs it.
pub fn repro_command(
    args: &ReproArgs,
    tables: &Lineup,
    plant: Plant,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> u8 {
    let Some(loaded) = load(&args.file, &args.format, err) else { return EXIT_BAD_INPUT };
    let _ = writeln!(out, "{}", loaded.describe(&args.file));
    let name = args.file.display().to_string();
    match &loaded.input {
        Input::Sequential(scenario) => {
            if loaded.format == Format::Bytes {
                let _ = write!(out, "{scenario}");
            }
            report(&name, scenario, tables, plant, args.trace, out, err)
        }
        Input::Concurrent(s) => {
            if loaded.format == Format::Bytes {
                let _ = write!(out, "{s}");
            }
            let shown = Shown { options: args.lock_rules.options(), trace: args.trace };
            report_concurrent(&name, s, tables, plant, shown, out, err)
        }
    }
}
