//! `cargo xtask oss-fuzz-check`: runs `oss-fuzz/build.sh` the ways OSS-Fuzz and
//! ClusterFuzzLite run it, without Docker, and checks what each run put into `$OUT`.
//!
//! Runs, each with fresh temporary `$SRC` (holding the script as `build.sh` and `ptdiff`, a
//! symbolic link to this checkout), `$OUT` and `$WORK`, from `$SRC/ptdiff` as `compile` does:
//!
//! 1. `oss-fuzz/build.sh`, local branch (no `$SANITIZER`): the build `cargo xtask fuzz` uses,
//!    in the checkout's `fuzz/target`;
//! 2. `oss-fuzz/build.sh` with `SANITIZER=address` and `compile`'s `RUSTFLAGS` on nightly: the
//!    build OSS-Fuzz and ClusterFuzzLite fuzz;
//! 3. `oss-fuzz/build.sh` with `SANITIZER=coverage` through a stand-in for the image's `cargo`
//!    wrapper: the build their coverage reports come from;
//! 4. `.clusterfuzzlite/build.sh` (which hands over to `oss-fuzz/build.sh`) as in 2.
//!
//! Runs 2 to 4 build into their own target directories under `target/oss-fuzz-check/`, so the
//! fuzzing build in `fuzz/target` is never overwritten. [`crate::oss_fuzz_env`] lists what of
//! the image is reproduced and what is not; [`crate::oss_fuzz_out`] what `$OUT` must hold. The
//! temporary directories are removed on success and kept, with their path printed, on failure.

use crate::oss_fuzz_env::{real_cargo, removed, variables, Branch, Dirs, COVERAGE_CARGO};
use crate::oss_fuzz_out::{check_target, Instrumentation, TargetCheck};
use crate::targets::manifest_targets;
use crate::tools::{root, FuzzToolchain};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// One run of a build script: a name, the script's path in the repository, and the branch.
struct ScriptRun {
    label: &'static str,
    script: &'static str,
    branch: Branch,
}

/// The runs, in order.
const RUNS: [ScriptRun; 4] = [
    ScriptRun { label: "oss-fuzz-local", script: "oss-fuzz/build.sh", branch: Branch::Local },
    ScriptRun { label: "oss-fuzz-address", script: "oss-fuzz/build.sh", branch: Branch::Address },
    ScriptRun { label: "oss-fuzz-coverage", script: "oss-fuzz/build.sh", branch: Branch::Coverage },
    ScriptRun {
        label: "clusterfuzzlite-address",
        script: ".clusterfuzzlite/build.sh",
        branch: Branch::Address,
    },
];

/// Creates fresh `$SRC` (with `script` as `build.sh` and the `ptdiff` link), `$OUT` and `$WORK`
/// under the system temporary directory, in a directory named after `label`.
fn make_dirs(script: &str, label: &str) -> Result<Dirs, String> {
    let name = format!("ptdiff-{label}-{}", std::process::id());
    let base = std::env::temp_dir().join(name);
    let dirs = Dirs { src: base.join("src"), out: base.join("out"), work: base.join("work"), base };
    let _ = fs::remove_dir_all(&dirs.base);
    for d in [&dirs.src, &dirs.out, &dirs.work] {
        fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
    }
    let script = root().join(script);
    fs::copy(&script, dirs.src.join("build.sh"))
        .map_err(|e| format!("cannot copy {}: {e}", script.display()))?;
    std::os::unix::fs::symlink(root(), dirs.src.join("ptdiff"))
        .map_err(|e| format!("cannot link $SRC/ptdiff: {e}"))?;
    Ok(dirs)
}

/// Writes the coverage `cargo` stand-in into `dir` (made executable).
fn write_wrapper(dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let cargo = real_cargo()?;
    let path = dir.join("cargo");
    let text = COVERAGE_CARGO.replace("@CARGO@", &cargo.display().to_string());
    fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755))
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// The cargo target directory of `branch`: None (the checkout's `fuzz/target`) for the local
/// branch, else `target/oss-fuzz-check/<sanitizer build>/`.
fn target_dir(branch: Branch) -> Option<PathBuf> {
    let dir = root().join("target/oss-fuzz-check");
    match branch {
        Branch::Local => None,
        Branch::Address => Some(dir.join("address")),
        Branch::Coverage => Some(dir.join("coverage")),
    }
}

/// The instrumentation `branch` must give the binaries.
fn expected(branch: Branch) -> Instrumentation {
    match branch {
        Branch::Address => Instrumentation::Asan,
        Branch::Coverage => Instrumentation::Coverage,
        Branch::Local => match FuzzToolchain::detect() {
            FuzzToolchain::NightlyAsan => Instrumentation::Asan,
            FuzzToolchain::StableNoSanitizer => Instrumentation::Plain,
        },
    }
}

/// Runs `$SRC/build.sh` as OSS-Fuzz's `compile` does (`bash -eux`, from `$SRC/ptdiff`) in
/// `branch`'s environment.
fn run_build_script(dirs: &Dirs, branch: Branch, nightly: bool) -> Result<(), String> {
    let wrapper_dir = dirs.work.join("bin");
    if branch == Branch::Coverage {
        write_wrapper(&wrapper_dir)?;
    }
    let mut cmd = Command::new("bash");
    cmd.arg("-eux").arg(dirs.src.join("build.sh")).current_dir(dirs.src.join("ptdiff"));
    for key in removed() {
        cmd.env_remove(key);
    }
    let target_dir = target_dir(branch);
    for (key, value) in variables(branch, dirs, nightly, target_dir.as_deref(), &wrapper_dir) {
        cmd.env(key, value);
    }
    crate::tools::run(&mut cmd)
}

/// Prints one line per target of a run and returns how many targets had problems.
fn print_summary(run: &ScriptRun, checks: &[TargetCheck]) -> usize {
    println!("\n== {} ({}): what it installed in $OUT ==", run.script, run.branch.describe());
    println!(
        "{:<14} {:>6} {:>8} {:>8} {:>12}  result",
        "target", "seeds", "zipped", "options", "instrumented"
    );
    for c in checks {
        let result = if c.problems.is_empty() { "ok: binary ran every seed" } else { "FAILED" };
        println!(
            "{:<14} {:>6} {:>8} {:>8} {:>12}  {result}",
            c.target, c.seeds, c.zipped, c.flags, c.instrumented
        );
        for p in &c.problems {
            println!("  - {}", p.replace('\n', "\n    "));
        }
    }
    checks.iter().filter(|c| !c.problems.is_empty()).count()
}

/// Runs `run` in fresh directories and checks `$OUT` for every target; the directories are
/// removed when everything checked out.
fn check_run(run: &ScriptRun, targets: &[String], nightly: bool) -> Result<(), String> {
    let dirs = make_dirs(run.script, run.label)?;
    eprintln!(
        "xtask: {} ({}): SRC={} OUT={}",
        run.script,
        run.branch.describe(),
        dirs.src.display(),
        dirs.out.display()
    );
    run_build_script(&dirs, run.branch, nightly)
        .map_err(|e| format!("{e}; temporary directories kept in {}", dirs.base.display()))?;
    let expect = expected(run.branch);
    let checks: Vec<TargetCheck> =
        targets.iter().map(|t| check_target(t, &dirs.out, &dirs.work, expect)).collect();
    let failed = print_summary(run, &checks);
    if failed > 0 {
        return Err(format!(
            "{} ({}): {failed} of {} targets failed; $OUT kept in {}",
            run.script,
            run.branch.describe(),
            checks.len(),
            dirs.out.display()
        ));
    }
    let _ = fs::remove_dir_all(&dirs.base);
    Ok(())
}

/// `cargo xtask oss-fuzz-check`: see the module documentation.
pub fn main(args: &[String]) -> Result<(), String> {
    if let Some(arg) = args.first() {
        return Err(format!("unknown argument `{arg}` (oss-fuzz-check takes none)"));
    }
    crate::tools::ensure_cargo_fuzz()?;
    let start = Instant::now();
    let targets = manifest_targets()?;
    // PTDIFF_FUZZ_TOOLCHAIN=stable makes the check behave as on a machine without nightly.
    let nightly = FuzzToolchain::detect() == FuzzToolchain::NightlyAsan;
    if !nightly {
        eprintln!(
            "xtask: no nightly toolchain: the sanitizer and coverage builds use stable with \
             RUSTC_BOOTSTRAP=1 in place of the image's nightly"
        );
    }
    for run in &RUNS {
        check_run(run, &targets, nightly)?;
    }
    println!(
        "\noss-fuzz-check: {} runs of the build scripts (local; SANITIZER=address and \
         SANITIZER=coverage as OSS-Fuzz's compile sets them{}; ClusterFuzzLite's script) each \
         installed {} targets ({}) with seed corpus, options and an instrumented binary that \
         ran every seed ({} s). Not checked without Docker: the images themselves (their \
         clang, libc++ and prebuilt libFuzzer) and the Dockerfiles.",
        RUNS.len(),
        if nightly { ", on nightly" } else { ", on bootstrapped stable" },
        targets.len(),
        targets.join(", "),
        start.elapsed().as_secs()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fuzz_build::FuzzBuild;

    /// The lines of `oss-fuzz/build.sh` that build the fuzz targets.
    fn build_lines() -> Vec<String> {
        let script = fs::read_to_string(root().join("oss-fuzz/build.sh")).unwrap();
        script
            .lines()
            .map(str::trim)
            .filter(|l| l.starts_with("cargo") && l.contains("fuzz build"))
            .map(String::from)
            .collect()
    }

    #[test]
    fn every_build_in_build_sh_uses_the_local_build_flags() {
        let lines = build_lines();
        assert_eq!(lines.len(), 3, "one build line per toolchain branch: {lines:?}");
        let flags = format!("fuzz build {}", FuzzBuild::DEFAULT.build_args().join(" "));
        for line in &lines {
            assert!(line.contains(&flags), "`{line}` lacks `{flags}`");
        }
    }

    #[test]
    fn project_files_carry_the_license_header_oss_fuzz_requires() {
        for file in [
            "oss-fuzz/Dockerfile",
            "oss-fuzz/build.sh",
            ".clusterfuzzlite/Dockerfile",
            ".clusterfuzzlite/build.sh",
        ] {
            let text = fs::read_to_string(root().join(file)).unwrap();
            assert!(text.contains("http://www.apache.org/licenses/LICENSE-2.0"), "{file}");
            assert!(text.contains("Licensed under the Apache License, Version 2.0"), "{file}");
        }
    }

    #[test]
    fn sanitizer_builds_have_their_own_target_directories() {
        assert_eq!(target_dir(Branch::Local), None);
        let address = target_dir(Branch::Address).unwrap();
        let coverage = target_dir(Branch::Coverage).unwrap();
        assert!(address.ends_with("target/oss-fuzz-check/address"));
        assert!(coverage.ends_with("target/oss-fuzz-check/coverage"));
        assert_eq!(expected(Branch::Coverage), Instrumentation::Coverage);
        assert_eq!(expected(Branch::Address), Instrumentation::Asan);
    }
}
