//! The checks the runner makes after every operation and at the end; [`mod@crate::run`] lists
//! them. Every check reads the implementation's memory with the oracle, never trusting the
//! implementation's own idea of its tables (except the `lookup` check, which tests exactly
//! that idea).

pub mod expect;
pub mod finding;
pub mod probe;

use crate::check::finding::{Check, Finding, Phase};
use crate::run::{Runner, Side};
use crate::scenario::Op;
use crate::substrate::commands::Command;
use crate::substrate::frames::{FrameAllocator, FrameState};
use crate::table::{PageTable, Perm};
use ptdiff_reference::{
    enumerate_tree, walk_dte, walk_dte_visiting, Dte, Fault, Invalidation, Model, Reach,
    Translation, TranslationKind,
};
use std::collections::BTreeSet;

/// Most leaves and tables the final sweep enumerates before giving up.
pub const SWEEP_BUDGET: usize = 1 << 20;
/// Probes (from the front of the probe list) walked through every assigned device and sent
/// through the IOMMU caches as DMA; the rest are walked through the lowest assigned device
/// only (the DTE check makes the others equal).
const ALL_DEVICE_PROBES: usize = 4;
/// DFNs at or above this cannot be addressed by a 64-bit IOVA.
const DFN_LIMIT: u64 = 1 << 52;

/// What a failed operation must leave untouched: the table frames, every device's DTE, the
/// root and the height.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Snapshot {
    tables: Vec<u64>,
    dtes: Vec<Option<Dte>>,
    root: Option<u64>,
    levels: u8,
}

impl Snapshot {
    /// The state of `table` and of devices `0..devices`.
    pub(crate) fn take(table: &dyn PageTable, devices: u16) -> Snapshot {
        let iommu = table.iommu();
        let devtab = iommu.device_table();
        Snapshot {
            tables: iommu.frames().live_tables(table.domain_id()).collect(),
            dtes: (0..devices).map(|dev| devtab.read(iommu.memory(), dev).ok()).collect(),
            root: table.root(),
            levels: table.levels(),
        }
    }

    /// What changed from `self` to `after`, in words, or `None` when nothing did.
    pub(crate) fn difference(&self, after: &Snapshot) -> Option<String> {
        let before_set: BTreeSet<u64> = self.tables.iter().copied().collect();
        let after_set: BTreeSet<u64> = after.tables.iter().copied().collect();
        let mut changes = Vec::new();
        let added: Vec<String> =
            after_set.difference(&before_set).map(|p| format!("{p:#x}")).collect();
        if !added.is_empty() {
            changes.push(format!(
                "{} table frame(s) left allocated (leaked): pfn {}",
                added.len(),
                added.join(", ")
            ));
        }
        let freed: Vec<String> =
            before_set.difference(&after_set).map(|p| format!("{p:#x}")).collect();
        if !freed.is_empty() {
            changes.push(format!("{} table frame(s) freed: pfn {}", freed.len(), freed.join(", ")));
        }
        for (dev, (b, a)) in self.dtes.iter().zip(&after.dtes).enumerate() {
            if b != a {
                let q0 = |d: &Option<Dte>| {
                    d.map_or("unreadable".to_string(), |d| format!("{:#018x}", d.0[0]))
                };
                changes.push(format!("device {dev}'s DTE changed from {} to {}", q0(b), q0(a)));
            }
        }
        if (self.root, self.levels) != (after.root, after.levels) {
            changes.push(format!(
                "root/height changed from {:?}/{} to {:?}/{}",
                self.root, self.levels, after.root, after.levels
            ));
        }
        (!changes.is_empty()).then(|| changes.join("; "))
    }
}

/// The cache command for an implementation's command.
fn invalidation(command: &Command) -> Invalidation {
    match *command {
        Command::InvalidateDevtabEntry { dev } => Invalidation::DevtabEntry { dev },
        Command::InvalidateIommuPages { domain, dfn, order } => Invalidation::IommuPages {
            domain,
            iova: dfn.wrapping_shl(12),
            size_log2: order.saturating_add(12),
        },
        Command::CompletionWait => Invalidation::CompletionWait,
    }
}

pub(crate) fn describe_model(entry: Option<(u64, Perm)>) -> String {
    match entry {
        Some((mfn, perm)) => format!("mfn {mfn:#x} {perm}"),
        None => "not mapped (every access faults)".to_string(),
    }
}

fn describe_walk(result: &Result<Translation, Fault>, frames: &FrameAllocator) -> String {
    match result {
        Ok(t) => {
            let frame = t.spa >> 12;
            let what = match frames.state(frame) {
                Some(FrameState::Table { .. }) => " -- a live page-table frame!",
                Some(FrameState::Freed) => " -- a freed page-table frame!",
                Some(FrameState::DeviceTable) => " -- the device table!",
                None => "",
            };
            match t.kind {
                TranslationKind::Table { leaf_level } => format!(
                    "mfn {frame:#x} {} (spa {:#x}, level-{leaf_level} leaf of 2^{} bytes){what}",
                    t.perm, t.spa, t.page_size_log2
                ),
                kind => format!("untranslated access to spa {:#x} {} ({kind:?})", t.spa, t.perm),
            }
        }
        Err(fault) => format!("fault: {fault} ({:?})", fault.class()),
    }
}

fn describe_state(state: Option<FrameState>) -> &'static str {
    match state {
        Some(FrameState::Table { .. }) => "a table frame of another domain",
        Some(FrameState::Freed) => "a freed (poisoned) table frame",
        Some(FrameState::DeviceTable) => "the device table",
        None => "not a table frame",
    }
}

impl Runner {
    /// Feeds every implementation's new commands to its caches.
    pub(crate) fn sync_caches(&mut self) {
        for side in &mut self.sides {
            let log = side.table.iommu().commands();
            for command in log.since(side.commands_seen) {
                side.caches.command(invalidation(command));
            }
            side.commands_seen = log.len();
        }
    }

    /// A `dma` operation: device `dev` accesses `dfn` through each IOMMU and its caches; the
    /// access must succeed, at the model's frame, exactly when the model grants it.
    pub(crate) fn check_dma(
        &mut self,
        phase: Phase,
        op: &Op,
        dev: u16,
        dfn: u64,
        access: Perm,
    ) -> Result<(), Box<Finding>> {
        if dfn >= DFN_LIMIT {
            return Ok(());
        }
        for side in &mut self.sides {
            let Side { table, caches, model, assigned, torn_down, .. } = side;
            let iommu = table.iommu();
            let result = caches.dma(
                iommu.memory(),
                &self.walk,
                &iommu.device_table(),
                dev,
                dfn << 12,
                access,
            );
            self.stats.walks += 1;
            let granted = (!*torn_down && assigned.contains(&dev))
                .then(|| model.translate(dfn))
                .flatten()
                .filter(|(_, perm)| perm.allows(access));
            let agrees = match (granted, &result) {
                (Some((mfn, _)), Ok(t)) => t.spa == mfn << 12,
                (None, Err(_)) => true,
                _ => false,
            };
            if !agrees {
                let expected = match granted {
                    Some((mfn, _)) => format!("a {access} access to mfn {mfn:#x}"),
                    None if !assigned.contains(&dev) => {
                        format!("a fault: device {dev} is not assigned")
                    }
                    None => format!(
                        "a fault: the model grants {}",
                        describe_model(model.translate(dfn))
                    ),
                };
                return Err(Finding::of(
                    Check::Dma,
                    table.name(),
                    phase,
                    op,
                    Some(dfn),
                    Some(dev),
                    expected,
                    describe_walk(&result, table.iommu().frames()),
                ));
            }
        }
        Ok(())
    }

    /// After a successful teardown: no table frame of the domain is left.
    pub(crate) fn check_teardown(&self, phase: Phase, op: &Op) -> Result<(), Box<Finding>> {
        for side in self.sides.iter().filter(|s| s.torn_down) {
            let domain = side.table.domain_id();
            let left: Vec<u64> = side.table.iommu().frames().live_tables(domain).collect();
            if let Some(&pfn) = left.first() {
                return Err(Finding::of(
                    Check::TeardownLeak,
                    side.table.name(),
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

    /// The per-op checks: caches, unassigned devices, DTEs, probe walks (with the ledger of
    /// every table they read), lookups.
    pub(crate) fn check_state(
        &mut self,
        phase: Phase,
        op: &Op,
        probe_dfns: &[u64],
    ) -> Result<(), Box<Finding>> {
        self.sync_caches();
        let devices = u16::from(self.config.devices);
        let mut walks = 0u32;
        for side in &mut self.sides {
            check_caches(side, phase, op)?;
            let iommu = side.table.iommu();
            let mem = iommu.memory();
            let devtab = iommu.device_table();
            let name = side.table.name();
            // Unassigned devices: no read, no write, anywhere we look.
            for dev in (0..devices).filter(|d| !side.assigned.contains(d)) {
                let dte = devtab.read(mem, dev).map_err(|fault| {
                    Finding::of(
                        Check::UnassignedAccess,
                        name,
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
                            return Err(Finding::of(
                                Check::UnassignedAccess,
                                name,
                                phase,
                                op,
                                Some(dfn),
                                Some(dev),
                                format!("device {dev} is not assigned: a {access} access faults"),
                                describe_walk(&result, iommu.frames()),
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
                    Finding::of(
                        Check::Dte,
                        name,
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
                    return Err(Finding::of(
                        Check::Dte,
                        name,
                        phase,
                        op,
                        None,
                        Some(dev),
                        format!(
                            "V=1 TV=1 IR=IW=1 mode {levels} root {:#x} (a live table of domain {domain})",
                            root.unwrap_or(0)
                        ),
                        format!(
                            "V={} TV={} perm {} mode {} root {:#x} ({})",
                            u8::from(dte.valid()),
                            u8::from(dte.translation_valid()),
                            dte.perm(),
                            dte.mode(),
                            dte.root(),
                            describe_state(root_state)
                        ),
                    ));
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
                for &(dev, dte) in through {
                    walks += 1;
                    let mut foreign: Option<(u8, u64)> = None;
                    let result = walk_dte_visiting(
                        mem,
                        &self.walk,
                        &dte,
                        dfn << 12,
                        Perm::NONE,
                        |level, table| {
                            if foreign.is_none()
                                && iommu.frames().state(table >> 12)
                                    != Some(FrameState::Table { domain })
                            {
                                foreign = Some((level, table));
                            }
                        },
                    );
                    if let Some((level, table)) = foreign {
                        return Err(Finding::of(
                            Check::Ledger,
                            name,
                            phase,
                            op,
                            Some(dfn),
                            dev,
                            format!(
                                "every table on the walk is a live table frame of domain {domain}"
                            ),
                            format!(
                                "the walk reads a level-{level} table at {table:#x}, {}",
                                describe_state(iommu.frames().state(table >> 12))
                            ),
                        ));
                    }
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
                        return Err(Finding::of(
                            Check::Translation,
                            name,
                            phase,
                            op,
                            Some(dfn),
                            dev,
                            describe_model(expected),
                            describe_walk(&result, iommu.frames()),
                        ));
                    }
                }
                let own = side.table.lookup(dfn);
                if own != expected {
                    return Err(Finding::of(
                        Check::Lookup,
                        name,
                        phase,
                        op,
                        Some(dfn),
                        None,
                        describe_model(expected),
                        describe_model(own),
                    ));
                }
            }
            // Device DMA at the operation's own DFNs fills the caches, as real traffic would.
            let assigned: Vec<u16> = side.assigned.iter().copied().collect();
            for &dfn in probe_dfns.iter().take(ALL_DEVICE_PROBES) {
                for &dev in &assigned {
                    let iommu = side.table.iommu();
                    let _ = side.caches.dma(
                        iommu.memory(),
                        &self.walk,
                        &iommu.device_table(),
                        dev,
                        dfn << 12,
                        Perm::NONE,
                    );
                }
            }
        }
        self.stats.walks += walks;
        Ok(())
    }

    /// The final sweep: every leaf reachable through the DTE equals the model, every table
    /// reachable is a live table frame of the domain, every live table frame is reachable, and
    /// no leaf maps a table frame the model does not ask for.
    pub fn sweep(&self) -> Result<(), Box<Finding>> {
        for side in self.sides.iter().filter(|s| !s.torn_down) {
            let iommu = side.table.iommu();
            let mem = iommu.memory();
            let name = side.table.name();
            let domain = side.table.domain_id();
            let sweep = |check: Check,
                         dfn: Option<u64>,
                         dev: Option<u16>,
                         expected: String,
                         got: String| {
                Finding::of(check, name, Phase::Sweep, &Op::Teardown, dfn, dev, expected, got)
            };
            let (dev, dte) = match side.assigned.first() {
                Some(&dev) => (Some(dev), iommu.device_table().read(mem, dev).ok()),
                None => (
                    None,
                    side.table
                        .root()
                        .map(|r| Dte::translating(r, side.table.levels(), Perm::RW, domain)),
                ),
            };
            let Some(dte) = dte else {
                return Err(sweep(
                    Check::Sweep,
                    None,
                    dev,
                    "a DTE to enumerate from".to_string(),
                    "no root and no readable DTE".to_string(),
                ));
            };
            let tree = enumerate_tree(mem, &self.walk, &dte, SWEEP_BUDGET).map_err(|e| {
                sweep(
                    Check::Sweep,
                    None,
                    dev,
                    "an enumerable page table".to_string(),
                    e.to_string(),
                )
            })?;
            let Reach::Table(leaves) = &tree.reach else {
                return Err(sweep(
                    Check::Sweep,
                    None,
                    dev,
                    "a translating page table".to_string(),
                    format!("{:?}", tree.reach),
                ));
            };
            let live: BTreeSet<u64> = iommu.frames().live_tables(domain).collect();
            let mut reachable = BTreeSet::new();
            for t in &tree.tables {
                let pfn = t.spa >> 12;
                if !live.contains(&pfn) {
                    return Err(sweep(
                        Check::Ledger,
                        None,
                        dev,
                        format!("every reachable table is a live table frame of domain {domain}"),
                        format!(
                            "a level-{} table at {:#x} is {}",
                            t.level,
                            t.spa,
                            describe_state(iommu.frames().state(pfn))
                        ),
                    ));
                }
                reachable.insert(pfn);
            }
            let leaked: Vec<String> =
                live.difference(&reachable).map(|p| format!("{p:#x}")).collect();
            if !leaked.is_empty() {
                return Err(sweep(
                    Check::Leak,
                    None,
                    dev,
                    "every live table frame of the domain is reachable from its root".to_string(),
                    format!(
                        "{} unreachable table frame(s): pfn {}",
                        leaked.len(),
                        leaked.join(", ")
                    ),
                ));
            }
            for leaf in leaves {
                let first = leaf.spa >> 12;
                let frames = 1u64 << leaf.slot_log2.saturating_sub(12).min(63);
                if let Some(&pfn) = live.range(first..first.saturating_add(frames)).next() {
                    let dfn = (leaf.iova >> 12) + (pfn - first);
                    if side.model.translate(dfn).map(|(mfn, _)| mfn) != Some(pfn) {
                        return Err(sweep(
                            Check::Ledger,
                            Some(dfn),
                            dev,
                            "no page-table frame mapped as data".to_string(),
                            format!("dfn {dfn:#x} translates to the live table frame {pfn:#x}"),
                        ));
                    }
                }
            }
            if let Some(diff) = side.model.first_difference(&Model::from_leaves(leaves)) {
                return Err(sweep(
                    Check::Sweep,
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

impl Runner {
    /// Adds to a finding at a DFN what every other implementation's hardware walk gives
    /// there (through the same device when it is assigned there, else through the DTE a
    /// device would get), unless the finding already says what the others gave.
    pub(crate) fn annotate(&self, mut finding: Box<Finding>) -> Box<Finding> {
        let Some(dfn) = finding.dfn.filter(|&d| d < DFN_LIMIT && finding.others.is_empty()) else {
            return finding;
        };
        for side in self.sides.iter().filter(|s| s.table.name() != finding.implementation) {
            let iommu = side.table.iommu();
            let gave = if side.torn_down {
                "(torn down)".to_string()
            } else {
                let dev = finding
                    .device
                    .filter(|d| side.assigned.contains(d))
                    .or(side.assigned.first().copied());
                let dte = match dev {
                    Some(dev) => iommu.device_table().read(iommu.memory(), dev).ok(),
                    None => side.table.root().map(|r| {
                        Dte::translating(r, side.table.levels(), Perm::RW, side.table.domain_id())
                    }),
                };
                match dte {
                    Some(dte) => describe_walk(
                        &walk_dte(iommu.memory(), &self.walk, &dte, dfn << 12, Perm::NONE),
                        iommu.frames(),
                    ),
                    None => "no DTE to walk".to_string(),
                }
            };
            finding.others.push((side.table.name().to_string(), gave));
        }
        finding
    }
}

/// No cached DTE differs from memory, and no IOTLB entry grants what the tables (the model,
/// which the probes keep equal to the tables) no longer grant.
fn check_caches(side: &Side, phase: Phase, op: &Op) -> Result<(), Box<Finding>> {
    let iommu = side.table.iommu();
    let name = side.table.name();
    let devtab = iommu.device_table();
    for (dev, cached) in side.caches.dtes() {
        let current = devtab.read(iommu.memory(), dev).ok();
        if current.as_ref() != Some(cached) {
            return Err(Finding::of(
                Check::StaleDte,
                name,
                phase,
                op,
                None,
                Some(dev),
                format!(
                    "the cached DTE equals memory: qword 0 {}",
                    current.map_or("unreadable".to_string(), |d| format!("{:#018x}", d.0[0]))
                ),
                format!(
                    "the IOMMU still uses qword 0 {:#018x} (root {:#x}, mode {}): no completed INVALIDATE_DEVTAB_ENTRY",
                    cached.0[0],
                    cached.root(),
                    cached.mode()
                ),
            ));
        }
    }
    let domain = side.table.domain_id();
    for page in side.caches.pages().filter(|p| p.domain == domain && !p.perm.is_empty()) {
        let first_dfn = page.iova >> 12;
        let frames = 1u64 << page.size_log2.saturating_sub(12).min(63);
        let stale = if side.torn_down {
            Some(first_dfn)
        } else {
            side.model.first_ungranted(first_dfn, frames, page.spa >> 12, page.perm)
        };
        if let Some(dfn) = stale {
            let mfn = (page.spa >> 12) + (dfn - first_dfn);
            return Err(Finding::of(
                Check::StaleIotlb,
                name,
                phase,
                op,
                Some(dfn),
                None,
                format!("no cached translation beyond what is mapped: {}", describe_model(side.model.translate(dfn))),
                format!(
                    "the IOTLB still maps dfn {dfn:#x} to mfn {mfn:#x} {} (a cached page of 2^{} bytes at iova {:#x})",
                    page.perm, page.size_log2, page.iova
                ),
            ));
        }
    }
    Ok(())
}
