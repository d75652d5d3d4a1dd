//! The `ptdiff` command line, as a library function so tests can drive it in-process.
//!
//! ```text
//! ptdiff run [--plant BUG] [--trace] PATH...       run text scenarios (files, or directories' .scn files),
//!                                                  concurrent ones (with `thread` lines) included
//! ptdiff repro [--plant BUG] [--trace] [--as F] [--concurrent] FILE
//!                                                  run a raw fuzz input or scenario, printing it
//! ptdiff minimize [--plant BUG] [--out DIR] [--as F] [--concurrent] FILE
//!                                                  shrink a failing input into a regression file
//! ptdiff explore [--plant BUG] [--preemptions N] [--max-schedules N] [--as F] FILE
//!                                                  every schedule of a concurrent scenario
//! ptdiff plants                                    list the planted bugs
//! ptdiff seeds [--check] [CORPUS]                  compile CORPUS/scenarios/*.scn into fuzz seeds
//! ```
//!
//! [`main`] runs the built-in tables; [`main_with`] is the same command line on your tables
//! (a [`Lineup`]), for a small binary of your own. `ptdiff --help` and `ptdiff COMMAND --help`
//! document every option. Input files are read
//! only when they are regular files of at most [`MAX_INPUT_BYTES`]
//! ([`input`]), and recognised as text or raw bytes by content
//! ([`content`]). Exit status: [`EXIT_PASS`], [`EXIT_FINDING`] or
//! [`EXIT_BAD_INPUT`]; nothing panics on any argument or file.

pub mod args;
mod concurrent;
pub mod content;
mod explore;
pub mod input;
mod load;
mod minimize;
mod report;
mod repro;
mod run;
mod seeds;

pub use input::MAX_INPUT_BYTES;

use crate::lineup::Lineup;
use crate::plant::{Plant, PlantedBug};
use args::{Cli, Command, PlantArg, REGRESSIONS};
use clap::error::ErrorKind;
use clap::{CommandFactory, FromArgMatches};
use std::ffi::OsString;
use std::io::Write;

/// Every run passed (or help or version was printed).
pub const EXIT_PASS: u8 = 0;
/// Some run reported a finding (or, for `seeds --check`, the seeds are out of date).
pub const EXIT_FINDING: u8 = 1;
/// Bad arguments or bad input.
pub const EXIT_BAD_INPUT: u8 = 2;

/// What a command line built on ptdiff runs ([`main_with`]).
#[derive(Clone, Copy, Debug)]
pub struct Harness<'a> {
    /// The tables every `run`, `repro` and `minimize` compares.
    pub tables: &'a Lineup,
    /// Where `minimize` saves regression files unless `--out` says otherwise.
    pub regressions: &'static str,
}

/// Runs the command line `args` (without the program name) on the built-in tables, writing to
/// `out` and `err`; returns the exit status.
pub fn main<I, T>(args: I, out: &mut dyn Write, err: &mut dyn Write) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let tables = Lineup::built_in();
    main_with(args, &Harness { tables: &tables, regressions: REGRESSIONS }, out, err)
}

/// The `ptdiff` command line on the tables of `harness`: a binary of yours that calls this
/// with your tables (see [`Lineup`]) runs, reproduces and minimizes scenarios and fuzz inputs
/// on them exactly as `ptdiff` does on the built-in ones, and `minimize` saves to
/// `harness.regressions` by default. Returns the exit status.
pub fn main_with<I, T>(args: I, harness: &Harness, out: &mut dyn Write, err: &mut dyn Write) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let argv = std::iter::once(OsString::from("ptdiff")).chain(args.into_iter().map(Into::into));
    let command = Cli::command().mut_subcommand("minimize", |minimize| {
        minimize.mut_arg("out", |out| out.default_value(harness.regressions))
    });
    let parsed =
        command.try_get_matches_from(argv).and_then(|matches| Cli::from_arg_matches(&matches));
    let cli = match parsed {
        Ok(cli) => cli,
        Err(e) => {
            return match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
                    let _ = write!(out, "{e}");
                    EXIT_PASS
                }
                _ => {
                    let _ = write!(err, "{e}");
                    EXIT_BAD_INPUT
                }
            };
        }
    };
    let tables = harness.tables;
    if let Err(e) = tables.check_names() {
        let _ = writeln!(err, "error: {e}");
        return EXIT_BAD_INPUT;
    }
    match cli.command {
        Command::Run(args) => with_plant(&args.plant, tables, err, |plant, err| {
            run::run_command(&args, tables, plant, out, err)
        }),
        Command::Repro(args) => with_plant(&args.plant, tables, err, |plant, err| {
            repro::repro_command(&args, tables, plant, out, err)
        }),
        Command::Minimize(args) => with_plant(&args.plant, tables, err, |plant, err| {
            minimize::minimize_command(&args, tables, plant, out, err)
        }),
        Command::Explore(args) => with_plant(&args.plant, tables, err, |plant, err| {
            explore::explore_command(&args, tables, plant, out, err)
        }),
        Command::Plants => {
            for bug in PlantedBug::ALL {
                let (id, implementation, check) = (bug.id(), bug.implementation(), bug.check());
                let target = if bug.concurrent() { "concurrent" } else { "differential" };
                let (check, summary) = (check.name(), bug.summary());
                let _ = writeln!(out, "{id}\t{implementation}\t{check}\t{target}\t{summary}");
            }
            EXIT_PASS
        }
        Command::Seeds(args) => seeds::seeds_command(&args, out, err),
    }
}

/// Selects the `--plant` bug and runs `command` with it; a bug this build lacks, or whose table
/// is not one of `tables`, is bad input.
fn with_plant(
    arg: &PlantArg,
    tables: &Lineup,
    err: &mut dyn Write,
    command: impl FnOnce(Plant, &mut dyn Write) -> u8,
) -> u8 {
    let plant = arg.plant.map_or(Ok(Plant::NONE), Plant::select).map_err(|e| e.to_string());
    match plant
        .and_then(|plant| tables.check_plant(plant).map(|()| plant).map_err(|e| e.to_string()))
    {
        Ok(plant) => command(plant, err),
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            EXIT_BAD_INPUT
        }
    }
}
