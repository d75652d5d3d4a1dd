//! `cargo xtask bench`: how fast ptdiff runs (issue 10), so a change's effect is measured side
//! by side. Measures, per tree:
//!
//! - **fuzz builds**: for each fuzz target, executions per second and peak RSS of a run of
//!   `--seconds` from a fresh copy of the tree's `corpus/<target>/` (one libFuzzer process, so
//!   one core), built as `cargo xtask fuzz` builds: on stable (`-s none`) and with
//!   `--asan` (nightly AddressSanitizer; skipped with a note when nightly is missing), both
//!   without comparison tracing unless `--trace-compares`, with the same ASan options and
//!   memory limits ([`crate::fuzz_build::FuzzBuild`]);
//! - **replay**: checked operations per second of an uninstrumented release build over the
//!   fixed input set `corpus/bench/replay/`, every input decoded and run with all checks;
//! - **time per input** of 16, 64, 256 and 1,024 operations (`corpus/bench/long/`), and where
//!   it goes: setup, ops, per-op checks, final sweep, drop (when the engine has
//!   `Runner::step_unchecked`);
//! - **the ceiling**: the same replay with the per-op state checks left out (each op and its
//!   outcome checks, then the final sweep), the rate no cheaper per-op check can lift replay
//!   above (also only with `Runner::step_unchecked`).
//!
//! The replay side is the bench runner, `xtask/bench-runner/`. `--against REV` checks REV out
//! with `git worktree add` into `target/bench/rev-<commit>/`, builds it the same way and
//! measures both trees in the same run, alternating which goes first in each repeat so that
//! drifting load hits both. Every figure is the median of `--repeats` samples.
//! `--save FILE` writes the medians; `--baseline FILE` sets such a file beside them.

mod inputs;
mod libfuzzer;
mod options;
mod replay;
mod results;
mod tree;

use crate::fuzz_build::FuzzBuild;
use crate::max_ops::max_ops_env;
use crate::tools::root;
use crate::tools::FuzzToolchain;
use options::Options;
use results::{Comparison, Sample, Series};
use std::path::{Path, PathBuf};
use std::process::Command;
use tree::Tree;

/// The trees being measured and every sample so far.
struct Session {
    o: Options,
    trees: Vec<Tree>,
    /// Per tree, per fuzz build: the build and its directory.
    fuzz_dirs: Vec<Vec<(FuzzBuild, PathBuf)>>,
    /// The fuzz targets to measure, and per tree those it has.
    targets: Vec<String>,
    tree_targets: Vec<Vec<String>>,
    /// Per tree, its samples.
    series: Vec<Series>,
    /// CPU time over wall time of every measured process that says.
    shares: Vec<f64>,
}

impl Session {
    /// Runs tree `t`'s bench runner: `command` over `dir` for `seconds`.
    fn runner_sample(
        &mut self,
        t: usize,
        command: &str,
        dir: &Path,
        seconds: f64,
    ) -> Result<(), String> {
        let tree = &self.trees[t];
        let runner = tree.runner.as_ref().ok_or("the bench runner is not built")?;
        let out = Command::new(runner)
            .arg(command)
            .arg(dir)
            .arg(seconds.to_string())
            .output()
            .map_err(|e| format!("cannot run {}: {e}", runner.display()))?;
        if !out.status.success() {
            return Err(format!(
                "bench runner of {} failed ({}): {}",
                tree.label,
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        let measured = replay::parse(&String::from_utf8_lossy(&out.stdout))?;
        if measured.findings > 0 {
            eprintln!(
                "xtask: WARNING: {} input(s) of {} produced a finding in {} (nothing is \
                 planted: a bug, or a check that changed); their time is cut short",
                measured.findings,
                dir.display(),
                tree.label
            );
        }
        self.shares.extend(measured.cpu_share);
        self.series[t].add(&measured.sample);
        Ok(())
    }

    /// Runs fuzz build `b` of `target` in tree `t` once, with libFuzzer seed `seed`.
    fn fuzz_sample(&mut self, t: usize, b: usize, target: &str, seed: u32) -> Result<(), String> {
        let tree = &self.trees[t];
        let (build, dir) = &self.fuzz_dirs[t][b];
        let (build, name) = (*build, build.name());
        let binary = Tree::fuzz_binary(dir, target)?;
        let work = root().join("target/bench/work").join(format!("{t}-{target}-{name}"));
        let seeds = tree.root.join("corpus").join(target);
        let env = max_ops_env(self.o.max_ops);
        let s = libfuzzer::run(&binary, build, &seeds, &work, self.o.fuzz_seconds, seed, &env)?;
        let share =
            s.cpu_share.map(|c| format!(", {:.0}% of a CPU", c * 100.0)).unwrap_or_default();
        eprintln!(
            "xtask: {target}, {name}, {}: {} exec/s, {} MB{share}",
            tree.label,
            results::number(s.exec_per_sec),
            s.peak_rss_mb
        );
        match &s.crash {
            Some(crash) => eprintln!("xtask: WARNING: {target} ({}) crashed: {crash}", tree.label),
            None => {
                let _ = std::fs::remove_dir_all(&work);
            }
        }
        let mut sample = Sample::new();
        sample.push(format!("fuzz/{target}/{name}/exec_per_sec"), s.exec_per_sec);
        sample.push(format!("fuzz/{target}/{name}/peak_rss_mb"), s.peak_rss_mb);
        self.shares.extend(s.cpu_share);
        self.series[t].add(&sample);
        Ok(())
    }

    /// Every measurement `repeats` times; in every other repeat the trees go in reverse order.
    fn measure(&mut self, inputs: &Path) -> Result<(), String> {
        let builds = self.fuzz_dirs.first().map_or(0, Vec::len);
        let seconds = self.o.replay_seconds;
        // Each takes about `seconds`: the length and phase samples are per length.
        let runner_runs = [
            ("replay", "replay", seconds),
            ("lengths", "long", seconds / 4.0),
            ("phases", "long", seconds / 4.0),
            ("ceiling", "replay", seconds),
        ];
        for repeat in 0..self.o.repeats {
            eprintln!("xtask: repeat {}/{}", repeat + 1, self.o.repeats);
            let mut order: Vec<usize> = (0..self.trees.len()).collect();
            if repeat % 2 == 1 {
                order.reverse();
            }
            for b in 0..builds {
                for target in self.targets.clone() {
                    for &t in &order {
                        if !self.tree_targets[t].contains(&target) {
                            continue;
                        }
                        self.fuzz_sample(t, b, &target, repeat + 1)?;
                    }
                }
            }
            for (command, dir, seconds) in runner_runs {
                for &t in &order {
                    // `phases` and `ceiling` need the runner's `phases` feature.
                    let needs_phases = matches!(command, "phases" | "ceiling");
                    if !needs_phases || self.trees[t].no_phases.is_none() {
                        self.runner_sample(t, command, &inputs.join(dir), seconds)?;
                    }
                }
            }
        }
        Ok(())
    }
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_string())
}

pub fn main(args: &[String]) -> Result<(), String> {
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{}", options::USAGE);
        return Ok(());
    }
    let o = Options::parse(args)?;
    let inputs = root().join("corpus/bench");
    if o.write_inputs {
        inputs::write(&inputs)?;
        eprintln!("xtask: wrote {}", inputs.display());
        return Ok(());
    }
    let baseline = match &o.baseline {
        Some(path) => {
            let text =
                std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
            Some(results::parse_saved(&text).map_err(|e| format!("{}: {e}", path.display()))?)
        }
        None => None,
    };
    let load_before = load_average();
    let mut trees = vec![Tree::this()?];
    if let Some(rev) = &o.against {
        trees.push(Tree::revision(rev)?);
    }
    let stable =
        FuzzBuild { toolchain: FuzzToolchain::StableNoSanitizer, trace_compares: o.trace_compares };
    let asan = FuzzBuild { toolchain: FuzzToolchain::NightlyAsan, ..stable };
    let mut notes = Vec::new();
    let mut builds = Vec::new();
    if !o.no_fuzz {
        builds.push(stable);
        if o.no_asan {
            notes.push("AddressSanitizer build skipped (--no-asan)".to_string());
        } else if asan.available() {
            builds.push(asan);
        } else {
            notes.push("AddressSanitizer build skipped: no nightly toolchain".to_string());
        }
    }
    let mut tree_targets = Vec::new();
    for tree in &trees {
        tree_targets.push(if builds.is_empty() { Vec::new() } else { tree.fuzz_targets()? });
    }
    let targets = if builds.is_empty() {
        Vec::new()
    } else {
        options::pick_targets(&o.targets, &tree_targets[0])?
    };
    for (tree, has) in trees.iter().zip(&tree_targets).skip(1) {
        for missing in targets.iter().filter(|t| !has.contains(t)) {
            notes.push(format!("{}: has no fuzz target {missing}", tree.label));
        }
    }
    // Build everything before measuring anything.
    let mut fuzz_dirs = Vec::new();
    for tree in &mut trees {
        eprintln!("xtask: building {} ({})", tree.label, tree.commit);
        tree.build_runner()?;
        let dirs = builds
            .iter()
            .map(|b| Ok((*b, tree.build_fuzz(*b)?)))
            .collect::<Result<Vec<_>, String>>()?;
        fuzz_dirs.push(dirs);
        if let Some(why) = &tree.no_phases {
            notes.push(format!("{}: no phase split: {why}", tree.label));
        }
    }
    let series = vec![Series::default(); trees.len()];
    let mut session =
        Session { o, trees, fuzz_dirs, targets, tree_targets, series, shares: Vec::new() };
    session.measure(&inputs)?;
    let Session { o, trees, series, shares, .. } = session;

    let medians = series[0].medians();
    let mut others: Vec<Comparison> = trees
        .iter()
        .zip(&series)
        .skip(1)
        .map(|(tree, s)| Comparison {
            label: tree.label.clone(),
            medians: s.medians().into_iter().collect(),
            spreads: Some(s.spreads()),
        })
        .collect();
    if let Some(medians) = baseline {
        others.push(Comparison { label: "baseline".to_string(), medians, spreads: None });
    }
    let described: Vec<String> =
        trees.iter().map(|t| format!("{} = {}", t.label, t.commit)).collect();
    let max_ops = o.max_ops.map(|n| format!(", differential inputs of at most {n} ops"));
    let summary = format!(
        "ptdiff bench: {}; medians of {} repeats; fuzz runs of {} s{}, one process each; \
         replay samples of {} s; load average {load_before} before, {} after",
        described.join(", "),
        o.repeats,
        o.fuzz_seconds,
        max_ops.unwrap_or_default(),
        o.replay_seconds,
        load_average()
    );
    println!("\n{summary}");
    println!(
        "spread = (max - min) / median; ratios are this / other (exec/s, ops/s: higher is \
         better; us, MB: lower is better)\n"
    );
    let (phase_medians, main_medians): (Vec<_>, Vec<_>) =
        medians.iter().cloned().partition(|(key, _)| key.starts_with("phase/"));
    let spreads = series[0].spreads();
    print!("{}", results::table("this", &main_medians, &spreads, &others));
    let other_medians: Vec<(String, Vec<(String, f64)>)> =
        trees.iter().zip(&series).skip(1).map(|(t, s)| (t.label.clone(), s.medians())).collect();
    let mut split = false;
    for (label, m) in std::iter::once(("this".to_string(), medians.clone())).chain(other_medians) {
        if let Some(phases) = results::phase_table(&m) {
            println!("\nWhere an input's time goes ({label}, microseconds per input, medians):\n");
            print!("{phases}");
            split = true;
        }
    }
    if split && !others.is_empty() && !phase_medians.is_empty() {
        println!();
        print!("{}", results::table("this", &phase_medians, &spreads, &others));
    }
    if let Some(median_share) = results::median(&shares) {
        let lowest = shares.iter().copied().fold(f64::MAX, f64::min);
        println!(
            "\nThe measured processes had {:.0}% of a CPU (median; lowest {:.0}%). Rates and \
             times are per CPU second, which a busy machine distorts less than wall time.",
            median_share * 100.0,
            lowest * 100.0
        );
    }
    for note in &notes {
        println!("note: {note}");
    }
    if let Some(path) = &o.save {
        std::fs::write(path, results::format_saved(&summary, &medians))
            .map_err(|e| format!("{}: {e}", path.display()))?;
        println!("saved the medians to {}", path.display());
    }
    Ok(())
}
