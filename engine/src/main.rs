//! `ptdiff`: run scenario files, reproduce fuzzer inputs.
//!
//! Exit status: 0 every run passed, 1 a finding, 2 bad input (unreadable or malformed file,
//! bad arguments).

use ptdiff::cli;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut out = std::io::stdout().lock();
    let mut err = std::io::stderr().lock();
    ExitCode::from(cli::main(&args, &mut out, &mut err))
}
