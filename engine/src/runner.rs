//! The differential runner: applies each operation of a scenario to every implementation and
//! checks, after every operation:
//!
//! - **outcome**: each result has the error class the specification ([`crate::expect`])
//!   requires (so both implementations agree, and agree with the spec);
//! - **height**: only a notify may raise the height, exactly to what the DFN needs;
//! - **DTE**: every assigned device's DTE holds V, TV, IR, IW, the current root and the
//!   current height as mode, and the root is a live table frame of the domain;
//! - **translation**: for each probe DFN ([`crate::probe`]) the oracle's hardware walk through
//!   the DTEs, reading the implementation's raw memory, equals the implementation's model;
//! - **lookup**: the implementation's own lookup equals the model;
//! - **unassigned access**: devices not assigned reach no memory, for reads and writes.
//!
//! After the last operation a full sweep enumerates every reachable leaf and compares it with
//! the model; after a teardown no table frame of the domain may remain.
//!
//! Each implementation has its own model: they differ only after an *expected divergence*, a
//! map whose notification was missed (`missed`) and that the dynamic table therefore rejected
//! as beyond its height. That outcome is counted in [`RunStats::missed_notifications`], never
//! reported as a finding.

use crate::dynamic::{Dynamic, DynamicConfig};
use crate::expect;
use crate::finding::{Check, Finding, Phase};
use crate::fixed::Fixed;
use crate::frames::FrameState;
use crate::page_table::{ErrorClass, PageTable, Perm, PtError};
use crate::plant::Plant;
use crate::probe::probes;
use crate::scenario::{Config, Op, Scenario, ScenarioError};
use ptdiff_reference::{
    enumerate, walk_dte, Dte, Fault, Model, Reach, Translation, TranslationKind, WalkConfig,
};
use std::collections::BTreeSet;

/// Domain ID the built-in implementations use.
pub const DOMAIN: u16 = 1;
/// Most leaves the final sweep enumerates before giving up.
pub const SWEEP_LEAF_BUDGET: usize = 1 << 20;
/// Recently used DFNs kept as extra probes.
const RECENT: usize = 8;
/// Probes (from the front of the probe list) walked through every assigned device; the rest
/// are walked through the lowest assigned device only (the DTE check makes the others equal).
const ALL_DEVICE_PROBES: usize = 4;

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
    pub teardowns: u32,
    /// Operations some implementation rejected (any error class).
    pub rejected: u32,
    /// Maps a table rejected because their notification was missed (expected divergence).
    pub missed_notifications: u32,
    /// Times some table's height increased.
    pub growth_events: u32,
    /// Greatest height any table reached.
    pub highest_levels: u8,
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
struct Side {
    table: Box<dyn PageTable>,
    model: Model,
    assigned: BTreeSet<u16>,
    torn_down: bool,
}

/// Runs operations on a set of implementations and checks them.
pub struct Runner {
    config: Config,
    walk: WalkConfig,
    sides: Vec<Side>,
    recent: Vec<u64>,
    stats: RunStats,
    trace: Option<Vec<String>>,
}

/// Runs a scenario on the built-in `dynamic` and `fixed` tables with `plant` active.
pub fn run(scenario: &Scenario, plant: Plant) -> Result<Report, ScenarioError> {
    scenario.validate()?;
    match Runner::new(scenario.config, plant) {
        Ok(runner) => Ok(runner.run_ops(&scenario.ops)),
        Err(finding) => {
            Ok(Report { finding: Some(*finding), stats: RunStats::default(), trace: Vec::new() })
        }
    }
}

/// Like [`run`], recording a trace line per operation in [`Report::trace`].
pub fn run_traced(scenario: &Scenario, plant: Plant) -> Result<Report, ScenarioError> {
    scenario.validate()?;
    match Runner::new(scenario.config, plant) {
        Ok(mut runner) => {
            runner.trace = Some(Vec::new());
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

fn describe_result(result: &Result<(), PtError>) -> String {
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

fn describe_model(entry: Option<(u64, Perm)>) -> String {
    match entry {
        Some((mfn, perm)) => format!("mfn {mfn:#x} {perm}"),
        None => "not mapped (every access faults)".to_string(),
    }
}

fn describe_walk(result: &Result<Translation, Fault>) -> String {
    match result {
        Ok(t) => match t.kind {
            TranslationKind::Table { leaf_level } => format!(
                "mfn {:#x} {} (spa {:#x}, level-{leaf_level} leaf of 2^{} bytes)",
                t.spa >> 12,
                t.perm,
                t.spa,
                t.page_size_log2
            ),
            kind => format!("untranslated access to spa {:#x} {} ({kind:?})", t.spa, t.perm),
        },
        Err(fault) => format!("fault: {fault} ({:?})", fault.class()),
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
                table,
                model: Model::new(),
                assigned: BTreeSet::new(),
                torn_down: false,
            })
            .collect();
        let mut runner = Runner {
            config,
            walk: WalkConfig { max_levels: config.max_levels, ..WalkConfig::default() },
            sides,
            recent: Vec::new(),
            stats: RunStats::default(),
            trace: None,
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
        let finding = self.sweep().err().map(|f| *f);
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
        let phase = Phase::Op { index };
        let (first, last) = match *op {
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
        };
        if !matches!(op, Op::Assign { .. } | Op::Deassign { .. } | Op::Teardown) {
            self.remember(first);
        }
        self.check_state(phase, op, &probes(first, last, &self.recent))
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
                    return Err(finding(
                        Check::Height,
                        side,
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
                }
            }
        }
        self.note_heights();
        Ok(())
    }

    /// Applies `apply` to every side, checks each result against the expected class, and
    /// checks that no operation other than notify changed the height. Returns the results.
    fn apply(
        &mut self,
        phase: Phase,
        op: &Op,
        mut apply: impl FnMut(&mut Side) -> (Result<(), ErrorClass>, Result<(), PtError>),
    ) -> Result<Vec<Result<(), PtError>>, Box<Finding>> {
        let mut results = Vec::with_capacity(self.sides.len());
        let is_notify =
            matches!(phase, Phase::NotifyBefore { .. }) || matches!(op, Op::Notify { .. });
        for side in &mut self.sides {
            let before = side.table.levels();
            let (expected, got) = if side.torn_down {
                (Err(ErrorClass::TornDown), apply(side).1)
            } else {
                apply(side)
            };
            let matches = match (&expected, &got) {
                (Ok(()), Ok(())) => true,
                (Err(class), Err(e)) => e.class() == *class,
                _ => false,
            };
            if !matches {
                return Err(finding(
                    Check::Outcome,
                    side,
                    phase,
                    op,
                    None,
                    None,
                    describe_expected(expected),
                    describe_result(&got),
                ));
            }
            if got.is_err() {
                self.stats.rejected += 1;
            }
            let after = side.table.levels();
            let height_ok = match op {
                _ if is_notify => true,
                Op::Teardown if got.is_ok() => after == 0,
                _ => after == before,
            };
            if !height_ok {
                let want = if matches!(op, Op::Teardown) { 0 } else { before };
                return Err(finding(
                    Check::Height,
                    side,
                    phase,
                    op,
                    None,
                    None,
                    format!("{want} levels ({} must not change the height)", op.keyword()),
                    format!("{after} levels"),
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

    /// After a successful teardown: no table frame of the domain is left.
    fn check_teardown(&self, phase: Phase, op: &Op) -> Result<(), Box<Finding>> {
        for side in self.sides.iter().filter(|s| s.torn_down) {
            let domain = side.table.domain_id();
            let left: Vec<u64> = side.table.iommu().frames().live_tables(domain).collect();
            if let Some(&pfn) = left.first() {
                return Err(finding(
                    Check::TeardownLeak,
                    side,
                    phase,
                    op,
                    None,
                    None,
                    "no table frame of the domain".to_string(),
                    format!("{} live table frame(s), first at pfn {pfn:#x}", left.len()),
                ));
            }
        }
        Ok(())
    }

    /// The per-op checks: DTEs, probe walks, lookups, unassigned devices.
    fn check_state(
        &mut self,
        phase: Phase,
        op: &Op,
        probe_dfns: &[u64],
    ) -> Result<(), Box<Finding>> {
        let devices = u16::from(self.config.devices);
        let mut walks = 0u32;
        for side in &self.sides {
            let iommu = side.table.iommu();
            let mem = iommu.memory();
            let devtab = iommu.device_table();
            // Unassigned devices: no read, no write, anywhere we look.
            for dev in (0..devices).filter(|d| !side.assigned.contains(d)) {
                let dte = devtab.read(mem, dev).map_err(|fault| {
                    finding(
                        Check::UnassignedAccess,
                        side,
                        phase,
                        op,
                        None,
                        Some(dev),
                        "a readable, blocking DTE".to_string(),
                        format!("fault: {fault}"),
                    )
                })?;
                for &dfn in probe_dfns.iter().take(2) {
                    for access in [Perm::R, Perm::W] {
                        walks += 1;
                        let result = walk_dte(mem, &self.walk, &dte, dfn << 12, access);
                        if result.is_ok() {
                            return Err(finding(
                                Check::UnassignedAccess,
                                side,
                                phase,
                                op,
                                Some(dfn),
                                Some(dev),
                                format!("device {dev} is not assigned: a {access} access faults"),
                                describe_walk(&result),
                            ));
                        }
                    }
                }
            }
            if side.torn_down {
                continue;
            }
            // Assigned devices: DTE = (current root, current height), root a live table.
            let levels = side.table.levels();
            let root = side.table.root();
            let domain = side.table.domain_id();
            let mut dtes = Vec::with_capacity(side.assigned.len());
            for &dev in &side.assigned {
                let dte = devtab.read(mem, dev).map_err(|fault| {
                    finding(
                        Check::Dte,
                        side,
                        phase,
                        op,
                        None,
                        Some(dev),
                        "a readable DTE".to_string(),
                        format!("fault: {fault}"),
                    )
                })?;
                let root_state = iommu.frames().state(dte.root() >> 12);
                let good = dte.valid()
                    && dte.translation_valid()
                    && dte.perm() == Perm::RW
                    && dte.reserved_bits() == 0
                    && dte.mode() == levels
                    && Some(dte.root()) == root;
                if !good || root_state != Some(FrameState::Table { domain }) {
                    return Err(finding(Check::Dte, side, phase, op, None, Some(dev),
                        format!("V=1 TV=1 IR=IW=1 mode {levels} root {:#x} (a live table of domain {domain})", root.unwrap_or(0)),
                        format!("V={} TV={} perm {} mode {} root {:#x} ({root_state:?})",
                            u8::from(dte.valid()), u8::from(dte.translation_valid()), dte.perm(), dte.mode(), dte.root())));
                }
                dtes.push((Some(dev), dte));
            }
            if dtes.is_empty() {
                // No device: still check the memory, through the DTE a device would get.
                if let Some(root) = root {
                    dtes.push((None, Dte::translating(root, levels, Perm::RW, domain)));
                }
            }
            for (i, &dfn) in probe_dfns.iter().enumerate() {
                let expected = side.model.translate(dfn);
                let through =
                    if i < ALL_DEVICE_PROBES { &dtes[..] } else { &dtes[..dtes.len().min(1)] };
                for (dev, dte) in through {
                    walks += 1;
                    let result = walk_dte(mem, &self.walk, dte, dfn << 12, Perm::NONE);
                    let agrees = match (expected, &result) {
                        (Some((mfn, perm)), Ok(t)) => {
                            matches!(t.kind, TranslationKind::Table { .. })
                                && t.spa == mfn << 12
                                && t.perm == perm
                        }
                        (None, Ok(t)) => t.perm.is_empty(),
                        (None, Err(_)) => true,
                        (Some(_), Err(_)) => false,
                    };
                    if !agrees {
                        return Err(finding(
                            Check::Translation,
                            side,
                            phase,
                            op,
                            Some(dfn),
                            *dev,
                            describe_model(expected),
                            describe_walk(&result),
                        ));
                    }
                }
                let own = side.table.lookup(dfn);
                if own != expected {
                    return Err(finding(
                        Check::Lookup,
                        side,
                        phase,
                        op,
                        Some(dfn),
                        None,
                        describe_model(expected),
                        describe_model(own),
                    ));
                }
            }
        }
        self.stats.walks += walks;
        Ok(())
    }

    /// The final sweep: every leaf reachable through the DTE equals the model.
    pub fn sweep(&self) -> Result<(), Box<Finding>> {
        for side in self.sides.iter().filter(|s| !s.torn_down) {
            let iommu = side.table.iommu();
            let mem = iommu.memory();
            let (dev, dte) = match side.assigned.first() {
                Some(&dev) => (Some(dev), iommu.device_table().read(mem, dev).ok()),
                None => (
                    None,
                    side.table.root().map(|r| {
                        Dte::translating(r, side.table.levels(), Perm::RW, side.table.domain_id())
                    }),
                ),
            };
            let Some(dte) = dte else {
                return Err(finding(
                    Check::Sweep,
                    side,
                    Phase::Sweep,
                    &Op::Teardown,
                    None,
                    dev,
                    "a DTE to enumerate from".to_string(),
                    "no root and no readable DTE".to_string(),
                ));
            };
            let leaves = match enumerate(mem, &self.walk, &dte, SWEEP_LEAF_BUDGET) {
                Ok(Reach::Table(leaves)) => leaves,
                other => {
                    return Err(finding(
                        Check::Sweep,
                        side,
                        Phase::Sweep,
                        &Op::Teardown,
                        None,
                        dev,
                        "a translating page table".to_string(),
                        format!("{other:?}"),
                    ));
                }
            };
            if let Some(diff) = side.model.first_difference(&Model::from_leaves(&leaves)) {
                return Err(finding(
                    Check::Sweep,
                    side,
                    Phase::Sweep,
                    &Op::Teardown,
                    Some(diff.dfn),
                    dev,
                    describe_model(diff.expected),
                    describe_model(diff.got),
                ));
            }
        }
        Ok(())
    }
}

#[allow(clippy::too_many_arguments)]
fn finding(
    check: Check,
    side: &Side,
    phase: Phase,
    op: &Op,
    dfn: Option<u64>,
    device: Option<u16>,
    expected: String,
    got: String,
) -> Box<Finding> {
    let op = match phase {
        Phase::Setup | Phase::Sweep => None,
        _ => Some(*op),
    };
    Box::new(Finding {
        check,
        implementation: side.table.name().to_string(),
        phase,
        op,
        dfn,
        device,
        expected,
        got,
    })
}
