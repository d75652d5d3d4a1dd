//! `cargo xtask`: the project's commands, so the README's set-up stays two commands.
//!
//! ```text
//! cargo xtask fuzz [--seconds N] [--jobs N] [--target T]... [--max-ops N] [--asan] ...
//!                                                  the main job: fuzz every target on the corpus
//! cargo xtask seed-corpus                          copy the seeds to cargo-fuzz's corpus folders
//! cargo xtask test                                 every test (what CI runs)
//! cargo xtask bench-planted [--runs N] [--max-seconds S] [--bug ID]... [--corpus C] [--asan] ...
//!                                                  time to first finding per planted bug
//! cargo xtask bench [--against REV] [--baseline FILE] [--save FILE] ...
//!                                                  throughput: fuzz exec/s, replay ops/s, phases
//! cargo xtask coverage                             line coverage of engine/ and reference/
//! cargo xtask oss-fuzz-check                       run the OSS-Fuzz build as OSS-Fuzz does (no Docker)
//! cargo xtask fresh-clone [--seconds N]            run the README's fuzzing commands on a fresh clone
//! ```

mod bench;
mod corpus;
mod coverage;
mod fresh_clone;
mod fuzz;
mod fuzz_build;
mod libfuzzer_log;
mod max_ops;
mod oss_fuzz;
mod oss_fuzz_env;
mod oss_fuzz_out;
mod targets;
mod templates;
mod throughput;
mod tools;

use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <command>
  fuzz [--seconds N] [--jobs N] [--target T]... [--plant BUG] [--max-ops N] [--asan]
       [--trace-compares]
                                         fuzz every target (the [[bin]]s of fuzz/Cargo.toml) from the
                                         checked-in seeds, N seconds each (default 60), one process
                                         each or N (libFuzzer -fork=N); --target also names a
                                         template's target (fuzz/templates/*/fuzz/Cargo.toml);
                                         built on stable -s none without comparison tracing
                                         (fastest to find the planted bugs), or with
                                         AddressSanitizer (--asan, nightly) and/or comparison
                                         tracing (--trace-compares); --max-ops N decodes each
                                         differential input to at most N operations (1 to 1024,
                                         PTDIFF_MAX_OPS; see the README's Throughput)
  seed-corpus                            copy corpus/<target>/ into cargo-fuzz's fuzz/corpus/<target>/
                                         (and each template's seeds into its fuzz/corpus/<target>/)
  test                                   run every test, with and without planted bugs compiled in
  bench-planted [--runs N] [--max-seconds S] [--bug ID]... [--corpus seeds|empty|both]
                [--asan | --stable] [--trace-compares | --no-trace-compares] [--lock-rules off]
                [--max-ops N]
                                         time to first finding of each planted bug (median of N
                                         runs, default 3), from the seed corpus and from nothing,
                                         with fuzz's default build or the one the flags choose
  bench [--seconds N] [--repeats N] [--against REV] [--baseline FILE] [--save FILE] ...
                                         throughput: fuzz exec/s and RSS, replay ops/s, time per
                                         input by phase (`cargo xtask bench --help` for all)
  coverage                               line-coverage report of engine/ and reference/ from the
                                         checked-in corpus (HTML in target/coverage/html)
  oss-fuzz-check                         run oss-fuzz/build.sh without Docker: locally, then with
                                         SANITIZER=address and SANITIZER=coverage as OSS-Fuzz's compile
                                         step and cargo wrapper set them, then .clusterfuzzlite/build.sh;
                                         check every target's binary, instrumentation, seed zip and
                                         options, and that each runs its seeds
  fresh-clone [--seconds N]              run the README's fuzzing commands verbatim in a fresh clone
                                         (target/fresh-clone), fuzzing N seconds each (default 5)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = args.split_first() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let result = match command.as_str() {
        "fuzz" => fuzz::main(rest),
        "seed-corpus" => corpus::main(rest),
        "fresh-clone" => fresh_clone::main(rest),
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
