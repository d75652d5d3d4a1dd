//! Typed evidence of a failed check: one variant per way a rule can be broken, carrying the
//! values that show it, and one `Display` that turns it into the report's `expected:` and
//! `got:` lines (in the manner of regalloc2's `CheckerError`). Violations are built only when a
//! check fails, so the passing path formats nothing.

use super::change::{Change, Issued};
use super::names::Check;
use crate::step::LockViolation;
use crate::substrate::frames::FrameState;
use crate::table::{ErrorClass, Perm, PtError};
use ptdiff_reference::{CachedPage, Dte, EnumerateError, Fault, Translation, TranslationKind};
use std::fmt;

/// A translation as the model states it: `None` = not mapped.
pub type Mapping = Option<(u64, Perm)>;

/// What an oracle walk gave, with what the ledger said of the frame it reached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Walked {
    pub result: Result<Translation, Fault>,
    /// The ledger's state of the frame the walk translated to, if it translated.
    pub frame: Option<FrameState>,
}

/// A table's top: its root SPA (`None` after teardown) and its height.
pub type Top = (Option<u64>, u8);

/// What a failed operation changed, when it must have changed nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StateChange {
    /// Table frames allocated and still live.
    pub leaked: Vec<u64>,
    /// Table frames that were live and are now freed.
    pub freed: Vec<u64>,
    /// `(device, qword 0 before, qword 0 after)` of every DTE that differs.
    pub dtes: Vec<(u16, u64, u64)>,
    /// `((root, levels) before, (root, levels) after)` when the top changed.
    pub top: Option<(Top, Top)>,
}

impl StateChange {
    /// True when nothing changed.
    pub fn is_empty(&self) -> bool {
        self.leaked.is_empty()
            && self.freed.is_empty()
            && self.dtes.is_empty()
            && self.top.is_none()
    }
}

/// One broken rule, with its evidence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Violation {
    /// Creating the table failed.
    Setup { error: PtError },
    /// The result's class differs from the specification's.
    Outcome { expected: Result<(), ErrorClass>, got: Result<(), PtError> },
    /// A failed operation changed the tables, the DTEs or the top.
    FailureNotClean { error: PtError, change: Box<StateChange> },
    /// A failed range reported `done` of its `pages` pages completed, which only a range that
    /// ran out of memory before its last page may (`done` below `pages`, and 0 for any other
    /// error).
    RangeProgress { error: PtError, done: u64, pages: u64 },
    /// A notify did not grow to exactly the height the DFN needs.
    NotifyHeight { dfn: u64, before: u8, want: u8, needed: u8, got: u8 },
    /// An operation other than notify changed the height (`want` is what it had to keep or,
    /// for teardown, 0).
    HeightChanged { keyword: &'static str, want: u8, got: u8 },
    /// An assigned device's DTE cannot be read.
    DteUnreadable { dev: u16, fault: Fault },
    /// An assigned device's DTE is not (V, TV, IR, IW, current root and height), or its root is
    /// not a live table frame of the domain.
    DteWrong {
        dev: u16,
        levels: u8,
        root: Option<u64>,
        domain: u16,
        dte: Dte,
        root_state: Option<FrameState>,
    },
    /// An unassigned device's DTE cannot be read.
    UnassignedDteUnreadable { dev: u16, fault: Fault },
    /// A device that is not assigned reaches memory.
    UnassignedReaches { dev: u16, dfn: u64, access: Perm, walked: Walked },
    /// The oracle's walk differs from the model.
    Translation { dfn: u64, dev: Option<u16>, expected: Mapping, walked: Walked },
    /// A walk read a table that is not a live table frame of the domain.
    WalkLedger {
        dfn: u64,
        dev: Option<u16>,
        domain: u16,
        level: u8,
        table: u64,
        state: Option<FrameState>,
    },
    /// The implementation's own lookup differs from the model.
    Lookup { dfn: u64, expected: Mapping, got: Mapping },
    /// A cached DTE differs from memory.
    StaleDte { dev: u16, memory: Option<Dte>, cached: Dte },
    /// A cached page grants what the model no longer grants.
    StaleIotlb { dfn: u64, mfn: u64, page: CachedPage, model: Mapping },
    /// A changed translation lies outside every completed invalidation of the operation
    /// (`change` is the first uncovered run); `issued` lists the operation's
    /// INVALIDATE_IOMMU_PAGES.
    Unflushed { change: Change, domain: u16, issued: Vec<Issued> },
    /// A `dma` operation got other than the model grants.
    Dma { dev: u16, dfn: u64, access: Perm, assigned: bool, model: Mapping, walked: Walked },
    /// Table frames remain after teardown.
    TeardownLeak { count: usize, first: u64 },
    /// The sweep found no DTE to enumerate from.
    SweepNoDte,
    /// The tree could not be enumerated.
    SweepNotEnumerable { error: EnumerateError },
    /// The DTE does not translate (blocked or pass-through).
    SweepNotTranslating { reach: String },
    /// A reachable table is not a live table frame of the domain.
    SweepLedger { domain: u16, level: u8, table: u64, state: Option<FrameState> },
    /// Live table frames that are not reachable.
    Leak { pfns: Vec<u64> },
    /// A leaf maps a live table frame the model does not ask for.
    TableMappedAsData { dfn: u64, pfn: u64 },
    /// The set of leaves differs from the model.
    SweepDifference { dfn: u64, expected: Mapping, got: Mapping },
    /// In a concurrent run, `event` saw or returned `got`, and only `allowed` is explained by
    /// some order of the operations in flight; `schedule` says how the run got there.
    Linearizability { event: String, allowed: String, got: String, schedule: String },
    /// The operation ran out of steps.
    StepBudget { steps: u64 },
    /// The operation waits forever for a lock.
    Deadlock { lock: &'static str },
    /// A lock rule was broken (a resource rule, the lock order, hygiene, or the entry contract
    /// of the call site).
    Lock(Box<LockViolation>),
}

impl Violation {
    /// The check this violation fails.
    pub fn check(&self) -> Check {
        match self {
            Violation::Setup { .. } => Check::Setup,
            Violation::Outcome { .. } => Check::Outcome,
            Violation::FailureNotClean { .. } | Violation::RangeProgress { .. } => {
                Check::FailureNotClean
            }
            Violation::NotifyHeight { .. } | Violation::HeightChanged { .. } => Check::Height,
            Violation::DteUnreadable { .. } | Violation::DteWrong { .. } => Check::Dte,
            Violation::UnassignedDteUnreadable { .. } | Violation::UnassignedReaches { .. } => {
                Check::UnassignedAccess
            }
            Violation::Translation { .. } => Check::Translation,
            Violation::WalkLedger { .. }
            | Violation::SweepLedger { .. }
            | Violation::TableMappedAsData { .. } => Check::Ledger,
            Violation::Lookup { .. } => Check::Lookup,
            Violation::StaleDte { .. } => Check::StaleDte,
            Violation::StaleIotlb { .. } => Check::StaleIotlb,
            Violation::Unflushed { .. } => Check::Flush,
            Violation::Dma { .. } => Check::Dma,
            Violation::TeardownLeak { .. } => Check::TeardownLeak,
            Violation::SweepNoDte
            | Violation::SweepNotEnumerable { .. }
            | Violation::SweepNotTranslating { .. }
            | Violation::SweepDifference { .. } => Check::Sweep,
            Violation::Leak { .. } => Check::Leak,
            Violation::Linearizability { .. } => Check::Linearizability,
            Violation::StepBudget { .. } => Check::StepBudget,
            Violation::Deadlock { .. } => Check::Deadlock,
            Violation::Lock(v) if v.rule.blames_caller() => Check::Protocol,
            Violation::Lock(v) if v.rule.is_order() => Check::LockOrder,
            Violation::Lock(_) => Check::LockRule,
        }
    }

    /// The DFN the violation is about, if any.
    pub fn dfn(&self) -> Option<u64> {
        match *self {
            Violation::NotifyHeight { dfn, .. }
            | Violation::UnassignedReaches { dfn, .. }
            | Violation::Translation { dfn, .. }
            | Violation::WalkLedger { dfn, .. }
            | Violation::Lookup { dfn, .. }
            | Violation::StaleIotlb { dfn, .. }
            | Violation::Dma { dfn, .. }
            | Violation::TableMappedAsData { dfn, .. }
            | Violation::SweepDifference { dfn, .. } => Some(dfn),
            Violation::Unflushed { change, .. } => Some(change.first),
            _ => None,
        }
    }

    /// The device the violation is about, if any.
    pub fn device(&self) -> Option<u16> {
        match *self {
            Violation::DteUnreadable { dev, .. }
            | Violation::DteWrong { dev, .. }
            | Violation::UnassignedDteUnreadable { dev, .. }
            | Violation::UnassignedReaches { dev, .. }
            | Violation::StaleDte { dev, .. }
            | Violation::Dma { dev, .. } => Some(dev),
            Violation::Translation { dev, .. } | Violation::WalkLedger { dev, .. } => dev,
            _ => None,
        }
    }

    /// What the rule requires, in words.
    pub fn expected(&self) -> String {
        match self {
            Violation::Setup { .. } => "a fresh table".into(),
            Violation::Outcome { expected, .. } => describe_expected(*expected),
            Violation::FailureNotClean { error, .. } => {
                format!("{} changes nothing", describe_result(&Err(*error)))
            }
            Violation::RangeProgress { error, pages, .. }
                if error.class() == ErrorClass::NoMemory =>
            {
                format!("{} after fewer than all {pages} pages", describe_result(&Err(*error)))
            }
            Violation::RangeProgress { error, .. } => {
                format!("{} after no page (found before any change)", describe_result(&Err(*error)))
            }
            Violation::NotifyHeight { before, want, needed, .. } => {
                format!("{want} levels after notify (was {before}, dfn needs {needed})")
            }
            Violation::HeightChanged { keyword, want, .. } => {
                format!("{want} levels ({keyword} must not change the height)")
            }
            Violation::DteUnreadable { .. } => "a readable DTE".into(),
            Violation::DteWrong { levels, root, domain, .. } => format!(
                "V=1 TV=1 IR=IW=1 mode {levels} root {:#x} (a live table of domain {domain})",
                root.unwrap_or(0)
            ),
            Violation::UnassignedDteUnreadable { .. } => "a readable, blocking DTE".into(),
            Violation::UnassignedReaches { dev, access, .. } => {
                format!("device {dev} is not assigned: a {access} access faults")
            }
            Violation::Translation { expected, .. }
            | Violation::Lookup { expected, .. }
            | Violation::SweepDifference { expected, .. } => describe_mapping(*expected),
            Violation::WalkLedger { domain, .. } => {
                format!("every table on the walk is a live table frame of domain {domain}")
            }
            Violation::StaleDte { memory, .. } => format!(
                "the cached DTE equals memory: qword 0 {}",
                memory.map_or("unreadable".to_string(), |d| format!("{:#018x}", d.0[0]))
            ),
            Violation::StaleIotlb { model, .. } => {
                format!("no cached translation beyond what is mapped: {}", describe_mapping(*model))
            }
            Violation::Unflushed { domain, .. } => format!(
                "every translation removed, narrowed or redirected inside an INVALIDATE_IOMMU_PAGES of domain {domain} completed (COMPLETION_WAIT) by the operation"
            ),
            Violation::Dma { dev, access, assigned, model, .. } => {
                match model.filter(|(_, p)| *assigned && p.allows(*access)) {
                    Some((mfn, _)) => format!("a {access} access to mfn {mfn:#x}"),
                    None if !assigned => format!("a fault: device {dev} is not assigned"),
                    None => format!("a fault: the model grants {}", describe_mapping(*model)),
                }
            }
            Violation::TeardownLeak { .. } => "no table frame of the domain".into(),
            Violation::SweepNoDte => "a DTE to enumerate from".into(),
            Violation::SweepNotEnumerable { .. } => "an enumerable page table".into(),
            Violation::SweepNotTranslating { .. } => "a translating page table".into(),
            Violation::SweepLedger { domain, .. } => {
                format!("every reachable table is a live table frame of domain {domain}")
            }
            Violation::Leak { .. } => {
                "every live table frame of the domain is reachable from its root".into()
            }
            Violation::TableMappedAsData { .. } => "no page-table frame mapped as data".into(),
            Violation::Linearizability { event, allowed, .. } => {
                format!("{event}: one of {allowed}")
            }
            Violation::StepBudget { .. } => "an operation that ends within its step budget".into(),
            Violation::Deadlock { .. } => "every lock taken is eventually free".into(),
            Violation::Lock(v) => v.rule.to_string(),
        }
    }

    /// What the implementation or the hardware walk gave, in words.
    pub fn got(&self) -> String {
        match self {
            Violation::Setup { error } => error.to_string(),
            Violation::Outcome { got, .. } => describe_result(got),
            Violation::FailureNotClean { change, .. } => describe_change(change),
            Violation::RangeProgress { done, pages, .. } => {
                format!("reported {done} of {pages} pages done")
            }
            Violation::NotifyHeight { got, .. } | Violation::HeightChanged { got, .. } => {
                format!("{got} levels")
            }
            Violation::DteUnreadable { fault, .. }
            | Violation::UnassignedDteUnreadable { fault, .. } => format!("fault: {fault}"),
            Violation::DteWrong { dte, root_state, .. } => format!(
                "V={} TV={} perm {} mode {} root {:#x} ({})",
                u8::from(dte.valid()),
                u8::from(dte.translation_valid()),
                dte.perm(),
                dte.mode(),
                dte.root(),
                describe_state(*root_state)
            ),
            Violation::UnassignedReaches { walked, .. }
            | Violation::Translation { walked, .. }
            | Violation::Dma { walked, .. } => describe_walk(walked),
            Violation::WalkLedger { level, table, state, .. } => format!(
                "the walk reads a level-{level} table at {table:#x}, {}",
                describe_state(*state)
            ),
            Violation::Lookup { got, .. } | Violation::SweepDifference { got, .. } => {
                describe_mapping(*got)
            }
            Violation::StaleDte { cached, .. } => format!(
                "the IOMMU still uses qword 0 {:#018x} (root {:#x}, mode {}): no completed INVALIDATE_DEVTAB_ENTRY",
                cached.0[0],
                cached.root(),
                cached.mode()
            ),
            Violation::StaleIotlb { dfn, mfn, page, .. } => format!(
                "the IOTLB still maps dfn {dfn:#x} to mfn {mfn:#x} {} (a cached page of 2^{} bytes at iova {:#x})",
                page.perm, page.size_log2, page.iova
            ),
            Violation::Unflushed { change, issued, .. } => describe_unflushed(change, issued),
            Violation::TeardownLeak { count, first } => {
                format!("{count} live table frame(s), first at pfn {first:#x}")
            }
            Violation::SweepNoDte => "no root and no readable DTE".into(),
            Violation::SweepNotEnumerable { error } => error.to_string(),
            Violation::SweepNotTranslating { reach } => reach.clone(),
            Violation::SweepLedger { level, table, state, .. } => format!(
                "a level-{level} table at {table:#x} is {}",
                describe_state(*state)
            ),
            Violation::Leak { pfns } => format!(
                "{} unreachable table frame(s): pfn {}",
                pfns.len(),
                hex_list(pfns)
            ),
            Violation::TableMappedAsData { dfn, pfn } => {
                format!("dfn {dfn:#x} translates to the live table frame {pfn:#x}")
            }
            Violation::Linearizability { got, schedule, .. } => format!("{got}\n{schedule}"),
            Violation::StepBudget { steps } => format!("still running after {steps} steps"),
            Violation::Deadlock { lock } => format!("waits forever for the {lock} lock"),
            Violation::Lock(v) => v.context(),
        }
    }
}

impl fmt::Display for Violation {
    /// The report's two evidence lines.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "  expected: {}", self.expected())?;
        write!(f, "  got:      {}", self.got())
    }
}

/// Most invalidations an `Unflushed` report lists.
const ISSUED_LISTED: usize = 8;

fn describe_unflushed(change: &Change, issued: &[Issued]) -> String {
    let (mfn, perm) = change.before;
    let mut out = format!(
        "dfns {:#x}..={:#x} (iova {:#x}..={:#x}) {}: was mfn {mfn:#x} {perm}, now {}; the \
         operation issued ",
        change.first,
        change.last,
        change.first.wrapping_shl(12),
        change.last.wrapping_shl(12) | 0xfff,
        change.kind,
        describe_mapping(change.after),
    );
    if issued.is_empty() {
        out.push_str("no INVALIDATE_IOMMU_PAGES");
    } else {
        let listed: Vec<String> =
            issued.iter().take(ISSUED_LISTED).map(|i| i.to_string()).collect();
        out.push_str(&format!("INVALIDATE_IOMMU_PAGES of {}", listed.join(", ")));
        if issued.len() > ISSUED_LISTED {
            out.push_str(&format!(" and {} more", issued.len() - ISSUED_LISTED));
        }
    }
    out
}

fn hex_list(pfns: &[u64]) -> String {
    pfns.iter().map(|p| format!("{p:#x}")).collect::<Vec<_>>().join(", ")
}

/// An operation's result in words.
pub fn describe_result(result: &Result<(), PtError>) -> String {
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

/// A model translation in words.
pub fn describe_mapping(entry: Mapping) -> String {
    match entry {
        Some((mfn, perm)) => format!("mfn {mfn:#x} {perm}"),
        None => "not mapped (every access faults)".to_string(),
    }
}

/// An oracle walk in words, flagging a translation to a table frame or the device table.
pub fn describe_walk(walked: &Walked) -> String {
    match &walked.result {
        Ok(t) => {
            let frame = t.spa >> 12;
            let what = match walked.frame {
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

/// What the ledger says a frame is, in words, for a frame that should be a live table.
pub fn describe_state(state: Option<FrameState>) -> &'static str {
    match state {
        Some(FrameState::Table { .. }) => "a table frame of another domain",
        Some(FrameState::Freed) => "a freed (poisoned) table frame",
        Some(FrameState::DeviceTable) => "the device table",
        None => "not a table frame",
    }
}

fn describe_change(change: &StateChange) -> String {
    let mut parts = Vec::new();
    if !change.leaked.is_empty() {
        parts.push(format!(
            "{} table frame(s) left allocated (leaked): pfn {}",
            change.leaked.len(),
            hex_list(&change.leaked)
        ));
    }
    if !change.freed.is_empty() {
        parts.push(format!(
            "{} table frame(s) freed: pfn {}",
            change.freed.len(),
            hex_list(&change.freed)
        ));
    }
    for (dev, before, after) in &change.dtes {
        parts.push(format!("device {dev}'s DTE changed from {before:#018x} to {after:#018x}"));
    }
    if let Some(((root_before, levels_before), (root_after, levels_after))) = change.top {
        parts.push(format!(
            "root/height changed from {root_before:?}/{levels_before} to {root_after:?}/{levels_after}"
        ));
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidence_lines_name_values() {
        let v = Violation::Lookup { dfn: 0x10, expected: Some((0x20, Perm::RW)), got: None };
        assert_eq!(v.check(), Check::Lookup);
        assert_eq!((v.dfn(), v.device()), (Some(0x10), None));
        assert_eq!(
            v.to_string(),
            "  expected: mfn 0x20 rw\n  got:      not mapped (every access faults)"
        );
        let change = StateChange {
            leaked: vec![0x40001, 0x40002],
            dtes: vec![(1, 3, 0x6000_0000_0004_0603)],
            ..StateChange::default()
        };
        let v = Violation::FailureNotClean { error: PtError::NoMemory, change: Box::new(change) };
        assert_eq!(
            v.got(),
            "2 table frame(s) left allocated (leaked): pfn 0x40001, 0x40002; device 1's DTE \
             changed from 0x0000000000000003 to 0x6000000000040603"
        );
        assert_eq!(v.expected(), "error `out of table memory` (NoMemory) changes nothing");
    }
}
