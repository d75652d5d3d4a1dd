//! The command line of `cargo xtask bench`.

use crate::max_ops::parse_max_ops;
use std::path::PathBuf;

pub const USAGE: &str = "\
usage: cargo xtask bench [options]
  Throughput of ptdiff (medians of --repeats samples, one process and so one core each):
  fuzz targets' exec/s and peak RSS (stable -s none and nightly ASan, built and run as
  `cargo xtask fuzz` and `cargo xtask fuzz --asan` do) from a copy of corpus/<target>/,
  uninstrumented checked ops/s over corpus/bench/replay/, and time per input of 16, 64, 256 and
  1,024 ops split by phase (setup, ops, per-op checks, final sweep, drop), and the replay's
  ceiling: its ops/s with the per-op checks left out.
options:
  --seconds N            seconds of each fuzz run (default 10)
  --repeats N            samples of every measurement (default 3)
  --replay-seconds S     seconds of each replay sample, and of the length and phase samples in
                         all (default 2)
  --target T             fuzz target to measure (repeatable; default all three)
  --no-fuzz              skip the fuzz builds (replay only)
  --no-asan              skip the nightly AddressSanitizer build
  --trace-compares       build the fuzz targets with comparison tracing
  --no-trace-compares    build them without it (the default, as cargo xtask fuzz)
  --max-ops N            fuzz differential inputs decoded to at most N operations, as
                         cargo xtask fuzz --max-ops N (an --against build older than the
                         flag ignores it)
  --against REV          also build git revision REV and measure it in the same run, interleaved;
                         prints the ratio this/REV. REV is checked out in the git worktree
                         target/bench/rev-<commit>/, kept for the next run (remove it with
                         `git worktree remove --force target/bench/rev-<commit>`)
  --baseline FILE        compare with the medians an earlier run saved
  --save FILE            save this run's medians (for a later --baseline)
  --write-inputs         regenerate the fixed input set corpus/bench/ and stop";

/// What `cargo xtask bench` was asked to do.
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    /// Seconds of each fuzz run.
    pub fuzz_seconds: u64,
    /// Samples of every measurement (the table shows medians).
    pub repeats: u32,
    /// Seconds of each replay sample (the length and phase samples take as long in all).
    pub replay_seconds: f64,
    /// Fuzz targets to measure; every target (`cargo fuzz list`) when empty.
    pub targets: Vec<String>,
    /// Skip the fuzz builds entirely.
    pub no_fuzz: bool,
    /// Skip the nightly AddressSanitizer build.
    pub no_asan: bool,
    /// Build the fuzz targets with SanitizerCoverage's comparison tracing.
    pub trace_compares: bool,
    /// `--max-ops N`: the differential target decodes inputs to at most N operations.
    pub max_ops: Option<u16>,
    /// A git revision to build and measure side by side with this tree.
    pub against: Option<String>,
    /// A results file of an earlier run to compare with.
    pub baseline: Option<PathBuf>,
    /// Where to write this run's results.
    pub save: Option<PathBuf>,
    /// Only regenerate `corpus/bench/`.
    pub write_inputs: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            fuzz_seconds: 10,
            repeats: 3,
            replay_seconds: 2.0,
            targets: Vec::new(),
            no_fuzz: false,
            no_asan: false,
            trace_compares: crate::fuzz_build::FuzzBuild::DEFAULT.trace_compares,
            max_ops: None,
            against: None,
            baseline: None,
            save: None,
            write_inputs: false,
        }
    }
}

impl Options {
    /// Parses the arguments after `bench`.
    pub fn parse(args: &[String]) -> Result<Options, String> {
        let mut o = Options::default();
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let mut value =
                |what: &str| it.next().cloned().ok_or_else(|| format!("{arg} needs {what}"));
            match arg.as_str() {
                "--seconds" => o.fuzz_seconds = positive(&value("a number of seconds")?, arg)?,
                "--repeats" => o.repeats = positive(&value("a number")?, arg)?,
                "--replay-seconds" => {
                    let v = value("a number of seconds")?;
                    o.replay_seconds =
                        v.parse::<f64>()
                            .ok()
                            .filter(|s| s.is_finite() && *s > 0.0)
                            .ok_or_else(|| format!("{arg} needs a positive number, got `{v}`"))?
                }
                "--target" => o.targets.push(value("a target name")?),
                "--no-fuzz" => o.no_fuzz = true,
                "--no-asan" => o.no_asan = true,
                "--trace-compares" => o.trace_compares = true,
                "--no-trace-compares" => o.trace_compares = false,
                "--max-ops" => o.max_ops = Some(parse_max_ops(it.next())?),
                "--against" => o.against = Some(value("a git revision")?),
                "--baseline" => o.baseline = Some(value("a file")?.into()),
                "--save" => o.save = Some(value("a file")?.into()),
                "--write-inputs" => o.write_inputs = true,
                other => return Err(format!("unknown argument `{other}`")),
            }
        }
        Ok(o)
    }
}

/// The targets to measure: those `asked` for, each one of `available`, or all of them.
pub fn pick_targets(asked: &[String], available: &[String]) -> Result<Vec<String>, String> {
    if let Some(unknown) = asked.iter().find(|t| !available.contains(t)) {
        return Err(format!("unknown target `{unknown}` (targets: {})", available.join(", ")));
    }
    Ok(if asked.is_empty() { available.to_vec() } else { asked.to_vec() })
}

fn positive<T: std::str::FromStr + PartialOrd + Default>(v: &str, arg: &str) -> Result<T, String> {
    v.parse::<T>()
        .ok()
        .filter(|n| *n > T::default())
        .ok_or_else(|| format!("{arg} needs a positive number, got `{v}`"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Options, String> {
        Options::parse(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn defaults_measure_every_target() {
        let o = parse(&[]).unwrap();
        assert_eq!(o.targets, Vec::<String>::new());
        assert_eq!((o.fuzz_seconds, o.repeats, o.replay_seconds), (10, 3, 2.0));
        assert_eq!((o.no_fuzz, o.no_asan, o.trace_compares), (false, false, false));
        assert_eq!((o.against, o.baseline, o.save), (None, None, None));
    }

    #[test]
    fn every_option_is_read() {
        let o = parse(&[
            "--seconds",
            "30",
            "--repeats",
            "5",
            "--replay-seconds",
            "0.5",
            "--target",
            "walker",
            "--no-asan",
            "--trace-compares",
            "--max-ops",
            "64",
            "--against",
            "main~3",
            "--baseline",
            "b.txt",
            "--save",
            "s.txt",
        ])
        .unwrap();
        assert_eq!(
            o,
            Options {
                fuzz_seconds: 30,
                repeats: 5,
                replay_seconds: 0.5,
                targets: vec!["walker".to_string()],
                no_fuzz: false,
                no_asan: true,
                trace_compares: true,
                max_ops: Some(64),
                against: Some("main~3".to_string()),
                baseline: Some("b.txt".into()),
                save: Some("s.txt".into()),
                write_inputs: false,
            }
        );
    }

    #[test]
    fn bad_arguments_are_errors() {
        assert_eq!(parse(&["--seconds"]).unwrap_err(), "--seconds needs a number of seconds");
        assert_eq!(
            parse(&["--repeats", "0"]).unwrap_err(),
            "--repeats needs a positive number, got `0`"
        );
        assert_eq!(
            parse(&["--replay-seconds", "-1"]).unwrap_err(),
            "--replay-seconds needs a positive number, got `-1`"
        );
        assert_eq!(parse(&["--fast"]).unwrap_err(), "unknown argument `--fast`");
        assert_eq!(
            parse(&["--max-ops", "0"]).unwrap_err(),
            "--max-ops needs a number from 1 to 1024"
        );
    }

    #[test]
    fn targets_are_picked_from_the_available_ones() {
        let available: Vec<String> =
            ["differential", "scenario_text", "walker"].map(String::from).to_vec();
        assert_eq!(pick_targets(&[], &available).unwrap(), available);
        let walker = vec!["walker".to_string()];
        assert_eq!(pick_targets(&walker, &available).unwrap(), walker);
        assert_eq!(
            pick_targets(&["afl".to_string()], &available).unwrap_err(),
            "unknown target `afl` (targets: differential, scenario_text, walker)"
        );
    }
}
