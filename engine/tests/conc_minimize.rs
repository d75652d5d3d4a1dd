//! The concurrent minimizer (`ptdiff::repro::conc_minimize`) and concurrent regression files
//! (`ptdiff::repro::conc_regression`): shrinking under an injected predicate gives an exact
//! smallest scenario; a planted bug shrinks to the exact scenario that still shows it, saved
//! as a regression file that replays.

mod common;

use ptdiff::conc::scenario::ConcScenario;
use ptdiff::conc::text;
use ptdiff::repro::conc_minimize::shrink;
use ptdiff::repro::conc_regression::ConcRegression;
use ptdiff::repro::regression::Header;
use ptdiff::repro::replay::replay_dir;
use ptdiff::{Check, Lineup};

fn corpus(name: &str) -> ConcScenario {
    let path = common::corpus_dir().join("scenarios").join(name);
    text::parse(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A fake failure: some thread maps 0x1000 read-only, and some walk runs. Everything else
/// goes: the other thread, the preemption, one walk, the setup.
#[test]
fn shrinking_keeps_exactly_what_the_failure_needs() {
    let s = corpus("conc-two-maps-one-dfn.scn");
    let fails = |c: &ConcScenario| {
        let read_only =
            c.threads.iter().flatten().any(|t| t.to_string() == "p2m map 0x1000 0x200 0 r");
        read_only && !c.walks.is_empty()
    };
    let mut asked = Vec::new();
    let (min, runs) = shrink(&s, |c| {
        asked.push(c.clone());
        fails(c)
    });
    assert_eq!(
        text::print(&min),
        "config initial_levels=3 max_levels=4 devices=1 superpages=on missed_notifications=off\n\
         thread 0 p2m map 0x1000 0x200 0 r\n\
         walk dev 0 dfn 0x1000 r\n"
    );
    assert_eq!(runs, asked.len());
    assert!(asked.iter().all(|c| c.validate().is_ok()));
    // The last round tried every reduction of the result, and none still failed.
    assert_eq!(min.reductions().filter(|c| fails(c)).count(), 0);
}

#[test]
fn a_scenario_that_never_fails_is_kept_whole() {
    let s = corpus("conc-assign-racing-walk.scn");
    let (min, runs) = shrink(&s, |_| false);
    assert_eq!(min, s);
    assert_eq!(runs, s.reductions().count());
}

#[test]
fn no_finding_means_nothing_to_minimize() {
    let s = corpus("conc-assign-racing-walk.scn");
    let none = ptdiff::repro::conc_minimize::minimize_concurrent(
        &s,
        &Lineup::built_in(),
        ptdiff::Plant::NONE,
    );
    assert!(none.is_none());
}

#[test]
fn a_concurrent_regression_renders_parses_and_replays() {
    let header = Header {
        check: Check::Linearizability,
        implementation: "dynamic".into(),
        plant: None,
        origin: "crash-1".into(),
        finding: "FINDING [linearizability]\n  got: x".into(),
    };
    let regression = ConcRegression { scenario: corpus("conc-assign-racing-walk.scn"), header };
    let rendered = regression.render();
    assert!(rendered.contains("# check: linearizability\n# implementation: dynamic\n"));
    assert!(rendered.contains("#   got: x\n"), "{rendered}");
    let back = ConcRegression::parse(&rendered).unwrap();
    let header = Header { finding: String::new(), ..regression.header.clone() };
    assert_eq!(back, ConcRegression { header, ..regression.clone() });
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("conc-regression");
    let _ = std::fs::remove_dir_all(&dir);
    let saved = ptdiff::repro::regression::save(&dir, &regression).unwrap();
    assert_eq!(saved.file_name().unwrap(), "conc-linearizability-dynamic-1.scn");
    assert_eq!(replay_dir(&dir, &Lineup::built_in()), Ok(1));
}

#[cfg(feature = "planted-bugs")]
#[test]
fn a_planted_bug_shrinks_to_the_scenario_that_shows_it() {
    use ptdiff::{Plant, PlantedBug};
    let s = text::parse(
        "config initial_levels=3 max_levels=4 devices=1\n\
         assign 0\n\
         map 0x200 0x400 9 r\n\
         thread 0 p2m unmap 0x201 0\n\
         thread 1 p2m map 0x1000 0x100 0 rw\n\
         preempt t0.0#2 -> t1\n\
         walk dev 0 dfn 0x202 r\n",
    )
    .unwrap();
    let plant = Plant::select(PlantedBug::SplitGrantsRw).unwrap();
    let min = ptdiff::repro::conc_minimize::minimize_concurrent(&s, &Lineup::built_in(), plant)
        .expect("SPLIT-RW is found");
    assert_eq!(min.finding.signature(), (Check::Linearizability, "dynamic".to_string()));
    assert_eq!(
        text::print(&min.scenario),
        "config initial_levels=3 max_levels=4 devices=1 superpages=on missed_notifications=off\n\
         assign 0\n\
         map 0x200 0x400 9 r\n\
         thread 0 p2m unmap 0x201 0\n"
    );
    assert_eq!(min.runs, 6);
}
