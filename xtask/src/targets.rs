//! The fuzz targets, stated once: the `[[bin]]` names of `fuzz/Cargo.toml`.
//!
//! Everything else asks for them: `cargo xtask` through [`manifest_targets`], `oss-fuzz/build.sh`
//! and `.ci/run` through `cargo fuzz list`. The AFL builds in `fuzz/afl/src/bin/` must be the
//! same set (a test here checks it), and each target may have a libFuzzer dictionary
//! `oss-fuzz/<target>.dict` that every run uses ([`dictionary`]).

use crate::tools::root;
use std::fs;
use std::path::PathBuf;

/// The `[[bin]]` names of the cargo-fuzz manifest `manifest`, in file order.
pub fn bins_of_manifest(manifest: &str) -> Vec<String> {
    let mut targets = Vec::new();
    let mut in_bin = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_bin = line == "[[bin]]";
        } else if let Some(value) = line.strip_prefix("name").map(str::trim_start) {
            if let (true, Some(v)) = (in_bin, value.strip_prefix('=')) {
                targets.push(v.trim().trim_matches('"').to_string());
            }
        }
    }
    targets
}

/// The fuzz targets: the `[[bin]]` names of `fuzz/Cargo.toml`, in file order.
pub fn manifest_targets() -> Result<Vec<String>, String> {
    let path = root().join("fuzz/Cargo.toml");
    let text = fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let targets = bins_of_manifest(&text);
    if targets.is_empty() {
        return Err(format!("no [[bin]] targets in {}", path.display()));
    }
    Ok(targets)
}

/// The libFuzzer dictionary of `target`, `oss-fuzz/<target>.dict`, when there is one.
pub fn dictionary(target: &str) -> Option<PathBuf> {
    let path = root().join("oss-fuzz").join(format!("{target}.dict"));
    path.is_file().then_some(path)
}

/// Checks `target` is a fuzz target; Err lists the targets.
pub fn check_known(target: &str, targets: &[String]) -> Result<(), String> {
    if targets.iter().any(|t| t == target) {
        Ok(())
    } else {
        Err(format!("unknown target `{target}` (targets: {})", targets.join(", ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// The AFL binaries: the `.rs` file stems of `dir` (`fuzz/afl/src/bin/`), sorted.
    pub fn afl_targets(dir: &Path) -> Result<Vec<String>, String> {
        let entries = fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut names: Vec<String> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "rs"))
            .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
            .collect();
        names.sort();
        Ok(names)
    }

    #[test]
    fn manifest_bins_are_read_in_order_and_only_from_bin_tables() {
        let manifest =
            "[package]\nname = \"ptdiff-fuzz\"\n\n[[bin]]\nname = \"b\"\npath = \"x\"\n\n\
                        [dependencies]\nname = \"not-a-bin\"\n\n[[bin]]\nname=\"a\"\n";
        assert_eq!(bins_of_manifest(manifest), ["b", "a"]);
    }

    #[test]
    fn afl_bins_are_the_libfuzzer_bins() {
        let mut libfuzzer = manifest_targets().unwrap();
        libfuzzer.sort();
        let afl = afl_targets(&root().join("fuzz/afl/src/bin")).unwrap();
        assert_eq!(
            afl, libfuzzer,
            "fuzz/afl/src/bin/*.rs must match the [[bin]]s of fuzz/Cargo.toml"
        );
    }

    #[test]
    fn every_target_has_seeds_and_a_row_in_the_readme_table() {
        let readme = fs::read_to_string(root().join("README.md")).unwrap();
        for target in manifest_targets().unwrap() {
            let seeds = fs::read_dir(root().join("corpus").join(&target)).unwrap().count();
            assert!(seeds > 0, "corpus/{target}/ has no seeds");
            assert!(
                readme.lines().any(|l| l.starts_with(&format!("| `{target}` |"))),
                "README's fuzz target table has no row for `{target}`"
            );
        }
    }

    #[test]
    fn scenario_text_has_a_dictionary_and_unknown_targets_are_refused() {
        assert!(dictionary("scenario_text").is_some());
        assert_eq!(dictionary("no_such_target"), None);
        let targets = vec!["differential".to_string()];
        assert_eq!(check_known("differential", &targets), Ok(()));
        assert_eq!(
            check_known("nope", &targets),
            Err("unknown target `nope` (targets: differential)".to_string())
        );
    }
}
