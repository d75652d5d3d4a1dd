//! Proof that the checks fire, driven by the planted-bug catalogue (`ptdiff::plant`): every
//! planted bug is named by a `# catches:` header of its scenario with the catalogue's check
//! (the scenario's own test then runs it, `engine/tests/scenarios.rs`), random inputs find it
//! in its implementation within a bounded number of inputs (a concurrent bug, random
//! concurrent inputs: `engine/tests/conc_planted.rs`), and the README's planted-bug
//! table lists exactly the catalogue. Running a planted bug needs `--features planted-bugs`;
//! those tests are ignored without it.

mod common;

use common::Bytes;
use libtest_mimic::{Arguments, Failed, Trial};
use ptdiff::repro::expectation::{self, Expect};
use ptdiff::scenario::decode::decode;
use ptdiff::{run, Plant, PlantedBug};

/// Random inputs each bug must be found within.
const BUDGET: u64 = 3000;

/// The catalogue as the README's table shows it: id, implementation, summary, check.
fn catalogue_rows() -> Vec<[String; 4]> {
    PlantedBug::ALL
        .map(|b| [b.id(), b.implementation(), b.summary(), b.check().name()].map(str::to_string))
        .to_vec()
}

/// The id, implementation, summary and check columns of the README's planted-bug table.
fn readme_rows() -> Vec<[String; 4]> {
    let readme = std::fs::read_to_string(common::corpus_dir().join("../README.md")).unwrap();
    let section = readme.split("\n## Planted bugs\n").nth(1).unwrap_or_default();
    let section = section.split("\n## ").next().unwrap_or_default();
    section
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| bug "))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let cell = |i: usize| cells.get(i).copied().unwrap_or_default().replace('`', "");
            [cell(1), cell(2), cell(3), cell(4)]
        })
        .collect()
}

fn readme_table_is_the_catalogue() -> Result<(), Failed> {
    let (readme, catalogue) = (readme_rows(), catalogue_rows());
    if readme == catalogue {
        return Ok(());
    }
    let expected: Vec<String> =
        catalogue.iter().map(|[id, i, s, c]| format!("| {id} | `{i}` | {s} | {c} | ...")).collect();
    Err(format!(
        "the README's planted-bug table differs from the catalogue; its rows must start:\n{}",
        expected.join("\n")
    )
    .into())
}

/// The bug's scenario states, in its header, that it catches the bug with the catalogue's
/// check.
fn named_by_its_scenario(bug: PlantedBug) -> Result<(), Failed> {
    let path = common::corpus_dir().join("scenarios").join(bug.scenario());
    let source = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let expects = expectation::parse(&source).map_err(|e| e.to_string())?;
    let wanted = Expect::Catches { bug, check: bug.check() };
    if expects.contains(&wanted) {
        Ok(())
    } else {
        Err(format!("no `# catches: {bug} {}` line in its header", bug.check().name()).into())
    }
}

/// Seeded random concurrent inputs (`ptdiff::conc::decode`) under the config of the bug's
/// concurrent scenario (which says how the table grows) find the bug, blaming its
/// implementation.
fn found_by_random_concurrent_inputs(bug: PlantedBug, source: &str) -> Result<(), Failed> {
    use ptdiff::conc;
    let plant = Plant::select(bug).map_err(|e| e.to_string())?;
    let config = conc::text::parse(source).map_err(|e| e.to_string())?.config;
    let found = (0..BUDGET).find_map(|seed| {
        let mut s = conc::decode::decode(&Bytes::seeded(seed).input(400));
        s.config = config;
        s.validate().ok()?;
        conc::runner::run_concurrent(&s, plant).unwrap().finding.map(|f| (seed, f))
    });
    match found {
        None => Err(format!("no finding in {BUDGET} random concurrent inputs").into()),
        Some((_, f)) if f.implementation == bug.implementation() => Ok(()),
        Some((seed, f)) => Err(format!("seed {seed} blames another table:\n{f}").into()),
    }
}

/// Seeded random inputs find the bug, blaming its implementation (random concurrent inputs
/// for a bug whose scenario is concurrent).
fn found_by_random_inputs(bug: PlantedBug) -> Result<(), Failed> {
    let path = common::corpus_dir().join("scenarios").join(bug.scenario());
    let source = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    if ptdiff::conc::text::is_concurrent(source.as_bytes()) {
        return found_by_random_concurrent_inputs(bug, &source);
    }
    let plant = Plant::select(bug).map_err(|e| e.to_string())?;
    let found = (0..BUDGET).find_map(|seed| {
        let scenario = decode(&Bytes::seeded(seed).input(400));
        run(&scenario, plant).unwrap().finding.map(|f| (seed, f))
    });
    match found {
        None => Err(format!("no finding in {BUDGET} random inputs").into()),
        Some((_, f)) if f.implementation == bug.implementation() => Ok(()),
        Some((seed, f)) => Err(format!("seed {seed} blames another table:\n{f}").into()),
    }
}

fn main() {
    let compiled = cfg!(feature = "planted-bugs");
    let mut trials = vec![Trial::test("README: its planted-bug table is the catalogue", || {
        readme_table_is_the_catalogue()
    })];
    for bug in PlantedBug::ALL {
        let (id, implementation, scenario) = (bug.id(), bug.implementation(), bug.scenario());
        trials.push(Trial::test(
            format!("{id} in {implementation}: caught by scenarios/{scenario}, says its header"),
            move || named_by_its_scenario(bug),
        ));
        if bug.concurrent() {
            continue; // found by random concurrent inputs: `conc_planted.rs`
        }
        trials.push(
            Trial::test(format!("{id} in {implementation}: found by random inputs"), move || {
                found_by_random_inputs(bug)
            })
            .with_ignored_flag(!compiled),
        );
    }
    libtest_mimic::run(&Arguments::from_args(), trials).exit();
}
