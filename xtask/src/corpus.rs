//! `cargo xtask seed-corpus`: puts the checked-in seeds where cargo-fuzz looks for a corpus.
//!
//! The seeds are checked in under `corpus/<target>/` (written by `ptdiff seeds`, read by the
//! tests, zipped by `oss-fuzz/build.sh`). cargo-fuzz's own corpus folder is
//! `fuzz/corpus/<target>/`, which is not checked in and which libFuzzer fills with new inputs
//! named by their SHA-1. Seeding copies every seed file there, keeping its name, when the copy
//! is missing or differs; nothing else in the folder is touched. After it, a plain
//! `cargo fuzz run <target>` (and `cmin`, `coverage`) starts from the seeds, and new inputs
//! never land in `corpus/`.

use crate::targets::manifest_targets;
use crate::tools::root;
use std::fs;
use std::path::Path;

/// Copies the regular files of `seeds` into `work` (created if missing) where `work` lacks a
/// file of that name with the same bytes. Returns how many files it wrote.
pub fn seed_dir(seeds: &Path, work: &Path) -> Result<usize, String> {
    fs::create_dir_all(work).map_err(|e| format!("{}: {e}", work.display()))?;
    let entries = match fs::read_dir(seeds) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(format!("{}: {e}", seeds.display())),
    };
    let mut written = 0;
    for entry in entries.filter_map(Result::ok) {
        let from = entry.path();
        if !from.is_file() {
            continue;
        }
        let bytes = fs::read(&from).map_err(|e| format!("{}: {e}", from.display()))?;
        let to = work.join(entry.file_name());
        if fs::read(&to).ok().as_deref() != Some(bytes.as_slice()) {
            fs::write(&to, &bytes).map_err(|e| format!("{}: {e}", to.display()))?;
            written += 1;
        }
    }
    Ok(written)
}

/// Seeds `fuzz/corpus/<target>/` from `corpus/<target>/`; returns how many files it wrote.
pub fn seed(target: &str) -> Result<usize, String> {
    let root = root();
    seed_dir(&root.join("corpus").join(target), &root.join("fuzz/corpus").join(target))
}

/// `cargo xtask seed-corpus`: seeds the corpus folder of every fuzz target, and of every
/// template's target (`fuzz/templates/<template>/fuzz/corpus/<target>/`, from its seeds).
pub fn main(args: &[String]) -> Result<(), String> {
    if let Some(arg) = args.first() {
        return Err(format!("unknown argument `{arg}` (seed-corpus takes none)"));
    }
    for target in manifest_targets()? {
        let written = seed(&target)?;
        println!("fuzz/corpus/{target}/: {written} seed file(s) copied from corpus/{target}/");
    }
    for t in crate::templates::templates()? {
        let written = seed_dir(&t.seed_dir(), &t.corpus())?;
        let corpus = t.corpus();
        let shown = corpus.strip_prefix(root()).unwrap_or(&corpus).display().to_string();
        println!("{shown}/: {written} seed file(s) copied from corpus/{}/", t.seeds);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeding_copies_missing_and_changed_seeds_and_keeps_everything_else() {
        let base = std::env::temp_dir().join(format!("ptdiff-seed-test-{}", std::process::id()));
        let _ = fs::remove_dir_all(&base);
        let (seeds, work) = (base.join("seeds"), base.join("work"));
        fs::create_dir_all(&seeds).unwrap();
        fs::write(seeds.join("a"), b"one").unwrap();
        fs::write(seeds.join("b"), b"two").unwrap();

        assert_eq!(seed_dir(&seeds, &work).unwrap(), 2);
        assert_eq!(fs::read(work.join("a")).unwrap(), b"one");
        assert_eq!(seed_dir(&seeds, &work).unwrap(), 0, "a second seeding writes nothing");

        fs::write(work.join("0123abcd"), b"found by libFuzzer").unwrap();
        fs::write(seeds.join("b"), b"two, regenerated").unwrap();
        assert_eq!(seed_dir(&seeds, &work).unwrap(), 1);
        assert_eq!(fs::read(work.join("b")).unwrap(), b"two, regenerated");
        assert_eq!(fs::read(work.join("0123abcd")).unwrap(), b"found by libFuzzer");
        assert_eq!(seed_dir(&base.join("missing"), &work).unwrap(), 0);
        fs::remove_dir_all(&base).unwrap();
    }
}
