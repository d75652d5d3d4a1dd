//! The concurrent runner (`../shared/CONCURRENCY.md` 5.5): a [`ConcScenario`] on every table of
//! a lineup.
//!
//! 1. The setup runs sequentially through the ordinary [`Runner`], with every check.
//! 2. The concurrent phase runs, for each implementation separately, its threads (each op of a
//!    thread invoked from its call site, which takes the locks its caller holds) and its
//!    hardware walks as tasks of one deterministic executor, switching at the scenario's
//!    anchored preemptions ([`super::schedule`]). Shadow walks ([`super::shadow`]) watch every
//!    store; after each op returns, its DFNs are walked through every device.
//! 3. The history is replayed into the linearizability frontier ([`super::linear`]): every
//!    observed translation and every returned result must be explained by some order of the
//!    operations in flight, over the sequential specification ([`super::spec`]).
//! 4. At the quiescent point the implementation's model becomes the surviving specification,
//!    and today's per-op checks and final sweep run unchanged.
//!
//! A table that is not on the step contract (a plain synchronous plug-in table) runs its
//! threads' ops one after another, each as one step ("no interleavings inside your
//! operations"); its returns are still judged by the frontier.

use super::history::{dfn_range, Cause, Event, History};
use super::interleaving::Interleaving;
use super::linear::{EventId, Frontier, FrontierError, LinViolation};
use super::protocol::{unnotified_maps, ProtocolOutcome};
use super::scenario::{ConcError, ConcScenario, TaskRef, ThreadOp};
use super::schedule::{Anchored, Point, Switch};
use super::shadow::Shadow;
use super::site::lock_label;
use super::spec::{Observed, Reader, Spec};
use super::walk_task::stepwise_walk;
use crate::check::sweep::SWEEP_BUDGET;
use crate::check::{Finding, Phase, Violation};
use crate::lineup::Lineup;
use crate::plant::Plant;
use crate::run::{table_config, Runner};
use crate::scenario::Op;
use crate::step::exec::{self, Outcome, TaskFuture};
use crate::step::{
    Cx, LockSet, LockViolation, LockingProfile, Shared, StepPageTable, StepTable, TaskId,
    DEFAULT_STEP_BUDGET,
};
use crate::table::{PageTable, PagesError, PtError, DFN_LIMIT};
use crate::tables::Growth;
use ptdiff_reference::{enumerate_tree, walk, Dte, Leaf, Perm, Reach, WalkConfig};
use std::fmt::{self, Write as _};
use std::ops::AddAssign;

/// Most polls of one concurrent phase (a schedule that never ends is a finding).
pub const MAX_PHASE_STEPS: u64 = 1 << 20;

/// What concurrent runs exercised (`PTDIFF_STATS` of the `concurrent` target).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConcStats {
    pub runs: u64,
    /// Concurrent phases run (one per implementation on the step contract).
    pub phases: u64,
    pub thread_ops: u64,
    /// Preemptions that took effect.
    pub preemptions: u64,
    /// Scheduled hardware walks.
    pub walks: u64,
    pub shadow_walks: u64,
    pub steps: u64,
    /// Largest frontier seen (configurations).
    pub frontier_peak: u64,
    /// Phases whose frontier ended with more than one survivor (a race no read decided).
    pub undecided: u64,
    /// Phases in which the table grew (its top gained levels while threads ran).
    pub growths: u64,
    /// Reads not judged because following them would take the frontier past
    /// [`super::linear::MAX_CONFIGS`] (many values a long read may have seen).
    pub unjudged_reads: u64,
    /// Runs stopped unjudged: even without its reads, the operations' possible orders would
    /// take the frontier past its bound. Nothing after such a phase is checked.
    pub unjudged_phases: u64,
}

impl AddAssign<&ConcStats> for ConcStats {
    fn add_assign(&mut self, o: &ConcStats) {
        self.runs += o.runs;
        self.phases += o.phases;
        self.thread_ops += o.thread_ops;
        self.preemptions += o.preemptions;
        self.walks += o.walks;
        self.shadow_walks += o.shadow_walks;
        self.steps += o.steps;
        self.frontier_peak = self.frontier_peak.max(o.frontier_peak);
        self.undecided += o.undecided;
        self.growths += o.growths;
        self.unjudged_reads += o.unjudged_reads;
        self.unjudged_phases += o.unjudged_phases;
    }
}

impl fmt::Display for ConcStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "concurrent runs {} | phases {} | thread ops {} | preemptions taken {} | scheduled walks {} | \
             shadow walks {} | steps {} | frontier peak {} | undecided races {} | growths {} | \
             unjudged reads {} | unjudged runs {}",
            self.runs,
            self.phases,
            self.thread_ops,
            self.preemptions,
            self.walks,
            self.shadow_walks,
            self.steps,
            self.frontier_peak,
            self.undecided,
            self.growths,
            self.unjudged_reads,
            self.unjudged_phases
        )
    }
}

/// The result of a concurrent run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConcReport {
    pub finding: Option<Finding>,
    pub stats: ConcStats,
    /// Per implementation that ran a concurrent phase: the schedule it took, as text.
    pub schedules: Vec<(String, String)>,
    /// Per implementation on the step contract: the interleaving its phase took, step by step.
    pub interleavings: Vec<Interleaving>,
    /// Maps that broke the caller protocol of a table growing only on notify (outcomes, not
    /// findings: the call site is to blame, not the table).
    pub protocol: Vec<ProtocolOutcome>,
}

impl ConcReport {
    /// The finding, if any, followed by the interleaving of the implementation it names (every
    /// interleaving when none of them is that implementation's, e.g. a finding in the setup).
    pub fn explain(&self) -> Option<String> {
        let finding = self.finding.as_ref()?;
        let mut out = format!("{finding}\n");
        let own = |i: &&Interleaving| i.implementation == finding.implementation;
        let any_own = self.interleavings.iter().any(|i| own(&i));
        for interleaving in self.interleavings.iter().filter(|i| !any_own || own(i)) {
            let _ = write!(out, "{interleaving}");
        }
        Some(out)
    }
}

/// How a concurrent run judges, beyond its scenario.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConcOptions {
    /// Whether the lock rules of each table's locking profile are checked at every step
    /// (`--lock-rules on`, the default). Off, only the consequences judge (linearizability,
    /// the quiescent checks): what benchmarks use to show those find a bug on their own.
    pub lock_rules: bool,
}

impl Default for ConcOptions {
    fn default() -> ConcOptions {
        ConcOptions { lock_rules: true }
    }
}

/// Runs `s` on the built-in tables.
pub fn run_concurrent(s: &ConcScenario, plant: Plant) -> Result<ConcReport, ConcError> {
    run_concurrent_on(s, &Lineup::built_in(), plant)
}

/// Runs `s` on the tables of `lineup`, lock rules on.
pub fn run_concurrent_on(
    s: &ConcScenario,
    lineup: &Lineup,
    plant: Plant,
) -> Result<ConcReport, ConcError> {
    run_concurrent_with(s, lineup, plant, ConcOptions::default())
}

/// Runs `s` on the tables of `lineup`, judged as `options` say.
pub fn run_concurrent_with(
    s: &ConcScenario,
    lineup: &Lineup,
    plant: Plant,
    options: ConcOptions,
) -> Result<ConcReport, ConcError> {
    s.validate()?;
    let mut report = ConcReport {
        finding: None,
        stats: ConcStats::default(),
        schedules: Vec::new(),
        interleavings: Vec::new(),
        protocol: Vec::new(),
    };
    report.stats.runs = 1;
    let tables = match lineup.make(table_config(&s.config), plant) {
        Ok(tables) => tables,
        Err(finding) => {
            report.finding = Some(*finding);
            return Ok(report);
        }
    };
    let mut runner = Runner::with_tables(s.config, tables);
    if let Err(finding) = runner.apply_ops(&s.setup) {
        report.finding = Some(*finding);
        return Ok(report);
    }
    for i in 0..runner.subjects().len() {
        match phase(s, &mut runner, i, options, &mut report) {
            Ok(true) => {}
            Ok(false) => {
                report.stats.unjudged_phases += 1;
                return Ok(report);
            }
            Err(finding) => {
                report.finding = Some(*finding);
                return Ok(report);
            }
        }
    }
    let ranges: Vec<(u64, u64)> = s
        .threads
        .iter()
        .flatten()
        .filter_map(|t| dfn_range(&t.op))
        .chain(s.walks.iter().map(|w| (w.dfn, w.dfn)))
        .collect();
    let result = runner.check_quiescent(&ranges).and_then(|()| runner.sweep());
    report.finding = result.err().map(|f| *f);
    Ok(report)
}

/// The task of thread `t`: thread `t` is task `t`; walk `w` is task `threads + w`.
fn task_of(s: &ConcScenario, task: TaskRef) -> TaskId {
    match task {
        TaskRef::Thread(t) => usize::from(t),
        TaskRef::Walk(w) => s.threads.len() + usize::from(w),
    }
}

/// The name of task `task`, as anchors print it.
fn task_name(s: &ConcScenario, task: TaskId) -> String {
    if task < s.threads.len() {
        format!("t{task}")
    } else {
        format!("w{}", task - s.threads.len())
    }
}

/// The event id of thread `task`'s op `op` (reads of walk `w` use ids from 1,000).
fn event_id(task: TaskId, op: usize) -> EventId {
    (task * 100 + op) as EventId
}

/// The concurrent phase on implementation `i`, then its judgement; states the model it must
/// hold at the quiescent point. False when the frontier could not follow the phase (see
/// [`judge`]): no model can be stated, so the run stops there.
fn phase(
    s: &ConcScenario,
    runner: &mut Runner,
    i: usize,
    options: ConcOptions,
    report: &mut ConcReport,
) -> Result<bool, Box<Finding>> {
    let walk_cfg = *runner.walk_config();
    let devices = u16::from(s.config.devices);
    let subject = &mut runner.subjects_mut()[i];
    let name = subject.name().to_string();
    let mut spec = Spec::of(subject);
    spec.grows_in_map = s.config.growth == Growth::InMap;
    let history = History::default();
    let mut schedule = String::new();
    let heights = (spec.levels, spec.max_levels);
    let mut notify_protocol = false;
    let steps = subject.table.as_any_mut().and_then(|any| any.downcast_mut::<StepPageTable>());
    match steps {
        Some(seq) => {
            let (table, shared) = seq.parts_mut();
            notify_protocol = table.locking().notify_protocol;
            let rules = options.lock_rules.then(|| table.locking());
            let (taken, broken) = interleave(
                s,
                &name,
                table.as_ref(),
                shared,
                &history,
                (walk_cfg, devices, rules),
                report,
            );
            if let Some(v) = broken {
                let phase = Phase::Concurrent { task: v.task as u8, op: v.op.index };
                let op = s.threads[v.task][v.op.index].op;
                return Err(Finding::new(&name, phase, &op, Violation::Lock(Box::new(v))));
            }
            schedule = match taken {
                Ok(text) => text,
                Err(outcome) => {
                    let v = outcome_violation(s, &outcome);
                    return Err(Finding::new(
                        &name,
                        Phase::Concurrent { task: 0, op: 0 },
                        &Op::Teardown,
                        v,
                    ));
                }
            };
        }
        None => one_after_another(s, subject.table.as_mut(), &history, walk_cfg, devices),
    }
    report.schedules.push((name.clone(), schedule.clone()));
    let mut frontier = Frontier::new(spec);
    let events = history.into_events();
    if notify_protocol {
        report.protocol.extend(unnotified_maps(s, &events, &name, heights));
    }
    let Some(unjudged) = judge(s, &mut frontier, &events, &name, &schedule)? else {
        return Ok(false);
    };
    report.stats.unjudged_reads += unjudged;
    report.stats.frontier_peak = report.stats.frontier_peak.max(frontier.peak() as u64);
    // The quiescent point: the implementation must now hold a surviving specification.
    let survivors = frontier.collapse().unwrap_or(1);
    report.stats.undecided += u64::from(survivors > 1);
    let subject = &mut runner.subjects_mut()[i];
    // Several survivors: racing operations whose order no read decided. The implementation's
    // own state says which order it took: the survivor whose model equals every leaf of its
    // table, as the final sweep compares them. (Two racing ranges may differ only inside
    // both, away from any end: ends alone can settle on the wrong order.) Only when the table
    // cannot be enumerated, the survivor its own lookups agree with at the ends of what
    // changed and of every thread operation's range.
    let leaves = if survivors > 1 { leaves_of(&walk_cfg, subject.table.as_ref()) } else { None };
    let by_memory = leaves.as_ref().and_then(|leaves| {
        (0..survivors).find(|&k| {
            frontier
                .specs()
                .nth(k)
                .is_some_and(|spec| spec.model().first_difference_from_leaves(leaves).is_none())
        })
    });
    let mut at: Vec<u64> = s
        .threads
        .iter()
        .flatten()
        .filter_map(|t| dfn_range(&t.op))
        .flat_map(|(a, b)| [a, b])
        .collect();
    let chosen = by_memory
        .or_else(|| {
            (0..survivors).find(|&k| {
                frontier.specs().nth(k).is_some_and(|spec| {
                    at.extend(spec.changed_ranges().iter().flat_map(|&(a, b)| [a, b]));
                    at.iter().all(|&d| subject.table.lookup(d) == spec.translate(d))
                })
            })
        })
        .unwrap_or(0);
    if let Ok(spec) = frontier.settle(chosen) {
        subject.begin_op();
        subject.model.replace(spec.model().into_owned());
        subject.assigned = spec.assigned;
        subject.torn_down = spec.torn_down;
    }
    Ok(true)
}

/// Every leaf of `table`'s tree, walked from its root and height in memory as hardware would,
/// or `None` when it has no root or cannot be enumerated.
fn leaves_of(walk_cfg: &WalkConfig, table: &dyn PageTable) -> Option<Vec<Leaf>> {
    let root = table.root()?;
    let dte = Dte::translating(root, table.levels(), Perm::RW, table.domain_id());
    let tree = enumerate_tree(table.iommu().memory(), walk_cfg, &dte, SWEEP_BUDGET).ok()?;
    match tree.reach {
        Reach::Table(leaves) => Some(leaves),
        _ => None,
    }
}

/// Runs the threads and walks of `s` interleaved on `table`, checking the lock rules of
/// `rules` if given; returns the schedule taken, as text, or how the run failed to end, and
/// the first lock rule broken.
fn interleave(
    s: &ConcScenario,
    name: &str,
    table: &dyn StepTable,
    shared: &mut Shared,
    history: &History,
    (walk_cfg, devices, rules): (WalkConfig, u16, Option<LockingProfile>),
    report: &mut ConcReport,
) -> (Result<String, Outcome>, Option<LockViolation>) {
    let threads = s.threads.len();
    let tasks_total = threads + s.walks.len();
    let mut shadow = Shadow::new(history, walk_cfg, devices, shared);
    let devtab = shared.iommu.device_table();
    let switches: Vec<Switch> =
        s.preempts
            .iter()
            .map(|p| Switch { at: point(s, p.at), to: task_of(s, p.to) })
            .chain(s.walks.iter().enumerate().filter_map(|(w, walk)| {
                walk.at.map(|at| Switch { at: point(s, at), to: threads + w })
            }))
            .collect();
    let dormant: Vec<TaskId> = (threads..tasks_total).collect();
    let mut policy = Anchored::new(tasks_total, switches, &dormant);
    let levels_before = table.top(shared).map_or(0, |t| t.levels);
    let outcome;
    let steps;
    let broken;
    {
        let cx = Cx::new(shared, tasks_total, true, DEFAULT_STEP_BUDGET);
        if s.shadow_walks {
            cx.observe(&mut shadow);
        }
        if let Some(profile) = rules {
            cx.check_locks(profile);
        }
        let mut tasks: Vec<TaskFuture<'_>> = Vec::with_capacity(tasks_total);
        for (t, ops) in s.threads.iter().enumerate() {
            tasks.push(Box::pin(thread(&cx, table, history, t, ops, walk_cfg, devices)));
        }
        for (w, spec) in s.walks.iter().enumerate() {
            let (cx, history, devtab) = (&cx, history, devtab);
            let task = threads + w;
            tasks.push(Box::pin(async move {
                cx.begin_op(task);
                history.push(Event::WalkStart { walk: w });
                let iova = spec.dfn.wrapping_shl(12);
                let result =
                    // No permission asked: what is judged is the translation the walk finds.
                    stepwise_walk(cx, &walk_cfg, &devtab, spec.dev, iova, Perm::NONE).await;
                history.push(Event::Read {
                    dev: spec.dev,
                    dfn: spec.dfn,
                    result,
                    cause: Cause::Walk { walk: w },
                });
            }));
        }
        outcome = exec::run(&cx, tasks, &mut policy, MAX_PHASE_STEPS);
        steps = cx.total_steps();
        broken = cx.lock_violation();
    }
    report.stats.phases += 1;
    report.stats.thread_ops += s.threads.iter().map(|t| t.len() as u64).sum::<u64>();
    report.stats.preemptions += policy.taken.len() as u64;
    report.stats.walks += s.walks.len() as u64;
    report.stats.shadow_walks += shadow.walks;
    report.stats.steps += steps;
    report.stats.growths += u64::from(table.top(shared).map_or(0, |t| t.levels) > levels_before);
    report.interleavings.push(Interleaving::of(s, name, &policy));
    if outcome != Outcome::Done {
        return (Err(outcome), broken);
    }
    let mut text = String::new();
    if policy.taken.is_empty() {
        text.push_str("schedule: no preemption took effect (each task ran to its end in turn)");
    } else {
        text.push_str("schedule:");
        for sw in &policy.taken {
            let _ = write!(
                text,
                " {}.{}#{} -> {};",
                task_name(s, sw.at.task),
                sw.at.op,
                sw.at.access,
                task_name(s, sw.to)
            );
        }
    }
    (Ok(text), broken)
}

/// The executor's point for an anchor of `s`.
fn point(s: &ConcScenario, at: super::scenario::Anchor) -> Point {
    Point { task: task_of(s, at.task), op: u32::from(at.op), access: at.access }
}

/// Thread `t`: its ops in order, each invoked, run from its site with the site's locks held,
/// returned, and its DFNs walked through every device right after.
async fn thread(
    cx: &Cx<'_>,
    table: &dyn StepTable,
    history: &History,
    t: TaskId,
    ops: &[ThreadOp],
    walk_cfg: WalkConfig,
    devices: u16,
) {
    for (j, top) in ops.iter().enumerate() {
        cx.begin_op(t);
        let op = top.op;
        if let Op::Translate { dfn, .. } | Op::Dma { dfn, .. } = op {
            if dfn >= DFN_LIMIT {
                continue;
            }
        }
        if let Op::Translate { dev, dfn } | Op::Dma { dev, dfn, .. } = op {
            let result = cx.with_shared(|sh| {
                walk(
                    sh.iommu.memory(),
                    &walk_cfg,
                    &sh.iommu.device_table(),
                    dev,
                    dfn << 12,
                    Perm::NONE,
                )
            });
            history.push(Event::Read {
                dev,
                dfn,
                result,
                cause: Cause::AfterReturn { task: t, op: j },
            });
            continue;
        }
        history.push(Event::Invoke { task: t, op: j, what: op });
        let held = top.site.held(&op);
        for &lock in held {
            cx.lock(lock).await;
        }
        cx.enter_op(t, j, lock_label(&op), top.site.word());
        let result = apply(cx, table, &op).await;
        cx.leave_op(t, LockSet::of(held));
        for &lock in held.iter().rev() {
            let _ = cx.unlock(lock).await;
        }
        history.push(Event::Return { task: t, op: j, result });
        if let Some((first, last)) = dfn_range(&op) {
            cx.with_shared(|sh| {
                for dfn in [first, last].into_iter().filter(|&d| d < DFN_LIMIT) {
                    for dev in 0..devices {
                        let devtab = sh.iommu.device_table();
                        let result =
                            walk(sh.iommu.memory(), &walk_cfg, &devtab, dev, dfn << 12, Perm::NONE);
                        history.push(Event::Read {
                            dev,
                            dfn,
                            result,
                            cause: Cause::AfterReturn { task: t, op: j },
                        });
                    }
                }
            });
        }
    }
}

/// One operation of a thread on the table.
async fn apply(cx: &Cx<'_>, table: &dyn StepTable, op: &Op) -> Result<(), PtError> {
    let pages = |r: Result<(), PagesError>| r.map_err(|e| e.error);
    match *op {
        Op::Map { dfn, mfn, order, perm, count, .. } => {
            pages(table.map_pages(cx, dfn, mfn, order, count, perm).await)
        }
        Op::Unmap { dfn, order, count } => pages(table.unmap_pages(cx, dfn, order, count).await),
        Op::Notify { dfn } => table.notify_dfn(cx, dfn).await,
        Op::Assign { dev } => table.assign(cx, dev).await,
        Op::Deassign { dev } => table.deassign(cx, dev).await,
        Op::Teardown => table.teardown(cx).await,
        Op::Translate { .. } | Op::Dma { .. } | Op::FailAlloc { .. } | Op::Repeat { .. } => Ok(()),
    }
}

/// A table off the step contract: its threads' ops one after another, each one step.
fn one_after_another(
    s: &ConcScenario,
    table: &mut dyn crate::table::PageTable,
    history: &History,
    walk_cfg: WalkConfig,
    devices: u16,
) {
    for (t, ops) in s.threads.iter().enumerate() {
        for (j, top) in ops.iter().enumerate() {
            let op = top.op;
            history.push(Event::Invoke { task: t, op: j, what: op });
            let result = match op {
                Op::Map { dfn, mfn, order, perm, count, .. } => {
                    table.map_pages(dfn, mfn, order, count, perm).map_err(|e| e.error)
                }
                Op::Unmap { dfn, order, count } => {
                    table.unmap_pages(dfn, order, count).map_err(|e| e.error)
                }
                Op::Notify { dfn } => table.notify_dfn(dfn),
                Op::Assign { dev } => table.assign(dev),
                Op::Deassign { dev } => table.deassign(dev),
                Op::Teardown => table.teardown(),
                _ => Ok(()),
            };
            history.push(Event::Return { task: t, op: j, result });
            let iommu = table.iommu();
            if let Some((first, last)) = dfn_range(&op) {
                for dfn in [first, last].into_iter().filter(|&d| d < DFN_LIMIT) {
                    for dev in 0..devices {
                        let result = walk(
                            iommu.memory(),
                            &walk_cfg,
                            &iommu.device_table(),
                            dev,
                            dfn << 12,
                            Perm::NONE,
                        );
                        history.push(Event::Read {
                            dev,
                            dfn,
                            result,
                            cause: Cause::AfterReturn { task: t, op: j },
                        });
                    }
                }
            }
        }
    }
}

/// The violation for a phase that did not end.
fn outcome_violation(s: &ConcScenario, outcome: &Outcome) -> Violation {
    match outcome {
        Outcome::StepBudget { .. } | Outcome::RunBudget { .. } => {
            Violation::StepBudget { steps: MAX_PHASE_STEPS }
        }
        Outcome::Deadlock { waiting } => {
            let lock = waiting.first().map_or("?", |w| w.1.name());
            let _ = s;
            Violation::Deadlock { lock }
        }
        Outcome::Done => Violation::StepBudget { steps: 0 },
    }
}

/// True when `op` covers several DFNs, `dfn` among them: a table may write it as several
/// entries (a range of pages; a page written as NL = 7 replicas; a superpage written as smaller
/// pages, as a table does with superpages off or for a page larger than its top).
fn several_entries_over(op: &Op, dfn: u64) -> bool {
    matches!(op, Op::Map { .. } | Op::Unmap { .. })
        && dfn_range(op).is_some_and(|(first, last)| first < last && (first..=last).contains(&dfn))
}

/// True when an operation of `pending` writes several entries over `dfn`.
fn in_pending_range(pending: &[super::linear::PendingOp], dfn: u64) -> bool {
    pending.iter().any(|p| several_entries_over(&p.op, dfn))
}

/// Replays `events` into `frontier`; the first event no linearization explains is a finding.
/// Returns how many reads were not judged: a read whose values would take the frontier past
/// its bound ([`FrontierError::Overflow`]) is left out, as an unjudged read (judging fewer
/// reads can miss a bug, never raise a false one). `None` when an operation would take it past
/// the bound even with every read in flight forgotten: the phase cannot be judged.
///
/// An operation that covers several DFNs (a range of pages, as Linux `map_pages` writes them
/// one by one; a page of a non-default size written as NL = 7 replicas; a superpage a table
/// writes as smaller pages) may change its DFNs entry by entry, so a read of a DFN inside it while it is in flight may see the old or the
/// new translation whatever the other DFNs show: such reads, and scheduled walks of a DFN some
/// thread's such operation covers, are not judged. Once it returns, every read of its DFNs is.
fn judge(
    s: &ConcScenario,
    frontier: &mut Frontier,
    events: &[Event],
    name: &str,
    schedule: &str,
) -> Result<Option<u64>, Box<Finding>> {
    // A DFN no 64-bit IOVA reaches is not walked, and a walk of one is not judged.
    let ranged_walk = |w: &super::scenario::WalkSpec| {
        w.dfn >= DFN_LIMIT || s.threads.iter().flatten().any(|t| several_entries_over(&t.op, w.dfn))
    };
    // Scheduled walks whose start would have overflowed the frontier: their reads are left out.
    let mut overflowed: Vec<usize> = Vec::new();
    let mut unjudged = 0;
    for (n, event) in events.iter().enumerate() {
        let result = match event {
            Event::Invoke { task, op, what } => {
                let id = event_id(*task, *op);
                match frontier.invoke(id, *what) {
                    // Too many values the reads in flight may have seen: stop judging them.
                    Err(FrontierError::Overflow) => {
                        for read in frontier.forget_reads() {
                            overflowed.push(read.saturating_sub(1000) as usize);
                            unjudged += 1;
                        }
                        match frontier.invoke(id, *what) {
                            Err(FrontierError::Overflow) => return Ok(None),
                            retried => retried,
                        }
                    }
                    invoked => invoked,
                }
            }
            Event::Return { task, op, result } => {
                let phase = Phase::Concurrent { task: *task as u8, op: *op };
                let what = s.threads[*task][*op].op;
                match result {
                    Err(PtError::StepBudget { steps }) => {
                        return Err(Finding::new(
                            name,
                            phase,
                            &what,
                            Violation::StepBudget { steps: *steps },
                        ))
                    }
                    Err(PtError::Deadlock { lock }) => {
                        return Err(Finding::new(name, phase, &what, Violation::Deadlock { lock }))
                    }
                    _ => frontier.ret(event_id(*task, *op), *result),
                }
            }
            Event::WalkStart { walk } if ranged_walk(&s.walks[*walk]) => Ok(()),
            Event::WalkStart { walk } => {
                let w = &s.walks[*walk];
                let started =
                    frontier.invoke_read(1000 + *walk as EventId, Reader::Device(w.dev), w.dfn);
                if started == Err(FrontierError::Overflow) {
                    overflowed.push(*walk);
                    unjudged += 1;
                    continue;
                }
                started
            }
            Event::Read { cause: Cause::Walk { walk }, .. }
                if ranged_walk(&s.walks[*walk]) || overflowed.contains(walk) =>
            {
                Ok(())
            }
            Event::Read { result, cause: Cause::Walk { walk }, .. } => {
                frontier.ret_read(1000 + *walk as EventId, Observed::of_walk(result))
            }
            Event::Read { dfn, .. } if in_pending_range(&frontier.pending_ops(), *dfn) => Ok(()),
            Event::Read { dev, dfn, result, .. } => {
                match frontier.read(Reader::Device(*dev), *dfn, Observed::of_walk(result)) {
                    Err(FrontierError::Overflow) => {
                        unjudged += 1;
                        continue;
                    }
                    judged => judged,
                }
            }
        };
        match result {
            Ok(()) => {}
            Err(FrontierError::Violation(v)) => {
                return Err(lin_finding(s, name, events, n, &v, schedule));
            }
            Err(other) => {
                // A harness inconsistency, not the table's: report it plainly.
                let v = Violation::Linearizability {
                    event: format!("event #{n}"),
                    allowed: "a consistent history".into(),
                    got: other.to_string(),
                    schedule: schedule.to_string(),
                };
                return Err(Finding::new(
                    name,
                    Phase::Concurrent { task: 0, op: 0 },
                    &Op::Teardown,
                    v,
                ));
            }
        }
    }
    Ok(Some(unjudged))
}

/// A linearizability finding for event number `n`, with the history leading to it.
fn lin_finding(
    s: &ConcScenario,
    name: &str,
    events: &[Event],
    n: usize,
    v: &LinViolation,
    schedule: &str,
) -> Box<Finding> {
    // The thread operation the event belongs to: the one returning, the one that just
    // returned, or the one whose store the shadow walk follows; none for a scheduled walk.
    let at = match &events[n] {
        Event::Return { task, op, .. }
        | Event::Read { cause: Cause::AfterReturn { task, op }, .. } => Some((*task, *op)),
        Event::Read { cause: Cause::Shadow { task, .. }, .. } => {
            op_in_flight(&events[..n], *task).map(|op| (*task, op))
        }
        _ => None,
    };
    let (phase, what) = match at {
        Some((task, op)) => {
            (Phase::Concurrent { task: task as u8, op }, Some(s.threads[task][op].op))
        }
        None => (Phase::Concurrent { task: 0, op: 0 }, None),
    };
    let (event, allowed, got) = match v {
        LinViolation::Read { reader, dfn, observed, pending, allowed } => (
            format!(
                "{reader} reads dfn {dfn:#x} ({}) with {} in flight",
                cause_text(s, &events[n]),
                if pending.is_empty() {
                    "nothing".to_string()
                } else {
                    pending.iter().map(|p| format!("`{}`", p.op)).collect::<Vec<_>>().join(", ")
                }
            ),
            allowed.iter().map(|o| o.to_string()).collect::<Vec<_>>().join(" or "),
            observed.to_string(),
        ),
        LinViolation::Return { op, got, allowed, .. } => (
            format!("`{op}` returns"),
            allowed.iter().map(|c| format!("{c:?}")).collect::<Vec<_>>().join(" or "),
            match got {
                Ok(()) => "ok".to_string(),
                Err(e) => format!("error `{e}` ({:?})", e.class()),
            },
        ),
    };
    let mut context = String::from(schedule);
    context.push_str("\n  history (last events):");
    for e in &events[n.saturating_sub(8)..=n] {
        let _ = write!(context, "\n    {}", event_text(s, e));
    }
    let mut finding = Finding::new(
        name,
        phase,
        &what.unwrap_or(Op::Teardown),
        Violation::Linearizability { event, allowed, got, schedule: context },
    );
    // A scheduled walk belongs to no thread operation: the finding names the phase only.
    finding.op = what;
    if let Event::Read { dev, dfn, .. } = &events[n] {
        finding.dfn = Some(*dfn);
        finding.device = Some(*dev);
    }
    finding
}

/// The operation of thread `task` invoked in `events` and not yet returned.
fn op_in_flight(events: &[Event], task: TaskId) -> Option<usize> {
    events.iter().rev().find_map(|e| match *e {
        Event::Return { task: t, .. } if t == task => Some(None),
        Event::Invoke { task: t, op, .. } if t == task => Some(Some(op)),
        _ => None,
    })?
}

fn cause_text(s: &ConcScenario, e: &Event) -> String {
    match e {
        Event::Read { cause: Cause::Shadow { task, access }, .. } => {
            format!("a shadow walk after {}'s {access}", task_name(s, *task))
        }
        Event::Read { cause: Cause::AfterReturn { task, op }, .. } => {
            format!("a walk after {} op #{op} returned", task_name(s, *task))
        }
        Event::Read { cause: Cause::Walk { walk }, .. } => format!("scheduled walk w{walk}"),
        _ => String::new(),
    }
}

fn event_text(s: &ConcScenario, e: &Event) -> String {
    match e {
        Event::Invoke { task, op, what } => {
            format!("{} op #{op} `{what}` invoked", task_name(s, *task))
        }
        Event::Return { task, op, result } => format!(
            "{} op #{op} returned {}",
            task_name(s, *task),
            match result {
                Ok(()) => "ok".to_string(),
                Err(e) => format!("`{e}`"),
            }
        ),
        Event::WalkStart { walk } => format!("walk w{walk} starts"),
        Event::Read { dev, dfn, result, .. } => match result {
            Err(fault) => {
                format!("device {dev} dfn {dfn:#x}: fault: {fault} ({})", cause_text(s, e))
            }
            Ok(_) => format!(
                "device {dev} dfn {dfn:#x}: {} ({})",
                Observed::of_walk(result),
                cause_text(s, e)
            ),
        },
    }
}

#[cfg(test)]
mod tests;
