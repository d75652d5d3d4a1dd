//! `cargo xtask fuzz`: the main job. Builds every fuzz target ([`FuzzBuild::DEFAULT`], stable
//! without a sanitizer or comparison tracing, unless `--asan` / `--trace-compares` say
//! otherwise), seeds each target's corpus folder, runs each target for a bounded time with
//! progress lines, and ends with one summary: executions per second, peak resident memory,
//! corpus growth, findings and the commands that reproduce and minimize each.
//!
//! New corpus entries go to `fuzz/corpus/<target>/`, seeded from the checked-in
//! `corpus/<target>/` (see [`crate::corpus`]), which is only read. Crashes land in
//! `fuzz/artifacts/<target>/`. `--jobs N` runs libFuzzer's `-fork=N` (N processes, one corpus,
//! one total); the default is one process per target. `--target` also names a template's
//! target (`fuzz/templates/`, [`crate::templates`]), fuzzed only when named.

use crate::fuzz_build::FuzzBuild;
use crate::libfuzzer_log::LibFuzzerLog;
use crate::max_ops::{max_ops_env, max_ops_flag, parse_max_ops};
use crate::targets::{check_known, dictionary, manifest_targets};
use crate::tools::{ensure_cargo_fuzz, root};
use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// Default seconds per target.
const DEFAULT_SECONDS: u64 = 60;
/// Seconds between progress lines.
const PROGRESS_EVERY: Duration = Duration::from_secs(10);
/// Lines of libFuzzer's output kept to explain a run that failed without a crash file.
const TAIL_LINES: usize = 20;

/// Options of one fuzzing job.
pub struct Job {
    pub fuzz_build: FuzzBuild,
    /// Cargo's target directory for the build; cargo-fuzz's `fuzz/target/` when `None`.
    pub target_dir: Option<PathBuf>,
    pub seconds: u64,
    /// Planted bug id (builds with `--features planted-bugs`, sets `PTDIFF_PLANT`).
    pub plant: Option<String>,
    /// Extra libFuzzer flags (e.g. `-fork=N`, `-seed=N`).
    pub flags: Vec<String>,
    /// Extra environment of the fuzzer (e.g. `PTDIFF_LOCK_RULES=off`).
    pub env: Vec<(String, String)>,
    /// Where crashes go; the cargo-fuzz project's `artifacts/<target>/` when `None`.
    pub artifact_dir: Option<PathBuf>,
    /// Print progress and libFuzzer's notable lines.
    pub verbose: bool,
}

/// What one target's run produced.
#[derive(Debug, Default)]
pub struct Outcome {
    pub target: String,
    pub runs: u64,
    pub exec_per_sec: u64,
    /// libFuzzer's peak resident memory in MB, when it said.
    pub peak_rss_mb: Option<u64>,
    pub corpus_before: usize,
    pub corpus_after: usize,
    /// The inputs this run reported (crash, timeout, out-of-memory), even when libFuzzer wrote
    /// one under a name that already existed.
    pub artifacts: Vec<PathBuf>,
    /// The panic / finding headline, when the run stopped on a finding.
    pub headline: Option<String>,
    pub elapsed: Duration,
    /// CPU time of the run (`cargo fuzz` and the fuzzer), when it could be read.
    pub cpu: Option<Duration>,
}

fn count_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|d| d.filter_map(Result::ok).filter(|e| e.path().is_file()).count())
        .unwrap_or(0)
}

/// The files of `dir` modified at or after `since`, sorted.
fn modified_since(dir: &Path, since: SystemTime) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.metadata().and_then(|m| m.modified()).is_ok_and(|t| t >= since))
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// The findings of a run: every input libFuzzer said it wrote (`written`, whether or not the
/// name existed before) that is on disk, then any other file the run wrote into the artifacts
/// folder (`touched`), without repeats.
pub fn findings(written: &[PathBuf], touched: &[PathBuf]) -> Vec<PathBuf> {
    let mut all: Vec<PathBuf> = written.iter().filter(|p| p.is_file()).cloned().collect();
    for p in touched {
        if !all.contains(p) {
            all.push(p.clone());
        }
    }
    all
}

impl Job {
    /// `cargo fuzz <sub>` of this job's build, features and target directory.
    fn cargo_fuzz(&self, sub: &str) -> Command {
        let mut cmd = self.fuzz_build.cargo_fuzz(sub);
        if self.plant.is_some() {
            cmd.args(["--features", "planted-bugs"]);
        }
        if let Some(dir) = &self.target_dir {
            cmd.arg("--target-dir").arg(dir);
        }
        cmd
    }

    /// Builds every target of `fuzz/` once.
    pub fn build(&self) -> Result<(), String> {
        self.build_in(&root().join("fuzz"))
    }

    /// Builds every target of the cargo-fuzz project `fuzz_dir` once.
    pub fn build_in(&self, fuzz_dir: &Path) -> Result<(), String> {
        let mut cmd = self.cargo_fuzz("build");
        cmd.current_dir(fuzz_dir);
        crate::tools::run(&mut cmd)
    }

    /// Runs `target` of `fuzz/` with `work` as the growing corpus and `seeds` (if any)
    /// read-only.
    pub fn run_target(
        &self,
        target: &str,
        work: &Path,
        seeds: Option<&Path>,
    ) -> Result<Outcome, String> {
        self.run_target_in(&root().join("fuzz"), target, work, seeds)
    }

    /// [`Job::run_target`] for a target of the cargo-fuzz project `fuzz_dir`, whose crashes go
    /// to `fuzz_dir/artifacts/<target>/` (or [`Job::artifact_dir`]).
    pub fn run_target_in(
        &self,
        fuzz_dir: &Path,
        target: &str,
        work: &Path,
        seeds: Option<&Path>,
    ) -> Result<Outcome, String> {
        let artifacts = match &self.artifact_dir {
            Some(dir) => dir.clone(),
            None => fuzz_dir.join("artifacts").join(target),
        };
        std::fs::create_dir_all(work).map_err(|e| format!("{}: {e}", work.display()))?;
        std::fs::create_dir_all(&artifacts).map_err(|e| format!("{}: {e}", artifacts.display()))?;
        let mut outcome = Outcome {
            target: target.to_string(),
            corpus_before: count_files(work) + seeds.map_or(0, count_files),
            ..Outcome::default()
        };
        let mut cmd = self.cargo_fuzz("run");
        cmd.current_dir(fuzz_dir);
        if let Some(bug) = &self.plant {
            cmd.env("PTDIFF_PLANT", bug);
        }
        for (key, value) in &self.env {
            cmd.env(key, value);
        }
        cmd.arg(target).arg(work);
        if let Some(seeds) = seeds {
            cmd.arg(seeds);
        }
        cmd.arg("--")
            .arg(format!("-max_total_time={}", self.seconds))
            .arg(format!("-artifact_prefix={}/", artifacts.display()))
            .args(["-print_final_stats=1", "-timeout=10"])
            .args(self.fuzz_build.libfuzzer_flags());
        if let Some(dict) = dictionary(target) {
            cmd.arg(format!("-dict={}", dict.display()));
        }
        cmd.args(&self.flags).stdout(Stdio::null()).stderr(Stdio::piped());
        let started = SystemTime::now();
        let start = Instant::now();
        let cpu_before = crate::tools::children_cpu_time();
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
        let mut log = LibFuzzerLog::default();
        let mut tail = VecDeque::with_capacity(TAIL_LINES);
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            log.feed(&line);
            if let Ok(mut l) = last_status.lock() {
                l.clone_from(&log.status);
            }
            if self.verbose && LibFuzzerLog::is_notable(&line) {
                eprintln!("[{target}] {line}");
            }
            if tail.len() == TAIL_LINES {
                tail.pop_front();
            }
            tail.push_back(line);
        }
        let status = child.wait().map_err(|e| format!("cargo fuzz: {e}"))?;
        if let Ok(mut d) = done.lock() {
            *d = true;
        }
        if let Some(t) = ticker {
            let _ = t.join();
        }
        outcome.elapsed = start.elapsed();
        outcome.cpu = cpu_before
            .zip(crate::tools::children_cpu_time())
            .map(|(before, after)| after.saturating_sub(before));
        outcome.runs = log.runs;
        outcome.exec_per_sec =
            log.exec_per_sec.unwrap_or_else(|| log.runs / outcome.elapsed.as_secs().max(1));
        outcome.peak_rss_mb = log.peak_rss_mb;
        outcome.corpus_after = count_files(work) + seeds.map_or(0, count_files);
        outcome.artifacts = findings(&log.written, &modified_since(&artifacts, started));
        outcome.headline = log.headline();
        if self.verbose && !log.panic.is_empty() {
            eprintln!("[{target}] the fuzz target panicked:\n{}", log.panic.join("\n"));
        }
        if !status.success() && outcome.artifacts.is_empty() {
            return Err(format!(
                "cargo fuzz run {target} failed ({status}) without reporting a crash file; \
                 its last lines:\n{}",
                Vec::from(tail).join("\n")
            ));
        }
        Ok(outcome)
    }
}

/// The commands that reproduce and minimize `artifact` of `target`, from the repository root,
/// for a run with `plant` planted and inputs decoded to at most `max_ops` operations.
pub fn finding_commands(
    fuzz_build: FuzzBuild,
    target: &str,
    artifact: &Path,
    plant: Option<&str>,
    max_ops: Option<u16>,
) -> (String, String) {
    let rel = artifact.strip_prefix(root()).unwrap_or(artifact).display().to_string();
    let features = if plant.is_some() { " --features planted-bugs" } else { "" };
    if target == "differential" || target == "concurrent" {
        let mut plant_flag = plant.map(|b| format!(" --plant {b}")).unwrap_or_default();
        if target == "differential" {
            plant_flag.push_str(&max_ops_flag(max_ops));
        }
        let cli = format!("cargo run -p ptdiff{features} --");
        let how = if target == "concurrent" { " --concurrent" } else { "" };
        (
            format!("{cli} repro{how}{plant_flag} {rel}"),
            format!("{cli} minimize{how}{plant_flag} {rel}"),
        )
    } else {
        let env = plant.map(|b| format!("PTDIFF_PLANT={b} ")).unwrap_or_default();
        let cmd =
            |sub: &str| format!("{env}{}{features} {target} {rel}", fuzz_build.command_line(sub));
        (cmd("run"), cmd("tmin"))
    }
}

/// Options of `cargo xtask fuzz`.
#[derive(Debug, PartialEq, Eq)]
struct Options {
    seconds: u64,
    jobs: u32,
    targets: Vec<String>,
    plant: Option<String>,
    /// `--max-ops N`: the differential targets decode each input to at most N operations.
    max_ops: Option<u16>,
    /// `--asan`, `--stable`, `--trace-compares`, `--no-trace-compares`.
    fuzz_build: FuzzBuild,
}

/// Parses `[--seconds N] [--jobs N] [--target T]... [--plant BUG] [--max-ops N]` and the build options
/// ([`FuzzBuild::parse_flag`]); `known` are the targets `--target` may name, `every` those
/// fuzzed when it names none.
fn parse(args: &[String], known: &[String], every: &[String]) -> Result<Options, String> {
    let mut o = Options {
        seconds: DEFAULT_SECONDS,
        jobs: 1,
        targets: Vec::new(),
        plant: None,
        max_ops: None,
        fuzz_build: FuzzBuild::DEFAULT,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--seconds" => {
                o.seconds = it
                    .next()
                    .and_then(|s| s.parse().ok())
                    .filter(|&s| s > 0)
                    .ok_or("--seconds needs a positive number")?
            }
            "--jobs" => {
                o.jobs = it
                    .next()
                    .and_then(|s| s.parse().ok())
                    .filter(|&j| j > 0)
                    .ok_or("--jobs needs a positive number")?
            }
            "--target" => {
                let t = it.next().ok_or("--target needs a name")?;
                check_known(t, known)?;
                o.targets.push(t.clone());
            }
            "--plant" => o.plant = Some(it.next().ok_or("--plant needs a bug id")?.clone()),
            "--max-ops" => o.max_ops = Some(parse_max_ops(it.next())?),
            flag if o.fuzz_build.parse_flag(flag) => {}
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    if o.targets.is_empty() {
        o.targets = every.to_vec();
    }
    Ok(o)
}

/// The libFuzzer flags of `--jobs N`: none for one process, else `-fork=N`.
fn jobs_flags(jobs: u32) -> Vec<String> {
    if jobs > 1 {
        vec![format!("-fork={jobs}")]
    } else {
        Vec::new()
    }
}

/// `cargo xtask fuzz [--seconds N] [--jobs N] [--target T]... [--plant BUG] [--max-ops N]
/// [--asan] [--trace-compares]`.
pub fn main(args: &[String]) -> Result<(), String> {
    let manifest = manifest_targets()?;
    let templates = crate::templates::templates()?;
    let known: Vec<String> =
        manifest.iter().cloned().chain(templates.iter().map(|t| t.target.clone())).collect();
    let Options { seconds, jobs, targets, plant, max_ops, fuzz_build } =
        parse(args, &known, &manifest)?;
    let template = |target: &str| templates.iter().find(|t| t.target == target);
    ensure_cargo_fuzz()?;
    if !fuzz_build.available() {
        return Err("--asan needs a nightly toolchain (rustup toolchain install nightly)".into());
    }
    let cores = if jobs > 1 {
        format!("{jobs} processes (libFuzzer -fork={jobs})")
    } else {
        "one process".into()
    };
    eprintln!(
        "xtask: fuzzing {} for {seconds}s each, {cores}, {}{}",
        targets.join(", "),
        fuzz_build.describe(),
        plant.as_deref().map(|b| format!(", planted bug {b}")).unwrap_or_default()
    );
    if let Some(n) = max_ops {
        eprintln!("xtask: differential inputs decoded to at most {n} operations (PTDIFF_MAX_OPS)");
    }
    let job = Job {
        fuzz_build,
        target_dir: None,
        seconds,
        plant: plant.clone(),
        flags: jobs_flags(jobs),
        env: max_ops_env(max_ops),
        artifact_dir: None,
        verbose: true,
    };
    if targets.iter().any(|t| template(t).is_none()) {
        job.build()?;
    }
    for t in targets.iter().filter_map(|t| template(t)) {
        job.build_in(&t.fuzz_dir())?;
    }
    let root = root();
    let mut outcomes = Vec::new();
    for target in &targets {
        if let Some(t) = template(target) {
            crate::corpus::seed_dir(&t.seed_dir(), &t.corpus())?;
            outcomes.push(job.run_target_in(&t.fuzz_dir(), target, &t.corpus(), None)?);
            continue;
        }
        crate::corpus::seed(target)?;
        let work = root.join("fuzz/corpus").join(target);
        outcomes.push(job.run_target(target, &work, None)?);
    }
    println!("\n== ptdiff fuzzing summary ({}, {cores} per target) ==", fuzz_build.describe());
    println!(
        "{:<14} {:>8} {:>10} {:>9} {:>9} {:>16}  result",
        "target", "seconds", "execs", "exec/s", "peak RSS", "corpus"
    );
    let mut findings = 0;
    for o in &outcomes {
        let result = if o.artifacts.is_empty() {
            "no finding".to_string()
        } else {
            format!("{} FINDING(S)", o.artifacts.len())
        };
        let rss = o.peak_rss_mb.map_or("?".to_string(), |mb| format!("{mb} MB"));
        println!(
            "{:<14} {:>8} {:>10} {:>9} {rss:>9} {:>7} -> {:<6}  {result}",
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
            let (reproduce, minimize) = match template(&o.target) {
                Some(t) => t.finding_commands(a, plant.as_deref(), max_ops),
                None => finding_commands(fuzz_build, &o.target, a, plant.as_deref(), max_ops),
            };
            println!("  reproduce: {reproduce}\n  minimize:  {minimize}");
        }
    }
    if findings > 0 {
        Err(format!("{findings} finding(s); see the reproduce commands above"))
    } else {
        println!("no findings");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::FuzzToolchain;
    use std::fs;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    fn known() -> Vec<String> {
        args("differential walker scenario_text")
    }

    #[test]
    fn defaults_are_one_process_every_target_sixty_seconds() {
        let o = parse(&[], &known(), &known()).unwrap();
        let fuzz_build = FuzzBuild::DEFAULT;
        let plant = None;
        let expected =
            Options { seconds: 60, jobs: 1, targets: known(), plant, max_ops: None, fuzz_build };
        assert_eq!(o, expected);
        assert!(jobs_flags(o.jobs).is_empty());
        assert!(max_ops_env(o.max_ops).is_empty());
    }

    #[test]
    fn max_ops_becomes_the_targets_environment() {
        let o = parse(&args("--max-ops 64"), &known(), &known()).unwrap();
        assert_eq!(o.max_ops, Some(64));
        assert_eq!(max_ops_env(o.max_ops), [("PTDIFF_MAX_OPS".to_string(), "64".to_string())]);
        for bad in ["--max-ops 0", "--max-ops 1025", "--max-ops x", "--max-ops"] {
            assert_eq!(
                parse(&args(bad), &known(), &known()),
                Err("--max-ops needs a number from 1 to 1024".to_string()),
                "{bad}"
            );
        }
    }

    #[test]
    fn asan_and_comparison_tracing_are_one_flag_away() {
        let asan = FuzzBuild { toolchain: FuzzToolchain::NightlyAsan, trace_compares: false };
        assert_eq!(parse(&args("--asan"), &known(), &known()).unwrap().fuzz_build, asan);
        let traced = FuzzBuild { trace_compares: true, ..FuzzBuild::DEFAULT };
        assert_eq!(
            parse(&args("--trace-compares"), &known(), &known()).unwrap().fuzz_build,
            traced
        );
        let both = parse(&args("--asan --trace-compares --seconds 5"), &known(), &known()).unwrap();
        assert_eq!(both.fuzz_build, FuzzBuild { toolchain: FuzzToolchain::NightlyAsan, ..traced });
        assert_eq!(both.seconds, 5);
        assert_eq!(
            parse(&args("--tsan"), &known(), &known()),
            Err("unknown argument `--tsan`".to_string())
        );
    }

    #[test]
    fn a_template_target_is_fuzzed_only_when_named() {
        let (every, known) = (known(), args("differential walker scenario_text own_table"));
        assert_eq!(parse(&[], &known, &every).unwrap().targets, every);
        let named = parse(&args("--target own_table --target walker"), &known, &every).unwrap();
        assert_eq!(named.targets, args("own_table walker"));
    }

    #[test]
    fn jobs_become_libfuzzer_fork() {
        let o = parse(&args("--jobs 4 --target walker --seconds 5"), &known(), &[]).unwrap();
        let fuzz_build = FuzzBuild::DEFAULT;
        assert_eq!(
            o,
            Options {
                seconds: 5,
                jobs: 4,
                targets: args("walker"),
                plant: None,
                max_ops: None,
                fuzz_build
            }
        );
        assert_eq!(jobs_flags(o.jobs), ["-fork=4"]);
        assert_eq!(
            parse(&args("--jobs 0"), &known(), &known()),
            Err("--jobs needs a positive number".to_string())
        );
        assert!(parse(&args("--target nope"), &known(), &known())
            .unwrap_err()
            .contains("unknown target"));
    }

    #[test]
    fn a_crash_written_under_an_existing_name_is_still_a_finding() {
        let dir = std::env::temp_dir().join(format!("ptdiff-findings-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let old = dir.join("crash-1d45c815645cf68f9afaff8da49cdaf7e23c9b0b");
        fs::write(&old, b"from an earlier run").unwrap();
        let started = SystemTime::now() + Duration::from_secs(3600);
        // libFuzzer rewrote the same name: the folder shows nothing new since the start...
        assert!(modified_since(&dir, started).is_empty());
        // ...but its output names the file, so the run still reports it.
        let mut log = LibFuzzerLog::default();
        log.feed(&format!(
            "artifact_prefix='{}/'; Test unit written to {}",
            dir.display(),
            old.display()
        ));
        assert_eq!(findings(&log.written, &modified_since(&dir, started)), vec![old.clone()]);
        // A file that is reported and also new is listed once; a reported file that is gone
        // is not listed.
        let touched = std::slice::from_ref(&old);
        assert_eq!(findings(&[old.clone(), dir.join("gone")], touched), vec![old.clone()]);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn every_finding_has_reproduce_and_minimize_commands() {
        let root = root();
        let asan = FuzzBuild { toolchain: FuzzToolchain::NightlyAsan, trace_compares: true };
        let crash = root.join("fuzz/artifacts/differential/crash-1");
        assert_eq!(
            finding_commands(asan, "differential", &crash, Some("S5"), None),
            (
                "cargo run -p ptdiff --features planted-bugs -- repro --plant S5 fuzz/artifacts/differential/crash-1".to_string(),
                "cargo run -p ptdiff --features planted-bugs -- minimize --plant S5 fuzz/artifacts/differential/crash-1".to_string()
            )
        );
        // Under `--max-ops`, the differential target's commands decode as the run did.
        assert_eq!(
            finding_commands(asan, "differential", &crash, None, Some(64)).1,
            "cargo run -p ptdiff -- minimize --max-ops 64 fuzz/artifacts/differential/crash-1"
        );
        let crash = root.join("fuzz/artifacts/concurrent/crash-4");
        assert_eq!(
            finding_commands(asan, "concurrent", &crash, None, Some(64)).0,
            "cargo run -p ptdiff -- repro --concurrent fuzz/artifacts/concurrent/crash-4"
        );
        let crash = root.join("fuzz/artifacts/walker/crash-2");
        assert_eq!(
            finding_commands(FuzzBuild::DEFAULT, "walker", &crash, None, Some(64)),
            (
                "cargo fuzz run -s none -O -a --no-trace-compares walker fuzz/artifacts/walker/crash-2".to_string(),
                "cargo fuzz tmin -s none -O -a --no-trace-compares walker fuzz/artifacts/walker/crash-2".to_string()
            )
        );
        let crash = root.join("fuzz/artifacts/scenario_text/crash-3");
        assert_eq!(
            finding_commands(asan, "scenario_text", &crash, Some("T2"), None).1,
            "PTDIFF_PLANT=T2 cargo +nightly fuzz tmin -O -a --features planted-bugs scenario_text fuzz/artifacts/scenario_text/crash-3"
        );
    }
}
