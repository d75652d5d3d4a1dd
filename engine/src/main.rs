//! `ptdiff`: run scenario files, reproduce and minimize fuzzer inputs (`ptdiff --help`).
//!
//! Exit status: 0 every run passed, 1 a finding, 2 bad arguments or bad input.

use ptdiff::cli;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut out = std::io::stdout().lock();
    let mut err = std::io::stderr().lock();
    ExitCode::from(cli::main(std::env::args_os().skip(1), &mut out, &mut err))
}
