//! The differential runner: applies each operation of a scenario to every implementation and
//! checks, after every operation (the checks themselves are in [`crate::check`]):
//!
//! - **outcome**: each result has the error class the specification ([`crate::check::expect`])
//!   requires (so both implementations agree, and agree with the spec), and an operation that
//!   fails changes nothing: no table frame allocated or freed, no DTE rewritten;
//! - **height**: only a notify may raise the height, exactly to what the DFN needs;
//! - **DTE**: every assigned device's DTE holds V, TV, IR, IW, the current root and the
//!   current height as mode, and the root is a live table frame of the domain;
//! - **translation**: for each probe DFN ([`crate::check::probe`]) the oracle's hardware walk through
//!   the DTEs, reading the implementation's raw memory, equals the implementation's model, and
//!   every table the walk reads is a live table frame of the domain (**ledger**);
//! - **lookup**: the implementation's own lookup equals the model;
//! - **unassigned access**: devices not assigned reach no memory, for reads and writes;
//! - **caches**: the IOMMU's DTE cache and IOTLB ([`ptdiff_reference::Caches`]), filled by
//!   `dma` operations and by the runner's own probes and emptied only by the invalidations the
//!   implementation issued (and completed), hold nothing the tables no longer grant.
//!
//! After the last operation a full sweep enumerates every reachable leaf and table: leaves
//! equal the model, every reachable table is live, every live table is reachable (no leak).
//! After a teardown no table frame of the domain may remain.
//!
//! Each implementation has its own model: they differ only after an *expected divergence*:
//! a map whose notification was missed (`missed`) and that the dynamic table rejected as beyond
//! its height ([`RunStats::missed_notifications`]), a DFN only one table's maximum height
//! covers, or an injected allocation failure (`fail N`) that only one table ran into
//! ([`RunStats::alloc_failures`]).

use crate::check::expect;
use crate::check::finding::{Check, Finding, Phase};
use crate::check::probe::probes;
use crate::plant::Plant;
use crate::scenario::{Config, Op, Scenario, ScenarioError};
use crate::table::{ErrorClass, PageTable, PtError};
use crate::tables::dynamic::{Dynamic, DynamicConfig};
use crate::tables::fixed::Fixed;
use ptdiff_reference::{Caches, Model, WalkConfig};
use std::collections::BTreeSet;

/// Domain ID the built-in implementations use.
pub const DOMAIN: u16 = 1;
/// Recently used DFNs kept as extra probes.
const RECENT: usize = 8;

/// What a run exercised: used to notice a fuzzer that silently tests nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunStats {
    pub ops: u32,
    pub maps: u32,
    /// Maps that succeeded on every implementation.
    pub maps_ok: u32,
    /// Order 9 or 18 maps that succeeded on every implementation.
    pub superpage_maps_ok: u32,
    pub unmaps: u32,
    /// Unmaps that removed part of a larger mapping (the model had to split an extent).
    pub partial_unmaps: u32,
    pub notifies: u32,
    pub assigns: u32,
    pub deassigns: u32,
    pub translates: u32,
    pub dmas: u32,
    pub teardowns: u32,
    /// `fail N` operations.
    pub fail_ops: u32,
    /// Calls that ran into an injected allocation failure and returned `NoMemory`.
    pub alloc_failures: u32,
    /// Operations some implementation rejected (any error class).
    pub rejected: u32,
    /// Maps a table rejected because their notification was missed (expected divergence).
    pub missed_notifications: u32,
    /// Times some table's height increased.
    pub growth_events: u32,
    /// Greatest height any table reached.
    pub highest_levels: u8,
    /// Bit `h` is set when some table grew to height `h`.
    pub grown_to: u8,
    /// Hardware walks performed by the checks.
    pub walks: u32,
}

/// The result of running a scenario.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// The first failed check, if any (the run stops there).
    pub finding: Option<Finding>,
    pub stats: RunStats,
    /// One line per operation with each implementation's result, when tracing was on.
    pub trace: Vec<String>,
}

impl Report {
    /// True when no check failed.
    pub fn passed(&self) -> bool {
        self.finding.is_none()
    }
}

/// One implementation with the runner's bookkeeping for it.
pub(crate) struct Side {
    pub(crate) table: Box<dyn PageTable>,
    pub(crate) model: Model,
    pub(crate) assigned: BTreeSet<u16>,
    pub(crate) torn_down: bool,
    /// The IOMMU's caches, fed with the implementation's commands.
    pub(crate) caches: Caches,
    /// Commands of the implementation's log already fed to `caches`.
    pub(crate) commands_seen: usize,
}

/// Runs operations on a set of implementations and checks them.
pub struct Runner {
    pub(crate) config: Config,
    pub(crate) walk: WalkConfig,
    pub(crate) sides: Vec<Side>,
    recent: Vec<u64>,
    pub(crate) stats: RunStats,
    trace: Option<Vec<String>>,
    /// Set by `fail N`, armed for the next operation.
    pending_failure: Option<u32>,
    /// An allocation failure is armed for the operation being applied.
    failure_armed: bool,
}

/// Runs a scenario on the built-in `dynamic` and `fixed` tables with `plant` active.
pub fn run(scenario: &Scenario, plant: Plant) -> Result<Report, ScenarioError> {
    run_with(scenario, plant, false)
}

/// Like [`run`], recording a trace line per operation in [`Report::trace`].
pub fn run_traced(scenario: &Scenario, plant: Plant) -> Result<Report, ScenarioError> {
    run_with(scenario, plant, true)
}

fn run_with(scenario: &Scenario, plant: Plant, trace: bool) -> Result<Report, ScenarioError> {
    scenario.validate()?;
    match Runner::new(scenario.config, plant) {
        Ok(mut runner) => {
            runner.trace = trace.then(Vec::new);
            Ok(runner.run_ops(&scenario.ops))
        }
        Err(finding) => {
            Ok(Report { finding: Some(*finding), stats: RunStats::default(), trace: Vec::new() })
        }
    }
}

/// Runs a scenario on caller-supplied implementations (see "Testing your own page table" in
/// the README). Each table must be freshly created with nothing mapped or assigned.
pub fn run_tables(
    scenario: &Scenario,
    tables: Vec<Box<dyn PageTable>>,
) -> Result<Report, ScenarioError> {
    scenario.validate()?;
    Ok(Runner::with_tables(scenario.config, tables).run_ops(&scenario.ops))
}

pub(crate) fn describe_result(result: &Result<(), PtError>) -> String {
    match result {
        Ok(()) => "ok".to_string(),
        Err(e) => format!("error `{e}` ({:?})", e.class()),
    }
}

fn describe_expected(expected: Result<(), ErrorClass>) -> String {
    match expected {
        Ok(()) => "ok".to_string(),
        Err(class) => format!("an error of class {class:?}"),
    }
}

impl Runner {
    /// The built-in pair: `dynamic` (growing from `initial_levels` to `max_levels`) and `fixed`.
    pub fn new(config: Config, plant: Plant) -> Result<Runner, Box<Finding>> {
        let setup = |implementation: &str, e: PtError| {
            Box::new(Finding {
                check: Check::Setup,
                implementation: implementation.to_string(),
                phase: Phase::Setup,
                op: None,
                dfn: None,
                device: None,
                expected: "a fresh table".to_string(),
                got: e.to_string(),
                others: Vec::new(),
            })
        };
        let dynamic = Dynamic::new(
            DynamicConfig {
                initial_levels: config.initial_levels,
                max_levels: config.max_levels,
                domain: DOMAIN,
            },
            plant,
        )
        .map_err(|e| setup("dynamic", e))?;
        let fixed = Fixed::new(DOMAIN, plant).map_err(|e| setup("fixed", e))?;
        Ok(Runner::with_tables(config, vec![Box::new(dynamic), Box::new(fixed)]))
    }

    /// Any set of implementations, freshly created.
    pub fn with_tables(config: Config, tables: Vec<Box<dyn PageTable>>) -> Runner {
        let sides = tables
            .into_iter()
            .map(|table| Side {
                commands_seen: table.iommu().commands().len(),
                table,
                model: Model::new(),
                assigned: BTreeSet::new(),
                torn_down: false,
                caches: Caches::new(),
            })
            .collect();
        let mut runner = Runner {
            config,
            walk: WalkConfig { max_levels: config.max_levels, ..WalkConfig::default() },
            sides,
            recent: Vec::new(),
            stats: RunStats::default(),
            trace: None,
            pending_failure: None,
            failure_armed: false,
        };
        runner.note_heights();
        runner
    }

    /// Runs `ops` then the final sweep; stops at the first finding.
    pub fn run_ops(mut self, ops: &[Op]) -> Report {
        for (index, op) in ops.iter().enumerate() {
            if let Err(finding) = self.step(index, op) {
                return Report {
                    finding: Some(*finding),
                    stats: self.stats,
                    trace: self.trace.unwrap_or_default(),
                };
            }
        }
        let finding = self.sweep().err().map(|f| *self.annotate(f));
        Report { finding, stats: self.stats, trace: self.trace.unwrap_or_default() }
    }

    /// What the run exercised so far.
    pub fn stats(&self) -> &RunStats {
        &self.stats
    }

    fn note_heights(&mut self) {
        for side in &self.sides {
            self.stats.highest_levels = self.stats.highest_levels.max(side.table.levels());
        }
    }

    fn remember(&mut self, dfn: u64) {
        if self.recent.len() == RECENT {
            self.recent.remove(0);
        }
        self.recent.push(dfn);
    }

    /// Applies op number `index` to every implementation and runs the per-op checks.
    pub fn step(&mut self, index: usize, op: &Op) -> Result<(), Box<Finding>> {
        self.stats.ops += 1;
        if let Op::FailAlloc { nth } = *op {
            self.stats.fail_ops += 1;
            self.pending_failure = Some(nth);
            return Ok(());
        }
        let armed = self.pending_failure.take();
        if let Some(nth) = armed {
            for side in &mut self.sides {
                side.table.iommu_mut().frames_mut().fail_nth_allocation(u64::from(nth));
            }
        }
        self.failure_armed = armed.is_some();
        let range = self.apply_op(index, op).map_err(|f| self.annotate(f));
        if armed.is_some() {
            for side in &mut self.sides {
                side.table.iommu_mut().frames_mut().cancel_failure();
            }
            self.failure_armed = false;
        }
        let (first, last) = range?;
        if !matches!(op, Op::Assign { .. } | Op::Deassign { .. } | Op::Teardown) {
            self.remember(first);
        }
        let probe_dfns = probes(first, last, &self.recent);
        self.check_state(Phase::Op { index }, op, &probe_dfns).map_err(|f| self.annotate(f))
    }

    /// The operation itself; returns the DFN range it concerned, for the probes.
    fn apply_op(&mut self, index: usize, op: &Op) -> Result<(u64, u64), Box<Finding>> {
        let phase = Phase::Op { index };
        Ok(match *op {
            Op::Map { dfn, mfn, order, perm, missed } => {
                self.stats.maps += 1;
                let last = expect::last_dfn(dfn, order);
                if let (false, Some(last)) = (missed, last) {
                    self.notify_all(Phase::NotifyBefore { index }, op, last)?;
                }
                let results = self.apply(phase, op, |side| {
                    let t = &mut side.table;
                    let expected = expect::map(dfn, mfn, order, perm, t.levels(), t.max_levels());
                    (expected, t.map(dfn, mfn, order, perm))
                })?;
                if results.iter().all(|r| r.is_ok()) {
                    self.stats.maps_ok += 1;
                    self.stats.superpage_maps_ok += u32::from(order > 0);
                }
                for (side, result) in self.sides.iter_mut().zip(&results) {
                    match result {
                        Ok(()) => side.model.map(dfn, mfn, order, perm),
                        Err(PtError::BeyondHeight { .. }) if missed => {
                            self.stats.missed_notifications += 1
                        }
                        Err(_) => {}
                    }
                }
                (dfn, last.unwrap_or(dfn))
            }
            Op::Unmap { dfn, order } => {
                self.stats.unmaps += 1;
                let last = expect::last_dfn(dfn, order).unwrap_or(u64::MAX);
                let partial = self.sides.iter().any(|s| {
                    let inside = |d: u64| s.model.translate(d).is_some();
                    (dfn > 0 && inside(dfn) && inside(dfn - 1))
                        || (last < u64::MAX && inside(last) && inside(last + 1))
                });
                let results = self.apply(phase, op, |side| {
                    (expect::unmap(dfn, order), side.table.unmap(dfn, order))
                })?;
                self.stats.partial_unmaps +=
                    u32::from(partial && results.iter().all(|r| r.is_ok()));
                for (side, result) in self.sides.iter_mut().zip(&results) {
                    if result.is_ok() && order < 64 {
                        side.model.unmap(dfn, order);
                    }
                }
                (dfn, last)
            }
            Op::Notify { dfn } => {
                self.stats.notifies += 1;
                self.notify_all(phase, op, dfn)?;
                (dfn, dfn)
            }
            Op::Assign { dev } => {
                self.stats.assigns += 1;
                let results = self.apply(phase, op, |side| {
                    let expected =
                        if side.assigned.contains(&dev) { Err(ErrorClass::Device) } else { Ok(()) };
                    (expected, side.table.assign(dev))
                })?;
                for (side, result) in self.sides.iter_mut().zip(&results) {
                    if result.is_ok() {
                        side.assigned.insert(dev);
                    }
                }
                (0, 0)
            }
            Op::Deassign { dev } => {
                self.stats.deassigns += 1;
                let results = self.apply(phase, op, |side| {
                    let expected =
                        if side.assigned.contains(&dev) { Ok(()) } else { Err(ErrorClass::Device) };
                    (expected, side.table.deassign(dev))
                })?;
                for (side, result) in self.sides.iter_mut().zip(&results) {
                    if result.is_ok() {
                        side.assigned.remove(&dev);
                    }
                }
                (0, 0)
            }
            Op::Teardown => {
                self.stats.teardowns += 1;
                let results = self.apply(phase, op, |side| (Ok(()), side.table.teardown()))?;
                for (side, result) in self.sides.iter_mut().zip(&results) {
                    if result.is_ok() {
                        side.model.clear();
                        side.assigned.clear();
                        side.torn_down = true;
                    }
                }
                self.check_teardown(phase, op)?;
                (0, 0)
            }
            Op::Translate { dfn, .. } => {
                self.stats.translates += 1;
                (dfn, dfn)
            }
            Op::Dma { dev, dfn, access } => {
                self.stats.dmas += 1;
                self.sync_caches();
                self.check_dma(phase, op, dev, dfn, access)?;
                (dfn, dfn)
            }
            Op::FailAlloc { .. } => (0, 0),
        })
    }

    /// Notifies `dfn` on every implementation and checks outcome and height.
    fn notify_all(&mut self, phase: Phase, op: &Op, dfn: u64) -> Result<(), Box<Finding>> {
        let before: Vec<u8> = self.sides.iter().map(|s| s.table.levels()).collect();
        let results = self.apply(phase, op, |side| {
            (expect::notify(dfn, side.table.max_levels()), side.table.notify_dfn(dfn))
        })?;
        for ((side, result), before) in self.sides.iter().zip(&results).zip(before) {
            let after = side.table.levels();
            if result.is_ok() && !side.torn_down {
                let want = expect::levels_after_notify(before, dfn);
                if after != want {
                    return Err(Finding::of(
                        Check::Height,
                        side.table.name(),
                        phase,
                        op,
                        Some(dfn),
                        None,
                        format!(
                            "{want} levels after notify (was {before}, dfn needs {})",
                            expect::levels_needed(dfn)
                        ),
                        format!("{after} levels"),
                    ));
                }
                if after > before {
                    self.stats.growth_events += 1;
                    self.stats.grown_to |= 1u8.checked_shl(u32::from(after)).unwrap_or(0);
                }
            }
        }
        self.note_heights();
        Ok(())
    }

    /// Applies `apply` to every side, then checks, for each: the result's class against the
    /// expected one (an injected allocation failure may turn an expected success into
    /// `NoMemory`), that a failed call changed nothing, and that no operation other than
    /// notify changed the height. Every side is applied before any is judged, so an outcome
    /// finding can say what the others returned. Returns the results.
    fn apply(
        &mut self,
        phase: Phase,
        op: &Op,
        mut apply: impl FnMut(&mut Side) -> (Result<(), ErrorClass>, Result<(), PtError>),
    ) -> Result<Vec<Result<(), PtError>>, Box<Finding>> {
        let is_notify =
            matches!(phase, Phase::NotifyBefore { .. }) || matches!(op, Op::Notify { .. });
        let devices = u16::from(self.config.devices);
        let mut applied = Vec::with_capacity(self.sides.len());
        for side in &mut self.sides {
            let before_levels = side.table.levels();
            let before = crate::check::Snapshot::take(side.table.as_ref(), devices);
            let (expected, got) = if side.torn_down {
                (Err(ErrorClass::TornDown), apply(side).1)
            } else {
                apply(side)
            };
            let change = got
                .is_err()
                .then(|| {
                    before.difference(&crate::check::Snapshot::take(side.table.as_ref(), devices))
                })
                .flatten();
            applied.push((expected, got, before_levels, change));
        }
        let gave: Vec<(String, String)> = self
            .sides
            .iter()
            .zip(&applied)
            .map(|(side, (_, got, _, _))| (side.table.name().to_string(), describe_result(got)))
            .collect();
        let mut results = Vec::with_capacity(applied.len());
        for (i, (side, (expected, got, before_levels, change))) in
            self.sides.iter().zip(applied).enumerate()
        {
            let injected =
                self.failure_armed && expected.is_ok() && matches!(got, Err(PtError::NoMemory));
            let matches = match (&expected, &got) {
                _ if injected => true,
                (Ok(()), Ok(())) => true,
                (Err(class), Err(e)) => e.class() == *class,
                _ => false,
            };
            let name = side.table.name();
            if !matches {
                let mut finding = Finding::of(
                    Check::Outcome,
                    name,
                    phase,
                    op,
                    None,
                    None,
                    describe_expected(expected),
                    describe_result(&got),
                );
                finding.others = gave
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != i)
                    .map(|(_, g)| g.clone())
                    .collect();
                return Err(finding);
            }
            if got.is_err() {
                self.stats.rejected += 1;
                self.stats.alloc_failures += u32::from(injected);
            }
            if let Some(change) = change {
                return Err(Finding::of(
                    Check::FailureNotClean,
                    name,
                    phase,
                    op,
                    None,
                    None,
                    format!("{} changes nothing", describe_result(&got)),
                    change,
                ));
            }
            let after_levels = side.table.levels();
            let height_ok = match op {
                _ if is_notify => true,
                Op::Teardown if got.is_ok() => after_levels == 0,
                _ => after_levels == before_levels,
            };
            if !height_ok {
                let want = if matches!(op, Op::Teardown) { 0 } else { before_levels };
                return Err(Finding::of(
                    Check::Height,
                    name,
                    phase,
                    op,
                    None,
                    None,
                    format!("{want} levels ({} must not change the height)", op.keyword()),
                    format!("{after_levels} levels"),
                ));
            }
            results.push(got);
        }
        if let Some(trace) = &mut self.trace {
            let what = match phase {
                Phase::NotifyBefore { index } => format!("op #{index} (notify before) `{op}`"),
                Phase::Op { index } => format!("op #{index} `{op}`"),
                Phase::Setup | Phase::Sweep => format!("`{op}`"),
            };
            let outcomes: Vec<String> = self
                .sides
                .iter()
                .zip(&results)
                .map(|(side, r)| {
                    format!(
                        "{} {} (height {})",
                        side.table.name(),
                        describe_result(r),
                        side.table.levels()
                    )
                })
                .collect();
            trace.push(format!("{what}: {}", outcomes.join(", ")));
        }
        Ok(results)
    }
}
