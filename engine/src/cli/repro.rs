//! `ptdiff repro`: run one input, printing a decoded fuzz input as an editable scenario.

use crate::cli::args::{Format, ReproArgs};
use crate::cli::load::load;
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
    let Some(loaded) = load(&args.file, args.format.format, err) else { return EXIT_BAD_INPUT };
    let _ = writeln!(out, "{}", loaded.describe(&args.file));
    if loaded.format == Format::Bytes {
        let _ = write!(out, "{}", loaded.scenario);
    }
    let name = args.file.display().to_string();
    report(&name, &loaded.scenario, tables, plant, args.trace, out, err)
}
