//! The environment in which OSS-Fuzz (and ClusterFuzzLite, which uses the same images) runs a
//! project's `build.sh`, as far as it can be had without Docker.
//!
//! Facts of the `base-builder-rust` image and its `compile` step that matter to a Rust
//! project, and what `oss-fuzz-check` does with each:
//!
//! | in the image | here |
//! |---|---|
//! | `SANITIZER` (`address` by default, `coverage` for coverage builds), `FUZZING_ENGINE=libfuzzer`, `FUZZING_LANGUAGE=rust`, `ARCHITECTURE=x86_64`; `$SRC`, `$OUT`, `$WORK` | set the same |
//! | `RUSTFLAGS` = `--cfg fuzzing -Cdebuginfo=1 -Cforce-frame-pointers`, plus `-Zsanitizer=address` for `address`, plus `-Cinstrument-coverage -C link-arg=-lc++` for `coverage` | set the same, less `-C link-arg=-lc++` (below) |
//! | a pinned nightly is the default toolchain (`RUSTUP_TOOLCHAIN`), so plain `cargo` is nightly | `RUSTUP_TOOLCHAIN=nightly` when a nightly is installed, else stable with `RUSTC_BOOTSTRAP=1` standing in |
//! | `cargo` is a wrapper: with `SANITIZER=coverage`, `cargo fuzz build ...` becomes `cargo build --bins` in `fuzz/` (dev profile, no `--release`, the fuzz crate's paths remapped, `-C debug-assertions=no` added to `RUSTFLAGS`), whose `debug/` output is copied to `<target dir>/x86_64-unknown-linux-gnu/release/`; other commands pass through | a stand-in script with that behaviour first on `PATH` ([`COVERAGE_CARGO`]) |
//! | libFuzzer is the image's prebuilt `libclang_rt.fuzzer.a` built against libc++ (`CUSTOM_LIBFUZZER_PATH`, `CUSTOM_LIBFUZZER_STD_CXX=c++`, hence `-lc++`), C/C++ flags carry the sanitizer, the linker is `clang` | not reproduced: `libfuzzer-sys` compiles its own libFuzzer with the system C++ compiler and library, and links with the default linker |
//!
//! What cannot be checked without Docker: the image itself (its nightly, clang, libc++ and
//! prebuilt libFuzzer), the Dockerfiles, and the runner images' `bad_build_check`.

use std::path::{Path, PathBuf};

/// How `build.sh` is run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Branch {
    /// A developer's run: no `$SANITIZER`, so `build.sh` picks its toolchain itself.
    Local,
    /// OSS-Fuzz's fuzzing build: `SANITIZER=address` with `compile`'s flags on nightly.
    Address,
    /// OSS-Fuzz's coverage build: `SANITIZER=coverage` through the image's `cargo` wrapper.
    Coverage,
}

impl Branch {
    pub fn describe(self) -> &'static str {
        match self {
            Branch::Local => "local run (no $SANITIZER)",
            Branch::Address => "SANITIZER=address, compile's RUSTFLAGS",
            Branch::Coverage => {
                "SANITIZER=coverage, compile's RUSTFLAGS, the image's cargo wrapper"
            }
        }
    }

    /// The `$SANITIZER` value, if any.
    fn sanitizer(self) -> Option<&'static str> {
        match self {
            Branch::Local => None,
            Branch::Address => Some("address"),
            Branch::Coverage => Some("coverage"),
        }
    }

    /// `RUSTFLAGS` as `compile` exports them for this branch (without `-C link-arg=-lc++`).
    pub fn rustflags(self) -> Option<String> {
        let flags = match self {
            Branch::Local => return None,
            Branch::Address => {
                "--cfg fuzzing -Zsanitizer=address -Cdebuginfo=1 -Cforce-frame-pointers"
            }
            Branch::Coverage => {
                "--cfg fuzzing -Cdebuginfo=1 -Cforce-frame-pointers -Cinstrument-coverage"
            }
        };
        Some(flags.to_string())
    }
}

/// The directories of one run of `build.sh`.
pub struct Dirs {
    pub base: PathBuf,
    pub src: PathBuf,
    pub out: PathBuf,
    pub work: PathBuf,
}

/// A stand-in for the base image's `cargo` wrapper (see the module documentation), written
/// for this check: `@CARGO@` is replaced by the real `cargo`.
pub const COVERAGE_CARGO: &str = r#"#!/bin/bash
# Stands in for the OSS-Fuzz base image's `cargo` wrapper (written by cargo xtask oss-fuzz-check).
set -eu
real='@CARGO@'
if [ "${SANITIZER:-}" = coverage ] && [ "${1:-}" = fuzz ] && [ "${2:-}" = build ]; then
  cd fuzz 2>/dev/null || true
  here="$PWD"
  for dir in $(find . -name '*.rs' -not -path './target/*' | cut -d/ -f2 | sort -u); do
    RUSTFLAGS="$RUSTFLAGS --remap-path-prefix $dir=$here/$dir"
  done
  export RUSTFLAGS="$RUSTFLAGS -C debug-assertions=no"
  "$real" build --bins
  target_dir="${CARGO_TARGET_DIR:-$here/target}"
  mkdir -p "$target_dir/x86_64-unknown-linux-gnu/release"
  cp -r "$target_dir/debug/." "$target_dir/x86_64-unknown-linux-gnu/release/"
  exit 0
fi
exec "$real" "$@"
"#;

/// The first `cargo` on `PATH` (the rustup proxy, so that `RUSTUP_TOOLCHAIN` still selects).
pub fn real_cargo() -> Result<PathBuf, String> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join("cargo"))
        .find(|p| p.is_file())
        .ok_or_else(|| "no cargo on PATH".to_string())
}

/// The environment variables `build.sh` gets in `branch` (on top of the caller's, less those
/// in [`removed`]). `nightly` says whether a nightly toolchain is installed; `target_dir` is
/// the branch's own cargo target directory (None: the checkout's `fuzz/target`);
/// `wrapper_dir` holds the coverage `cargo` stand-in.
pub fn variables(
    branch: Branch,
    dirs: &Dirs,
    nightly: bool,
    target_dir: Option<&Path>,
    wrapper_dir: &Path,
) -> Vec<(String, String)> {
    let mut vars: Vec<(String, String)> = vec![
        ("SRC".into(), dirs.src.display().to_string()),
        ("OUT".into(), dirs.out.display().to_string()),
        ("WORK".into(), dirs.work.display().to_string()),
    ];
    if let Some(dir) = target_dir {
        vars.push(("CARGO_TARGET_DIR".into(), dir.display().to_string()));
    }
    let (Some(sanitizer), Some(rustflags)) = (branch.sanitizer(), branch.rustflags()) else {
        return vars;
    };
    vars.extend([
        ("SANITIZER".into(), sanitizer.into()),
        ("FUZZING_ENGINE".into(), "libfuzzer".into()),
        ("FUZZING_LANGUAGE".into(), "rust".into()),
        ("ARCHITECTURE".into(), "x86_64".into()),
        ("RUSTFLAGS".into(), rustflags),
    ]);
    if nightly {
        vars.push(("RUSTUP_TOOLCHAIN".into(), "nightly".into()));
    } else {
        vars.push(("RUSTC_BOOTSTRAP".into(), "1".into()));
    }
    if branch == Branch::Coverage {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut dirs = vec![wrapper_dir.to_path_buf()];
        dirs.extend(std::env::split_paths(&path));
        let joined = std::env::join_paths(dirs).map(|p| p.to_string_lossy().into_owned());
        vars.push(("PATH".into(), joined.unwrap_or_default()));
    }
    vars
}

/// Variables of the caller's environment that `build.sh` must not inherit.
pub fn removed() -> [&'static str; 6] {
    [
        "SANITIZER",
        "PTDIFF_SRC",
        "RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "RUSTUP_TOOLCHAIN",
        "RUSTC_BOOTSTRAP",
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dirs() -> Dirs {
        let base = PathBuf::from("/t");
        Dirs { src: base.join("src"), out: base.join("out"), work: base.join("work"), base }
    }

    fn get<'a>(vars: &'a [(String, String)], key: &str) -> Option<&'a str> {
        vars.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    #[test]
    fn address_branch_has_compiles_flags_on_nightly() {
        let vars = variables(
            Branch::Address,
            &dirs(),
            true,
            Some(Path::new("/t/target")),
            Path::new("/w"),
        );
        assert_eq!(get(&vars, "SANITIZER"), Some("address"));
        assert_eq!(get(&vars, "FUZZING_ENGINE"), Some("libfuzzer"));
        assert_eq!(
            get(&vars, "RUSTFLAGS"),
            Some("--cfg fuzzing -Zsanitizer=address -Cdebuginfo=1 -Cforce-frame-pointers")
        );
        assert_eq!(get(&vars, "RUSTUP_TOOLCHAIN"), Some("nightly"));
        assert_eq!(get(&vars, "CARGO_TARGET_DIR"), Some("/t/target"));
        assert_eq!(get(&vars, "OUT"), Some("/t/out"));
        assert_eq!(get(&vars, "PATH"), None, "only the coverage build has the cargo wrapper");
    }

    #[test]
    fn coverage_branch_puts_the_wrapper_first_and_falls_back_to_bootstrapped_stable() {
        let vars = variables(Branch::Coverage, &dirs(), false, None, Path::new("/w"));
        assert_eq!(get(&vars, "SANITIZER"), Some("coverage"));
        assert_eq!(
            get(&vars, "RUSTFLAGS"),
            Some("--cfg fuzzing -Cdebuginfo=1 -Cforce-frame-pointers -Cinstrument-coverage")
        );
        assert_eq!(get(&vars, "RUSTC_BOOTSTRAP"), Some("1"));
        assert_eq!(get(&vars, "RUSTUP_TOOLCHAIN"), None);
        assert!(get(&vars, "PATH").unwrap().starts_with("/w:"));
    }

    #[test]
    fn local_branch_sets_only_the_directories() {
        let vars = variables(Branch::Local, &dirs(), true, None, Path::new("/w"));
        let keys: Vec<&str> = vars.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["SRC", "OUT", "WORK"]);
    }

    #[test]
    fn the_wrapper_turns_coverage_fuzz_builds_into_debug_builds_copied_to_release() {
        for needle in [
            r#"[ "${SANITIZER:-}" = coverage ] && [ "${1:-}" = fuzz ] && [ "${2:-}" = build ]"#,
            "-C debug-assertions=no",
            r#""$real" build --bins"#,
            "x86_64-unknown-linux-gnu/release",
            r#"exec "$real" "$@""#,
        ] {
            assert!(COVERAGE_CARGO.contains(needle), "wrapper lacks `{needle}`");
        }
    }
}
