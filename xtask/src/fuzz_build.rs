//! How a fuzz target is built and run: the toolchain (and with it the sanitizer) and whether
//! SanitizerCoverage traces comparisons, plus the memory limits and sanitizer options every
//! run of that build gets. `cargo xtask fuzz`, `bench-planted` and `bench` share it, so the
//! build that is measured is the build that fuzzes.
//!
//! The default, [`FuzzBuild::DEFAULT`], is the setting that found the planted bugs fastest
//! (README, "Planted bugs"): stable `-s none` without comparison tracing. Every build is
//! optimized with debug assertions and overflow checks ([`BUILD_FLAGS`]).

use crate::tools::{nightly_installed, root, FuzzToolchain};
use std::process::Command;

/// The `cargo fuzz build`/`run` flags of every fuzz build: optimized, with debug assertions
/// and overflow checks (an arithmetic overflow in ptdiff is a bug to find, not to wrap).
/// `oss-fuzz/build.sh` builds with the same flags (a test in `oss_fuzz` checks it).
pub const BUILD_FLAGS: [&str; 2] = ["-O", "-a"];

/// AddressSanitizer's quarantine (freed memory held back to catch use-after-free) in MB. Its
/// default, 256 MB, is most of ASan's resident memory here (about 450 MB in a 10-minute
/// campaign); 16 MB keeps a campaign under 256 MB. A later `quarantine_size_mb` in the
/// caller's `ASAN_OPTIONS` wins.
pub const ASAN_QUARANTINE_MB: u32 = 16;

/// libFuzzer's `-malloc_limit_mb`: one allocation larger than this is reported as a finding
/// (only where a sanitizer runtime provides malloc hooks, i.e. with ASan). ptdiff's largest
/// allocation is far below it: a scenario maps at most 2^16 entries.
pub const MALLOC_LIMIT_MB: u32 = 64;

/// A fuzz build: toolchain and comparison tracing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FuzzBuild {
    pub toolchain: FuzzToolchain,
    /// SanitizerCoverage's comparison hooks (`-sanitizer-coverage-trace-compares`, on unless
    /// `cargo fuzz` gets `--no-trace-compares`): libFuzzer learns the operands of comparisons,
    /// at about half of the throughput.
    pub trace_compares: bool,
}

impl Default for FuzzBuild {
    fn default() -> Self {
        FuzzBuild::DEFAULT
    }
}

impl FuzzBuild {
    /// The fastest to find the planted bugs (README, "Planted bugs").
    pub const DEFAULT: FuzzBuild =
        FuzzBuild { toolchain: FuzzToolchain::StableNoSanitizer, trace_compares: false };

    /// Reads one of the build options `--asan`, `--stable`, `--trace-compares`,
    /// `--no-trace-compares`; false when `arg` is none of them.
    pub fn parse_flag(&mut self, arg: &str) -> bool {
        match arg {
            "--asan" => self.toolchain = FuzzToolchain::NightlyAsan,
            "--stable" => self.toolchain = FuzzToolchain::StableNoSanitizer,
            "--trace-compares" => self.trace_compares = true,
            "--no-trace-compares" => self.trace_compares = false,
            _ => return false,
        }
        true
    }

    /// The `cargo fuzz` arguments after the subcommand: the sanitizer's, then
    /// [`Self::build_args`].
    pub fn cargo_fuzz_args(self) -> Vec<&'static str> {
        let mut args = Vec::new();
        if self.toolchain == FuzzToolchain::StableNoSanitizer {
            args.extend(["-s", "none"]);
        }
        args.extend(self.build_args());
        args
    }

    /// The `cargo fuzz` arguments but the sanitizer: [`BUILD_FLAGS`] and the tracing choice.
    /// `oss-fuzz/build.sh` builds every branch with the default's.
    pub fn build_args(self) -> Vec<&'static str> {
        let mut args = BUILD_FLAGS.to_vec();
        if !self.trace_compares {
            args.push("--no-trace-compares");
        }
        args
    }

    /// `cargo [+nightly] fuzz <sub> <cargo_fuzz_args>` in `fuzz/`, with [`Self::env`] set.
    pub fn cargo_fuzz(self, sub: &str) -> Command {
        let mut cmd = Command::new("cargo");
        if self.toolchain == FuzzToolchain::NightlyAsan {
            cmd.arg("+nightly");
        }
        cmd.args(["fuzz", sub]).args(self.cargo_fuzz_args());
        cmd.envs(self.env()).current_dir(root().join("fuzz"));
        cmd
    }

    /// The command line that [`Self::cargo_fuzz`] runs, as a user types it.
    pub fn command_line(self, sub: &str) -> String {
        let chain = if self.toolchain == FuzzToolchain::NightlyAsan { "+nightly " } else { "" };
        format!("cargo {chain}fuzz {sub} {}", self.cargo_fuzz_args().join(" "))
    }

    /// The environment of a run: ASan's quarantine bounded to [`ASAN_QUARANTINE_MB`] ahead of
    /// the caller's own `ASAN_OPTIONS` (which win).
    pub fn env(self) -> Vec<(&'static str, String)> {
        if self.toolchain != FuzzToolchain::NightlyAsan {
            return Vec::new();
        }
        let ours = format!("quarantine_size_mb={ASAN_QUARANTINE_MB}");
        let options = match std::env::var("ASAN_OPTIONS") {
            Ok(theirs) if !theirs.is_empty() => format!("{ours}:{theirs}"),
            _ => ours,
        };
        vec![("ASAN_OPTIONS", options)]
    }

    /// libFuzzer's resident-memory limit: an input that takes the process beyond it is
    /// reported as out-of-memory. Four times the stable budget (64 MB over a 10-minute
    /// campaign) and twice ASan's (256 MB), so a long campaign's growing corpus stays under.
    pub fn rss_limit_mb(self) -> u32 {
        match self.toolchain {
            FuzzToolchain::StableNoSanitizer => 256,
            FuzzToolchain::NightlyAsan => 512,
        }
    }

    /// The libFuzzer memory flags of every run of this build.
    pub fn libfuzzer_flags(self) -> Vec<String> {
        vec![
            format!("-rss_limit_mb={}", self.rss_limit_mb()),
            format!("-malloc_limit_mb={MALLOC_LIMIT_MB}"),
        ]
    }

    /// A short name for directories and metric keys: `stable`, `asan`, with
    /// `-no-trace-compares` when tracing is off.
    pub fn name(self) -> String {
        let base = match self.toolchain {
            FuzzToolchain::StableNoSanitizer => "stable",
            FuzzToolchain::NightlyAsan => "asan",
        };
        if self.trace_compares {
            base.to_string()
        } else {
            format!("{base}-no-trace-compares")
        }
    }

    /// For people: `stable -s none, no comparison tracing`.
    pub fn describe(self) -> String {
        let chain = match self.toolchain {
            FuzzToolchain::StableNoSanitizer => "stable -s none",
            FuzzToolchain::NightlyAsan => "nightly with AddressSanitizer",
        };
        let trace =
            if self.trace_compares { "comparison tracing" } else { "no comparison tracing" };
        format!("{chain}, {trace}")
    }

    /// Whether its toolchain is installed.
    pub fn available(self) -> bool {
        self.toolchain == FuzzToolchain::StableNoSanitizer || nightly_installed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ASAN: FuzzBuild =
        FuzzBuild { toolchain: FuzzToolchain::NightlyAsan, trace_compares: true };

    #[test]
    fn the_default_is_stable_without_comparison_tracing() {
        assert_eq!(FuzzBuild::default(), FuzzBuild::DEFAULT);
        assert_eq!(
            FuzzBuild::DEFAULT.command_line("build"),
            "cargo fuzz build -s none -O -a --no-trace-compares"
        );
        assert_eq!(FuzzBuild::DEFAULT.build_args(), ["-O", "-a", "--no-trace-compares"]);
        assert_eq!(FuzzBuild::DEFAULT.name(), "stable-no-trace-compares");
        assert_eq!(FuzzBuild::DEFAULT.describe(), "stable -s none, no comparison tracing");
        assert!(FuzzBuild::DEFAULT.env().is_empty());
        assert_eq!(
            FuzzBuild::DEFAULT.libfuzzer_flags(),
            ["-rss_limit_mb=256", "-malloc_limit_mb=64"]
        );
    }

    #[test]
    fn each_flag_changes_one_thing() {
        let mut b = FuzzBuild::DEFAULT;
        assert!(b.parse_flag("--asan"));
        assert_eq!(b, FuzzBuild { toolchain: FuzzToolchain::NightlyAsan, trace_compares: false });
        assert!(b.parse_flag("--trace-compares"));
        assert_eq!(b, ASAN);
        assert_eq!(b.command_line("run"), "cargo +nightly fuzz run -O -a");
        assert_eq!(b.name(), "asan");
        assert_eq!(b.libfuzzer_flags(), ["-rss_limit_mb=512", "-malloc_limit_mb=64"]);
        assert!(b.parse_flag("--stable"));
        assert!(b.parse_flag("--no-trace-compares"));
        assert_eq!(b, FuzzBuild::DEFAULT);
        assert!(!b.parse_flag("--seconds"));
        assert_eq!(b, FuzzBuild::DEFAULT);
    }

    #[test]
    fn asan_runs_get_a_bounded_quarantine_that_the_caller_can_override() {
        // The caller's ASAN_OPTIONS come after ours, so ASan takes theirs where both set one.
        let env = ASAN.env();
        assert_eq!(env.len(), 1);
        assert_eq!(env[0].0, "ASAN_OPTIONS");
        let expected = match std::env::var("ASAN_OPTIONS") {
            Ok(theirs) if !theirs.is_empty() => format!("quarantine_size_mb=16:{theirs}"),
            _ => "quarantine_size_mb=16".to_string(),
        };
        assert_eq!(env[0].1, expected);
    }
}
