//! Bare tables: a scenario's operations applied straight to fresh `dynamic` and `fixed`
//! tables through the `PageTable` trait, as the runner applies them (a map notifies its last
//! DFN first unless `missed`; `fail N` arms the next operation's allocation failure), with no
//! model, outcome check or snapshot: the part of the runner's ops phase that the
//! implementations themselves spend.

use ptdiff::check::expect::last_dfn;
use ptdiff::run::DOMAIN;
use ptdiff::tables::dynamic::{Dynamic, DynamicConfig};
use ptdiff::tables::fixed::Fixed;
use ptdiff::{Op, PageTable, Plant, Scenario};
use std::hint::black_box;

/// Fresh tables for `scenario`'s config.
fn tables(scenario: &Scenario) -> Result<Vec<Box<dyn PageTable>>, String> {
    let c = scenario.config;
    let config = DynamicConfig {
        initial_levels: c.initial_levels,
        max_levels: c.max_levels,
        domain: DOMAIN,
    };
    let dynamic = Dynamic::new(config, Plant::NONE).map_err(|e| format!("dynamic: {e}"))?;
    let fixed = Fixed::new(DOMAIN, Plant::NONE).map_err(|e| format!("fixed: {e}"))?;
    Ok(vec![Box::new(dynamic), Box::new(fixed)])
}

/// One op on one table; results are ignored.
fn apply(table: &mut dyn PageTable, op: &Op) {
    let _ = black_box(match *op {
        Op::Map { dfn, mfn, order, perm, missed } => {
            if let (false, Some(last)) = (missed, last_dfn(dfn, order)) {
                let _ = black_box(table.notify_dfn(last));
            }
            table.map(dfn, mfn, order, perm)
        }
        Op::Unmap { dfn, order } => table.unmap(dfn, order),
        Op::Notify { dfn } => table.notify_dfn(dfn),
        Op::Assign { dev } => table.assign(dev),
        Op::Deassign { dev } => table.deassign(dev),
        Op::Teardown => table.teardown(),
        Op::Translate { .. } | Op::Dma { .. } | Op::FailAlloc { .. } => Ok(()),
    });
}

/// Creates the tables for `scenario`, applies its ops when `ops`, and drops them.
pub fn run(scenario: &Scenario, ops: bool) -> Result<(), String> {
    let mut tables = tables(scenario)?;
    let mut pending = None;
    for op in scenario.ops.iter().filter(|_| ops) {
        if let Op::FailAlloc { nth } = *op {
            pending = Some(nth);
            continue;
        }
        let armed = pending.take();
        for table in &mut tables {
            if let Some(nth) = armed {
                table.iommu_mut().frames_mut().fail_nth_allocation(u64::from(nth));
            }
            apply(table.as_mut(), op);
            if armed.is_some() {
                table.iommu_mut().frames_mut().cancel_failure();
            }
        }
    }
    drop(black_box(tables));
    Ok(())
}
