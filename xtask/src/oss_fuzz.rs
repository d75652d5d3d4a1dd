//! `cargo xtask oss-fuzz-check`: runs `oss-fuzz/build.sh`, then `.clusterfuzzlite/build.sh`
//! (which delegates to it), the way OSS-Fuzz and ClusterFuzzLite do, without Docker, and checks
//! what each put into `$OUT`.
//!
//! Set-up, as the base-builder image has it: a temporary `$SRC` holding `build.sh` (copied from
//! the repository) and `ptdiff` (a symbolic link to this checkout), empty `$OUT` and `$WORK`;
//! `build.sh` runs from `$SRC/ptdiff` without `$SANITIZER`, so it picks nightly + ASan or
//! stable `-s none` itself (the second build reuses the first one's `fuzz/target`). Then, for
//! every `[[bin]]` of `fuzz/Cargo.toml`, `$OUT` must hold:
//! the binary; `<target>_seed_corpus.zip` with as many entries as `corpus/<target>/` has files
//! (at least one); `<target>.options` with a `[libfuzzer]` section; and the binary, given those
//! options as flags (so a dictionary is parsed) and every seed file, must exit 0. The temporary
//! directories are removed on success and kept, with their path printed, on failure.

use crate::tools::root;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// The temporary `$SRC`, `$OUT` and `$WORK` of one check.
struct Dirs {
    base: PathBuf,
    src: PathBuf,
    out: PathBuf,
    work: PathBuf,
}

/// The build scripts checked: a name and the script's path in the repository.
const SCRIPTS: [(&str, &str); 2] =
    [("OSS-Fuzz", "oss-fuzz/build.sh"), ("ClusterFuzzLite", ".clusterfuzzlite/build.sh")];

/// Creates fresh `$SRC` (with `script` as `build.sh` and the `ptdiff` link), `$OUT` and `$WORK`
/// under the system temporary directory, in a directory named after `label`.
fn make_dirs(script: &str, label: &str) -> Result<Dirs, String> {
    let name = format!("ptdiff-{}-{}", label.to_lowercase(), std::process::id());
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

/// The `[[bin]]` names of `fuzz/Cargo.toml`, in file order.
pub fn manifest_targets() -> Result<Vec<String>, String> {
    let path = root().join("fuzz/Cargo.toml");
    let text = fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut targets = Vec::new();
    let mut in_bin = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_bin = line == "[[bin]]";
        } else if let Some(value) = line.strip_prefix("name").map(str::trim_start) {
            if let (true, Some(v)) = (in_bin, value.strip_prefix('=')) {
                targets.push(v.trim().trim_matches('"').to_string());
            }
        }
    }
    if targets.is_empty() {
        return Err(format!("no [[bin]] targets in {}", path.display()));
    }
    Ok(targets)
}

/// The regular files directly in `dir`, sorted.
fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.is_file()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// The number of entries of the zip archive at `path`, read from its end-of-central-directory
/// record (signature `PK\x05\x06`, entry count at byte 10).
fn zip_entries(path: &Path) -> Result<usize, String> {
    let bytes = fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let start = bytes.len().saturating_sub(22 + 65535);
    let eocd = (start..bytes.len().saturating_sub(21))
        .rev()
        .find(|&i| bytes[i..i + 4] == *b"PK\x05\x06")
        .ok_or_else(|| format!("{} is not a zip archive", path.display()))?;
    Ok(usize::from(u16::from_le_bytes([bytes[eocd + 10], bytes[eocd + 11]])))
}

/// The libFuzzer flags of an `.options` file's `[libfuzzer]` section (`key = value` becomes
/// `-key=value`; a `dict` is resolved against `out`). Err when the section is missing.
fn options_flags(options: &Path, out: &Path) -> Result<Vec<String>, String> {
    let text = fs::read_to_string(options).map_err(|e| format!("{}: {e}", options.display()))?;
    let mut section = None;
    let mut flags = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        if line.starts_with('[') {
            section = Some(line.to_string());
        } else if section.as_deref() == Some("[libfuzzer]") {
            let (key, value) = line
                .split_once('=')
                .ok_or_else(|| format!("{}: bad line `{line}`", options.display()))?;
            let (key, mut value) = (key.trim(), value.trim().to_string());
            if key == "dict" {
                value = out.join(&value).display().to_string();
            }
            flags.push(format!("-{key}={value}"));
        }
    }
    if !text.contains("[libfuzzer]") {
        return Err(format!("{} has no [libfuzzer] section", options.display()));
    }
    Ok(flags)
}

/// What `$OUT` holds for one target; `problems` is empty when everything checked out.
struct TargetCheck {
    target: String,
    seeds: usize,
    zipped: usize,
    flags: usize,
    problems: Vec<String>,
}

/// Runs `binary` with `flags` over every file of `seeds`; Err describes a non-zero exit.
fn run_seeds(binary: &Path, flags: &[String], seeds: &[PathBuf]) -> Result<(), String> {
    let output = Command::new(binary)
        .args(flags)
        .args(seeds)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", binary.display()))?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let tail: Vec<&str> = stderr.lines().rev().take(15).collect();
    Err(format!(
        "{} exited with {} on its seeds:\n{}",
        binary.display(),
        output.status,
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    ))
}

/// Checks everything `build.sh` must have installed in `out` for `target`.
fn check_target(target: &str, out: &Path) -> TargetCheck {
    let seeds = files_in(&root().join("corpus").join(target));
    let mut check = TargetCheck {
        target: target.to_string(),
        seeds: seeds.len(),
        zipped: 0,
        flags: 0,
        problems: Vec::new(),
    };
    let binary = out.join(target);
    let zip = out.join(format!("{target}_seed_corpus.zip"));
    let options = out.join(format!("{target}.options"));
    if seeds.is_empty() {
        check.problems.push(format!("corpus/{target}/ has no seed files"));
    }
    match zip_entries(&zip) {
        Ok(n) if n == seeds.len() && n > 0 => check.zipped = n,
        Ok(n) => check.problems.push(format!(
            "{} holds {n} files, corpus/{target}/ {}",
            zip.display(),
            seeds.len()
        )),
        Err(e) => check.problems.push(e),
    }
    let flags = options_flags(&options, out).unwrap_or_else(|e| {
        check.problems.push(e);
        Vec::new()
    });
    check.flags = flags.len();
    if !binary.is_file() {
        check.problems.push(format!("{} is missing", binary.display()));
    } else if !seeds.is_empty() {
        if let Err(e) = run_seeds(&binary, &flags, &seeds) {
            check.problems.push(e);
        }
    }
    check
}

/// Runs `$SRC/build.sh` as OSS-Fuzz's `compile` does: from `$SRC/ptdiff`, with `$SRC`, `$OUT`
/// and `$WORK` set and no `$SANITIZER`.
fn run_build_script(dirs: &Dirs) -> Result<(), String> {
    crate::tools::run(
        Command::new("bash")
            .arg(dirs.src.join("build.sh"))
            .current_dir(dirs.src.join("ptdiff"))
            .env("SRC", &dirs.src)
            .env("OUT", &dirs.out)
            .env("WORK", &dirs.work)
            .env_remove("SANITIZER")
            .env_remove("PTDIFF_SRC"),
    )
}

/// Prints one line per target of `script` and returns how many targets had problems.
fn print_summary(script: &str, checks: &[TargetCheck]) -> usize {
    println!("\n== {script}: what it installed in $OUT ==");
    println!("{:<14} {:>6} {:>8} {:>8}  result", "target", "seeds", "zipped", "options");
    for c in checks {
        let result = if c.problems.is_empty() { "ok: binary ran every seed" } else { "FAILED" };
        println!("{:<14} {:>6} {:>8} {:>8}  {result}", c.target, c.seeds, c.zipped, c.flags);
        for p in &c.problems {
            println!("  - {}", p.replace('\n', "\n    "));
        }
    }
    checks.iter().filter(|c| !c.problems.is_empty()).count()
}

/// Runs build script `script` (labelled `label`) in fresh directories and checks `$OUT` for
/// every target; the directories are removed when everything checked out.
fn check_script(label: &str, script: &str, targets: &[String]) -> Result<(), String> {
    let dirs = make_dirs(script, label)?;
    eprintln!("xtask: {label}: SRC={} OUT={}", dirs.src.display(), dirs.out.display());
    run_build_script(&dirs)
        .map_err(|e| format!("{e}; temporary directories kept in {}", dirs.base.display()))?;
    let checks: Vec<TargetCheck> = targets.iter().map(|t| check_target(t, &dirs.out)).collect();
    let failed = print_summary(script, &checks);
    if failed > 0 {
        return Err(format!(
            "{script}: {failed} of {} targets failed; $OUT kept in {}",
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
    for (label, script) in SCRIPTS {
        check_script(label, script, &targets)?;
    }
    println!(
        "\noss-fuzz-check: {} each installed {} targets ({}) with seed corpus, options and \
         binary that ran every seed ({} s)",
        SCRIPTS.map(|(_, s)| s).join(" and "),
        targets.len(),
        targets.join(", "),
        start.elapsed().as_secs()
    );
    Ok(())
}
