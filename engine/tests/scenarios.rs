//! Every hand-written scenario in `corpus/scenarios/`: one test per expectation in its header
//! (runs clean, catches a planted bug with a check; `ptdiff::repro::expectation`), so adding a
//! scenario needs no code. Below, what some scenarios must exercise, beyond their header.

mod common;

use libtest_mimic::{Arguments, Trial};
use ptdiff::conc;
use ptdiff::repro::expectation::{self, Expect};
use ptdiff::scenario::config::TablePlacement;
use ptdiff::scenario::text;
use ptdiff::{run, Lineup, Plant, RunStats};

/// What a clean run of `corpus/scenarios/<name>` exercised.
fn stats_of(name: &str) -> RunStats {
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

/// A test named after the scenario file and what it asserts about the run's statistics.
fn exercises(name: &'static str, what: &str, assert: fn(RunStats)) -> Trial {
    Trial::test(format!("scenarios/{name}: {what}"), move || {
        assert(stats_of(name));
        Ok(())
    })
}

/// Every scenario that runs clean with its tables low runs clean with them anywhere else: the
/// tables, the oracle, the DTEs and the checks handle table addresses with bits 51:32 set.
/// Concurrent scenarios too, run by the concurrent runner.
fn clean_anywhere() -> Vec<Trial> {
    let placements =
        [(TablePlacement::High, 0), (TablePlacement::Spread, 7), (TablePlacement::Adversarial, 0)];
    let mut trials = Vec::new();
    for path in common::corpus_files("scenarios") {
        let source = std::fs::read_to_string(&path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let clean = expectation::parse(&source).is_ok_and(|e| e.contains(&Expect::Clean));
        if !clean {
            continue;
        }
        let concurrent = if conc::text::is_concurrent(source.as_bytes()) {
            let Ok(scenario) = conc::text::parse(&source) else { continue };
            Some(scenario)
        } else {
            None
        };
        let sequential = match concurrent {
            Some(_) => None,
            None => match text::parse(&source) {
                Ok(scenario) => Some(scenario),
                Err(_) => continue,
            },
        };
        let config = concurrent.as_ref().map_or_else(
            || sequential.as_ref().map(|s| s.config).unwrap_or_default(),
            |c| c.config,
        );
        if config.tables != TablePlacement::Low {
            continue;
        }
        for (tables, table_seed) in placements {
            let what = format!("scenarios/{name}: clean with tables={tables:?}");
            let (sequential, concurrent) = (sequential.clone(), concurrent.clone());
            trials.push(Trial::test(what, move || {
                let move_tables = |c: &mut ptdiff::Config| {
                    c.tables = tables;
                    c.table_seed = table_seed;
                };
                let result = match (sequential, concurrent) {
                    (Some(mut s), _) => {
                        move_tables(&mut s.config);
                        Expect::Clean.verify(&s)
                    }
                    (None, Some(mut c)) => {
                        move_tables(&mut c.config);
                        Expect::Clean.verify_concurrent(&c, &Lineup::built_in())
                    }
                    (None, None) => Ok(()),
                };
                result.map_err(|e| e.to_string().into())
            }));
        }
    }
    trials
}

fn main() {
    let mut trials = common::corpus_trials("scenarios");
    trials.extend(clean_anywhere());
    trials.push(Trial::test("scenarios: at least 14 files", || {
        let files = common::corpus_files("scenarios");
        match files.len() {
            n if n >= 14 => Ok(()),
            n => Err(format!("the scenario corpus shrank to {n} files: {files:?}").into()),
        }
    }));
    trials.extend([
        exercises(
            "growth_in_map.scn",
            "grows four times inside map, once keeping a failed map's growth",
            |s| {
                assert_eq!(s.growth_events, 4);
                assert_eq!(s.highest_levels, 5);
                assert_eq!(s.notifies, 1);
                assert_eq!(s.missed_notifications, 0);
                // The injected failure hit both tables (dynamic after growing to 4 levels).
                assert_eq!(s.alloc_failures, 2);
                assert_eq!(s.maps_ok, 4);
            },
        ),
        exercises("growth_through_notify.scn", "grows twice to four levels", |s| {
            assert_eq!(s.growth_events, 2);
            assert_eq!(s.highest_levels, 4);
            assert_eq!(s.maps_ok, 4);
            assert_eq!(s.rejected, 0);
        }),
        exercises("growth_several_devices.scn", "reaches five levels", |s| {
            // 1->2, 2->3, 3->5; the fixed table cannot map 2^36 (OutOfRange: notify + map).
            assert_eq!(s.growth_events, 3);
            assert_eq!(s.highest_levels, 5);
            assert_eq!(s.rejected, 2);
        }),
        exercises("missed_notification.scn", "a missed notification is an outcome", |s| {
            assert_eq!(s.missed_notifications, 1);
            assert_eq!(s.rejected, 1);
            assert_eq!(s.growth_events, 1);
        }),
        exercises("bad_arguments.scn", "every bad argument is rejected", |s| {
            // 5 bad maps, 2 bad unmaps, deassign and assign in the wrong state: 9 ops x 2 tables.
            assert_eq!(s.rejected, 18);
            assert_eq!(s.maps_ok, 2);
        }),
        exercises("teardown.scn", "everything after teardown is rejected", |s| {
            // After teardown: map (with its notify), notify, assign, teardown; 2 tables each.
            assert_eq!(s.rejected, 10);
            assert_eq!(s.teardowns, 2);
        }),
        exercises("superpage_split.scn", "partial unmaps split superpages", |s| {
            assert_eq!(s.partial_unmaps, 2);
            assert_eq!(s.superpage_maps_ok, 3);
        }),
        exercises("alloc_failure.scn", "failures hit both tables, which recover", |s| {
            // Dynamic: the notify before op 4 fails (and its map is then beyond height), fixed:
            // the map; both: the split at op 9.
            assert_eq!(s.alloc_failures, 4);
            assert_eq!(s.fail_ops, 3);
            assert_eq!(s.rejected, 5);
        }),
        exercises("iotlb_flush.scn", "DMA goes through the caches", |s| {
            assert_eq!(s.dmas, 7);
            assert_eq!(s.partial_unmaps, 1);
        }),
        exercises("unmap_beyond_height.scn", "unmap never grows", |s| {
            assert_eq!(s.growth_events, 0);
            assert_eq!(s.highest_levels, 4, "the fixed table is 4 levels");
            assert_eq!(s.rejected, 0);
        }),
    ]);
    libtest_mimic::run(&Arguments::from_args(), trials).exit();
}
