//! Fuzz seeds compiled from readable sources: `corpus/scenarios/*.scn` become
//! `corpus/differential/<name>` (encoded bytes) and `corpus/scenario_text/<name>.scn` (the text
//! itself), concurrent ones (`conc-*.scn`, [`crate::conc::text::is_concurrent`]) become
//! `corpus/concurrent/<name>` ([`crate::conc::encode`]); `corpus/walker/` gets deterministic
//! seeds; `oss-fuzz/scenario_text.dict` is the text format's dictionary ([`dictionary`]).
//! `cargo test` checks they are all current.

use crate::conc;
use crate::scenario::encode::{encode, EncodeError};
use crate::scenario::text::{dictionary, parse, ParseError};
use std::path::{Path, PathBuf};
use thiserror::Error;

/// One seed file and the bytes it must hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeedFile {
    pub path: PathBuf,
    pub bytes: Vec<u8>,
}

/// Why seeds cannot be generated.
#[derive(Debug, Error)]
pub enum SeedError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}:{}:{}: {}", .error.line, .error.column, .error.message)]
    Parse { path: PathBuf, error: ParseError },
    #[error("{path}: cannot be a fuzz seed: {error}")]
    Encode { path: PathBuf, error: EncodeError },
    #[error("{path}: cannot be a fuzz seed: {error}")]
    ConcEncode { path: PathBuf, error: conc::encode::EncodeError },
}

/// Number of walker seeds.
const WALKER_SEEDS: u64 = 8;

/// Deterministic bytes for walker seed `n`.
fn walker_seed(n: u64) -> Vec<u8> {
    let mut bytes = vec![0; 64 + 64 * n as usize];
    fastrand::Rng::with_seed(0x243f_6a88_85a3_08d3 ^ n).fill(&mut bytes);
    bytes
}

/// The scenario files of `corpus/scenarios/`, sorted by name.
pub fn scenario_files(corpus: &Path) -> Result<Vec<PathBuf>, SeedError> {
    let dir = corpus.join("scenarios");
    let io = |source| SeedError::Io { path: dir.clone(), source };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.extension().is_some_and(|e| e == "scn") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Where the `scenario_text` dictionary lives, relative to the corpus folder.
pub fn dictionary_path(corpus: &Path) -> PathBuf {
    corpus.join("..").join("oss-fuzz").join("scenario_text.dict")
}

/// Every seed file the corpus must contain, and the dictionary, with their contents.
pub fn plan(corpus: &Path) -> Result<Vec<SeedFile>, SeedError> {
    let mut out = Vec::new();
    for path in scenario_files(corpus)? {
        let source = std::fs::read_to_string(&path)
            .map_err(|source| SeedError::Io { path: path.clone(), source })?;
        let stem = path.file_stem().unwrap_or_default().to_string_lossy().into_owned();
        if conc::text::is_concurrent(source.as_bytes()) {
            let scenario = conc::text::parse(&source)
                .map_err(|error| SeedError::Parse { path: path.clone(), error })?;
            let bytes = conc::encode::encode(&scenario)
                .map_err(|error| SeedError::ConcEncode { path: path.clone(), error })?;
            out.push(SeedFile { path: corpus.join("concurrent").join(&stem), bytes });
            continue;
        }
        let scenario =
            parse(&source).map_err(|error| SeedError::Parse { path: path.clone(), error })?;
        let bytes =
            encode(&scenario).map_err(|error| SeedError::Encode { path: path.clone(), error })?;
        out.push(SeedFile { path: corpus.join("differential").join(&stem), bytes });
        out.push(SeedFile {
            path: corpus.join("scenario_text").join(format!("{stem}.scn")),
            bytes: source.into_bytes(),
        });
    }
    out.push(SeedFile { path: dictionary_path(corpus), bytes: dictionary().into_bytes() });
    for n in 0..WALKER_SEEDS {
        out.push(SeedFile {
            path: corpus.join("walker").join(format!("seed-{n}")),
            bytes: walker_seed(n),
        });
    }
    Ok(out)
}

/// The planned files that are missing or differ on disk.
pub fn stale(plan: &[SeedFile]) -> Vec<PathBuf> {
    plan.iter()
        .filter(|f| std::fs::read(&f.path).ok().as_ref() != Some(&f.bytes))
        .map(|f| f.path.clone())
        .collect()
}

/// Writes the stale files of `plan`; returns how many were written.
pub fn write(plan: &[SeedFile]) -> Result<usize, SeedError> {
    let stale = stale(plan);
    for file in plan.iter().filter(|f| stale.contains(&f.path)) {
        let io = |source| SeedError::Io { path: file.path.clone(), source };
        if let Some(dir) = file.path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        std::fs::write(&file.path, &file.bytes).map_err(io)?;
    }
    Ok(stale.len())
}
