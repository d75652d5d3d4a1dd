//! Thousands of seeded random byte strings, decoded and run: the correct implementations must
//! never produce a finding, and the decoder must reach what the suite tests (every op kind,
//! every height, ranges across tables, every page size). Deterministic: a failure names its seed, and `ptdiff repro` on the
//! bytes replays it.

mod common;

use common::Bytes;
use ptdiff::scenario::decode::decode;
use ptdiff::table::PageOrders;
use ptdiff::{run, Plant, RunStats};

const RUNS: u64 = 3000;

#[test]
fn random_scenarios_run_clean() {
    let mut total = RunStats::default();
    for seed in 0..RUNS {
        let bytes = Bytes::seeded(seed).input(400);
        let scenario = decode(&bytes);
        let report = run(&scenario, Plant::NONE).unwrap();
        if let Some(finding) = report.finding {
            panic!("seed {seed}, input {bytes:02x?}\n{scenario}\n{finding}");
        }
        total += &report.stats;
    }
    // The loop is only worth something if it reaches what it is meant to test. (A quarter of
    // the inputs map every page size, which only one table takes: fewer maps succeed on all.)
    assert!(total.maps_ok > 4 * RUNS, "{total:?}");
    assert!(total.superpage_maps_ok > RUNS, "{total:?}");
    assert!(total.growth_events > RUNS / 4, "{total:?}");
    assert!(total.missed_notifications > 50, "{total:?}");
    assert!(total.partial_unmaps > 50, "{total:?}");
    assert!(total.teardowns > 50, "{total:?}");
    assert!(total.dmas > RUNS, "{total:?}");
    assert!(total.alloc_failures > 50, "{total:?}");
    // Every op kind, and growth to every height from 2 to 6.
    for (kind, count) in [
        ("map", total.maps),
        ("unmap", total.unmaps),
        ("notify", total.notifies),
        ("assign", total.assigns),
        ("deassign", total.deassigns),
        ("translate", total.translates),
        ("dma", total.dmas),
        ("fail", total.fail_ops),
        ("teardown", total.teardowns),
    ] {
        assert!(count > 50, "{kind} reached only {count} times: {total:?}");
    }
    assert_eq!(total.grown_to, 0b111_1100, "{total:?}");
    assert_eq!(total.highest_levels, 6);
    // Ranges of several pages, across table boundaries, failing part-way; every page size
    // AMD-Vi v1 encodes mapped, and the table without them rejecting them.
    assert!(total.ranges_ok > RUNS / 2, "{total:?}");
    assert!(total.range_crossings > RUNS / 4, "{total:?}");
    assert!(total.partial_ranges > 10, "{total:?}");
    assert_eq!(total.orders_mapped, PageOrders::ALL.bits(), "{total}");
    assert!(total.unsupported_orders > RUNS / 2, "{total:?}");
}
