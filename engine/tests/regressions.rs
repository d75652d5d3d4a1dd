//! Replays every file in `corpus/regressions/`: one test per expectation in its header (see
//! `ptdiff::repro::regression`; a concurrent one, with `thread` lines, replays with the concurrent
//! runner), and one that its headers record the finding. Add a file with
//! `ptdiff minimize CRASH`; no code change needed.

mod common;

use libtest_mimic::{Arguments, Trial};
use ptdiff::repro::conc_regression::ConcRegression;
use ptdiff::repro::regression::Regression;

fn main() {
    let mut trials = common::corpus_trials("regressions");
    for path in common::corpus_files("regressions") {
        let name = format!(
            "regressions/{}: records its finding",
            path.file_name().unwrap().to_string_lossy()
        );
        trials.push(Trial::test(name, move || {
            let source = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
            let parsed = if ptdiff::conc::text::is_concurrent(source.as_bytes()) {
                ConcRegression::parse(&source).map(|_| ())
            } else {
                Regression::parse(&source).map(|_| ())
            };
            parsed.map_err(|e| e.to_string().into())
        }));
    }
    libtest_mimic::run(&Arguments::from_args(), trials).exit();
}
