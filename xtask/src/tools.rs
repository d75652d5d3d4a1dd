//! Finding and installing the tools the commands need, and running processes.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

/// The repository root (the parent of `xtask/`).
pub fn root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}

/// Runs `cmd`, inheriting output; an error names the command when it fails.
pub fn run(cmd: &mut Command) -> Result<(), String> {
    let shown = format!("{cmd:?}");
    eprintln!("xtask: running {shown}");
    let status = cmd.status().map_err(|e| format!("cannot start {shown}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{shown} failed ({status})"))
    }
}

/// CPU time (user + system) of this process's children that have ended and been waited for,
/// with theirs in turn, from `/proc/self/stat`; `None` where that cannot be read. The
/// difference across a child's run is the CPU time that child and its descendants took.
pub fn children_cpu_time() -> Option<Duration> {
    parse_children_cpu_time(&std::fs::read_to_string("/proc/self/stat").ok()?)
}

/// `cutime + cstime` (fields 16 and 17, in clock ticks of 1/100 s) of a `/proc/<pid>/stat`.
fn parse_children_cpu_time(stat: &str) -> Option<Duration> {
    // The command name in parentheses may hold spaces; the fields after it are plain. The
    // state (field 3) comes first there.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |field: usize| fields.get(field - 3)?.parse::<u64>().ok();
    Some(Duration::from_millis((ticks(16)? + ticks(17)?) * 10))
}

/// True when `cmd` runs and exits 0 (output discarded).
pub fn works(cmd: &mut Command) -> bool {
    cmd.stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
}

/// Makes sure `cargo fuzz` is available, installing it from crates.io when missing.
pub fn ensure_cargo_fuzz() -> Result<(), String> {
    if works(Command::new("cargo").args(["fuzz", "--version"])) {
        return Ok(());
    }
    eprintln!("xtask: cargo-fuzz is missing; installing it (a few minutes, once)");
    run(Command::new("cargo").args(["install", "--locked", "cargo-fuzz"]))
}

/// Which compiler and sanitizer a fuzz build uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FuzzToolchain {
    /// `cargo +nightly fuzz`: AddressSanitizer.
    NightlyAsan,
    /// `cargo fuzz -s none`: the default toolchain, no sanitizer.
    StableNoSanitizer,
}

impl FuzzToolchain {
    /// Nightly with ASan when a nightly toolchain is installed (`PTDIFF_FUZZ_TOOLCHAIN=stable`
    /// makes it behave as without one), else stable: how `oss-fuzz/build.sh` picks when run
    /// by hand. `cargo xtask fuzz` does not guess; it builds [`crate::fuzz_build::FuzzBuild`].
    pub fn detect() -> FuzzToolchain {
        let forced_stable = std::env::var("PTDIFF_FUZZ_TOOLCHAIN").is_ok_and(|v| v == "stable");
        if !forced_stable && nightly_installed() {
            FuzzToolchain::NightlyAsan
        } else {
            FuzzToolchain::StableNoSanitizer
        }
    }
}

/// True when `cargo +nightly` runs.
pub fn nightly_installed() -> bool {
    works(Command::new("cargo").args(["+nightly", "--version"]))
}

/// `cargo xtask test`: every test of the workspace with planted bugs compiled in (they stay
/// off unless selected), then again without the feature so both builds stay correct.
pub fn test() -> Result<(), String> {
    let root = root();
    run(Command::new("cargo").args(["test", "--workspace", "--all-features"]).current_dir(&root))?;
    run(Command::new("cargo").args(["test", "--workspace"]).current_dir(&root))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn children_cpu_time_is_cutime_plus_cstime() {
        let stat = "4242 (cargo (x) y) S 1 4242 4242 0 -1 4194560 100 200 0 0 \
                    731 22 1250 75 20 0 1 0 1000 1000 100";
        assert_eq!(parse_children_cpu_time(stat), Some(Duration::from_millis(13_250)));
        assert_eq!(parse_children_cpu_time("4242 (cargo) S 1"), None);
        assert!(children_cpu_time().is_some());
    }
}
