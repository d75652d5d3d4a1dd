//! The minimizer: turns a failing scenario into the smallest one that still fails the same way
//! (same check, same implementation), by dropping operations, simplifying operands and
//! simplifying the configuration. Deterministic and bounded by a run budget. It runs whatever
//! tables it is given ([`minimize_with`]); [`minimize`] runs the built-in ones.

use crate::check::finding::{Check, Finding};
use crate::lineup::Lineup;
use crate::plant::Plant;
use crate::scenario::{Op, Scenario};
use ptdiff_reference::Perm;

/// Most scenario runs one minimization may spend.
pub const RUN_BUDGET: usize = 20_000;

/// What minimization produced.
#[derive(Clone, Debug)]
pub struct Minimized {
    pub scenario: Scenario,
    /// The finding the minimized scenario produces.
    pub finding: Finding,
    /// Scenario runs spent.
    pub runs: usize,
}

struct Search<'a> {
    tables: &'a Lineup,
    plant: Plant,
    target: (Check, String),
    runs: usize,
}

impl Search<'_> {
    /// The finding of `candidate` if it is valid and fails the same way, within budget.
    fn still_fails(&mut self, candidate: &Scenario) -> Option<Finding> {
        if self.runs >= RUN_BUDGET {
            return None;
        }
        self.runs += 1;
        let finding = self.tables.run(candidate, self.plant).ok()?.finding?;
        (finding.signature() == self.target).then_some(finding)
    }
}

/// Minimizes `scenario`, which must produce a finding on the built-in tables with `plant`;
/// `None` when it does not.
pub fn minimize(scenario: &Scenario, plant: Plant) -> Option<Minimized> {
    minimize_with(scenario, &Lineup::built_in(), plant)
}

/// Minimizes `scenario`, which must produce a finding on `tables` with `plant`; `None` when it
/// does not. Every candidate runs on fresh tables of `tables`.
pub fn minimize_with(scenario: &Scenario, tables: &Lineup, plant: Plant) -> Option<Minimized> {
    let first = tables.run(scenario, plant).ok()?.finding?;
    let mut search = Search { tables, plant, target: first.signature(), runs: 1 };
    let mut best = scenario.clone();
    let mut finding = first;
    loop {
        let before = (best.clone(), search.runs);
        drop_ops(&mut search, &mut best, &mut finding);
        simplify_ops(&mut search, &mut best, &mut finding);
        simplify_config(&mut search, &mut best, &mut finding);
        if best == before.0 || search.runs >= RUN_BUDGET {
            break;
        }
    }
    Some(Minimized { scenario: best, finding, runs: search.runs })
}

/// Keeps `candidate` as the new best when it still fails the same way.
fn try_keep(
    search: &mut Search,
    best: &mut Scenario,
    finding: &mut Finding,
    candidate: Scenario,
) -> bool {
    match search.still_fails(&candidate) {
        Some(f) => {
            *best = candidate;
            *finding = f;
            true
        }
        None => false,
    }
}

/// Removes chunks of operations, halving the chunk size down to single ops. Operations after
/// the failing one are dropped first.
fn drop_ops(search: &mut Search, best: &mut Scenario, finding: &mut Finding) {
    if let Some(index) = finding.op_index() {
        let mut candidate = best.clone();
        candidate.ops.truncate(index + 1);
        if candidate.ops.len() < best.ops.len() {
            try_keep(search, best, finding, candidate);
        }
    }
    let mut chunk = best.ops.len().div_ceil(2).max(1);
    loop {
        let mut start = 0;
        while start < best.ops.len() {
            let mut candidate = best.clone();
            let end = (start + chunk).min(candidate.ops.len());
            candidate.ops.drain(start..end);
            if !try_keep(search, best, finding, candidate) {
                start += chunk;
            }
        }
        if chunk == 1 {
            break;
        }
        chunk = chunk.div_ceil(2);
    }
}

/// Simpler values for a frame number: zero, then with its highest set bits cleared one by one,
/// then halved.
fn simpler_frames(value: u64) -> Vec<u64> {
    let mut out = vec![0];
    let mut v = value;
    while v != 0 {
        let top = 63 - v.leading_zeros();
        v &= !(1u64 << top);
        out.push(value & !(1u64 << top));
    }
    out.push(value >> 1);
    out.retain(|&c| c < value);
    out
}

/// Smaller page counts for a range: one page, then half as many.
fn simpler_counts(count: u64) -> impl Iterator<Item = u64> {
    let half = Some(count / 2).filter(|&h| h > 1);
    Some(1).filter(|_| count > 1).into_iter().chain(half)
}

/// Candidate replacements for one op, simplest first.
fn simpler_ops(op: &Op) -> Vec<Op> {
    let mut out = Vec::new();
    match *op {
        Op::Map { dfn, mfn, order, perm, missed, count } => {
            let map = |dfn, mfn, order, perm, missed, count| Op::Map {
                dfn,
                mfn,
                order,
                perm,
                missed,
                count,
            };
            if missed {
                out.push(map(dfn, mfn, order, perm, false, count));
            }
            out.extend(simpler_counts(count).map(|c| map(dfn, mfn, order, perm, missed, c)));
            if perm != Perm::RW {
                out.push(map(dfn, mfn, order, Perm::RW, missed, count));
            }
            if order != 0 {
                out.push(map(dfn, mfn, 0, perm, missed, count));
            }
            out.extend(
                simpler_frames(mfn).into_iter().map(|m| map(dfn, m, order, perm, missed, count)),
            );
            out.extend(
                simpler_frames(dfn).into_iter().map(|d| map(d, mfn, order, perm, missed, count)),
            );
        }
        Op::Unmap { dfn, order, count } => {
            out.extend(simpler_counts(count).map(|c| Op::Unmap { dfn, order, count: c }));
            if order != 0 {
                out.push(Op::Unmap { dfn, order: 0, count });
            }
            out.extend(simpler_frames(dfn).into_iter().map(|d| Op::Unmap { dfn: d, order, count }));
        }
        Op::Notify { dfn } => {
            out.extend(simpler_frames(dfn).into_iter().map(|d| Op::Notify { dfn: d }))
        }
        Op::Translate { dev, dfn } => {
            if dev != 0 {
                out.push(Op::Translate { dev: 0, dfn });
            }
            out.extend(simpler_frames(dfn).into_iter().map(|d| Op::Translate { dev, dfn: d }));
        }
        Op::Dma { dev, dfn, access } => {
            if dev != 0 {
                out.push(Op::Dma { dev: 0, dfn, access });
            }
            if access != Perm::R {
                out.push(Op::Dma { dev, dfn, access: Perm::R });
            }
            out.extend(simpler_frames(dfn).into_iter().map(|d| Op::Dma { dev, dfn: d, access }));
        }
        Op::FailAlloc { nth } if nth > 1 => out.push(Op::FailAlloc { nth: 1 }),
        Op::Repeat { count } => {
            let fewer = [1, count / 2, count.saturating_sub(1)];
            out.extend(
                fewer
                    .into_iter()
                    .filter(|&c| c >= 1 && c < count)
                    .map(|count| Op::Repeat { count }),
            );
            out.dedup();
        }
        Op::Assign { .. } | Op::Deassign { .. } | Op::Teardown | Op::FailAlloc { .. } => {}
    }
    out
}

fn simplify_ops(search: &mut Search, best: &mut Scenario, finding: &mut Finding) {
    for i in 0..best.ops.len() {
        for simpler in simpler_ops(&best.ops[i]) {
            let mut candidate = best.clone();
            candidate.ops[i] = simpler;
            try_keep(search, best, finding, candidate);
        }
    }
}

fn simplify_config(search: &mut Search, best: &mut Scenario, finding: &mut Finding) {
    let c = best.config;
    let mut candidates = Vec::new();
    if c.all_page_sizes {
        candidates.push(crate::scenario::Config { all_page_sizes: false, ..c });
    }
    if c.ranges {
        candidates.push(crate::scenario::Config { ranges: false, ..c });
    }
    if c.missed_notifications {
        candidates.push(crate::scenario::Config { missed_notifications: false, ..c });
    }
    if c.superpages {
        candidates.push(crate::scenario::Config { superpages: false, ..c });
    }
    if c.devices > 1 {
        candidates.push(crate::scenario::Config { devices: c.devices - 1, ..c });
    }
    if c.tables != crate::scenario::config::TablePlacement::Low {
        candidates.push(crate::scenario::Config {
            tables: crate::scenario::config::TablePlacement::Low,
            table_seed: 0,
            ..c
        });
    }
    if c.max_levels > 4 {
        candidates.push(crate::scenario::Config {
            max_levels: c.max_levels - 1,
            initial_levels: c.initial_levels.min(c.max_levels - 1),
            ..c
        });
    }
    for config in candidates {
        let candidate = Scenario { config, ops: best.ops.clone() };
        if candidate.validate().is_ok() {
            try_keep(search, best, finding, candidate);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simpler_frames_are_smaller_and_start_at_zero() {
        assert_eq!(simpler_frames(0), Vec::<u64>::new());
        assert_eq!(simpler_frames(0b1010), vec![0, 0b0010, 0b1000, 0b0101]);
        assert_eq!(simpler_counts(513).collect::<Vec<_>>(), vec![1, 256]);
        assert_eq!(simpler_counts(2).collect::<Vec<_>>(), vec![1]);
        assert_eq!(simpler_counts(1).count(), 0);
    }

    #[test]
    fn clean_scenarios_are_not_minimized() {
        assert!(minimize(&Scenario::default(), Plant::NONE).is_none());
    }
}
