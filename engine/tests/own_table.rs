//! The own-table template (`fuzz/templates/own_table/`): its entry point, ptdiff's
//! differential target on the template's tables, finds the deliberate bug of the example table
//! (`engine/examples/custom_table.rs`: a range map leaves out its last page) within a bounded
//! number of seeded inputs; a finding minimizes, through the template's command line
//! (`ptdiff::cli::main_with`), into a regression file that replays on the template's tables
//! (failing while the bug is there, clean once it is fixed); and the fixed table runs clean.

mod common;

#[allow(dead_code)]
#[path = "../../fuzz/templates/own_table/src/lib.rs"]
mod own_table;

use common::Bytes;
use own_table::{tables, MyTable};
use ptdiff::cli::{main_with, Harness, EXIT_FINDING, EXIT_PASS};
use ptdiff::fuzz::{differential_run, differential_with};
use ptdiff::repro::regression::Regression;
use ptdiff::repro::replay::replay_dir;
use ptdiff::scenario::decode::MAX_DECODED_OPS;
use ptdiff::{Check, Finding, Lineup, Op, Perm, Plant};
use std::path::{Path, PathBuf};

/// Seeded inputs the example's bug must be found within (about one input in six finds it).
const BUDGET: u64 = 100;
/// Seeded inputs the fixed table must run clean.
const CLEAN: u64 = 1000;
/// The longest seeded input, in bytes (as `engine/tests/planted.rs`).
const INPUT_BYTES: usize = 400;

fn input(seed: u64) -> Vec<u8> {
    Bytes::seeded(seed).input(INPUT_BYTES)
}

/// The template's tables with the example table's bug fixed.
fn fixed_tables() -> Lineup {
    Lineup::new().with_own("my-table", MyTable::fixed).unwrap().with_built_in("fixed").unwrap()
}

/// The first seeded input with a finding on the template's tables.
fn first_finding() -> (u64, Finding) {
    let tables = tables();
    (0..BUDGET)
        .find_map(|seed| {
            let (_, report) = differential_run(&input(seed), MAX_DECODED_OPS, &tables, Plant::NONE);
            report.unwrap().finding.map(|finding| (seed, finding))
        })
        .unwrap_or_else(|| panic!("no finding in {BUDGET} seeded inputs"))
}

/// A fresh, empty directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ptdiff-own-table-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs the template's command line on `tables`; returns the exit status, stdout and stderr.
fn cli(tables: &Lineup, regressions: &Path, args: &[&Path]) -> (u8, String, String) {
    let regressions: &'static str = Box::leak(regressions.display().to_string().into_boxed_str());
    let harness = Harness { tables, regressions };
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let status = main_with(args, &harness, &mut out, &mut err);
    (status, String::from_utf8(out).unwrap(), String::from_utf8(err).unwrap())
}

#[test]
fn the_template_finds_the_example_tables_bug() {
    let (seed, finding) = first_finding();
    // The bug's own signature: a page of a range that the model maps and the table does not.
    assert_eq!((finding.check, finding.implementation.as_str()), (Check::Translation, "my-table"));
    let report = finding.to_string();
    assert!(report.contains("got:      fault:"), "{report}");
    assert!(report.contains("`fixed` gave: mfn"), "{report}");
    // The fuzz target's entry point reports it as the built-in target does: it panics with
    // the scenario and the report, and says where to reproduce it.
    let tables = tables();
    let panic = std::panic::catch_unwind(|| differential_with(&input(seed), &tables))
        .expect_err("the entry point panics on a finding");
    let message = panic.downcast_ref::<String>().unwrap();
    assert!(message.contains(&report), "{message}");
    assert!(
        message.contains(
            "reproduce with `repro <this input>` of the command line that runs my-table, fixed"
        ),
        "{message}"
    );
    // The inputs before it are clean, through the entry point too.
    for clean in 0..seed {
        differential_with(&input(clean), &tables);
    }
}

#[test]
fn the_fixed_example_table_runs_clean_and_ranges_are_exercised() {
    let (tables, mut ranges) = (fixed_tables(), 0);
    for seed in 0..CLEAN {
        let (scenario, report) =
            differential_run(&input(seed), MAX_DECODED_OPS, &tables, Plant::NONE);
        let report = report.unwrap();
        if let Some(finding) = report.finding {
            panic!("seed {seed}:\n{scenario}{finding}");
        }
        ranges += report.stats.ranges_ok;
    }
    assert!(ranges > 0, "no range map or unmap completed in {CLEAN} inputs");
}

#[test]
fn a_finding_minimizes_to_a_regression_that_replays_on_the_template_tables() {
    let (seed, finding) = first_finding();
    let dir = scratch("minimize");
    let (crash, regressions) = (dir.join("crash-1"), dir.join("regressions"));
    std::fs::write(&crash, input(seed)).unwrap();

    // repro: the raw input decoded, run on the template's tables.
    let (status, out, _) = cli(&tables(), &regressions, &[Path::new("repro"), &crash]);
    assert_eq!(status, EXIT_FINDING, "{out}");
    assert!(out.contains("FINDING [translation] in `my-table`"), "{out}");

    // minimize: into the harness's regressions folder (its default `--out`).
    let (status, out, err) = cli(&tables(), &regressions, &[Path::new("minimize"), &crash]);
    assert_eq!(status, EXIT_FINDING, "{out}{err}");
    let saved = regressions.join("translation-my-table-1.scn");
    assert!(out.contains(&format!("saved {}", saved.display())), "{out}");
    let regression = Regression::parse(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    let header = &regression.header;
    assert_eq!(
        (header.check, header.implementation.as_str(), header.plant),
        (finding.check, "my-table", None)
    );
    // One range map, the least that shows the bug.
    let range = Op::Map { dfn: 0, mfn: 0, order: 0, perm: Perm::RW, missed: false, count: 2 };
    assert_eq!(regression.scenario.ops, [range], "{}", regression.scenario);

    // Replayed on the template's tables, it fails while the bug is there...
    let failures = replay_dir(&regressions, &tables()).unwrap_err();
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(failures[0].starts_with(&format!("{}: expected a clean run", saved.display())));
    assert!(failures[0].contains("FINDING [translation] in `my-table`"), "{}", failures[0]);
    let run = [Path::new("run"), &saved];
    assert_eq!(cli(&tables(), &regressions, &run).0, EXIT_FINDING);
    // ...and runs clean once it is fixed, as on the built-in tables, which never had it.
    assert_eq!(replay_dir(&regressions, &fixed_tables()), Ok(1));
    assert_eq!(regression.verify_with(&fixed_tables()), Ok(()));
    assert_eq!(cli(&fixed_tables(), &regressions, &run).0, EXIT_PASS);
    assert_eq!(cli(&Lineup::built_in(), &regressions, &run).0, EXIT_PASS);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_planted_bug_must_be_in_a_built_in_table_of_the_lineup() {
    let dir = scratch("plant");
    let scenario = dir.join("s.scn");
    std::fs::write(&scenario, "assign 0\n").unwrap();
    let args = [Path::new("run"), Path::new("--plant"), Path::new("D1"), &scenario];
    let (status, _, err) = cli(&tables(), &dir, &args);
    assert_eq!(status, ptdiff::cli::EXIT_BAD_INPUT);
    let expected = if cfg!(feature = "planted-bugs") {
        "error: planted bug D1 is planted in the `dynamic` table, which these tables do not \
         include (they are: my-table, fixed)\n"
    } else {
        "error: planted bug D1 requested, but ptdiff was built without the `planted-bugs` \
         feature\n"
    };
    assert_eq!(err, expected);
    std::fs::remove_dir_all(&dir).unwrap();
}
