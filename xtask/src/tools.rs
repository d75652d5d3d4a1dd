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

/// How fuzz targets are built here: nightly with AddressSanitizer when a nightly toolchain is
/// installed, else stable without a sanitizer (`-s none`; ptdiff is safe Rust, so ASan adds
/// little beyond catching bugs in unsafe dependencies).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FuzzToolchain {
    NightlyAsan,
    StableNoSanitizer,
}

impl FuzzToolchain {
    /// Picks at run time by what is installed; `PTDIFF_FUZZ_TOOLCHAIN=stable` forces stable.
    pub fn detect() -> FuzzToolchain {
        let forced_stable = std::env::var("PTDIFF_FUZZ_TOOLCHAIN").is_ok_and(|v| v == "stable");
        if !forced_stable && works(Command::new("cargo").args(["+nightly", "--version"])) {
            FuzzToolchain::NightlyAsan
        } else {
            FuzzToolchain::StableNoSanitizer
        }
    }

    /// A `cargo` command with the toolchain's `fuzz <sub>` prefix and sanitizer flag.
    pub fn cargo_fuzz(self, sub: &str) -> Command {
        let mut cmd = Command::new("cargo");
        if self == FuzzToolchain::NightlyAsan {
            cmd.arg("+nightly");
        }
        cmd.args(["fuzz", sub]);
        if self == FuzzToolchain::StableNoSanitizer {
            cmd.args(["-s", "none"]);
        }
        cmd.current_dir(root().join("fuzz"));
        cmd
    }

    pub fn describe(self) -> &'static str {
        match self {
            FuzzToolchain::NightlyAsan => "nightly, AddressSanitizer",
            FuzzToolchain::StableNoSanitizer => "stable, no sanitizer (-s none)",
        }
    }
}

/// `cargo xtask test`: every test of the workspace with planted bugs compiled in (they stay
/// off unless selected), then again without the feature so both builds stay correct.
pub fn test() -> Result<(), String> {
    let root = root();
    run(Command::new("cargo").args(["test", "--workspace", "--all-features"]).current_dir(&root))?;
    run(Command::new("cargo").args(["test", "--workspace"]).current_dir(&root))
}
