//! `cargo xtask bench-planted`: how fast the differential fuzz target finds each planted bug.
//!
//! For every planted bug, runs `cargo fuzz run differential` (one process, so one core) with
//! that bug selected, N times with different libFuzzer seeds, once from the checked-in seed
//! corpus and once from an empty corpus, and reports the median wall time to the first finding
//! (including about a second of start-up) as a Markdown table for the README. The id,
//! implementation, check and summary columns come from the planted-bug catalogue (`ptdiff
//! plants`), which a test keeps equal to the README's table; a timing cell names the check
//! that fired when a run's first finding was another one.

use crate::fuzz::Job;
use crate::tools::{ensure_cargo_fuzz, root, FuzzToolchain};
use std::process::Command;
use std::time::Duration;

struct Bug {
    id: String,
    implementation: String,
    /// The check the bug's scenario fires.
    check: String,
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
            let mut f = l.splitn(4, '\t');
            Some(Bug {
                id: f.next()?.to_string(),
                implementation: f.next()?.to_string(),
                check: f.next()?.to_string(),
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

pub fn main(args: &[String]) -> Result<(), String> {
    let mut runs = 3u32;
    let mut max_seconds = 300u64;
    let mut only: Vec<String> = Vec::new();
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
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    ensure_cargo_fuzz()?;
    let toolchain = FuzzToolchain::detect();
    let bugs: Vec<Bug> =
        planted_bugs()?.into_iter().filter(|b| only.is_empty() || only.contains(&b.id)).collect();
    let mut job = Job {
        toolchain,
        seconds: max_seconds,
        plant: Some(String::new()),
        flags: Vec::new(),
        verbose: false,
    };
    job.build()?;
    let scratch = std::env::temp_dir().join(format!("ptdiff-bench-{}", std::process::id()));
    let seeds = root().join("corpus/differential");
    let mut rows = Vec::new();
    for bug in &bugs {
        let mut cells = Vec::new();
        for (mode, seed_dir) in [("seeds", Some(seeds.as_path())), ("empty", None)] {
            let mut times = Vec::new();
            // Checks other than the catalogue's that fired first in some run.
            let mut other_checks: Vec<String> = Vec::new();
            for run in 0..runs {
                let work = scratch.join(&bug.id).join(mode).join(run.to_string());
                let _ = std::fs::remove_dir_all(&work);
                job.plant = Some(bug.id.clone());
                job.flags = vec![format!("-seed={}", run + 1)];
                let outcome = job.run_target("differential", &work, seed_dir)?;
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
                eprintln!(
                    "xtask: {} from {mode} corpus, run {}: {}",
                    bug.id,
                    run + 1,
                    if found {
                        format!("found in {:.1} s", outcome.elapsed.as_secs_f64())
                    } else {
                        "not found".into()
                    }
                );
                times.push(found.then_some(outcome.elapsed));
            }
            let mut cell = describe(&times, max_seconds);
            if !other_checks.is_empty() {
                cell.push_str(&format!(" (fired: {})", other_checks.join(", ")));
            }
            cells.push(cell);
        }
        rows.push(format!(
            "| {} | `{}` | {} | {} | {} | {} |",
            bug.id, bug.implementation, bug.summary, bug.check, cells[0], cells[1]
        ));
    }
    let _ = std::fs::remove_dir_all(&scratch);
    println!("\nTime to first finding, `differential` target, {} ({runs} runs each, median, one core):\n", toolchain.describe());
    println!("| bug | in | what it breaks | check (its scenario) | from `corpus/differential` | from an empty corpus |");
    println!("|---|---|---|---|---|---|");
    for row in rows {
        println!("{row}");
    }
    Ok(())
}
