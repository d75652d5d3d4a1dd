//! The differential runner: applies each operation of a scenario to every implementation, judges
//! each call's result ([`crate::check::outcome`]), then runs the check lists of
//! [`crate::check`] on every implementation: [`crate::check::PER_OP`] after every operation,
//! [`crate::check::AFTER_TEARDOWN`] after a teardown, [`crate::check::FINAL`] after the last
//! operation. It stops at the first finding.
//!
//! Each implementation has its own model: they differ only after an *expected divergence*:
//! a map whose notification was missed (`missed`) and that the dynamic table rejected as beyond
//! its height ([`RunStats::missed_notifications`]), a DFN only one table's maximum height
//! covers, an order that is a page size of one table and not of another, which rejects it as
//! an invalid argument ([`RunStats::unsupported_orders`]; each table's expectation follows its
//! own [`PageTable::page_orders`]), or an injected allocation failure (`fail N`) that only one
//! table ran into ([`RunStats::alloc_failures`]), possibly part-way through a range
//! ([`RunStats::partial_ranges`]: the model takes the pages the table reports done).

mod stats;

pub use stats::RunStats;

use crate::check::expect;
use crate::check::outcome::{failure_clean, height_kept, outcome};
use crate::check::probe::{probes, range_probes, MAX_PROBES};
use crate::check::violation::describe_result;
use crate::check::{
    self, others, sweep, Ctx, Enumerated, Finding, Gave, Phase, ProbeWalks, Subject, Violation,
    AFTER_TEARDOWN,
};
use crate::plant::Plant;
use crate::scenario::repeat::expand;
use crate::scenario::{Config, Op, Scenario, ScenarioError};
use crate::table::{ErrorClass, PageTable, PagesError, PtError};
use crate::tables::{Growth, TableConfig, BUILT_IN};
use ptdiff_reference::WalkConfig;
use smallvec::SmallVec;
use std::cell::Cell;

/// Domain ID the built-in implementations use.
pub const DOMAIN: u16 = 1;
/// Recently used DFNs kept as extra probes.
const RECENT: usize = 8;
/// Probes (from the front of the probe list) sent through the IOMMU's caches as device DMA
/// after each operation.
const TRAFFIC_PROBES: usize = 4;

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

/// Runs operations on a set of implementations and checks them.
pub struct Runner {
    config: Config,
    walk: WalkConfig,
    subjects: Vec<Subject>,
    recent: Vec<u64>,
    stats: RunStats,
    trace: Option<Vec<String>>,
    /// Set by `fail N`, armed for the next operation.
    pending_failure: Option<u32>,
    /// An allocation failure is armed for the operation being applied.
    failure_armed: bool,
    /// Reused buffers: the probe DFNs and the probe walks of the current operation.
    probe_dfns: Vec<u64>,
    /// The probes of `probe_dfns` one implementation has not verified in its current state.
    fresh_probes: Vec<u64>,
    probe_walks: ProbeWalks,
    /// Probes inside the current operation's range ([`range_probes`]), probed after its ends.
    range_dfns: Vec<u64>,
}

/// Runs a scenario on the built-in tables with `plant` planted.
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

/// What every table of a run of `config` is created with: the scenario's heights and table
/// placement, and the domain [`DOMAIN`].
pub fn table_config(config: &Config) -> TableConfig {
    TableConfig {
        initial_levels: config.initial_levels,
        max_levels: config.max_levels,
        domain: DOMAIN,
        placement: config.placement(),
        all_page_sizes: config.all_page_sizes,
        growth: config.growth,
    }
}

/// Which results an operation must have, per implementation, and how the runner applies it.
type Apply<'a> = dyn FnMut(&mut Subject) -> (Result<(), ErrorClass>, Result<(), PagesError>) + 'a;

/// Implementations held inline by per-implementation values ([`PerTable`]): the two
/// built-in tables and two more without allocating.
const INLINE_TABLES: usize = 4;

/// One value per implementation, inline for up to [`INLINE_TABLES`].
type PerTable<T> = SmallVec<[T; INLINE_TABLES]>;

/// The results of one operation, per implementation.
type Results = PerTable<Result<(), PagesError>>;

impl Runner {
    /// The built-in tables ([`crate::tables::BUILT_IN`], growing from `initial_levels` to
    /// `max_levels` where they grow), with `plant` planted in its implementation.
    pub fn new(config: Config, plant: Plant) -> Result<Runner, Box<Finding>> {
        let table_config = table_config(&config);
        let mut tables = Vec::with_capacity(BUILT_IN.len());
        for table in BUILT_IN {
            tables.push(plant.build(table, table_config).map_err(|error| {
                Finding::new(table.name, Phase::Setup, &Op::Teardown, Violation::Setup { error })
            })?);
        }
        Ok(Runner::with_tables(config, tables))
    }

    /// Any set of implementations, freshly created.
    pub fn with_tables(config: Config, tables: Vec<Box<dyn PageTable>>) -> Runner {
        let mut runner = Runner {
            config,
            walk: WalkConfig { max_levels: config.max_levels, ..WalkConfig::default() },
            subjects: tables.into_iter().map(Subject::new).collect(),
            recent: Vec::with_capacity(RECENT),
            stats: RunStats::default(),
            trace: None,
            pending_failure: None,
            failure_armed: false,
            probe_dfns: Vec::new(),
            fresh_probes: Vec::new(),
            probe_walks: ProbeWalks::default(),
            range_dfns: Vec::new(),
        };
        runner.note_heights();
        runner
    }

    /// Records a trace line per operation in [`Report::trace`].
    pub fn traced(mut self) -> Runner {
        self.trace = Some(Vec::new());
        self
    }

    /// Runs `ops` then the final checks; stops at the first finding.
    pub fn run_ops(mut self, ops: &[Op]) -> Report {
        let finding = match self.apply_ops(ops) {
            Ok(()) => self.sweep().err(),
            Err(finding) => Some(finding),
        };
        self.report(finding.map(|f| *f))
    }

    /// Runs `ops` with the per-op checks, each `repeat` as its repetitions
    /// ([`crate::scenario::repeat::expand`]); stops at the first finding.
    pub fn apply_ops(&mut self, ops: &[Op]) -> Result<(), Box<Finding>> {
        for (index, op) in expand(ops) {
            self.step(index, &op)?;
        }
        Ok(())
    }

    fn report(self, finding: Option<Finding>) -> Report {
        Report { finding, stats: self.stats, trace: self.trace.unwrap_or_default() }
    }

    /// What the run exercised so far.
    pub fn stats(&self) -> &RunStats {
        &self.stats
    }

    /// The implementations and the runner's bookkeeping for each.
    pub fn subjects(&self) -> &[Subject] {
        &self.subjects
    }

    /// The implementations, for a harness that drives them itself between two checked points
    /// (the concurrent runner), and then states what they must hold in their subjects.
    pub fn subjects_mut(&mut self) -> &mut [Subject] {
        &mut self.subjects
    }

    /// The scenario's configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// How the oracle walks (the hardware's maximum height).
    pub fn walk_config(&self) -> &WalkConfig {
        &self.walk
    }

    /// The per-op checks at a quiescent point reached outside [`Runner::step`] (after a
    /// concurrent phase), probing the DFN ranges `ranges` and the usual context around them.
    pub fn check_quiescent(&mut self, ranges: &[(u64, u64)]) -> Result<(), Box<Finding>> {
        self.probe_dfns.clear();
        let mut more = Vec::new();
        for &(first, last) in ranges {
            more.clear();
            probes(&mut more, first, last, &self.recent);
            for dfn in more.drain(..) {
                if !self.probe_dfns.contains(&dfn) && self.probe_dfns.len() < 2 * MAX_PROBES {
                    self.probe_dfns.push(dfn);
                }
            }
        }
        if ranges.is_empty() {
            probes(&mut self.probe_dfns, 0, 0, &self.recent);
        }
        self.check_state(Phase::Quiescent, &Op::Teardown)
    }

    fn note_heights(&mut self) {
        for subject in &self.subjects {
            self.stats.highest_levels = self.stats.highest_levels.max(subject.table.levels());
        }
    }

    fn remember(&mut self, dfn: u64) {
        if self.recent.len() == RECENT {
            self.recent.remove(0);
        }
        self.recent.push(dfn);
    }

    /// A finding with what the other implementations gave at its DFN.
    fn annotated(&self, mut finding: Box<Finding>) -> Box<Finding> {
        others::annotate(&self.walk, &self.subjects, &mut finding);
        finding
    }

    /// Applies op number `index` to every implementation and runs the per-op checks.
    pub fn step(&mut self, index: usize, op: &Op) -> Result<(), Box<Finding>> {
        let Some((first, last)) = self.step_unchecked(index, op)? else { return Ok(()) };
        self.probe_dfns.clear();
        probes(&mut self.probe_dfns, first, last, &self.recent);
        // Inside the range, after its ends and their neighbours.
        let mut at = self.probe_dfns.len().min(4);
        for &dfn in &self.range_dfns {
            if !self.probe_dfns.contains(&dfn) {
                self.probe_dfns.insert(at, dfn);
                at += 1;
            }
        }
        self.probe_dfns.truncate(MAX_PROBES);
        self.check_state(Phase::Op { index }, op)
    }

    /// Applies op number `index` to every implementation and judges each call's result
    /// (outcome, a failed call changes nothing, height, and the `dma` and teardown checks),
    /// without the per-op check list. Returns the DFN range the operation concerned, or
    /// `None` for `fail N` (which only arms the next operation) and `repeat` (which runs
    /// nothing here: [`Runner::apply_ops`] runs its repetitions). For measuring what the
    /// per-op checks cost; [`Runner::step`] is the checked step.
    pub fn step_unchecked(
        &mut self,
        index: usize,
        op: &Op,
    ) -> Result<Option<(u64, u64)>, Box<Finding>> {
        if let Op::Repeat { .. } = op {
            return Ok(None);
        }
        self.stats.ops += 1;
        for subject in &mut self.subjects {
            subject.begin_op();
        }
        self.range_dfns.clear();
        if let Op::FailAlloc { nth } = *op {
            self.stats.fail_ops += 1;
            self.pending_failure = Some(nth);
            return Ok(None);
        }
        let armed = self.pending_failure.take();
        if let Some(nth) = armed {
            for subject in &mut self.subjects {
                subject.table.iommu_mut().frames_mut().fail_nth_allocation(u64::from(nth));
            }
        }
        self.failure_armed = armed.is_some();
        let range = self.apply_op(index, op).map_err(|f| self.annotated(f));
        if armed.is_some() {
            for subject in &mut self.subjects {
                subject.table.iommu_mut().frames_mut().cancel_failure();
            }
            self.failure_armed = false;
        }
        let (first, last) = range?;
        if !matches!(op, Op::Assign { .. } | Op::Deassign { .. } | Op::Teardown) {
            self.remember(first);
        }
        Ok(Some((first, last)))
    }

    /// The operation itself; returns the DFN range it concerned, for the probes.
    fn apply_op(&mut self, index: usize, op: &Op) -> Result<(u64, u64), Box<Finding>> {
        let phase = Phase::Op { index };
        Ok(match *op {
            Op::Map { dfn, mfn, order, perm, missed, count } => {
                self.stats.maps += 1;
                let last = expect::range_last(dfn, order, count);
                // Growing in map, the caller makes no notification: the map grows the table.
                let in_map = self.config.growth == Growth::InMap;
                if let (false, false, Some(last)) = (missed, in_map, last) {
                    self.notify_all(Phase::NotifyBefore { index }, op, last)?;
                }
                let before: PerTable<u8> = self.subjects.iter().map(|s| s.table.levels()).collect();
                let results = self.apply(phase, op, count, &mut |s| {
                    let t = &mut s.table;
                    let max_levels = t.max_levels();
                    let levels = if in_map { max_levels } else { t.levels() };
                    let expected = expect::map(
                        dfn,
                        mfn,
                        order,
                        count,
                        perm,
                        t.page_orders(),
                        levels,
                        max_levels,
                    );
                    (expected, t.map_pages(dfn, mfn, order, count, perm))
                })?;
                if in_map {
                    let last = last.unwrap_or(u64::MAX);
                    self.grown_in_map(phase, op, last, &before, &results)?;
                }
                if results.iter().all(|r| r.is_ok()) {
                    self.stats.maps_ok += 1;
                    self.stats.superpage_maps_ok += u64::from(order > 0);
                }
                let frames = |pages| expect::range_frames(order, pages).unwrap_or(u64::MAX);
                for (subject, result) in self.subjects.iter_mut().zip(&results) {
                    match result {
                        Ok(()) => {
                            subject.model.map_range(dfn, frames(count), mfn, perm);
                            self.stats.orders_mapped |= 1u64.checked_shl(order).unwrap_or(0);
                        }
                        Err(e) if e.done > 0 => {
                            subject.model.map_range(dfn, frames(e.done), mfn, perm)
                        }
                        Err(e) if missed && matches!(e.error, PtError::BeyondHeight { .. }) => {
                            self.stats.missed_notifications += 1
                        }
                        Err(_) => {}
                    }
                }
                self.note_range(dfn, order, count, &results);
                (dfn, last.unwrap_or(dfn))
            }
            Op::Unmap { dfn, order, count } => {
                self.stats.unmaps += 1;
                let last = expect::range_last(dfn, order, count).unwrap_or(u64::MAX);
                let partial = self.subjects.iter().any(|s| {
                    let inside = |d: u64| s.model.translate(d).is_some();
                    (dfn > 0 && inside(dfn) && inside(dfn - 1))
                        || (last < u64::MAX && inside(last) && inside(last + 1))
                });
                let results = self.apply(phase, op, count, &mut |s| {
                    let expected = expect::unmap(dfn, order, count, s.table.page_orders());
                    (expected, s.table.unmap_pages(dfn, order, count))
                })?;
                self.stats.partial_unmaps +=
                    u64::from(partial && results.iter().all(|r| r.is_ok()));
                let frames = |pages| expect::range_frames(order, pages).unwrap_or(u64::MAX);
                for (subject, result) in self.subjects.iter_mut().zip(&results) {
                    match result {
                        Ok(()) => subject.model.unmap_range(dfn, frames(count)),
                        Err(e) => subject.model.unmap_range(dfn, frames(e.done)),
                    }
                }
                self.note_range(dfn, order, count, &results);
                (dfn, last)
            }
            Op::Notify { dfn } => {
                self.stats.notifies += 1;
                self.notify_all(phase, op, dfn)?;
                (dfn, dfn)
            }
            Op::Assign { dev } => {
                self.stats.assigns += 1;
                let results = self.apply(phase, op, 1, &mut |s| {
                    let expected =
                        if s.assigned.contains(dev) { Err(ErrorClass::Device) } else { Ok(()) };
                    (expected, s.table.assign(dev).map_err(PagesError::from))
                })?;
                for (subject, result) in self.subjects.iter_mut().zip(&results) {
                    if result.is_ok() {
                        subject.assigned.insert(dev);
                    }
                }
                (0, 0)
            }
            Op::Deassign { dev } => {
                self.stats.deassigns += 1;
                let results = self.apply(phase, op, 1, &mut |s| {
                    let expected =
                        if s.assigned.contains(dev) { Ok(()) } else { Err(ErrorClass::Device) };
                    (expected, s.table.deassign(dev).map_err(PagesError::from))
                })?;
                for (subject, result) in self.subjects.iter_mut().zip(&results) {
                    if result.is_ok() {
                        subject.assigned.remove(dev);
                    }
                }
                (0, 0)
            }
            Op::Teardown => {
                self.stats.teardowns += 1;
                let results = self.apply(phase, op, 1, &mut |s| {
                    (Ok(()), s.table.teardown().map_err(PagesError::from))
                })?;
                for (subject, result) in self.subjects.iter_mut().zip(&results) {
                    if result.is_ok() {
                        subject.model.clear();
                        subject.assigned = check::device_set::DeviceSet::EMPTY;
                        subject.torn_down = true;
                        for rule in AFTER_TEARDOWN {
                            rule(subject)
                                .map_err(|v| Finding::new(subject.name(), phase, op, v))?;
                        }
                    }
                }
                (0, 0)
            }
            Op::Translate { dfn, .. } => {
                self.stats.translates += 1;
                (dfn, dfn)
            }
            Op::Dma { dev, dfn, access } => {
                self.stats.dmas += 1;
                if dfn < expect::DFN_LIMIT {
                    for subject in &mut self.subjects {
                        subject.sync_caches();
                        self.stats.walks += 1;
                        check::dma::dma(&self.walk, subject, dev, dfn, access)
                            .map_err(|v| Finding::new(subject.name(), phase, op, v))?;
                    }
                }
                (dfn, dfn)
            }
            Op::FailAlloc { .. } | Op::Repeat { .. } => (0, 0),
        })
    }

    /// Counts what a range operation (`count` pages of `order` from `dfn`) exercised, and
    /// notes the DFNs inside it worth probing ([`range_probes`]).
    fn note_range(&mut self, dfn: u64, order: u32, count: u64, results: &Results) {
        let completed = results.iter().any(|r| r.is_ok());
        self.stats.ranges_ok += u64::from(count > 1 && results.iter().all(|r| r.is_ok()));
        self.stats.range_crossings +=
            u64::from(completed && expect::crosses_tables(dfn, order, count));
        let unsupported = self.subjects.iter().zip(results).any(|(s, r)| {
            matches!(r, Err(e) if e.error.class() == ErrorClass::InvalidArgument
                && !s.table.page_orders().contains(order))
        });
        self.stats.unsupported_orders += u64::from(unsupported && completed);
        let done = results.iter().filter_map(|r| r.err()).map(|e| e.done).find(|&d| d > 0);
        self.stats.partial_ranges +=
            results.iter().filter(|r| r.is_err_and(|e| e.done > 0)).count() as u64;
        if count > 1 || done.is_some() {
            range_probes(&mut self.range_dfns, dfn, order, count, done);
        }
    }

    /// Notifies `dfn` on every implementation and checks outcome and height.
    fn notify_all(&mut self, phase: Phase, op: &Op, dfn: u64) -> Result<(), Box<Finding>> {
        let before: PerTable<u8> = self.subjects.iter().map(|s| s.table.levels()).collect();
        let results = self.apply(phase, op, 1, &mut |s| {
            let expected = expect::notify(dfn, s.table.max_levels());
            (expected, s.table.notify_dfn(dfn).map_err(PagesError::from))
        })?;
        for (i, (subject, result)) in self.subjects.iter().zip(&results).enumerate() {
            let before = before[i];
            let after = subject.table.levels();
            if result.is_ok() && !subject.torn_down {
                let want = expect::levels_after_notify(before, dfn);
                if after != want {
                    let needed = expect::levels_needed(dfn);
                    let v = Violation::NotifyHeight { dfn, before, want, needed, got: after };
                    return Err(Finding::new(subject.name(), phase, op, v));
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

    /// Growing in map: each table that mapped is exactly as high as `last` needs, or as it was
    /// (`before`) if that covered it; a map that ran out of memory may keep the levels it grew
    /// (as Linux's does, one level at a time), no more than needed, but then it leaked no
    /// table; any other failure grows nothing.
    fn grown_in_map(
        &mut self,
        phase: Phase,
        op: &Op,
        last: u64,
        before: &[u8],
        results: &Results,
    ) -> Result<(), Box<Finding>> {
        for ((subject, &before), result) in self.subjects.iter().zip(before).zip(results) {
            let after = subject.table.levels();
            if subject.torn_down || after == before {
                continue;
            }
            let want = expect::levels_after_notify(before, last);
            let out_of_memory = result.is_err_and(|e| e.error.class() == ErrorClass::NoMemory);
            let grew_right = after > before
                && match result {
                    Ok(_) => after == want,
                    Err(_) => out_of_memory && after <= want,
                };
            if !grew_right {
                let v = Violation::HeightChanged { keyword: "map", want, got: after };
                return Err(Finding::new(subject.name(), phase, op, v));
            }
            if result.is_err() {
                sweep::leak(subject, &Enumerated::of(&self.walk, subject))
                    .map_err(|v| Finding::new(subject.name(), phase, op, v))?;
            }
            self.stats.growth_events += 1;
            self.stats.grown_to |= 1u8.checked_shl(u32::from(after)).unwrap_or(0);
        }
        self.note_heights();
        Ok(())
    }

    /// Applies `apply` (a call on `pages` pages: 1 but for ranges) to every implementation,
    /// then judges each: the result's class against the expected one (an injected allocation
    /// failure may turn an expected success into `NoMemory`), that a failed call changed
    /// nothing (a range that failed part-way: nothing but its completed pages, and it leaked no
    /// table), and that no operation other than notify changed the height. Every
    /// implementation is applied before any is judged, so an outcome finding can say what the
    /// others returned. Returns the results.
    fn apply(
        &mut self,
        phase: Phase,
        op: &Op,
        pages: u64,
        apply: &mut Apply<'_>,
    ) -> Result<Results, Box<Finding>> {
        let is_notify =
            matches!(phase, Phase::NotifyBefore { .. }) || matches!(op, Op::Notify { .. });
        // Growing in map, a map may grow: judged by `grown_in_map`.
        let in_map =
            !is_notify && self.config.growth == Growth::InMap && matches!(op, Op::Map { .. });
        let grows = is_notify || in_map;
        let mut applied = PerTable::with_capacity(self.subjects.len());
        for subject in &mut self.subjects {
            let top_before = (subject.table.root(), subject.table.levels());
            subject.table.iommu_mut().start_journal();
            let (expected, got) = if subject.torn_down {
                (Err(ErrorClass::TornDown), apply(subject).1)
            } else {
                apply(subject)
            };
            applied.push((expected, got, top_before));
        }
        for (i, (subject, &(expected, result, top_before))) in
            self.subjects.iter().zip(&applied).enumerate()
        {
            let name = subject.name();
            let got = result.map_err(|e| e.error);
            if let Err(v) = outcome(expected, got, self.failure_armed) {
                let mut finding = Finding::new(name, phase, op, v);
                finding.others = self
                    .subjects
                    .iter()
                    .zip(&applied)
                    .enumerate()
                    .filter(|(j, _)| *j != i)
                    .map(|(_, (s, (_, r, _)))| {
                        (s.name().to_string(), Gave::Result(r.map_err(|e| e.error)))
                    })
                    .collect();
                return Err(finding);
            }
            if let Err(failure) = result {
                let error = failure.error;
                self.stats.rejected += 1;
                self.stats.alloc_failures +=
                    u64::from(self.failure_armed && expected.is_ok() && error == PtError::NoMemory);
                let kept_growth = in_map
                    && error.class() == ErrorClass::NoMemory
                    && subject.table.levels() > top_before.1;
                if !kept_growth {
                    failure_clean(subject, failure, pages, top_before)
                        .map_err(|v| Finding::new(name, phase, op, v))?;
                }
                if failure.done > 0 {
                    // The completed pages may have allocated tables: all must be reachable.
                    sweep::leak(subject, &Enumerated::of(&self.walk, subject))
                        .map_err(|v| Finding::new(name, phase, op, v))?;
                }
            }
            if !grows {
                let teardown_ok = matches!(op, Op::Teardown) && got.is_ok();
                height_kept(op.keyword(), teardown_ok, top_before.1, subject.table.levels())
                    .map_err(|v| Finding::new(name, phase, op, v))?;
            }
        }
        let results: Results = applied.iter().map(|a| a.1).collect();
        if let Some(trace) = &mut self.trace {
            let what = match phase {
                Phase::NotifyBefore { index } => format!("op #{index} (notify before) `{op}`"),
                Phase::Op { index } => format!("op #{index} `{op}`"),
                Phase::Setup | Phase::Sweep | Phase::Concurrent { .. } | Phase::Quiescent => {
                    format!("`{op}`")
                }
            };
            let outcomes: Vec<String> = self
                .subjects
                .iter()
                .zip(&results)
                .map(|(s, r)| {
                    let result = describe_result(&r.map_err(|e| e.error));
                    let done = match r {
                        Err(e) if e.done > 0 => format!(" after {} pages", e.done),
                        _ => String::new(),
                    };
                    format!("{} {result}{done} (height {})", s.name(), s.table.levels())
                })
                .collect();
            trace.push(format!("{what}: {}", outcomes.join(", ")));
        }
        Ok(results)
    }

    /// The per-op check list on every implementation, then the devices' traffic at the
    /// operation's DFNs, which fills the IOMMU caches as real DMA would.
    ///
    /// Probes already verified against the same memory, model, devices and top (the
    /// implementation's [`crate::check::subject::StateKey`] did not move since) are not walked
    /// again: their checks would read exactly what they read then.
    fn check_state(&mut self, phase: Phase, op: &Op) -> Result<(), Box<Finding>> {
        let devices = u16::from(self.config.devices);
        let mut walks = 0;
        for i in 0..self.subjects.len() {
            let subject = &mut self.subjects[i];
            subject.sync_caches();
            let fresh = subject.select_unverified(&self.probe_dfns, &mut self.fresh_probes);
            let subject = &self.subjects[i];
            let ctx = Ctx {
                walk: &self.walk,
                devices,
                probes: if fresh { &self.fresh_probes } else { &self.probe_dfns },
                walks: Cell::new(0),
            };
            if let Err(v) = check::per_op(&ctx, subject, &mut self.probe_walks) {
                let mut finding = Finding::new(subject.name(), phase, op, v);
                others::annotate(&self.walk, &self.subjects, &mut finding);
                return Err(finding);
            }
            walks += ctx.walks.get();
            let checked = if fresh { &self.fresh_probes } else { &self.probe_dfns };
            let subject = &mut self.subjects[i];
            subject.caches_checked();
            subject.mark_verified(checked);
            // Traffic at DFNs already sent in this state would only repeat cache hits.
            let traffic = &checked[..checked.len().min(TRAFFIC_PROBES)];
            walks += subject.device_traffic(&self.walk, traffic);
        }
        self.stats.walks += walks;
        Ok(())
    }

    /// The final checks ([`crate::check::FINAL`]) on every implementation not torn down.
    pub fn sweep(&self) -> Result<(), Box<Finding>> {
        for subject in self.subjects.iter().filter(|s| !s.torn_down) {
            if let Err(v) = check::final_checks(&self.walk, subject) {
                return Err(self.annotated(Finding::new(
                    subject.name(),
                    Phase::Sweep,
                    &Op::Teardown,
                    v,
                )));
            }
        }
        Ok(())
    }
}
