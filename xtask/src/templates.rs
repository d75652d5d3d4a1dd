//! The fuzz targets of the templates in `fuzz/templates/`: ready-to-copy harnesses for a table
//! of one's own (`own_table`). A template is a crate with ptdiff's command line on its tables,
//! a cargo-fuzz project in its `fuzz/` folder and the AFL twin in `afl/`; its targets are the
//! `[[bin]]`s of `fuzz/templates/<template>/fuzz/Cargo.toml`, and the `seeds` key of that
//! manifest's `[package.metadata.ptdiff]` names the checked-in seeds its corpus starts from
//! (`corpus/<seeds>/`).
//!
//! They are not in `fuzz/Cargo.toml` (the targets every run, OSS-Fuzz and CI fuzz): a template
//! is fuzzed only when named, `cargo xtask fuzz --target own_table`, which builds it in its own
//! fuzz folder, seeds `fuzz/templates/<template>/fuzz/corpus/<target>/` and prints the
//! template's own command line for reproducing and minimizing a finding.

use crate::targets::bins_of_manifest;
use crate::tools::root;
use std::fs;
use std::path::{Path, PathBuf};

/// One fuzz target of a template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    /// The target: a `[[bin]]` of the template's cargo-fuzz manifest.
    pub target: String,
    /// The template's crate folder, e.g. `<root>/fuzz/templates/own_table`.
    pub dir: PathBuf,
    /// The checked-in seeds its corpus starts from: `corpus/<seeds>/`.
    pub seeds: String,
}

/// The `seeds` value of the `[package.metadata.ptdiff]` table of a manifest.
pub fn seeds_of_manifest(manifest: &str) -> Option<String> {
    let mut in_table = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_table = line == "[package.metadata.ptdiff]";
        } else if let (true, Some(value)) = (in_table, line.strip_prefix("seeds")) {
            let value = value.trim_start().strip_prefix('=')?;
            return Some(value.trim().trim_matches('"').to_string());
        }
    }
    None
}

/// The targets of every template under `dir` (`fuzz/templates/`), by template then file
/// order. A template's manifest must name its seeds.
pub fn templates_in(dir: &Path) -> Result<Vec<Template>, String> {
    let mut dirs: Vec<PathBuf> = match fs::read_dir(dir) {
        Ok(entries) => entries.filter_map(Result::ok).map(|e| e.path()).collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("{}: {e}", dir.display())),
    };
    dirs.sort();
    let mut templates = Vec::new();
    for dir in dirs {
        let manifest = dir.join("fuzz/Cargo.toml");
        let Ok(text) = fs::read_to_string(&manifest) else { continue };
        let seeds = seeds_of_manifest(&text).ok_or_else(|| {
            format!("{}: no `seeds` in [package.metadata.ptdiff]", manifest.display())
        })?;
        for target in bins_of_manifest(&text) {
            templates.push(Template { target, dir: dir.clone(), seeds: seeds.clone() });
        }
    }
    Ok(templates)
}

/// The targets of every template of this repository.
pub fn templates() -> Result<Vec<Template>, String> {
    templates_in(&root().join("fuzz/templates"))
}

impl Template {
    /// The template's cargo-fuzz project.
    pub fn fuzz_dir(&self) -> PathBuf {
        self.dir.join("fuzz")
    }

    /// cargo-fuzz's corpus folder of the target.
    pub fn corpus(&self) -> PathBuf {
        self.fuzz_dir().join("corpus").join(&self.target)
    }

    /// The checked-in seeds.
    pub fn seed_dir(&self) -> PathBuf {
        root().join("corpus").join(&self.seeds)
    }

    /// The commands that reproduce and minimize `artifact`, from the repository root: the
    /// template's own command line (`ptdiff::cli::main_with` on its tables), whose `minimize`
    /// saves into the template's `regressions/`; for a run with `plant` planted and inputs
    /// decoded to at most `max_ops` operations.
    pub fn finding_commands(
        &self,
        artifact: &Path,
        plant: Option<&str>,
        max_ops: Option<u16>,
    ) -> (String, String) {
        let root = root();
        let rel = |p: &Path| p.strip_prefix(&root).unwrap_or(p).display().to_string();
        let features = if plant.is_some() { " --features planted-bugs" } else { "" };
        let mut plant = plant.map(|b| format!(" --plant {b}")).unwrap_or_default();
        plant.push_str(&crate::max_ops::max_ops_flag(max_ops));
        let manifest = rel(&self.dir.join("Cargo.toml"));
        let cli = format!("cargo run --manifest-path {manifest}{features} --");
        let artifact = rel(artifact);
        (format!("{cli} repro{plant} {artifact}"), format!("{cli} minimize{plant} {artifact}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_are_read_from_the_ptdiff_metadata_table_only() {
        let manifest = "[package]\nseeds = \"no\"\n[package.metadata.ptdiff]\n# c\nseeds = \
                        \"differential\"\n[[bin]]\nname = \"x\"\n";
        assert_eq!(seeds_of_manifest(manifest), Some("differential".into()));
        assert_eq!(seeds_of_manifest("[package]\nseeds = \"no\"\n"), None);
    }

    #[test]
    fn the_own_table_template_is_a_target_with_seeds_and_an_afl_twin() {
        let templates = templates().unwrap();
        let dir = root().join("fuzz/templates/own_table");
        let own =
            Template { target: "own_table".into(), dir: dir.clone(), seeds: "differential".into() };
        assert_eq!(templates, std::slice::from_ref(&own));
        for t in &templates {
            assert!(fs::read_dir(t.seed_dir()).unwrap().count() > 0, "{}: no seeds", t.target);
            let twin = t.dir.join("afl/src/bin").join(format!("{}.rs", t.target));
            assert!(twin.is_file(), "{} has no AFL twin {}", t.target, twin.display());
            let manifest = crate::targets::manifest_targets().unwrap();
            assert!(!manifest.contains(&t.target), "{} is also a target of fuzz/", t.target);
        }
        assert_eq!(own.corpus(), dir.join("fuzz/corpus/own_table"));
        let crash = dir.join("fuzz/artifacts/own_table/crash-1");
        assert_eq!(
            own.finding_commands(&crash, None, None),
            (
                "cargo run --manifest-path fuzz/templates/own_table/Cargo.toml -- repro fuzz/templates/own_table/fuzz/artifacts/own_table/crash-1".to_string(),
                "cargo run --manifest-path fuzz/templates/own_table/Cargo.toml -- minimize fuzz/templates/own_table/fuzz/artifacts/own_table/crash-1".to_string()
            )
        );
        assert_eq!(
            own.finding_commands(&crash, Some("F2"), Some(64)).0,
            "cargo run --manifest-path fuzz/templates/own_table/Cargo.toml --features planted-bugs -- repro --plant F2 --max-ops 64 fuzz/templates/own_table/fuzz/artifacts/own_table/crash-1"
        );
    }

    #[test]
    fn a_template_without_seeds_is_an_error_and_no_folder_no_template() {
        let base = std::env::temp_dir().join(format!("ptdiff-templates-{}", std::process::id()));
        let _ = fs::remove_dir_all(&base);
        assert_eq!(templates_in(&base), Ok(Vec::new()));
        fs::create_dir_all(base.join("t/fuzz")).unwrap();
        fs::write(base.join("t/fuzz/Cargo.toml"), "[[bin]]\nname = \"t\"\n").unwrap();
        let error = templates_in(&base).unwrap_err();
        assert!(error.ends_with("fuzz/Cargo.toml: no `seeds` in [package.metadata.ptdiff]"));
        fs::remove_dir_all(&base).unwrap();
    }
}
