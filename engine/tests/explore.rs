//! Bounded-exhaustive exploration (`ptdiff::conc::explore`): every corpus scenario that
//! expects nothing explores clean, with exact schedule counts; the bound on schedules stops an
//! exploration and says so; a finding stops it with a scenario that reproduces it.

mod common;

use ptdiff::conc::explore::{explore, Bounds, ExploreError};
use ptdiff::conc::runner::run_concurrent;
use ptdiff::conc::scenario::ConcScenario;
use ptdiff::conc::text;
use ptdiff::{Lineup, Plant};
use std::collections::HashSet;

fn corpus(name: &str) -> ConcScenario {
    let path = common::corpus_dir().join("scenarios").join(name);
    text::parse(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn bounds(preemptions: usize) -> Bounds {
    Bounds { preemptions, max_schedules: 100_000 }
}

/// With one preemption: the scenarios with long operations have tens of thousands of schedules
/// with two (each listed in the exact-count tests below at the bound it runs in quickly).
#[test]
fn every_clean_corpus_scenario_explores_clean() {
    let mut explored = 0;
    for path in common::corpus_files("scenarios") {
        let source = std::fs::read_to_string(&path).unwrap();
        if !text::is_concurrent(source.as_bytes()) || !source.contains("# expect: clean") {
            continue;
        }
        let s = text::parse(&source).unwrap();
        let e = explore(&s, &Lineup::built_in(), Plant::NONE, bounds(1)).unwrap();
        let finding = e.found.as_ref().map(|f| f.finding.to_string());
        assert_eq!(finding, None, "{}", path.display());
        assert!(e.complete, "{}", path.display());
        assert_eq!(e.schedules.len(), 2, "{}", path.display());
        assert!(e.schedules[1] > 0, "{}", path.display());
        explored += 1;
    }
    assert_eq!(explored, 18);
}

#[test]
fn a_small_scenario_explores_an_exact_number_of_schedules() {
    let s = corpus("conc-assign-racing-walk.scn");
    let e = explore(&s, &Lineup::built_in(), Plant::NONE, bounds(2)).unwrap();
    assert_eq!(e.schedules, vec![1, 2, 11]);
    assert_eq!(e.total(), 14);
    let e = explore(&s, &Lineup::built_in(), Plant::NONE, bounds(1)).unwrap();
    assert_eq!(e.schedules, vec![1, 2]);
    let e = explore(&s, &Lineup::built_in(), Plant::NONE, bounds(0)).unwrap();
    assert_eq!((e.schedules, e.complete), (vec![1], true));
}

#[test]
fn the_larger_corpus_scenarios_explore_exact_numbers_of_schedules() {
    let counts = [
        ("conc-assign-racing-growth.scn", [1, 59, 660]),
        ("conc-notify-racing-map.scn", [1, 42, 690]),
        ("conc-two-maps-one-dfn.scn", [1, 64, 1635]),
    ];
    for (name, expected) in counts {
        let e = explore(&corpus(name), &Lineup::built_in(), Plant::NONE, bounds(2)).unwrap();
        assert_eq!(e.schedules, expected.to_vec(), "{name}");
        assert!(e.found.is_none() && e.complete, "{name}");
    }
    // A 1 GiB map that `dynamic` writes as 512 entries: a switch to a walk at any of its
    // accesses, in either table (29799 more schedules with 2 preemptions, no finding either:
    // `ptdiff explore`; too slow for a debug test).
    let s = corpus("conc-superpage-over-top.scn");
    let e = explore(&s, &Lineup::built_in(), Plant::NONE, bounds(1)).unwrap();
    assert_eq!(e.schedules, vec![1, 1052]);
}

/// The schedules with one preemption are exactly the distinct points (and targets) where the
/// run without preemption, in any table, could have switched.
#[test]
fn one_preemption_covers_every_choice_of_the_unpreempted_run() {
    for name in ["conc-assign-racing-walk.scn", "conc-two-maps-one-dfn.scn"] {
        let s = ConcScenario { preempts: Vec::new(), ..corpus(name) };
        let report = run_concurrent(&s, Plant::NONE).unwrap();
        let choices: HashSet<_> =
            report.interleavings.iter().flat_map(|i| i.choices().map(|c| c.preempt)).collect();
        let e = explore(&s, &Lineup::built_in(), Plant::NONE, bounds(1)).unwrap();
        assert_eq!(e.schedules, vec![1, choices.len() as u64], "{name}");
    }
}

#[test]
fn the_schedule_bound_stops_an_exploration_incomplete() {
    let s = corpus("conc-two-maps-one-dfn.scn");
    let b = Bounds { preemptions: 2, max_schedules: 10 };
    let e = explore(&s, &Lineup::built_in(), Plant::NONE, b).unwrap();
    assert_eq!((e.schedules, e.complete), (vec![1, 9], false));
}

#[test]
fn more_preemptions_than_a_scenario_holds_are_refused() {
    let s = corpus("conc-two-maps-one-dfn.scn");
    let e = explore(&s, &Lineup::built_in(), Plant::NONE, bounds(9)).unwrap_err();
    assert_eq!(e, ExploreError::TooManyPreemptions(9));
    assert_eq!(e.to_string(), "9 preemptions asked, at most 8 allowed");
}

#[cfg(feature = "planted-bugs")]
#[test]
fn a_finding_stops_the_exploration_with_a_scenario_that_reproduces_it() {
    use ptdiff::Check;
    use ptdiff::PlantedBug;
    let plant = Plant::select(PlantedBug::R2QuarantineLevels).unwrap();
    let s = corpus("conc-two-maps-one-dfn.scn");
    let e = explore(&s, &Lineup::built_in(), plant, bounds(2)).unwrap();
    let found = e.found.expect("R2 is found");
    assert_eq!(e.schedules, vec![1]);
    assert_eq!(found.finding.check, Check::Dte);
    assert_eq!(found.finding.implementation, "fixed");
    assert!(found.scenario.preempts.is_empty());
    let again = run_concurrent(&found.scenario, plant).unwrap();
    assert_eq!(again.finding.map(|f| f.check), Some(Check::Dte));
}

/// A judge wrapped around the runner that reports a finding for one schedule with two
/// preemptions only: schedules run in order of their number of preemptions, the second
/// preemption is one the first one's run offered after it, and the exploration stops there
/// with that schedule.
#[test]
fn the_first_finding_is_found_with_the_fewest_preemptions() {
    use ptdiff::check::finding::Phase;
    use ptdiff::check::violation::Violation;
    use ptdiff::conc::explore::explore_with;
    use ptdiff::conc::scenario::Preempt;
    use ptdiff::{Finding, Op};
    let s = ConcScenario { preempts: Vec::new(), ..corpus("conc-two-maps-one-dfn.scn") };
    let first: Preempt = s_preempt(&corpus("conc-two-maps-one-dfn.scn"));
    let with_first = ConcScenario { preempts: vec![first], ..s.clone() };
    let report = run_concurrent(&with_first, Plant::NONE).unwrap();
    let second = report
        .interleavings
        .iter()
        .flat_map(|i| {
            let after = i.step_of(first).unwrap();
            i.choices().filter(move |c| c.step > after).map(|c| c.preempt)
        })
        .last()
        .unwrap();
    let target = vec![first, second];
    let mut depths = Vec::new();
    let e = explore_with(&s, bounds(2), |schedule| {
        depths.push(schedule.preempts.len());
        let mut report = run_concurrent(schedule, Plant::NONE)?;
        if schedule.preempts == target {
            let v = Violation::StepBudget { steps: 1 };
            report.finding = Some(*Finding::new("dynamic", Phase::Quiescent, &Op::Teardown, v));
        }
        Ok(report)
    })
    .unwrap();
    let found = e.found.as_ref().expect("the injected finding is found");
    assert_eq!(found.scenario.preempts, target);
    // Every schedule with one preemption ran, then those with two, parent by parent, up to
    // the target.
    assert_eq!(e.schedules, vec![1, 64, 283]);
    assert_eq!(depths.len() as u64, e.total());
    assert!(depths.windows(2).all(|w| w[0] <= w[1]), "{depths:?}");
    assert_eq!(depths.last(), Some(&2));
}

/// The scenario's own (only) preemption.
fn s_preempt(s: &ConcScenario) -> ptdiff::conc::scenario::Preempt {
    assert_eq!(s.preempts.len(), 1);
    s.preempts[0]
}
