//! The planted concurrent bugs (`PlantedBug::concurrent`): each is caught by its hand-written
//! concurrent scenario with the catalogue's check, is found by random concurrent inputs, and
//! hides from everything sequential (the sequential scenarios and random sequential inputs run
//! with it planted as without it). The store-order bugs (A1, A2, S1, D6) are found only through
//! the interleaving: without the walk between two stores, or without the preemption, the same
//! scenario runs clean (the lock and growth bugs show theirs in `conc_plants.rs`, with the lock
//! rules on and off). Needs `--features planted-bugs`; the tests are ignored without it.

mod common;

use common::Bytes;
use libtest_mimic::{Arguments, Failed, Trial};
use ptdiff::check::finding::Check;
use ptdiff::conc::runner::run_concurrent;
use ptdiff::conc::{self, ConcScenario, WalkSpec};
use ptdiff::{run, Plant, PlantedBug};

/// Random concurrent inputs each bug must be found within. D6, the rarest, needs a notify that
/// grows, preempted in the few accesses between publishing the top and rewriting the DTEs, and
/// a map that only the new top reaches: about one input in 2,500 (first at seed 5482); the
/// budget leaves room for a change of the decoder's layout.
const CONCURRENT_BUDGET: u64 = 20_000;
/// Random sequential inputs a concurrent bug must hide from (as `planted.rs` finds the others).
const SEQUENTIAL_BUDGET: u64 = 3000;

/// The bug's concurrent scenario, parsed.
fn scenario_of(bug: PlantedBug) -> Result<ConcScenario, Failed> {
    let path = common::corpus_dir().join("scenarios").join(bug.scenario());
    let source = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    conc::text::parse(&source).map_err(|e| format!("{}: {e}", bug.scenario()).into())
}

/// The check a concurrent run of `s` with `plant` fires, and where.
fn outcome(s: &ConcScenario, plant: Plant) -> Result<Option<(Check, String)>, Failed> {
    let report = run_concurrent(s, plant).map_err(|e| e.to_string())?;
    Ok(report.finding.map(|f| (f.check, f.implementation)))
}

/// Runs `s` with `bug` planted and requires the catalogue's check in its implementation
/// (`found`) or no finding at all.
fn expect(bug: PlantedBug, s: &ConcScenario, found: bool, what: &str) -> Result<(), Failed> {
    let wanted = found.then(|| (bug.check(), bug.implementation().to_string()));
    let got = outcome(s, Plant::select(bug).map_err(|e| e.to_string())?)?;
    if got == wanted {
        Ok(())
    } else {
        Err(format!("{what}: expected {wanted:?}, got {got:?}\n{s}").into())
    }
}

/// `s` run in program order: no preemption, and every walk unanchored (a walk's anchor is a
/// switch point too), so walks run once the threads are done.
fn in_order(s: &ConcScenario) -> ConcScenario {
    let walks = s.walks.iter().map(|w| WalkSpec { at: None, ..*w }).collect();
    ConcScenario { preempts: Vec::new(), walks, ..s.clone() }
}

/// `s` with its shadow walks off.
fn unshadowed(s: &ConcScenario) -> ConcScenario {
    ConcScenario { shadow_walks: false, ..s.clone() }
}

/// The scenario, as written, catches the bug with the catalogue's check and is clean without
/// it.
fn caught_by_its_scenario(bug: PlantedBug) -> Result<(), Failed> {
    let s = scenario_of(bug)?;
    expect(bug, &s, true, "as written")?;
    match outcome(&s, Plant::NONE)? {
        None => Ok(()),
        Some(f) => Err(format!("not clean without the bug: {f:?}").into()),
    }
}

/// Without the interleaving the bug hides: run in program order with no shadow walk, the
/// scenario is clean. A bug of two stores (A1, A2, S1) is seen by either the shadow walk after
/// the first store or the walk its anchor starts between them; a bug of two operations (D6)
/// needs the preemption, shadow walks or not.
fn needs_the_interleaving(bug: PlantedBug) -> Result<(), Failed> {
    let s = scenario_of(bug)?;
    expect(bug, &unshadowed(&in_order(&s)), false, "in program order, no shadow walks")?;
    if bug == PlantedBug::D6PublishFirst {
        expect(bug, &in_order(&s), false, "in program order")?;
        // The walk after the map returns is the runner's; it is not a shadow walk.
        expect(bug, &unshadowed(&s), true, "no shadow walks")
    } else {
        expect(bug, &in_order(&s), true, "the shadow walks alone")?;
        expect(bug, &unshadowed(&s), true, "the anchored walk alone")
    }
}

/// Random bytes for the concurrent decoder, from `seed`.
fn concurrent_input(seed: u64) -> ConcScenario {
    conc::decode::decode(&Bytes::seeded(seed).input(400))
}

/// Seeded random concurrent inputs find the bug, blaming its implementation, on an input
/// that runs clean without it.
fn found_by_random_inputs(bug: PlantedBug) -> Result<(), Failed> {
    let plant = Plant::select(bug).map_err(|e| e.to_string())?;
    for seed in 0..CONCURRENT_BUDGET {
        let s = concurrent_input(seed);
        let Some(found) = outcome(&s, plant)? else { continue };
        if outcome(&s, Plant::NONE)?.is_some() {
            continue; // not the bug's finding
        }
        // A bug that also breaks a lock rule on the way (D6 growing in map releases the domain
        // lock before it rewrites the DTEs) may be seen first by the rule.
        let checks = [bug.check(), Check::LockRule];
        if checks.contains(&found.0) && found.1 == bug.implementation() {
            return Ok(());
        }
        return Err(format!("seed {seed} fires {found:?}:\n{s}").into());
    }
    Err(format!("no finding in {CONCURRENT_BUDGET} random concurrent inputs").into())
}

/// Everything sequential runs with the bug planted as without it: every sequential scenario
/// of `corpus/scenarios/` and `corpus/regressions/` ends with the same finding (or none), and
/// random sequential inputs find nothing.
fn hides_from_sequential_runs(bug: PlantedBug) -> Result<(), Failed> {
    use ptdiff::scenario::{decode::decode, text};
    let plant = Plant::select(bug).map_err(|e| e.to_string())?;
    let check_of = |s: &ptdiff::scenario::Scenario, plant| -> Result<Option<Check>, Failed> {
        Ok(run(s, plant).map_err(|e| e.to_string())?.finding.map(|f| f.check))
    };
    let mut files = common::corpus_files("scenarios");
    files.extend(common::corpus_files("regressions"));
    for path in files {
        let source = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
        if conc::text::is_concurrent(source.as_bytes()) {
            continue;
        }
        let s = text::parse(&source).map_err(|e| format!("{}: {e}", path.display()))?;
        let (with, without) = (check_of(&s, plant)?, check_of(&s, Plant::NONE)?);
        if with != without {
            return Err(
                format!("{}: {with:?} with the bug, {without:?} without", path.display()).into()
            );
        }
    }
    for seed in 0..SEQUENTIAL_BUDGET {
        let s = decode(&Bytes::seeded(seed).input(400));
        if let Some(found) = check_of(&s, plant)? {
            return Err(format!("sequential seed {seed} fires {found:?}:\n{s:?}").into());
        }
    }
    Ok(())
}

/// The bugs of store order, whose scenarios need the interleaving whatever the lock rules say.
const STORE_ORDER: [PlantedBug; 4] = [
    PlantedBug::A1TornPte,
    PlantedBug::A2DteFieldwise,
    PlantedBug::S1BlankFirst,
    PlantedBug::D6PublishFirst,
];

/// One test of a concurrent bug.
type Test = fn(PlantedBug) -> Result<(), Failed>;

fn main() {
    let ignored = !cfg!(feature = "planted-bugs");
    let mut trials = Vec::new();
    let concurrent = PlantedBug::ALL.into_iter().filter(|b| b.concurrent());
    for bug in concurrent {
        let (id, file) = (bug.id(), bug.scenario());
        let tests: [(String, Test); 4] = [
            (format!("{id}: caught by scenarios/{file}"), caught_by_its_scenario),
            (format!("{id}: scenarios/{file} needs the interleaving"), needs_the_interleaving),
            (format!("{id}: found by random concurrent inputs"), found_by_random_inputs),
            (format!("{id}: hides from sequential runs"), hides_from_sequential_runs),
        ];
        let store_order = STORE_ORDER.contains(&bug);
        for (name, test) in tests.into_iter().filter(|(n, _)| store_order || !n.contains("needs")) {
            trials.push(Trial::test(name, move || test(bug)).with_ignored_flag(ignored));
        }
    }
    trials.push(Trial::test("eight planted bugs are concurrent", || {
        let ids: Vec<&str> =
            PlantedBug::ALL.into_iter().filter(|b| b.concurrent()).map(PlantedBug::id).collect();
        match ids[..] {
            [
                "A1-TORN-PTE",
                "A2-DTE-FIELDWISE",
                "S1-BLANK-FIRST",
                "D6-PUBLISH-FIRST",
                "SEED-GROW-IN-MAP",
                "D3-GROW-UNLOCKED",
                "D4-RECHECK-OUTSIDE",
                "D5-TOP-TWO-CELLS",
            ] => Ok(()),
            _ => Err(format!("{ids:?}").into()),
        }
    }));
    libtest_mimic::run(&Arguments::from_args(), trials).exit();
}
