//! Bare tables: a scenario's operations applied straight to fresh built-in tables
//! (`ptdiff::tables::BUILT_IN`) through the `PageTable` trait, as the runner applies them
//! (repetitions expanded; a map notifies the last DFN of its range first unless `missed`;
//! `fail N` arms the next operation's allocation failure), with no model, outcome check or
//! snapshot: the part of the runner's ops phase that the implementations themselves spend.

use ptdiff::check::expect::range_last;
use ptdiff::run::DOMAIN;
use ptdiff::scenario::repeat::expand;
use ptdiff::tables::{TableConfig, BUILT_IN};
use ptdiff::{Op, PageTable, Scenario};
use std::hint::black_box;

/// Fresh built-in tables for `scenario`'s config, as the runner creates them.
fn tables(scenario: &Scenario) -> Result<Vec<Box<dyn PageTable>>, String> {
    let c = scenario.config;
    let config = TableConfig {
        initial_levels: c.initial_levels,
        max_levels: c.max_levels,
        domain: DOMAIN,
        placement: c.placement(),
        all_page_sizes: c.all_page_sizes,
    };
    BUILT_IN.iter().map(|t| (t.build)(config).map_err(|e| format!("{}: {e}", t.name))).collect()
}

/// One op on one table; results are ignored.
fn apply(table: &mut dyn PageTable, op: &Op) {
    let _ = black_box(match *op {
        Op::Map { dfn, mfn, order, perm, missed, count } => {
            if let (false, Some(last)) = (missed, range_last(dfn, order, count)) {
                let _ = black_box(table.notify_dfn(last));
            }
            table.map_pages(dfn, mfn, order, count, perm).map_err(|e| e.error)
        }
        Op::Unmap { dfn, order, count } => {
            table.unmap_pages(dfn, order, count).map_err(|e| e.error)
        }
        Op::Notify { dfn } => table.notify_dfn(dfn),
        Op::Assign { dev } => table.assign(dev),
        Op::Deassign { dev } => table.deassign(dev),
        Op::Teardown => table.teardown(),
        Op::Translate { .. } | Op::Dma { .. } | Op::FailAlloc { .. } | Op::Repeat { .. } => Ok(()),
    });
}

/// Creates the tables for `scenario`, applies its ops when `ops`, and drops them.
pub fn run(scenario: &Scenario, ops: bool) -> Result<(), String> {
    let mut tables = tables(scenario)?;
    let mut pending = None;
    for (_, op) in expand(&scenario.ops).filter(|_| ops) {
        if let Op::FailAlloc { nth } = op {
            pending = Some(nth);
            continue;
        }
        let armed = pending.take();
        for table in &mut tables {
            if let Some(nth) = armed {
                table.iommu_mut().frames_mut().fail_nth_allocation(u64::from(nth));
            }
            apply(table.as_mut(), &op);
            if armed.is_some() {
                table.iommu_mut().frames_mut().cancel_failure();
            }
        }
    }
    drop(black_box(tables));
    Ok(())
}
