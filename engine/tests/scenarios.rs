//! Every hand-written scenario in `corpus/scenarios/` runs clean, and exercises what its
//! comment says it does.

mod common;

use ptdiff::scenario::text;
use ptdiff::{run, Plant, RunStats};

fn run_file(name: &str) -> RunStats {
    let path = common::corpus_dir().join("scenarios").join(name);
    let source =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let scenario = text::parse(&source).unwrap_or_else(|e| panic!("{name}: {e}"));
    let report = run(&scenario, Plant::NONE).unwrap();
    if let Some(finding) = report.finding {
        panic!("{name}:\n{finding}");
    }
    report.stats
}

#[test]
fn every_scenario_file_passes() {
    let dir = common::corpus_dir().join("scenarios");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".scn"))
        .collect();
    names.sort();
    assert!(names.len() >= 14, "scenario corpus shrank: {names:?}");
    for name in names {
        run_file(&name);
    }
}

#[test]
fn growth_through_notify_grows_twice_to_four_levels() {
    let s = run_file("growth_through_notify.scn");
    assert_eq!(s.growth_events, 2);
    assert_eq!(s.highest_levels, 4);
    assert_eq!(s.maps_ok, 4);
    assert_eq!(s.rejected, 0);
}

#[test]
fn growth_several_devices_reaches_five_levels() {
    let s = run_file("growth_several_devices.scn");
    // 1->2, 2->3, 3->5; the fixed table cannot map 2^36 (OutOfRange: 1 notify + 1 map).
    assert_eq!(s.growth_events, 3);
    assert_eq!(s.highest_levels, 5);
    assert_eq!(s.rejected, 2);
}

#[test]
fn missed_notification_is_an_outcome_not_a_finding() {
    let s = run_file("missed_notification.scn");
    assert_eq!(s.missed_notifications, 1);
    assert_eq!(s.rejected, 1);
    assert_eq!(s.growth_events, 1);
}

#[test]
fn bad_arguments_are_all_rejected() {
    let s = run_file("bad_arguments.scn");
    // 5 bad maps, 2 bad unmaps, deassign and assign in the wrong state: 9 ops x 2 tables.
    assert_eq!(s.rejected, 18);
    assert_eq!(s.maps_ok, 2);
}

#[test]
fn teardown_rejects_everything_after_it() {
    let s = run_file("teardown.scn");
    // After teardown: map (with its notify), notify, assign, teardown; 2 tables each.
    assert_eq!(s.rejected, 10);
    assert_eq!(s.teardowns, 2);
}

#[test]
fn superpage_split_counts_partial_unmaps() {
    let s = run_file("superpage_split.scn");
    assert_eq!(s.partial_unmaps, 2);
    assert_eq!(s.superpage_maps_ok, 3);
}

#[test]
fn alloc_failure_hits_both_tables_and_recovers() {
    let s = run_file("alloc_failure.scn");
    // Dynamic: the notify before op 4 fails (and its map is then beyond height), fixed: the
    // map; both: the split at op 9.
    assert_eq!(s.alloc_failures, 4);
    assert_eq!(s.fail_ops, 3);
    assert_eq!(s.rejected, 5);
}

#[test]
fn iotlb_flush_dmas_through_the_caches() {
    let s = run_file("iotlb_flush.scn");
    assert_eq!(s.dmas, 7);
    assert_eq!(s.partial_unmaps, 1);
}

#[test]
fn unmap_beyond_height_never_grows() {
    let s = run_file("unmap_beyond_height.scn");
    assert_eq!(s.growth_events, 0);
    assert_eq!(s.highest_levels, 4, "the fixed table is 4 levels");
    assert_eq!(s.rejected, 0);
}
