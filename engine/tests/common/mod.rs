//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod mutant;

use std::path::PathBuf;

/// The repository's `corpus/` directory.
pub fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../corpus")
}

/// Deterministic pseudo-random bytes (the project's one generator, `fastrand`, seeded), so
/// property tests replay exactly.
pub struct Bytes(fastrand::Rng);

impl Bytes {
    pub fn seeded(seed: u64) -> Bytes {
        Bytes(fastrand::Rng::with_seed(seed))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0.u64(..)
    }

    /// A byte string of length 0..max_len.
    pub fn input(&mut self, max_len: usize) -> Vec<u8> {
        let len = self.0.usize(..max_len.max(1));
        let mut bytes = vec![0; len];
        self.0.fill(&mut bytes);
        bytes
    }
}

/// The `.scn` files of `corpus/<dir>/`, sorted by name.
pub fn corpus_files(dir: &str) -> Vec<PathBuf> {
    let dir = corpus_dir().join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "scn"))
        .collect();
    files.sort();
    files
}

/// One test per expectation in the header of every `.scn` file of `corpus/<dir>/`, named
/// `<dir>/<file>: <expectation>` (see `ptdiff::repro::expectation`); a file whose header or
/// scenario does not parse is one failing test `<dir>/<file>: header`. Expectations that need
/// planted bugs are ignored in builds without the `planted-bugs` feature. A concurrent scenario
/// (`ptdiff::conc::text::is_concurrent`) is parsed with the concurrent parser and its
/// expectations are checked by the concurrent runner.
pub fn corpus_trials(dir: &str) -> Vec<libtest_mimic::Trial> {
    use libtest_mimic::Trial;
    use ptdiff::repro::expectation;
    use ptdiff::scenario::text;
    let mut trials = Vec::new();
    for path in corpus_files(dir) {
        let file = format!("{dir}/{}", path.file_name().unwrap().to_string_lossy());
        let source = std::fs::read_to_string(&path).unwrap();
        if ptdiff::conc::text::is_concurrent(source.as_bytes()) {
            trials.extend(concurrent_trials(&file, &source));
            continue;
        }
        let parsed = expectation::parse(&source)
            .map_err(|e| e.to_string())
            .and_then(|expects| Ok((expects, text::parse(&source).map_err(|e| e.to_string())?)));
        let (expects, scenario) = match parsed {
            Ok(parsed) => parsed,
            Err(error) => {
                trials.push(Trial::test(format!("{file}: header"), move || Err(error.into())));
                continue;
            }
        };
        for expect in expects {
            let scenario = scenario.clone();
            let trial = Trial::test(format!("{file}: {expect}"), move || {
                expect.verify(&scenario).map_err(|e| e.to_string().into())
            });
            let ignored = expect.needs_planted_bugs() && !cfg!(feature = "planted-bugs");
            trials.push(trial.with_ignored_flag(ignored));
        }
    }
    trials
}

/// The trials of the concurrent scenario `file`: its header and its text must parse (else one
/// failing test `<file>: header`); each expectation is a test run by the concurrent runner.
fn concurrent_trials(file: &str, source: &str) -> Vec<libtest_mimic::Trial> {
    use libtest_mimic::Trial;
    use ptdiff::conc;
    use ptdiff::repro::expectation;
    use ptdiff::Lineup;
    let parsed = expectation::parse(source)
        .map_err(|e| e.to_string())
        .and_then(|expects| Ok((expects, conc::text::parse(source).map_err(|e| e.to_string())?)));
    match parsed {
        Err(error) => vec![Trial::test(format!("{file}: header"), move || Err(error.into()))],
        Ok((expects, scenario)) => expects
            .into_iter()
            .map(|expect| {
                let scenario = scenario.clone();
                let trial = Trial::test(format!("{file}: {expect}"), move || {
                    let tables = Lineup::built_in();
                    expect.verify_concurrent(&scenario, &tables).map_err(|e| e.to_string().into())
                });
                trial.with_ignored_flag(
                    expect.needs_planted_bugs() && !cfg!(feature = "planted-bugs"),
                )
            })
            .collect(),
    }
}
