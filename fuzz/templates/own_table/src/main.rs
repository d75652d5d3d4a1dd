//! ptdiff's command line on your tables (`own_table::tables`): `cargo run -- --help`.
//!
//! ```text
//! cargo run -- repro fuzz/artifacts/own_table/crash-...      run a crash, printed as a scenario
//! cargo run -- minimize fuzz/artifacts/own_table/crash-...   shrink it into regressions/
//! cargo run -- run my-scenario.scn                           run text scenarios
//! ```

use std::process::ExitCode;

fn main() -> ExitCode {
    let tables = own_table::tables();
    let harness = ptdiff::cli::Harness { tables: &tables, regressions: own_table::REGRESSIONS };
    let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr().lock());
    let args = std::env::args_os().skip(1);
    ExitCode::from(ptdiff::cli::main_with(args, &harness, &mut out, &mut err))
}
