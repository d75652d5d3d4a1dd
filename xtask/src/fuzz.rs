//! `cargo xtask fuzz`: the main job. Builds every fuzz target (nightly + ASan when installed,
//! else stable without a sanitizer), runs each on the checked-in corpus for a bounded time with
//! progress lines, and ends with a summary: executions per second, corpus growth, findings and
//! the command that reproduces each.
//!
//! New corpus entries go to `fuzz/corpus/<target>/` (not checked in); the checked-in seeds in
//! `corpus/<target>/` are only read. Crashes land in `fuzz/artifacts/<target>/`.

use crate::tools::{ensure_cargo_fuzz, root, FuzzToolchain};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Every fuzz target, in the order they run.
pub const TARGETS: [&str; 3] = ["differential", "walker", "scenario_text"];
/// Default seconds per target.
const DEFAULT_SECONDS: u64 = 60;
/// Seconds between progress lines.
const PROGRESS_EVERY: Duration = Duration::from_secs(10);

/// Options of one fuzzing job.
pub struct Job {
    pub toolchain: FuzzToolchain,
    pub seconds: u64,
    /// Planted bug id (builds with `--features planted-bugs`, sets `PTDIFF_PLANT`).
    pub plant: Option<String>,
    /// Extra libFuzzer flags.
    pub flags: Vec<String>,
    /// Print progress and libFuzzer's notable lines.
    pub verbose: bool,
}

/// What one target's run produced.
#[derive(Debug, Default)]
pub struct Outcome {
    pub target: String,
    pub runs: u64,
    pub exec_per_sec: u64,
    pub corpus_before: usize,
    pub corpus_after: usize,
    pub artifacts: Vec<PathBuf>,
    /// The panic / finding headline, when the run stopped on a finding.
    pub headline: Option<String>,
    pub elapsed: Duration,
}

fn count_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|d| d.filter_map(Result::ok).filter(|e| e.path().is_file()).count())
        .unwrap_or(0)
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.is_file()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

impl Job {
    /// Builds every target once.
    pub fn build(&self) -> Result<(), String> {
        let mut cmd = self.toolchain.cargo_fuzz("build");
        // Optimized, with debug assertions and overflow checks: an arithmetic overflow in the
        // library is a bug the fuzzer must see, not wrap silently.
        cmd.args(["-O", "-a"]);
        if self.plant.is_some() {
            cmd.args(["--features", "planted-bugs"]);
        }
        crate::tools::run(&mut cmd)
    }

    /// Runs `target` with `work` as the growing corpus and `seeds` (if any) read-only.
    pub fn run_target(
        &self,
        target: &str,
        work: &Path,
        seeds: Option<&Path>,
    ) -> Result<Outcome, String> {
        let artifacts = root().join("fuzz/artifacts").join(target);
        std::fs::create_dir_all(work).map_err(|e| format!("{}: {e}", work.display()))?;
        std::fs::create_dir_all(&artifacts).map_err(|e| format!("{}: {e}", artifacts.display()))?;
        let before_artifacts = files_in(&artifacts);
        let mut outcome = Outcome {
            target: target.to_string(),
            corpus_before: count_files(work) + seeds.map_or(0, count_files),
            ..Outcome::default()
        };
        let mut cmd = self.toolchain.cargo_fuzz("run");
        cmd.args(["-O", "-a"]);
        if let Some(bug) = &self.plant {
            cmd.args(["--features", "planted-bugs"]).env("PTDIFF_PLANT", bug);
        }
        cmd.arg(target).arg(work);
        if let Some(seeds) = seeds {
            cmd.arg(seeds);
        }
        cmd.arg("--")
            .arg(format!("-max_total_time={}", self.seconds))
            .arg(format!("-artifact_prefix={}/", artifacts.display()))
            .args(["-print_final_stats=1", "-timeout=10", "-rss_limit_mb=4096"])
            .args(&self.flags)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let start = Instant::now();
        let mut child = cmd.spawn().map_err(|e| format!("cannot start cargo fuzz: {e}"))?;
        let stderr = child.stderr.take().ok_or("no stderr from cargo fuzz")?;
        let last_status = Arc::new(Mutex::new(String::new()));
        let done = Arc::new(Mutex::new(false));
        let ticker = self.verbose.then(|| {
            let (last, done, target) = (last_status.clone(), done.clone(), target.to_string());
            std::thread::spawn(move || {
                let mut next = PROGRESS_EVERY;
                while !*done.lock().unwrap_or_else(|e| e.into_inner()) {
                    std::thread::sleep(Duration::from_millis(200));
                    if start.elapsed() >= next {
                        next += PROGRESS_EVERY;
                        let line = last.lock().map(|l| l.clone()).unwrap_or_default();
                        eprintln!("[{target} {:>4}s] {line}", start.elapsed().as_secs());
                    }
                }
            })
        });
        let mut panic_lines = Vec::new();
        let mut in_panic = false;
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(v) = line.strip_prefix("stat::number_of_executed_units:") {
                outcome.runs = v.trim().parse().unwrap_or(0);
            } else if let Some(v) = line.strip_prefix("stat::average_exec_per_sec:") {
                outcome.exec_per_sec = v.trim().parse().unwrap_or(0);
            } else if line.starts_with('#') && line.contains("exec/s") {
                if let Ok(mut l) = last_status.lock() {
                    *l = line.split_whitespace().collect::<Vec<_>>().join(" ");
                }
            }
            if line.contains("panicked at") {
                in_panic = true;
            }
            if in_panic && panic_lines.len() < 40 && !line.starts_with("note:") {
                panic_lines.push(line.clone());
            }
            if line.starts_with("==") && line.contains("ERROR") && outcome.headline.is_none() {
                outcome.headline = Some(line.clone());
            }
            if self.verbose
                && (line.contains("ptdiff stats")
                    || line.contains("INITED")
                    || line.contains("DONE"))
            {
                eprintln!("[{target}] {line}");
            }
        }
        let status = child.wait().map_err(|e| format!("cargo fuzz: {e}"))?;
        if let Ok(mut d) = done.lock() {
            *d = true;
        }
        if let Some(t) = ticker {
            let _ = t.join();
        }
        outcome.elapsed = start.elapsed();
        outcome.corpus_after = count_files(work) + seeds.map_or(0, count_files);
        outcome.artifacts =
            files_in(&artifacts).into_iter().filter(|p| !before_artifacts.contains(p)).collect();
        if let Some(finding) = panic_lines.iter().find(|l| l.contains("FINDING")) {
            outcome.headline = Some(finding.trim().to_string());
        } else if let Some(first) = panic_lines.first() {
            outcome.headline.get_or_insert_with(|| first.trim().to_string());
        }
        if self.verbose && !panic_lines.is_empty() {
            eprintln!("[{target}] the fuzz target panicked:\n{}", panic_lines.join("\n"));
        }
        if !status.success() && outcome.artifacts.is_empty() {
            return Err(format!(
                "cargo fuzz run {target} failed ({status}) without writing a crash file"
            ));
        }
        Ok(outcome)
    }
}

/// How to reproduce an artifact of `target`.
pub fn reproduce_command(
    toolchain: FuzzToolchain,
    target: &str,
    artifact: &Path,
    plant: Option<&str>,
) -> String {
    let rel = artifact.strip_prefix(root()).unwrap_or(artifact).display().to_string();
    let plant_flag = plant.map(|b| format!(" --plant {b}")).unwrap_or_default();
    let features = if plant.is_some() { " --features planted-bugs" } else { "" };
    if target == "differential" {
        format!(
            "cargo run -p ptdiff{features} -- repro{plant_flag} {rel}\n      minimize: cargo run -p ptdiff{features} -- minimize{plant_flag} {rel}"
        )
    } else {
        let chain = if toolchain == FuzzToolchain::NightlyAsan { "+nightly " } else { "" };
        let s = if toolchain == FuzzToolchain::StableNoSanitizer { " -s none" } else { "" };
        format!("(cd fuzz && cargo {chain}fuzz run{s} {target} ../{rel})")
    }
}

/// `cargo xtask fuzz [--seconds N] [--target T]... [--plant BUG]`.
pub fn main(args: &[String]) -> Result<(), String> {
    let mut seconds = DEFAULT_SECONDS;
    let mut targets: Vec<String> = Vec::new();
    let mut plant = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--seconds" => {
                seconds = it
                    .next()
                    .and_then(|s| s.parse().ok())
                    .filter(|&s| s > 0)
                    .ok_or("--seconds needs a positive number")?
            }
            "--target" => {
                let t = it.next().ok_or("--target needs a name")?;
                if !TARGETS.contains(&t.as_str()) {
                    return Err(format!("unknown target `{t}` (targets: {})", TARGETS.join(", ")));
                }
                targets.push(t.clone());
            }
            "--plant" => plant = Some(it.next().ok_or("--plant needs a bug id")?.clone()),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    if targets.is_empty() {
        targets = TARGETS.iter().map(|t| t.to_string()).collect();
    }
    ensure_cargo_fuzz()?;
    let toolchain = FuzzToolchain::detect();
    eprintln!(
        "xtask: fuzzing {} for {seconds}s each, {}{}",
        targets.join(", "),
        toolchain.describe(),
        plant.as_deref().map(|b| format!(", planted bug {b}")).unwrap_or_default()
    );
    let job = Job { toolchain, seconds, plant: plant.clone(), flags: Vec::new(), verbose: true };
    job.build()?;
    let root = root();
    let mut outcomes = Vec::new();
    for target in &targets {
        let work = root.join("fuzz/corpus").join(target);
        let seeds = root.join("corpus").join(target);
        outcomes.push(job.run_target(target, &work, seeds.is_dir().then_some(seeds.as_path()))?);
    }
    println!("\n== ptdiff fuzzing summary ({}) ==", toolchain.describe());
    println!(
        "{:<14} {:>8} {:>10} {:>9} {:>16}  result",
        "target", "seconds", "execs", "exec/s", "corpus"
    );
    let mut findings = 0;
    for o in &outcomes {
        let result = if o.artifacts.is_empty() {
            "no finding".to_string()
        } else {
            format!("{} FINDING(S)", o.artifacts.len())
        };
        println!(
            "{:<14} {:>8} {:>10} {:>9} {:>7} -> {:<6}  {result}",
            o.target,
            o.elapsed.as_secs(),
            o.runs,
            o.exec_per_sec,
            o.corpus_before,
            o.corpus_after
        );
        for a in &o.artifacts {
            findings += 1;
            if let Some(h) = &o.headline {
                println!("  {h}");
            }
            println!(
                "  reproduce: {}",
                reproduce_command(toolchain, &o.target, a, plant.as_deref())
            );
        }
    }
    if findings > 0 {
        Err(format!("{findings} finding(s); see the reproduce commands above"))
    } else {
        println!("no findings");
        Ok(())
    }
}
