//! `cargo xtask coverage`: line coverage of `engine/` and `reference/` reached by the fuzz
//! targets running the checked-in corpus.
//!
//! Steps: build every fuzz target (the `[[bin]]`s of `fuzz/Cargo.toml`) with
//! `-C instrument-coverage` on the current toolchain, into `target/coverage/build`; run each
//! binary once over every file of `corpus/<target>/` with `LLVM_PROFILE_FILE` pointing into
//! `target/coverage/profraw/`; merge the raw profiles with `llvm-profdata merge -sparse`
//! (`target/coverage/ptdiff.profdata`, the `.profraw` files are then deleted); write the HTML
//! report with `llvm-cov show` to `target/coverage/html/` and the per-file table with
//! `llvm-cov report` to `target/coverage/report.txt`, both restricted to `engine/src` and
//! `reference/src`; print the table and, last, one line with the total.
//!
//! The LLVM tools must match rustc's LLVM: `llvm-profdata-<major>` / `llvm-cov-<major>` with
//! rustc's LLVM major (Debian's `llvm-22` for rustc 1.95), else unsuffixed tools of that major.
//! `cargo fuzz coverage` is not used: it needs rustup's `llvm-tools` component.
//!
//! Code compiled only for other targets (the `ptdiff` CLI binary, `planted-bugs` code, tests)
//! is not in the fuzz binaries, so it is not counted.

use crate::targets::manifest_targets;
use crate::tools::root;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// Source files that are not ptdiff's library code: dependencies, the standard library, the
/// fuzz targets themselves, xtask, tests and examples.
const IGNORE: &str =
    r"(/\.cargo/(registry|git)/|/rustc/|/rustlib/|/fuzz/|/xtask/|/tests/|/examples/)";

/// The LLVM major version of the default `rustc` (`LLVM version: 22.1.2` gives 22).
fn rustc_llvm_major() -> Result<u32, String> {
    let out = Command::new("rustc")
        .arg("-vV")
        .output()
        .map_err(|e| format!("cannot run rustc -vV: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix("LLVM version: "))
        .and_then(|v| v.split('.').next()?.trim().parse().ok())
        .ok_or_else(|| "rustc -vV does not name its LLVM version".to_string())
}

/// The LLVM major version `tool --version` reports, if it runs.
fn tool_llvm_major(tool: &str) -> Option<u32> {
    let out = Command::new(tool).arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let at = text.find("LLVM version ")? + "LLVM version ".len();
    text[at..].split('.').next()?.trim().parse().ok()
}

/// `llvm-<name>-<major>`, else `llvm-<name>` when it is LLVM `major`; Err explains how to
/// install the matching one.
fn find_tool(name: &str, major: u32) -> Result<String, String> {
    let suffixed = format!("llvm-{name}-{major}");
    if tool_llvm_major(&suffixed) == Some(major) {
        return Ok(suffixed);
    }
    let plain = format!("llvm-{name}");
    match tool_llvm_major(&plain) {
        Some(m) if m == major => Ok(plain),
        found => Err(format!(
            "coverage needs {suffixed} (LLVM {major}, matching rustc's LLVM){}; install it with:\n  \
             apt-get update && apt-get install llvm-{major}",
            found.map(|m| format!("; {plain} is LLVM {m}, which cannot read rustc's profiles"))
                .unwrap_or_default()
        )),
    }
}

/// The host target triple of the default `rustc`.
fn host_triple() -> Result<String, String> {
    let out = Command::new("rustc")
        .arg("-vV")
        .output()
        .map_err(|e| format!("cannot run rustc -vV: {e}"))?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_string))
        .ok_or_else(|| "rustc -vV does not name its host".to_string())
}

/// Builds every fuzz target with coverage instrumentation (release, like `cargo fuzz build
/// -O`, but no sanitizer and no SanitizerCoverage) and returns the binaries. `--target` keeps
/// the flags off build scripts, so they write no profiles while building.
fn build_instrumented(build_dir: &Path, targets: &[String]) -> Result<Vec<PathBuf>, String> {
    let triple = host_triple()?;
    crate::tools::run(
        Command::new("cargo")
            .args(["build", "--release", "--bins", "--target", &triple])
            .arg("--manifest-path")
            .arg(root().join("fuzz/Cargo.toml"))
            .arg("--target-dir")
            .arg(build_dir)
            .env("RUSTFLAGS", "-C instrument-coverage --cfg fuzzing")
            .env_remove("CARGO_BUILD_RUSTFLAGS")
            .env_remove("RUSTC_WRAPPER"),
    )?;
    let bins = build_dir.join(&triple).join("release");
    Ok(targets.iter().map(|t| bins.join(t)).collect())
}

/// The regular files directly in `dir`, sorted.
fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.is_file()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// Runs `binary` (libFuzzer: each file argument runs once) over every seed of `target`,
/// writing raw profiles into `profraw`; returns the number of seeds.
fn run_corpus(target: &str, binary: &Path, profraw: &Path) -> Result<usize, String> {
    let seeds = files_in(&root().join("corpus").join(target));
    if seeds.is_empty() {
        return Err(format!("corpus/{target}/ has no seed files"));
    }
    let output = Command::new(binary)
        .args(&seeds)
        .env("LLVM_PROFILE_FILE", profraw.join(format!("{target}-%p-%m.profraw")))
        .output()
        .map_err(|e| format!("cannot run {}: {e}", binary.display()))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(15).collect();
        return Err(format!(
            "{target} failed ({}) on its corpus:\n{}",
            output.status,
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        ));
    }
    Ok(seeds.len())
}

/// Lines (count, covered) of a `llvm-cov export -summary-only` JSON text, in total and per
/// source file (`(path, count, covered)`), read without a JSON library: every file entry is
/// `"filename":"…","summary":{… "lines":{"count":N,"covered":M …`, the total `"totals":{…`.
struct LineSummary {
    total: (u64, u64),
    files: Vec<(String, u64, u64)>,
}

/// The `"lines":{"count":N,"covered":M` pair first following `text`'s start.
fn lines_pair(text: &str) -> Option<(u64, u64)> {
    let rest = &text[text.find("\"lines\":{")?..];
    let number = |key: &str| -> Option<u64> {
        let at = rest.find(key)? + key.len();
        let digits: String = rest[at..].chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    };
    Some((number("\"count\":")?, number("\"covered\":")?))
}

fn parse_summary(json: &str) -> Result<LineSummary, String> {
    let totals = json.rfind("\"totals\":{").ok_or("llvm-cov export: no totals")?;
    let total = lines_pair(&json[totals..]).ok_or("llvm-cov export: no line totals")?;
    let mut files = Vec::new();
    for chunk in json[..totals].split("\"filename\":\"").skip(1) {
        let name = chunk.split('"').next().unwrap_or("").to_string();
        if let Some((count, covered)) = lines_pair(chunk) {
            files.push((name, count, covered));
        }
    }
    Ok(LineSummary { total, files })
}

fn percent(covered: u64, count: u64) -> f64 {
    if count == 0 {
        0.0
    } else {
        100.0 * covered as f64 / count as f64
    }
}

/// The `llvm-cov` arguments naming the profile, the binaries and the reported sources.
fn cov_args(profdata: &Path, bins: &[PathBuf]) -> Vec<String> {
    let mut args = vec![
        format!("-instr-profile={}", profdata.display()),
        format!("-ignore-filename-regex={IGNORE}"),
    ];
    for (i, b) in bins.iter().enumerate() {
        if i > 0 {
            args.push("-object".to_string());
        }
        args.push(b.display().to_string());
    }
    args.push("-sources".to_string());
    for dir in ["engine/src", "reference/src"] {
        args.push(root().join(dir).display().to_string());
    }
    args
}

/// Runs `tool sub args…` and returns its standard output; Err with its standard error.
fn output_of(tool: &str, sub: &str, args: &[String]) -> Result<String, String> {
    let out = Command::new(tool)
        .arg(sub)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run {tool}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{tool} {sub} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Merges every `.profraw` in `profraw` into `profdata`, then deletes `profraw`.
fn merge_profiles(profdata_tool: &str, profraw: &Path, profdata: &Path) -> Result<(), String> {
    let raws = files_in(profraw);
    if raws.is_empty() {
        return Err(format!("no raw profiles were written to {}", profraw.display()));
    }
    crate::tools::run(
        Command::new(profdata_tool).args(["merge", "-sparse"]).args(&raws).arg("-o").arg(profdata),
    )?;
    fs::remove_dir_all(profraw).map_err(|e| format!("{}: {e}", profraw.display()))
}

/// Prints lines per crate (engine/src, reference/src) from the per-file summary.
fn print_per_crate(summary: &LineSummary) {
    for dir in ["engine/src/", "reference/src/"] {
        let (count, covered) = summary
            .files
            .iter()
            .filter(|(name, _, _)| name.contains(&format!("/{dir}")))
            .fold((0, 0), |(n, c), (_, fc, fv)| (n + fc, c + fv));
        println!("  {dir:<15} lines {:>5.1}% ({covered}/{count})", percent(covered, count));
    }
}

/// `cargo xtask coverage`: see the module documentation.
pub fn main(args: &[String]) -> Result<(), String> {
    if let Some(arg) = args.first() {
        return Err(format!("unknown argument `{arg}` (coverage takes none)"));
    }
    let start = Instant::now();
    let major = rustc_llvm_major()?;
    let profdata_tool = find_tool("profdata", major)?;
    let cov_tool = find_tool("cov", major)?;
    let out_dir = root().join("target/coverage");
    let profraw = out_dir.join("profraw");
    let profdata = out_dir.join("ptdiff.profdata");
    let html = out_dir.join("html");
    let _ = fs::remove_dir_all(&profraw);
    let _ = fs::remove_dir_all(&html);
    fs::create_dir_all(&profraw).map_err(|e| format!("{}: {e}", profraw.display()))?;

    let targets = manifest_targets()?;
    let bins = build_instrumented(&out_dir.join("build"), &targets)?;
    for (target, bin) in targets.iter().zip(&bins) {
        let seeds = run_corpus(target, bin, &profraw)?;
        eprintln!("xtask: {target}: ran {seeds} seeds");
    }
    merge_profiles(&profdata_tool, &profraw, &profdata)?;

    let args = cov_args(&profdata, &bins);
    let mut show = vec!["-format=html".to_string(), format!("-output-dir={}", html.display())];
    show.extend(args.iter().cloned());
    output_of(&cov_tool, "show", &show)?;
    let report = output_of(&cov_tool, "report", &args)?;
    fs::write(out_dir.join("report.txt"), &report).map_err(|e| format!("report.txt: {e}"))?;
    let mut export = vec!["-summary-only".to_string(), "-format=text".to_string()];
    export.extend(args.iter().cloned());
    let summary = parse_summary(&output_of(&cov_tool, "export", &export)?)?;

    println!("{report}");
    println!("HTML: {}/index.html  (table: {}/report.txt)", html.display(), out_dir.display());
    println!("took {} s", start.elapsed().as_secs());
    print_per_crate(&summary);
    let (count, covered) = summary.total;
    println!(
        "coverage: engine+reference lines {:.1}% ({covered}/{count}) from the checked-in corpus",
        percent(covered, count)
    );
    Ok(())
}
