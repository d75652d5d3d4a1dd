//! Seeded random inputs of the `concurrent` fuzz target, decoded and run: the correct tables
//! never produce a finding (no false alarm), and the decoder reaches what the concurrent
//! runner tests: preemptions that take effect, scheduled hardware walks, shadow walks,
//! frontiers of more than one configuration, races no read decides, growth while threads run.
//! Deterministic: a failure names its seed, and `ptdiff repro --concurrent` on the bytes
//! replays it.

mod common;

use common::Bytes;
use ptdiff::conc::runner::ConcStats;
use ptdiff::fuzz::concurrent_run;
use ptdiff::{Lineup, Plant};

/// Runs the inputs of `seeds` (each up to `max_len` bytes) on the built-in tables; panics on a
/// finding. Returns the summed statistics and how many inputs had a frontier of more than one
/// configuration.
fn run_seeds(seeds: std::ops::Range<u64>, max_len: usize) -> (ConcStats, u64) {
    let tables = Lineup::built_in();
    let mut total = ConcStats::default();
    let mut wide = 0;
    for seed in seeds {
        let bytes = Bytes::seeded(seed).input(max_len);
        let (scenario, result) = concurrent_run(&bytes, &tables, Plant::NONE);
        let report = result.unwrap_or_else(|e| panic!("seed {seed}: invalid ({e})\n{scenario}"));
        if let Some(explained) = report.explain() {
            panic!("seed {seed}, input {bytes:02x?}\n{scenario}\n{explained}");
        }
        wide += u64::from(report.stats.frontier_peak > 1);
        total += &report.stats;
    }
    (total, wide)
}

/// Today these seeds reach 826 preemptions, 2414 walks, 388853 shadow walks, 798 inputs with a
/// frontier over 1 (peak 10), 5 undecided races and 89 growths. The minimums sit at about half
/// of that (the frontier and race counts nearer), so changes to the tables' step counts do not
/// break them, while a decoder or runner that stopped reaching a race would.
#[test]
fn random_concurrent_inputs_reach_the_races() {
    const RUNS: u64 = 800;
    let (total, wide) = run_seeds(0..RUNS, 300);
    assert_eq!((total.runs, total.phases), (RUNS, 2 * RUNS), "{total}");
    assert!(total.thread_ops > 6 * RUNS, "{total}");
    assert!(total.preemptions > RUNS / 2, "{total}");
    assert!(total.walks > 2 * RUNS, "{total}");
    assert!(total.shadow_walks > 200 * RUNS, "{total}");
    assert!(wide > RUNS * 9 / 10, "{wide} inputs with a frontier over 1: {total}");
    assert!(total.frontier_peak >= 6, "{total}");
    assert!(total.undecided >= 3, "{total}");
    assert!(total.growths > RUNS / 15, "{total}");
}

/// Longer inputs (more setup, more ops per thread): still no finding on the correct tables.
#[test]
fn random_concurrent_inputs_raise_no_false_alarm() {
    let (total, _) = run_seeds(10_000..10_300, 1200);
    assert_eq!(total.runs, 300);
}
