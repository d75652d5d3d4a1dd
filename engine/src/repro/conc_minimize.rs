//! The concurrent minimizer: turns a failing concurrent scenario into a smallest one that still
//! fails the same way (same check, same implementation) by the reductions of
//! [`crate::conc::reduce`]: whole threads, thread ops, walks, preemptions and setup ops, each
//! tried in turn, every kept one starting the round again. Deterministic and bounded by
//! [`RUN_BUDGET`] runs.

use crate::check::finding::Finding;
use crate::conc::runner::run_concurrent_on;
use crate::conc::scenario::ConcScenario;
use crate::lineup::Lineup;
use crate::plant::Plant;

pub use super::minimize::RUN_BUDGET;

/// What concurrent minimization produced.
#[derive(Clone, Debug)]
pub struct ConcMinimized {
    pub scenario: ConcScenario,
    /// The finding the minimized scenario produces.
    pub finding: Finding,
    /// Scenario runs spent.
    pub runs: usize,
}

/// Minimizes `s`, which must produce a finding on `tables` with `plant`; `None` when it does
/// not. Every candidate runs on fresh tables of `tables`.
pub fn minimize_concurrent(
    s: &ConcScenario,
    tables: &Lineup,
    plant: Plant,
) -> Option<ConcMinimized> {
    let run = |c: &ConcScenario| run_concurrent_on(c, tables, plant).ok()?.finding;
    let first = run(s)?;
    let target = first.signature();
    let mut finding = first;
    let (scenario, runs) = shrink(s, |candidate| match run(candidate) {
        Some(f) if f.signature() == target => {
            finding = f;
            true
        }
        _ => false,
    });
    Some(ConcMinimized { scenario, finding, runs: runs + 1 })
}

/// The smallest scenario reachable from `s` by single reductions that all keep `fails` true
/// (`s` itself is taken to fail), and how many times `fails` was asked. Stops asking after
/// [`RUN_BUDGET`] questions.
pub fn shrink(
    s: &ConcScenario,
    mut fails: impl FnMut(&ConcScenario) -> bool,
) -> (ConcScenario, usize) {
    let mut best = s.clone();
    let mut asked = 0;
    while asked < RUN_BUDGET {
        let kept = best.reductions().find(|candidate| {
            asked += 1;
            asked <= RUN_BUDGET && fails(candidate)
        });
        match kept {
            Some(candidate) => best = candidate,
            None => break,
        }
    }
    (best, asked.min(RUN_BUDGET))
}
