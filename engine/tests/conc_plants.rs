//! The concurrent planted bugs (`SEED-GROW-IN-MAP`, `D3-GROW-UNLOCKED`, `D4-RECHECK-OUTSIDE`,
//! `D5-TOP-TWO-CELLS`), each from its hand-written `conc-*.scn`: found with the lock rules on
//! and off, with the check each should fire; the same threads with no preemption are clean
//! with the rules off (the finding needs the interleaving), and the correct table passes the
//! scenario either way.
#![cfg(feature = "planted-bugs")]

mod common;

use ptdiff::conc::runner::{run_concurrent_with, ConcOptions, ConcReport};
use ptdiff::conc::{self, ConcScenario};
use ptdiff::{Check, Lineup, Plant, PlantedBug};

fn scenario(bug: PlantedBug) -> ConcScenario {
    let path = common::corpus_dir().join("scenarios").join(bug.scenario());
    conc::text::parse(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn run(s: &ConcScenario, plant: Plant, lock_rules: bool) -> ConcReport {
    run_concurrent_with(s, &Lineup::built_in(), plant, ConcOptions { lock_rules }).unwrap()
}

fn check_of(s: &ConcScenario, bug: PlantedBug, lock_rules: bool) -> Option<Check> {
    let report = run(s, Plant::select(bug).unwrap(), lock_rules);
    if let Some(f) = &report.finding {
        assert_eq!(f.implementation, bug.implementation());
    }
    report.finding.map(|f| f.check)
}

fn without_preemption(s: &ConcScenario) -> ConcScenario {
    ConcScenario { preempts: Vec::new(), ..s.clone() }
}

/// The concurrent bugs and what their scenario finds with the lock rules on: the rule-visible
/// ones a `lock-rule` finding, D4 (which breaks no rule) only its consequence.
const BUGS: [(PlantedBug, Check); 4] = [
    (PlantedBug::SeedGrowInMap, Check::LockRule),
    (PlantedBug::D3GrowUnlocked, Check::LockRule),
    (PlantedBug::D4RecheckOutside, Check::Linearizability),
    (PlantedBug::D5TopTwoCells, Check::LockRule),
];

#[test]
fn each_bug_is_found_by_its_scenario_with_the_lock_rules_on() {
    for (bug, check) in BUGS {
        assert_eq!(bug.check(), check, "{bug}: the catalogue's check");
        assert_eq!(check_of(&scenario(bug), bug, true), Some(check), "{bug}");
    }
}

#[test]
fn rule_visible_bugs_are_found_on_the_sequential_schedule_and_d4_is_not() {
    for (bug, check) in BUGS {
        let found = check_of(&without_preemption(&scenario(bug)), bug, true);
        let want = (check != Check::Linearizability).then_some(check);
        assert_eq!(found, want, "{bug}");
    }
}

#[test]
fn with_the_lock_rules_off_the_consequence_needs_the_interleaving() {
    for (bug, _) in BUGS {
        let s = scenario(bug);
        assert_eq!(check_of(&s, bug, false), Some(Check::Linearizability), "{bug}");
        assert_eq!(check_of(&without_preemption(&s), bug, false), None, "{bug}");
    }
}

#[test]
fn the_correct_table_passes_every_scenario() {
    for (bug, _) in BUGS {
        for lock_rules in [true, false] {
            let report = run(&scenario(bug), Plant::NONE, lock_rules);
            assert_eq!(report.finding, None, "{bug} rules {lock_rules}");
        }
    }
}

/// The seed's finding names the access, the task, the op, the call site, the locks held and
/// the rule.
#[test]
fn the_seed_is_blamed_on_the_grower_reading_the_device_list() {
    let bug = PlantedBug::SeedGrowInMap;
    let report = run(&scenario(bug), Plant::select(bug).unwrap(), true);
    let f = report.finding.unwrap();
    let text = f.to_string();
    println!("lock rules on:\n{text}");
    assert!(
        text.contains(
            "expected: a device list read needs one of {devices}\n  got:      device-list read \
             holding {domain}; t1 op#0 `map 0x40000 0x11 0 rw` (site p2m), profile \
             xen-grow-in-map"
        ),
        "{text}"
    );
    // With the rules off: device 1, assigned concurrently, cannot reach what the map mapped.
    let off = run(&scenario(bug), Plant::select(bug).unwrap(), false).finding.unwrap();
    println!("lock rules off:\n{off}");
    assert_eq!((off.check, off.device, off.dfn), (Check::Linearizability, Some(1), Some(0x40000)));
}

/// Everything sequential runs with each bug planted as without it: the sequential scenarios
/// (as they are, and growing in map) and random sequential inputs (a quarter of which grow in
/// map).
#[test]
fn the_bugs_hide_from_sequential_runs() {
    use ptdiff::scenario::{decode::decode, text, Scenario};
    use ptdiff::tables::Growth;
    let check = |s: &Scenario, plant| ptdiff::run(s, plant).unwrap().finding.map(|f| f.check);
    let mut scenarios: Vec<Scenario> = Vec::new();
    for path in common::corpus_files("scenarios") {
        let source = std::fs::read_to_string(&path).unwrap();
        if !conc::text::is_concurrent(source.as_bytes()) {
            let s = text::parse(&source).unwrap();
            let mut in_map = s.clone();
            in_map.config.growth = Growth::InMap;
            scenarios.extend([s, in_map]);
        }
    }
    let in_map = |s: &Scenario| s.config.growth == Growth::InMap;
    let random: Vec<Scenario> =
        (0..1000).map(|seed| decode(&common::Bytes::seeded(seed).input(400))).collect();
    assert!(random.iter().filter(|s| in_map(s)).count() > 150);
    for (bug, _) in BUGS {
        let plant = Plant::select(bug).unwrap();
        for s in scenarios.iter().chain(&random) {
            assert_eq!(check(s, plant), check(s, Plant::NONE), "{bug}:\n{s}");
        }
    }
}
