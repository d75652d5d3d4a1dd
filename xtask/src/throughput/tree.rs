//! A source tree to measure, this checkout or a git worktree of another revision in
//! `target/bench/rev-<commit>/`, and its builds: the fuzz targets per fuzz build
//! ([`FuzzBuild`]) and the bench runner. Every build goes to the tree's own `target/bench/`, so nothing clobbers
//! `fuzz/target/` or another build.

use crate::fuzz_build::FuzzBuild;
use crate::tools::{ensure_cargo_fuzz, root, run};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A tree and what was built from it.
pub struct Tree {
    /// Its root (holding `engine/`, `fuzz/`, `corpus/`).
    pub root: PathBuf,
    /// Its name in the tables: `this` or the revision asked for.
    pub label: String,
    /// Its commit, with `+changes` when this checkout has uncommitted changes.
    pub commit: String,
    /// The bench runner binary, once built.
    pub runner: Option<PathBuf>,
    /// Why the runner was built without the phase split, if it was.
    pub no_phases: Option<String>,
}

fn git(dir: &Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "git {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

impl Tree {
    /// This checkout.
    pub fn this() -> Result<Tree, String> {
        let root = root();
        let mut commit = git(&root, &["rev-parse", "--short=12", "HEAD"])?;
        if !git(&root, &["status", "--porcelain"])?.is_empty() {
            commit.push_str("+changes");
        }
        Ok(Tree { root, label: "this".to_string(), commit, runner: None, no_phases: None })
    }

    /// A worktree of `rev` in `target/bench/rev-<commit>/`, reused when already there.
    pub fn revision(rev: &str) -> Result<Tree, String> {
        let here = root();
        let commit = git(&here, &["rev-parse", "--verify", &format!("{rev}^{{commit}}")])?;
        let short = &commit[..12.min(commit.len())];
        let path = here.join("target/bench").join(format!("rev-{short}"));
        let current = git(&path, &["rev-parse", "HEAD"]).ok();
        if current.as_deref() != Some(commit.as_str()) || !path.join("engine").is_dir() {
            let _ = std::fs::remove_dir_all(&path);
            git(&here, &["worktree", "prune"])?;
            std::fs::create_dir_all(here.join("target/bench")).map_err(|e| e.to_string())?;
            let shown = path.display().to_string();
            git(&here, &["worktree", "add", "--detach", &shown, &commit])?;
        }
        Ok(Tree {
            root: path,
            label: rev.to_string(),
            commit: short.to_string(),
            runner: None,
            no_phases: None,
        })
    }

    fn bench_dir(&self) -> PathBuf {
        self.root.join("target/bench")
    }

    /// Builds every fuzz target with `build` (as `cargo xtask fuzz` builds it) into
    /// `target/bench/fuzz-<build name>/`; returns that directory.
    pub fn build_fuzz(&self, build: FuzzBuild) -> Result<PathBuf, String> {
        ensure_cargo_fuzz()?;
        let dir = self.bench_dir().join(format!("fuzz-{}", build.name()));
        let mut cmd = build.cargo_fuzz("build");
        cmd.arg("--target-dir").arg(&dir).current_dir(self.root.join("fuzz"));
        run(&mut cmd)?;
        Ok(dir)
    }

    /// The tree's fuzz targets, as `cargo fuzz list` gives them.
    pub fn fuzz_targets(&self) -> Result<Vec<String>, String> {
        ensure_cargo_fuzz()?;
        let out = Command::new("cargo")
            .args(["fuzz", "list"])
            .current_dir(self.root.join("fuzz"))
            .output()
            .map_err(|e| format!("cannot run cargo fuzz list: {e}"))?;
        if !out.status.success() {
            return Err(format!("cargo fuzz list in {}: {}", self.label, out.status));
        }
        Ok(String::from_utf8_lossy(&out.stdout).split_whitespace().map(String::from).collect())
    }

    /// The binary of `target` in a fuzz build directory (`<dir>/<triple>/release/<target>`).
    pub fn fuzz_binary(dir: &Path, target: &str) -> Result<PathBuf, String> {
        std::fs::read_dir(dir)
            .map_err(|e| format!("{}: {e}", dir.display()))?
            .filter_map(Result::ok)
            .map(|e| e.path().join("release").join(target))
            .find(|p| p.is_file())
            .ok_or_else(|| format!("no {target} binary under {}", dir.display()))
    }

    /// Builds the bench runner of this checkout against this tree's engine (a copy of
    /// `xtask/bench-runner/` goes into another revision's worktree first), with the phase
    /// split when the engine has `Runner::step_unchecked`.
    pub fn build_runner(&mut self) -> Result<(), String> {
        let source = root().join("xtask/bench-runner");
        let dest = self.root.join("xtask/bench-runner");
        if dest != source {
            copy_runner(&source, &dest)?;
        }
        let target = self.bench_dir().join("runner");
        let build = |phases: bool| {
            let mut cmd = Command::new("cargo");
            cmd.args(["build", "--quiet", "--release", "--manifest-path"])
                .arg(dest.join("Cargo.toml"))
                .arg("--target-dir")
                .arg(&target);
            if phases {
                cmd.args(["--features", "phases"]);
            }
            run(&mut cmd)
        };
        self.no_phases = if !has_step_unchecked(&self.root.join("engine/src")) {
            Some("its engine has no Runner::step_unchecked".to_string())
        } else if let Err(e) = build(true) {
            Some(format!("the runner's phase split does not build against its engine ({e})"))
        } else {
            None
        };
        if self.no_phases.is_some() {
            build(false)?;
        }
        self.runner = Some(target.join("release/ptdiff-bench-runner"));
        Ok(())
    }
}

/// Copies the runner's manifest, lock file and sources.
fn copy_runner(source: &Path, dest: &Path) -> Result<(), String> {
    let _ = std::fs::remove_dir_all(dest);
    std::fs::create_dir_all(dest.join("src")).map_err(|e| format!("{}: {e}", dest.display()))?;
    for name in ["Cargo.toml", "Cargo.lock"] {
        if source.join(name).is_file() {
            std::fs::copy(source.join(name), dest.join(name))
                .map_err(|e| format!("{name}: {e}"))?;
        }
    }
    let sources = std::fs::read_dir(source.join("src")).map_err(|e| e.to_string())?;
    for entry in sources.filter_map(Result::ok) {
        std::fs::copy(entry.path(), dest.join("src").join(entry.file_name()))
            .map_err(|e| format!("{}: {e}", entry.path().display()))?;
    }
    Ok(())
}

/// True when some `.rs` file under `dir` defines `fn step_unchecked`.
fn has_step_unchecked(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else { return false };
    entries.filter_map(Result::ok).map(|e| e.path()).any(|p| {
        if p.is_dir() {
            has_step_unchecked(&p)
        } else {
            p.extension().is_some_and(|x| x == "rs")
                && std::fs::read_to_string(&p).is_ok_and(|s| s.contains("fn step_unchecked"))
        }
    })
}
