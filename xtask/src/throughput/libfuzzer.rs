//! One fixed-length run of a libFuzzer binary from a fresh copy of a corpus, and what it
//! measured: executions per second and peak resident memory.
//!
//! Executions per second are per second of CPU time when `/usr/bin/time` (GNU time) can say
//! how much the process had, so that other work on a shared machine slows the figure less;
//! else per second of wall time.

use crate::fuzz_build::FuzzBuild;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

/// What libFuzzer's `-print_final_stats=1` reported.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FinalStats {
    /// `stat::number_of_executed_units`.
    pub runs: Option<u64>,
    /// `stat::peak_rss_mb`.
    pub peak_rss_mb: Option<u64>,
}

/// Reads the `stat::` lines of libFuzzer's output.
pub fn parse_final_stats(output: &str) -> FinalStats {
    let mut stats = FinalStats::default();
    for line in output.lines() {
        let value = |prefix: &str| line.strip_prefix(prefix).and_then(|v| v.trim().parse().ok());
        if let Some(v) = value("stat::number_of_executed_units:") {
            stats.runs = Some(v);
        } else if let Some(v) = value("stat::peak_rss_mb:") {
            stats.peak_rss_mb = Some(v);
        }
    }
    stats
}

/// User plus system seconds from the last line of GNU time's `-f "%U %S"` output.
pub fn parse_cpu_seconds(text: &str) -> Option<f64> {
    let line = text.lines().rev().find(|l| !l.trim().is_empty())?;
    let mut parts = line.split_whitespace().map(str::parse::<f64>);
    match (parts.next(), parts.next(), parts.next()) {
        (Some(Ok(user)), Some(Ok(system)), None) => Some(user + system),
        _ => None,
    }
}

/// One run's result.
#[derive(Clone, Debug, PartialEq)]
pub struct FuzzSample {
    /// Executions per second of CPU time, or of wall time when that is unknown
    /// (libFuzzer's own figure is per wall second, rounded to whole seconds).
    pub exec_per_sec: f64,
    pub peak_rss_mb: f64,
    /// CPU time over wall time, when known: below 1 the machine was busy.
    pub cpu_share: Option<f64>,
    /// Set when the run stopped on a crash: libFuzzer's first error line.
    pub crash: Option<String>,
}

/// Copies the files of `seeds` into a fresh `work`, runs `binary` (of `build`, whose sanitizer
/// options and memory limits it gets) on it for `seconds` (one process, so one core;
/// `-seed=seed`), and reads its final statistics.
pub fn run(
    binary: &Path,
    build: FuzzBuild,
    seeds: &Path,
    work: &Path,
    seconds: u64,
    seed: u32,
    env: &[(String, String)],
) -> Result<FuzzSample, String> {
    let corpus = work.join("corpus");
    let artifacts = work.join("artifacts");
    let _ = std::fs::remove_dir_all(work);
    for dir in [&corpus, &artifacts] {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let entries = std::fs::read_dir(seeds).map_err(|e| format!("{}: {e}", seeds.display()))?;
    for entry in entries.filter_map(Result::ok).filter(|e| e.path().is_file()) {
        std::fs::copy(entry.path(), corpus.join(entry.file_name()))
            .map_err(|e| format!("copying {}: {e}", entry.path().display()))?;
    }
    let timing = work.join("time.txt");
    let gnu_time = Path::new("/usr/bin/time");
    let mut cmd = if gnu_time.is_file() {
        let mut cmd = Command::new(gnu_time);
        cmd.args(["-f", "%U %S", "-o"]).arg(&timing).arg(binary);
        cmd
    } else {
        Command::new(binary)
    };
    let start = Instant::now();
    let out = cmd
        .arg(&corpus)
        .arg(format!("-max_total_time={seconds}"))
        .arg(format!("-seed={seed}"))
        .arg(format!("-artifact_prefix={}/", artifacts.display()))
        .args(["-print_final_stats=1", "-timeout=10"])
        .args(build.libfuzzer_flags())
        .envs(build.env())
        .env_remove("PTDIFF_PLANT")
        .env_remove("PTDIFF_STATS")
        .env_remove("PTDIFF_MAX_OPS")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", binary.display()))?;
    let elapsed = start.elapsed().as_secs_f64();
    let cpu = std::fs::read_to_string(&timing).ok().and_then(|t| parse_cpu_seconds(&t));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stats = parse_final_stats(&stderr);
    let runs = stats.runs.ok_or_else(|| {
        let tail: Vec<&str> = stderr.lines().rev().take(15).collect();
        format!(
            "{} printed no final statistics ({}):\n{}",
            binary.display(),
            out.status,
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        )
    })?;
    let crash = (!out.status.success()).then(|| {
        stderr
            .lines()
            .find(|l| l.starts_with("==") && l.contains("ERROR") || l.contains("panicked at"))
            .unwrap_or("the fuzzer exited with an error")
            .trim()
            .to_string()
            + &format!(" (artifacts in {})", artifacts.display())
    });
    Ok(FuzzSample {
        exec_per_sec: runs as f64 / cpu.filter(|&c| c > 0.0).unwrap_or(elapsed),
        peak_rss_mb: stats.peak_rss_mb.unwrap_or(0) as f64,
        cpu_share: cpu.map(|c| c / elapsed),
        crash,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn final_stats_are_read_from_libfuzzer_output() {
        let output = "#262144\tpulse  cov: 1234 ft: 5678 corp: 40/2Kb exec/s: 2100 rss: 45Mb\n\
                      Done 300123 runs in 11 second(s)\n\
                      stat::number_of_executed_units: 300123\n\
                      stat::average_exec_per_sec:     27283\n\
                      stat::new_units_added:          12\n\
                      stat::slowest_unit_time_sec:    0\n\
                      stat::peak_rss_mb:              467\n";
        assert_eq!(
            parse_final_stats(output),
            FinalStats { runs: Some(300_123), peak_rss_mb: Some(467) }
        );
    }

    #[test]
    fn cpu_seconds_are_user_plus_system() {
        assert_eq!(parse_cpu_seconds("9.50 0.25\n"), Some(9.75));
        assert_eq!(
            parse_cpu_seconds("Command exited with non-zero status 1\n9.00 1.00\n"),
            Some(10.0)
        );
        assert_eq!(parse_cpu_seconds("Command terminated by signal 6\n"), None);
        assert_eq!(parse_cpu_seconds(""), None);
    }

    #[test]
    fn missing_stats_stay_unknown() {
        assert_eq!(parse_final_stats("INFO: Seed: 1\n"), FinalStats::default());
    }
}
