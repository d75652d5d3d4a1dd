//! Replays every file in `corpus/regressions/` as its own test (see `ptdiff::repro::regression` for
//! what a replay checks). Add a file with `ptdiff minimize CRASH`; no code change needed.

use libtest_mimic::{Arguments, Failed, Trial};
use ptdiff::repro::regression::Regression;
use std::path::PathBuf;

fn main() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../corpus/regressions");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "scn"));
    files.sort();
    let trials = files
        .into_iter()
        .map(|path| {
            let name = path.file_stem().unwrap_or_default().to_string_lossy().into_owned();
            Trial::test(name, move || {
                let source = std::fs::read_to_string(&path)
                    .map_err(|e| Failed::from(format!("{}: {e}", path.display())))?;
                let regression = Regression::parse(&source)
                    .map_err(|e| Failed::from(format!("{}: {e}", path.display())))?;
                regression.verify().map_err(|e| Failed::from(format!("{}: {e}", path.display())))
            })
        })
        .collect();
    libtest_mimic::run(&Arguments::from_args(), trials).exit();
}
