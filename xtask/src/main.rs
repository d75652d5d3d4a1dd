//! `cargo xtask`: the project's commands, so the README's set-up stays two commands.
//!
//! ```text
//! cargo xtask fuzz [--seconds N] [--target T]...   the main job: fuzz every target on the corpus
//! cargo xtask test                                 every test (what CI runs)
//! cargo xtask bench-planted [--runs N] [--max-seconds S] [--bug ID]...
//!                                                  time to first finding per planted bug
//! cargo xtask bench [--against REV] [--baseline FILE] [--save FILE] ...
//!                                                  throughput: fuzz exec/s, replay ops/s, phases
//! cargo xtask coverage                             line coverage of engine/ and reference/
//! cargo xtask oss-fuzz-check                       run oss-fuzz/build.sh without Docker, check $OUT
//! ```

mod bench;
mod coverage;
mod fuzz;
mod oss_fuzz;
mod throughput;
mod tools;

use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <command>
  fuzz [--seconds N] [--target T]...     fuzz every target (differential, walker, scenario_text) on
                                         the checked-in corpus, N seconds each (default 60)
  test                                   run every test, with and without planted bugs compiled in
  bench-planted [--runs N] [--max-seconds S] [--bug ID]...
                                         time to first finding of each planted bug (median of N
                                         runs, default 3), from the seed corpus and from nothing
  bench [--seconds N] [--repeats N] [--against REV] [--baseline FILE] [--save FILE] ...
                                         throughput: fuzz exec/s and RSS, replay ops/s, time per
                                         input by phase (`cargo xtask bench --help` for all)
  coverage                               line-coverage report of engine/ and reference/ from the
                                         checked-in corpus (HTML in target/coverage/html)
  oss-fuzz-check                         run oss-fuzz/build.sh as OSS-Fuzz would (temporary $SRC,
                                         $OUT, $WORK; no Docker) and check every target's binary,
                                         seed corpus zip and options, and that each runs its seeds";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = args.split_first() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let result = match command.as_str() {
        "fuzz" => fuzz::main(rest),
        "test" => tools::test(),
        "bench-planted" => bench::main(rest),
        "bench" => throughput::main(rest),
        "coverage" => coverage::main(rest),
        "oss-fuzz-check" => oss_fuzz::main(rest),
        "help" | "--help" | "-h" => {
            println!("{USAGE}");
            Ok(())
        }
        other => Err(format!("unknown command `{other}`\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}
