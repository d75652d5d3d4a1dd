//! What `build.sh` must leave in `$OUT` for each fuzz target, and the check of it.
//!
//! For every target: the binary; `<target>_seed_corpus.zip` with as many entries as
//! `corpus/<target>/` has files (at least one); `<target>.options` with a `[libfuzzer]`
//! section; the binary, given those options as flags (so a dictionary is parsed) and every
//! seed file, exits 0; and it carries the instrumentation its build promises: AddressSanitizer
//! (the `__asan_init` symbol) for a sanitizer build, a non-empty `.profraw` profile after
//! running the seeds for a coverage build.

use crate::tools::root;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The instrumentation a build must have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Instrumentation {
    /// AddressSanitizer.
    Asan,
    /// LLVM source-based coverage (`-Cinstrument-coverage`).
    Coverage,
    /// None required (a stable build without a sanitizer).
    Plain,
}

/// What `$OUT` holds for one target; `problems` is empty when everything checked out.
pub struct TargetCheck {
    pub target: String,
    pub seeds: usize,
    pub zipped: usize,
    pub flags: usize,
    pub instrumented: &'static str,
    pub problems: Vec<String>,
}

/// The regular files directly in `dir`, sorted.
pub fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.is_file()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// The number of entries of the zip archive at `path`, read from its end-of-central-directory
/// record (signature `PK\x05\x06`, entry count at byte 10).
pub fn zip_entries(path: &Path) -> Result<usize, String> {
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
pub fn options_flags(options: &Path, out: &Path) -> Result<Vec<String>, String> {
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

/// Runs `binary` with `flags` over every file of `seeds`, writing any coverage profile into
/// `profiles`; Err describes a non-zero exit.
fn run_seeds(
    binary: &Path,
    flags: &[String],
    seeds: &[PathBuf],
    profiles: &Path,
) -> Result<(), String> {
    let output = Command::new(binary)
        .args(flags)
        .args(seeds)
        .env("LLVM_PROFILE_FILE", profiles.join("%p.profraw"))
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

/// Whether `haystack` contains `needle`.
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Checks everything `build.sh` must have installed in `out` for `target`; `work` is scratch
/// space for coverage profiles.
pub fn check_target(target: &str, out: &Path, work: &Path, expect: Instrumentation) -> TargetCheck {
    let seeds = files_in(&root().join("corpus").join(target));
    let mut check = TargetCheck {
        target: target.to_string(),
        seeds: seeds.len(),
        zipped: 0,
        flags: 0,
        instrumented: "-",
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
        return check;
    }
    let profiles = work.join("profraw").join(target);
    let _ = fs::remove_dir_all(&profiles);
    if let Err(e) = fs::create_dir_all(&profiles) {
        check.problems.push(format!("{}: {e}", profiles.display()));
    }
    if !seeds.is_empty() {
        if let Err(e) = run_seeds(&binary, &flags, &seeds, &profiles) {
            check.problems.push(e);
        }
    }
    let asan = fs::read(&binary).is_ok_and(|b| contains(&b, b"__asan_init"));
    let profiled = files_in(&profiles).iter().any(|p| fs::metadata(p).is_ok_and(|m| m.len() > 0));
    check.instrumented = match (asan, profiled) {
        (true, true) => "ASan+cov",
        (true, false) => "ASan",
        (false, true) => "coverage",
        (false, false) => "none",
    };
    let ok = match expect {
        Instrumentation::Asan => asan,
        Instrumentation::Coverage => profiled,
        Instrumentation::Plain => true,
    };
    if !ok {
        check.problems.push(format!("{} is not instrumented for {expect:?}", binary.display()));
    }
    check
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_become_flags_with_the_dictionary_in_out() {
        let dir = std::env::temp_dir().join(format!("ptdiff-options-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let options = dir.join("t.options");
        fs::write(&options, "[libfuzzer]\nmax_len = 4096\ndict = t.dict\n").unwrap();
        assert_eq!(
            options_flags(&options, Path::new("/out")).unwrap(),
            ["-max_len=4096", "-dict=/out/t.dict"]
        );
        fs::write(&options, "[afl]\nx = 1\n").unwrap();
        assert!(options_flags(&options, Path::new("/out")).unwrap_err().contains("no [libfuzzer]"));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn zip_entry_count_is_read_from_the_end_record() {
        let dir = std::env::temp_dir().join(format!("ptdiff-zip-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let zip = dir.join("a.zip");
        let mut bytes = b"junk".to_vec();
        bytes.extend_from_slice(b"PK\x05\x06\0\0\0\0\x03\0\x03\0\0\0\0\0\0\0\0\0\0\0");
        fs::write(&zip, &bytes).unwrap();
        assert_eq!(zip_entries(&zip), Ok(3));
        fs::write(&zip, b"not a zip").unwrap();
        assert!(zip_entries(&zip).unwrap_err().contains("not a zip archive"));
        fs::remove_dir_all(&dir).unwrap();
    }
}
