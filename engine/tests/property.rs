//! Thousands of seeded random byte strings, decoded and run: the correct implementations must
//! never produce a finding, and the decoder must reach what the suite tests (every op kind,
//! every height, ranges across tables, every page size, placed tables, long scenarios).
//! Deterministic: a failure names its seed, and `ptdiff repro` on the bytes replays it.

mod common;

use common::Bytes;
use ptdiff::scenario::config::TablePlacement;
use ptdiff::scenario::decode::{decode, MAX_DECODED_OPS};
use ptdiff::scenario::repeat::run_length;
use ptdiff::scenario::{Op, Scenario};
use ptdiff::table::PageOrders;
use ptdiff::{run, Plant, RunStats, Runner};
use ptdiff_reference::{enumerate_tree, Dte, Perm, WalkConfig};

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

/// Long random inputs (up to 4 KiB).
const LONG_RUNS: u64 = 160;
const LONG_INPUT: usize = 4096;

/// What the table memory of a run showed at its end, over both implementations.
#[derive(Debug, Default)]
struct Reached {
    /// Tables reached through a PDE whose address has a bit of 51:32 set.
    high_pdes: u64,
    /// DTEs of assigned devices whose root pointer has a bit of 51:32 set.
    high_dte_roots: u64,
    /// Tables with all 512 entries present.
    full_tables: u64,
}

/// Walks every table of every implementation not torn down, as hardware would from its root.
fn reached(runner: &Runner, into: &mut Reached) {
    for subject in runner.subjects().iter().filter(|s| !s.torn_down) {
        let table = &subject.table;
        let Some(root) = table.root() else { continue };
        let memory = table.iommu().memory();
        if subject.assigned.first().is_some() && root >> 32 != 0 {
            into.high_dte_roots += 1;
        }
        let dte = Dte::translating(root, table.levels(), Perm::RW, table.domain_id());
        let Ok(tree) = enumerate_tree(memory, &WalkConfig::default(), &dte, 1 << 20) else {
            continue;
        };
        for t in &tree.tables {
            if t.spa != root && t.spa >> 32 != 0 {
                into.high_pdes += 1;
            }
            let present = (0..512)
                .filter(|i| memory.read(t.spa + 8 * i).is_ok_and(|raw| raw & 1 == 1))
                .count();
            into.full_tables += u64::from(present == 512);
        }
    }
}

/// The tables `scenario` fills with pages of 4 KiB or 2 MiB by a map repeated up to the last
/// entry of its table: `(from any entry, whole tables)`; a whole table is one filled from its
/// first entry, or the next table filled through.
fn fills(scenario: &Scenario) -> (u64, u64) {
    let (mut to_the_end, mut whole) = (0, 0);
    let mut base = None;
    for op in &scenario.ops {
        match (*op, base) {
            (Op::Repeat { count }, Some(Op::Map { dfn, order: order @ (0 | 9), .. })) => {
                let index = (dfn >> order) % 512;
                let count = u64::from(count);
                if count >= 511 - index {
                    to_the_end += 1;
                    whole += u64::from(index == 0 || count >= 1023 - index);
                }
            }
            (Op::Repeat { .. }, _) => {}
            (other, _) => base = Some(other),
        }
    }
    (to_the_end, whole)
}

#[test]
fn long_random_scenarios_run_clean_and_reach_full_tables_and_high_addresses() {
    let mut total = RunStats::default();
    let mut memory = Reached::default();
    let (mut long, mut at_budget, mut placed) = (0, 0, [0u64; 4]);
    let (mut to_the_end, mut whole) = (0, 0);
    for seed in 0..LONG_RUNS {
        let bytes = Bytes::seeded(seed).input(LONG_INPUT);
        let scenario = decode(&bytes);
        let ops = run_length(&scenario.ops);
        long += u64::from(ops > 64);
        at_budget += u64::from(ops == MAX_DECODED_OPS as u64);
        let filled = fills(&scenario);
        to_the_end += filled.0;
        whole += filled.1;
        placed[scenario.config.tables as usize] += 1;
        let mut runner = Runner::new(scenario.config, Plant::NONE).unwrap();
        let finding = runner.apply_ops(&scenario.ops).err().or_else(|| runner.sweep().err());
        if let Some(finding) = finding {
            panic!("seed {seed}, input {bytes:02x?}\n{scenario}\n{finding}");
        }
        reached(&runner, &mut memory);
        total += runner.stats();
    }
    let summary = format!(
        "{long} long, {at_budget} at the budget, {to_the_end} tables filled to the end \
         ({whole} whole), placements {placed:?}"
    );
    assert!(long > LONG_RUNS / 2 && at_budget > LONG_RUNS / 10, "{summary}");
    assert!(to_the_end > LONG_RUNS / 8 && whole >= 4, "{summary}");
    // Every placement (over more inputs: decoding is cheap), and tables found through high
    // addresses in the memory itself.
    for seed in LONG_RUNS..20 * LONG_RUNS {
        placed[decode(&Bytes::seeded(seed).input(64)).config.tables as usize] += 1;
    }
    assert!(placed.iter().all(|&n| n >= 3 * 20), "{summary}, then {placed:?}");
    assert!(memory.high_pdes > LONG_RUNS, "{memory:?}");
    assert!(memory.high_dte_roots >= 10, "{memory:?}");
    assert!(memory.full_tables > LONG_RUNS, "{memory:?}");
    assert!(total.maps_ok > 50 * LONG_RUNS, "{total:?}");
    assert_eq!(TablePlacement::ALL.len(), placed.len());
}
