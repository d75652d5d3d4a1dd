//! `cargo xtask bench-planted`: how fast the fuzz targets find each planted bug.
//!
//! For every planted bug, runs `cargo fuzz run <target>` of the bug's target (`differential`,
//! or `concurrent` for a concurrent bug, as `ptdiff plants` says; one process, so one core) with
//! that bug selected, N times with different libFuzzer seeds, from the checked-in seed corpus
//! and from an empty corpus (`--corpus` picks one), and reports the median time to the first
//! finding as a Markdown table for the README: CPU time of `cargo fuzz run` and the fuzzer
//! (including about a third of a second of start-up), which other work on a shared machine
//! stretches less than wall time. The id, implementation, check and summary columns come from the planted-bug
//! catalogue (`ptdiff plants`), which a test keeps equal to the README's table; a timing cell
//! names the check that fired when a run's first finding was another one.
//!
//! The build is `cargo xtask fuzz`'s default unless `--asan`, `--stable`, `--trace-compares`
//! or `--no-trace-compares` say otherwise ([`FuzzBuild::parse_flag`]), so time to find can be
//! compared across settings; each setting builds into its own `target/bench-planted/<name>/`.
//! `--max-ops N` runs the differential target on inputs decoded to at most N operations
//! (`PTDIFF_MAX_OPS`), as `cargo xtask fuzz --max-ops N` does.

use crate::fuzz::Job;
use crate::fuzz_build::FuzzBuild;
use crate::max_ops::{max_ops_env, parse_max_ops};
use crate::tools::{ensure_cargo_fuzz, root};
use std::process::Command;
use std::time::Duration;

struct Bug {
    id: String,
    implementation: String,
    /// The check the bug's scenario fires.
    check: String,
    /// The fuzz target that finds it, whose seeds are `corpus/<target>/`.
    target: String,
    summary: String,
}

/// The planted bugs, as `ptdiff plants` lists them.
fn planted_bugs() -> Result<Vec<Bug>, String> {
    let out = Command::new("cargo")
        .args(["run", "--quiet", "-p", "ptdiff", "--", "plants"])
        .current_dir(root())
        .output()
        .map_err(|e| format!("cannot run ptdiff plants: {e}"))?;
    if !out.status.success() {
        return Err(format!("ptdiff plants failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut f = l.splitn(5, '\t');
            Some(Bug {
                id: f.next()?.to_string(),
                implementation: f.next()?.to_string(),
                check: f.next()?.to_string(),
                target: f.next()?.to_string(),
                summary: f.next()?.to_string(),
            })
        })
        .collect())
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Median time over `found` runs, or how many runs missed within the limit.
fn describe(times: &[Option<Duration>], max_seconds: u64) -> String {
    let found: Vec<Duration> = times.iter().flatten().copied().collect();
    if found.len() * 2 <= times.len() {
        return format!("not found in {max_seconds} s ({}/{} runs)", found.len(), times.len());
    }
    // Runs that missed count as the time limit, which only raises the median.
    let all: Vec<Duration> =
        times.iter().map(|t| t.unwrap_or(Duration::from_secs(max_seconds))).collect();
    format!("{:.1} s", median(all).as_secs_f64())
}

/// Where a run's corpus starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Start {
    /// The checked-in `corpus/differential/`, read only.
    Seeds,
    /// Nothing.
    Empty,
}

/// Options of `cargo xtask bench-planted`.
#[derive(Debug, PartialEq, Eq)]
struct Options {
    runs: u32,
    max_seconds: u64,
    /// Bug ids to measure; every bug when empty.
    only: Vec<String>,
    starts: Vec<Start>,
    fuzz_build: FuzzBuild,
    /// `--lock-rules off`: the concurrent target runs without them (`PTDIFF_LOCK_RULES=off`).
    lock_rules: bool,
    /// `--max-ops N`: the differential target decodes inputs to at most N operations.
    max_ops: Option<u16>,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut runs = 3u32;
    let mut max_seconds = 300u64;
    let mut only: Vec<String> = Vec::new();
    let mut starts = vec![Start::Seeds, Start::Empty];
    let mut fuzz_build = FuzzBuild::DEFAULT;
    let mut lock_rules = true;
    let mut max_ops = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--runs" => {
                runs = it
                    .next()
                    .and_then(|s| s.parse().ok())
                    .filter(|&n| n > 0)
                    .ok_or("--runs needs a number")?
            }
            "--max-seconds" => {
                max_seconds = it
                    .next()
                    .and_then(|s| s.parse().ok())
                    .filter(|&n| n > 0)
                    .ok_or("--max-seconds needs a number")?
            }
            "--bug" => only.push(it.next().ok_or("--bug needs an id")?.clone()),
            "--max-ops" => max_ops = Some(parse_max_ops(it.next())?),
            "--lock-rules" => {
                lock_rules = match it.next().map(String::as_str) {
                    Some("on") => true,
                    Some("off") => false,
                    _ => return Err("--lock-rules needs on or off".into()),
                }
            }
            "--corpus" => {
                starts = match it.next().map(String::as_str) {
                    Some("seeds") => vec![Start::Seeds],
                    Some("empty") => vec![Start::Empty],
                    Some("both") => vec![Start::Seeds, Start::Empty],
                    _ => return Err("--corpus needs seeds, empty or both".into()),
                }
            }
            flag if fuzz_build.parse_flag(flag) => {}
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(Options { runs, max_seconds, only, starts, fuzz_build, lock_rules, max_ops })
}

pub fn main(args: &[String]) -> Result<(), String> {
    let Options { runs, max_seconds, only, starts, fuzz_build, lock_rules, max_ops } = parse(args)?;
    ensure_cargo_fuzz()?;
    if !fuzz_build.available() {
        return Err("--asan needs a nightly toolchain (rustup toolchain install nightly)".into());
    }
    let bugs: Vec<Bug> =
        planted_bugs()?.into_iter().filter(|b| only.is_empty() || only.contains(&b.id)).collect();
    if let Some(unknown) = only.iter().find(|id| !bugs.iter().any(|b| &b.id == *id)) {
        return Err(format!("no planted bug `{unknown}` (`ptdiff plants` lists them)"));
    }
    let mut job = Job {
        fuzz_build,
        target_dir: Some(root().join("target/bench-planted").join(fuzz_build.name())),
        seconds: max_seconds,
        plant: Some(String::new()),
        flags: Vec::new(),
        env: if lock_rules {
            max_ops_env(max_ops)
        } else {
            let off = ("PTDIFF_LOCK_RULES".to_string(), "off".to_string());
            max_ops_env(max_ops).into_iter().chain([off]).collect()
        },
        artifact_dir: None,
        verbose: false,
    };
    job.build()?;
    let load_before = load_average();
    let scratch = std::env::temp_dir().join(format!("ptdiff-bench-{}", std::process::id()));
    let mut rows = Vec::new();
    // CPU time over wall time of every run.
    let mut shares: Vec<f64> = Vec::new();
    for bug in &bugs {
        let mut cells = Vec::new();
        let seeds = root().join("corpus").join(&bug.target);
        for &start in &starts {
            let (mode, seed_dir) = match start {
                Start::Seeds => ("seeds", Some(seeds.as_path())),
                Start::Empty => ("empty", None),
            };
            let mut times = Vec::new();
            // Checks other than the catalogue's that fired first in some run.
            let mut other_checks: Vec<String> = Vec::new();
            for run in 0..runs {
                let work = scratch.join(&bug.id).join(mode).join(run.to_string());
                let _ = std::fs::remove_dir_all(&work);
                job.plant = Some(bug.id.clone());
                // Crashes next to the run's corpus: another measurement running at the same
                // time (in this tree) neither sees nor deletes them.
                job.artifact_dir = Some(work.with_extension("artifacts"));
                job.flags = vec![format!("-seed={}", run + 1)];
                let outcome = job.run_target(&bug.target, &work, seed_dir)?;
                let found = !outcome.artifacts.is_empty();
                if let (true, Some(h)) = (found, &outcome.headline) {
                    if let Some(name) = h.split('[').nth(1).and_then(|r| r.split(']').next()) {
                        if name != bug.check && !other_checks.iter().any(|c| c == name) {
                            other_checks.push(name.to_string());
                        }
                    }
                }
                for a in &outcome.artifacts {
                    let _ = std::fs::remove_file(a);
                }
                // CPU time where it is known: other work on a shared machine stretches wall
                // time, not the fuzzer's own time on a core.
                let took = outcome.cpu.unwrap_or(outcome.elapsed);
                let wall = outcome.elapsed.as_secs_f64();
                if let Some(cpu) = outcome.cpu {
                    shares.push(cpu.as_secs_f64() / wall.max(1e-3));
                }
                eprintln!(
                    "xtask: {} from {mode} corpus, run {}: {} ({:.1} s CPU, {wall:.1} s wall)",
                    bug.id,
                    run + 1,
                    if found { "found" } else { "not found" },
                    took.as_secs_f64(),
                );
                times.push(found.then_some(took));
            }
            let mut cell = describe(&times, max_seconds);
            if !other_checks.is_empty() {
                cell.push_str(&format!(" (fired: {})", other_checks.join(", ")));
            }
            cells.push(cell);
        }
        rows.push(format!(
            "| {} | `{}` | {} | {} | {} |",
            bug.id,
            bug.implementation,
            bug.summary,
            bug.check,
            cells.join(" | ")
        ));
    }
    let _ = std::fs::remove_dir_all(&scratch);
    shares.sort_by(f64::total_cmp);
    let share = shares
        .get(shares.len() / 2)
        .map(|s| format!("; the runs had {:.0}% of a CPU (median)", s * 100.0))
        .unwrap_or_default();
    println!(
        "\nTime to first finding by each bug's fuzz target, {}{}: CPU seconds of `cargo fuzz run` \
         and the fuzzer, median of {runs} runs, one process, at most {max_seconds} s of wall \
         time (a miss counts as that); load average {load_before} before, {} after{share}:\n",
        fuzz_build.describe(),
        match (lock_rules, max_ops) {
            (true, None) => String::new(),
            (false, None) => ", lock rules off".to_string(),
            (true, Some(n)) => format!(", differential inputs of at most {n} operations"),
            (false, Some(n)) => {
                format!(", lock rules off, differential inputs of at most {n} operations")
            }
        },
        load_average()
    );
    let columns: Vec<&str> = starts
        .iter()
        .map(|s| match s {
            Start::Seeds => "from its target's seeds",
            Start::Empty => "from an empty corpus",
        })
        .collect();
    println!("| bug | in | what it breaks | check (its scenario) | {} |", columns.join(" | "));
    println!("|---|---|---|---|{}", "---|".repeat(columns.len()));
    for row in rows {
        println!("{row}");
    }
    Ok(())
}

/// The 1-, 5- and 15-minute load averages, as `/proc/loadavg` gives them.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::FuzzToolchain;

    fn parse_str(s: &str) -> Result<Options, String> {
        parse(&s.split_whitespace().map(String::from).collect::<Vec<_>>())
    }

    #[test]
    fn defaults_measure_the_default_build_from_both_corpora() {
        let o = parse_str("").unwrap();
        assert_eq!(
            o,
            Options {
                runs: 3,
                max_seconds: 300,
                only: Vec::new(),
                starts: vec![Start::Seeds, Start::Empty],
                fuzz_build: FuzzBuild::DEFAULT,
                lock_rules: true,
                max_ops: None,
            }
        );
    }

    #[test]
    fn the_build_and_the_start_are_chosen_by_flags() {
        let o =
            parse_str("--asan --trace-compares --corpus empty --bug D1 --bug F2 --runs 5").unwrap();
        assert_eq!(
            o,
            Options {
                runs: 5,
                max_seconds: 300,
                only: vec!["D1".to_string(), "F2".to_string()],
                starts: vec![Start::Empty],
                fuzz_build: FuzzBuild {
                    toolchain: FuzzToolchain::NightlyAsan,
                    trace_compares: true
                },
                lock_rules: true,
                max_ops: None,
            }
        );
        let o = parse_str("--trace-compares --max-seconds 60 --corpus seeds").unwrap();
        assert_eq!(o.fuzz_build, FuzzBuild { trace_compares: true, ..FuzzBuild::DEFAULT });
        assert_eq!((o.max_seconds, o.starts), (60, vec![Start::Seeds]));
        assert_eq!(parse_str("--corpus none").unwrap_err(), "--corpus needs seeds, empty or both");
        assert_eq!(parse_str("--msan").unwrap_err(), "unknown argument `--msan`");
        assert!(!parse_str("--lock-rules off").unwrap().lock_rules);
        assert_eq!(parse_str("--lock-rules no").unwrap_err(), "--lock-rules needs on or off");
        assert_eq!(parse_str("--max-ops 64").unwrap().max_ops, Some(64));
        assert_eq!(
            parse_str("--max-ops 2000").unwrap_err(),
            "--max-ops needs a number from 1 to 1024"
        );
    }

    #[test]
    fn a_median_counts_misses_as_the_limit() {
        let s = |secs: u64| Some(Duration::from_secs(secs));
        assert_eq!(describe(&[s(3), s(1), s(2)], 60), "2.0 s");
        assert_eq!(describe(&[s(3), None, s(2)], 60), "3.0 s");
        assert_eq!(describe(&[s(3), None, None], 60), "not found in 60 s (1/3 runs)");
    }
}
