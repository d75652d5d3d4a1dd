//! The command line's grammar (clap derive): subcommands, their options and their help.
//!
//! Lists shown in the help are computed from their source of truth: the planted bugs from
//! [`PlantedBug::ALL`], the input limit from [`MAX_INPUT_BYTES`].

use crate::cli::input::MAX_INPUT_BYTES;
use crate::conc::explore::{DEFAULT_MAX_SCHEDULES, DEFAULT_PREEMPTIONS};
use crate::conc::runner::ConcOptions;
use crate::conc::scenario::MAX_PREEMPTS;
use crate::plant::PlantedBug;
use crate::scenario::decode::MAX_DECODED_OPS;
use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser, ValueParser};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Where `ptdiff minimize` saves regression files by default (a harness of your own names
/// its own: [`crate::cli::Harness`]).
pub const REGRESSIONS: &str = "corpus/regressions";

/// Run, reproduce and minimize ptdiff scenarios: differential tests of AMD-Vi I/O page tables.
#[derive(Debug, Parser)]
#[command(
    name = "ptdiff",
    version,
    after_help = "Exit status: 0 pass, 1 finding, 2 bad arguments or bad input; each command's --help \
                  says what they mean for it.",
    arg_required_else_help = true,
    term_width = 100
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run scenario files (text format), or every .scn file of a directory
    #[command(after_help = input_help(RUN_INPUT, RUN_EXIT))]
    Run(RunArgs),
    /// Run one fuzz input (a crash file) or scenario, printing a decoded input as a scenario
    #[command(after_help = input_help(FILE_INPUT, REPRO_EXIT))]
    Repro(ReproArgs),
    /// Shrink a failing input to the smallest scenario with the same finding and save it as a
    /// regression file
    #[command(after_help = input_help(FILE_INPUT, MINIMIZE_EXIT))]
    Minimize(MinimizeArgs),
    /// Run every schedule of a concurrent scenario with at most N preemptions, stopping at the
    /// first finding
    #[command(after_help = input_help(EXPLORE_INPUT, EXPLORE_EXIT))]
    Explore(ExploreArgs),
    /// List the planted bugs, one per line: id, table, check it fires, the fuzz target that
    /// finds it, summary (tab-separated)
    Plants,
    /// Compile CORPUS/scenarios/*.scn into the fuzz seeds of CORPUS/differential/,
    /// CORPUS/scenario_text/, CORPUS/concurrent/ (from the concurrent scenarios) and
    /// CORPUS/walker/
    #[command(after_help = SEEDS_EXIT)]
    Seeds(SeedsArgs),
}

/// `--plant BUG`, shared by the commands that run scenarios.
#[derive(Debug, Args)]
pub struct PlantArg {
    /// Activate a planted bug in its implementation (needs a build with `--features
    /// planted-bugs`)
    #[arg(long, value_name = "BUG", ignore_case = true, value_parser = planted_bug_parser())]
    pub plant: Option<PlantedBug>,
}

/// `--lock-rules on|off`, shared by the commands that run concurrent scenarios.
#[derive(Debug, Args)]
pub struct LockRulesArg {
    /// Check every access of a concurrent run against each table's locking profile; `off`
    /// leaves only the consequences (linearizability, the quiescent checks) to judge
    #[arg(long, value_name = "SWITCH", value_enum, default_value_t = Switch::On)]
    pub lock_rules: Switch,
}

impl LockRulesArg {
    /// How a concurrent run is judged.
    pub fn options(&self) -> ConcOptions {
        ConcOptions { lock_rules: self.lock_rules == Switch::On }
    }
}

/// On or off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Switch {
    On,
    Off,
}

/// `ptdiff run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub plant: PlantArg,
    #[command(flatten)]
    pub lock_rules: LockRulesArg,
    /// Print every operation's result in each implementation
    #[arg(long)]
    pub trace: bool,
    /// Scenario files in the text format, or directories whose .scn files to run (in name
    /// order, not recursively)
    #[arg(value_name = "PATH", required = true)]
    pub paths: Vec<PathBuf>,
}

/// `ptdiff repro`.
#[derive(Debug, Args)]
pub struct ReproArgs {
    #[command(flatten)]
    pub plant: PlantArg,
    #[command(flatten)]
    pub lock_rules: LockRulesArg,
    /// Print every operation's result in each implementation
    #[arg(long)]
    pub trace: bool,
    #[command(flatten)]
    pub format: FormatArg,
    /// A raw fuzz input (crash file) or a text scenario
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

/// `ptdiff minimize`.
#[derive(Debug, Args)]
pub struct MinimizeArgs {
    #[command(flatten)]
    pub plant: PlantArg,
    /// Directory to save the regression file in (never overwriting a file)
    #[arg(long, value_name = "DIR", default_value = REGRESSIONS)]
    pub out: PathBuf,
    #[command(flatten)]
    pub format: FormatArg,
    /// A raw fuzz input (crash file) or a text scenario
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

/// `ptdiff explore`.
#[derive(Debug, Args)]
pub struct ExploreArgs {
    #[command(flatten)]
    pub plant: PlantArg,
    #[command(flatten)]
    pub lock_rules: LockRulesArg,
    /// Most preemptions in one schedule
    #[arg(long, value_name = "N", default_value_t = DEFAULT_PREEMPTIONS,
          value_parser = clap::value_parser!(u8).range(0..=MAX_PREEMPTS as i64).map(usize::from))]
    pub preemptions: usize,
    /// Most schedules to run; a scenario with more is explored only in part (exit status 2)
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_SCHEDULES)]
    pub max_schedules: u64,
    /// Read FILE as this format instead of recognising it by its content (raw bytes are decoded
    /// as the `concurrent` fuzz target decodes them)
    #[arg(long = "as", value_name = "FORMAT", value_enum)]
    pub format: Option<Format>,
    /// A concurrent scenario (text with `thread` lines; its `preempt` lines are set aside, its
    /// walks kept)
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

/// `ptdiff seeds`.
#[derive(Debug, Args)]
pub struct SeedsArgs {
    /// Write nothing; exit 1 when a seed file is missing or out of date
    #[arg(long)]
    pub check: bool,
    /// The corpus directory
    #[arg(value_name = "CORPUS", default_value = "corpus")]
    pub corpus: PathBuf,
}

/// `--as text|bytes` and `--concurrent`: how to read an input file.
#[derive(Clone, Debug, Args)]
pub struct FormatArg {
    /// Read FILE as this format instead of recognising it by its content
    #[arg(long = "as", value_name = "FORMAT", value_enum)]
    pub format: Option<Format>,
    /// Decode a raw fuzz input as the `concurrent` fuzz target does (a text scenario is
    /// concurrent when it has `thread` lines)
    #[arg(long)]
    pub concurrent: bool,
    /// Decode a raw `differential` fuzz input to at most N operations, as the target does under
    /// PTDIFF_MAX_OPS=N (`cargo xtask fuzz --max-ops N`)
    #[arg(long, value_name = "N", default_value_t = MAX_DECODED_OPS,
          value_parser = clap::value_parser!(u16).range(1..=MAX_DECODED_OPS as i64).map(usize::from))]
    pub max_ops: usize,
}

/// The two ways to read an input file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A scenario in the text format
    Text,
    /// A raw fuzz input (a fuzz target's crash file), decoded as the help below says
    Bytes,
}

/// Parses a planted-bug id (any case); the accepted ids, each with its implementation and
/// summary, are listed by `--help` and in the error for an unknown id.
fn planted_bug_parser() -> ValueParser {
    let ids = PlantedBug::ALL.map(|bug| {
        PossibleValue::new(bug.id()).help(format!("[{}] {}", bug.implementation(), bug.summary()))
    });
    PossibleValuesParser::new(ids).try_map(|id| id.parse::<PlantedBug>()).into()
}

const RUN_EXIT: &str = "Exit status: 0 every scenario passed, 1 some scenario has a finding, 2 \
    bad arguments or bad input (2 wins over 1; with several files or a directory, a last line \
    counts each outcome).";
const REPRO_EXIT: &str =
    "Exit status: 0 the run passed, 1 a finding, 2 bad arguments or bad input.";
const MINIMIZE_EXIT: &str =
    "Exit status: 1 a regression file was saved (the input has a finding), \
    2 bad arguments, bad input, or no finding to minimize.";
const EXPLORE_EXIT: &str = "Exit status: 0 every schedule passed, 1 a finding (its schedule is \
    printed as `preempt` lines), 2 bad arguments or bad input, or more schedules than \
    --max-schedules (the exploration stopped incomplete).";
const SEEDS_EXIT: &str = "Exit status: 0 seeds written (with --check: up to date), 1 some seed \
    missing or stale (--check), 2 bad arguments or an unreadable corpus.";

/// How `run` reads its files.
const RUN_INPUT: &str = "Each file must be a text scenario; one with `thread` lines is a \
    concurrent scenario, run by the concurrent runner. A raw fuzz input (a crash file) is \
    refused: run it with `ptdiff repro FILE`.";

/// How `repro` and `minimize` read FILE.
const FILE_INPUT: &str = "FILE is read as a text scenario when its content is one (its first \
    word is `config` or an operation, or it is printable UTF-8), else as a raw fuzz input; \
    `--as` overrides this. The output says which. A text scenario with `thread` lines is \
    concurrent; raw bytes are decoded as the `concurrent` fuzz target decodes them with \
    `--concurrent`, as the `differential` one otherwise.";

/// How `explore` reads FILE.
const EXPLORE_INPUT: &str = "FILE is a concurrent scenario: text with `thread` lines, or a raw \
    fuzz input of the `concurrent` fuzz target (recognised by content as for `repro`; `--as` \
    overrides this). Schedules run in order of their number of preemptions, each on every \
    table, so the first finding has the fewest.";

fn input_help(how: &str, exit: &str) -> String {
    format!(
        "{how}\n\nInput files must be regular files of at most {} MiB ({MAX_INPUT_BYTES} bytes); \
         FIFOs, devices, sockets and larger files are refused unread.\n\n{exit}",
        MAX_INPUT_BYTES >> 20,
    )
}
