//! Finding and installing the tools the commands need, and running processes.

use std::path::PathBuf;
use std::process::{Command, Stdio};

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
