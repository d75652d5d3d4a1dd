//! Replaying a folder of regression files, sequential and concurrent ones alike.

use super::conc_regression::ConcRegression;
use super::regression::Regression;
use crate::lineup::Lineup;
use std::path::{Path, PathBuf};

/// Replays every `.scn` file of `dir` (in name order) with `tables`
/// ([`Regression::verify_with`], [`ConcRegression::verify_with`] for a concurrent one): `Ok` with how many replayed as expected, else one message
/// per file that did not (unreadable, not a regression file, or an expectation unmet), each
/// starting with the file's path. A missing `dir` holds no regression.
pub fn replay_dir(dir: &Path, tables: &Lineup) -> Result<usize, Vec<String>> {
    let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| path.extension().is_some_and(|e| e.eq_ignore_ascii_case("scn")))
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(vec![format!("{}: {e}", dir.display())]),
    };
    files.sort();
    let failures: Vec<String> = files
        .iter()
        .filter_map(|path| {
            let replayed = std::fs::read_to_string(path)
                .map_err(|e| e.to_string())
                .and_then(|source| replay(&source, tables));
            replayed.err().map(|e| format!("{}: {e}", path.display()))
        })
        .collect();
    if failures.is_empty() {
        Ok(files.len())
    } else {
        Err(failures)
    }
}

/// Replays one regression file's text, sequential or concurrent.
fn replay(source: &str, tables: &Lineup) -> Result<(), String> {
    if crate::conc::text::is_concurrent(source.as_bytes()) {
        let regression = ConcRegression::parse(source).map_err(|e| e.to_string())?;
        regression.verify_with(tables).map_err(|e| e.to_string())
    } else {
        let regression = Regression::parse(source).map_err(|e| e.to_string())?;
        regression.verify_with(tables).map_err(|e| e.to_string())
    }
}
