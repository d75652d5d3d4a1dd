//! Bounded-exhaustive exploration (`ptdiff explore`, `../shared/CONCURRENCY.md` 5.3): every
//! schedule of a concurrent scenario with at most N preemptions, by iterative context bounding
//! (CHESS).
//!
//! The scenario's own preemptions are set aside and its walks kept. The run without preemption
//! records every point where a preemption could take effect: a task about to make an access
//! while another task could run ([`Interleaving::choices`]). Each such point and target is
//! run as the one preemption; each of those runs records its own points, and every point after
//! the one its preemption took effect at is run as a second preemption; and so on up to N.
//! Schedules run in order of their number of preemptions, so the first finding is one with
//! the fewest. Every table of the lineup runs every schedule; the points explored are those of
//! every table (an anchor names a point of a task's program, which each table reaches by its
//! own steps).
//!
//! The schedules are the distinct preemption lists, not the distinct interleavings: two lists
//! that happen to give one interleaving both run.

use super::interleaving::Interleaving;
use super::runner::{run_concurrent_on, ConcReport};
use super::scenario::{ConcError, ConcScenario, Preempt, MAX_PREEMPTS};
use crate::check::Finding;
use crate::lineup::Lineup;
use crate::plant::Plant;
use std::collections::HashSet;

/// Preemptions per schedule unless told otherwise (`ptdiff explore --preemptions`).
pub const DEFAULT_PREEMPTIONS: usize = 2;
/// Schedules an exploration runs at most unless told otherwise.
pub const DEFAULT_MAX_SCHEDULES: u64 = 1_000_000;

/// How far to explore.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bounds {
    /// Most preemptions in one schedule (at most [`MAX_PREEMPTS`]).
    pub preemptions: usize,
    /// Most schedules to run; the exploration stops there, incomplete.
    pub max_schedules: u64,
}

impl Default for Bounds {
    fn default() -> Bounds {
        Bounds { preemptions: DEFAULT_PREEMPTIONS, max_schedules: DEFAULT_MAX_SCHEDULES }
    }
}

/// A schedule with a finding: the scenario with its preemptions (a reproducible scenario),
/// the finding and the run's report.
#[derive(Clone, Debug)]
pub struct Found {
    pub scenario: ConcScenario,
    pub finding: Finding,
    pub report: ConcReport,
}

/// What an exploration did.
#[derive(Clone, Debug)]
pub struct Exploration {
    /// The bounds it ran under.
    pub bounds: Bounds,
    /// Schedules run with 0, 1, ... preemptions (up to where it stopped).
    pub schedules: Vec<u64>,
    /// The first schedule with a finding (the exploration stops there).
    pub found: Option<Box<Found>>,
    /// False when it stopped at `bounds.max_schedules` before running every schedule.
    pub complete: bool,
}

impl Exploration {
    /// Schedules run in all.
    pub fn total(&self) -> u64 {
        self.schedules.iter().sum()
    }
}

/// Why an exploration cannot start.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ExploreError {
    #[error(transparent)]
    Scenario(#[from] ConcError),
    #[error("{0} preemptions asked, at most {MAX_PREEMPTS} allowed")]
    TooManyPreemptions(usize),
}

/// A scenario to extend, and the interleavings its run took.
struct Explored {
    scenario: ConcScenario,
    interleavings: Vec<Interleaving>,
}

/// Runs every schedule of `s` (its walks kept, its preemptions replaced) with at most
/// `bounds.preemptions` preemptions on `tables` with `plant`, stopping at the first finding.
pub fn explore(
    s: &ConcScenario,
    tables: &Lineup,
    plant: Plant,
    bounds: Bounds,
) -> Result<Exploration, ExploreError> {
    explore_with(s, bounds, |schedule| run_concurrent_on(schedule, tables, plant))
}

/// [`explore`] with `run` running each schedule (the concurrent runner, or a test's judge
/// wrapped around it): a report with a finding stops the exploration.
pub fn explore_with(
    s: &ConcScenario,
    bounds: Bounds,
    mut run: impl FnMut(&ConcScenario) -> Result<ConcReport, ConcError>,
) -> Result<Exploration, ExploreError> {
    if bounds.preemptions > MAX_PREEMPTS {
        return Err(ExploreError::TooManyPreemptions(bounds.preemptions));
    }
    let base = ConcScenario { preempts: Vec::new(), ..s.clone() };
    let mut out = Exploration { bounds, schedules: vec![0], found: None, complete: true };
    let report = run(&base)?;
    out.schedules[0] = 1;
    if let Some(finding) = report.finding.clone() {
        out.found = Some(Box::new(Found { scenario: base, finding, report }));
        return Ok(out);
    }
    let mut level = vec![Explored { scenario: base, interleavings: report.interleavings }];
    for depth in 1..=bounds.preemptions {
        out.schedules.push(0);
        let mut next = Vec::new();
        for parent in &level {
            for preempt in extensions(parent) {
                if out.total() >= bounds.max_schedules {
                    out.complete = false;
                    return Ok(out);
                }
                let mut scenario = parent.scenario.clone();
                scenario.preempts.push(preempt);
                if scenario.validate().is_err() {
                    continue;
                }
                let report = run(&scenario)?;
                out.schedules[depth] += 1;
                if let Some(finding) = report.finding.clone() {
                    out.found = Some(Box::new(Found { scenario, finding, report }));
                    return Ok(out);
                }
                if depth < bounds.preemptions {
                    next.push(Explored { scenario, interleavings: report.interleavings });
                }
            }
        }
        level = next;
    }
    Ok(out)
}

/// The preemptions that extend `parent`'s schedule: every point of each of its interleavings
/// after the one its last preemption took effect at (every point, for the schedule without
/// preemption), each once.
fn extensions(parent: &Explored) -> Vec<Preempt> {
    let last = parent.scenario.preempts.last().copied();
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for interleaving in &parent.interleavings {
        let from = match last {
            None => 0,
            Some(p) => match interleaving.step_of(p) {
                Some(step) => step + 1,
                None => continue,
            },
        };
        for choice in interleaving.choices().filter(|c| c.step >= from) {
            if seen.insert(choice.preempt) {
                out.push(choice.preempt);
            }
        }
    }
    out
}
