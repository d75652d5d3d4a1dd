//! Findings: what the runner reports when a check fails, as values a person can act on.

use super::violation::{describe_result, describe_walk, Violation, Walked};
use crate::scenario::Op;
use crate::table::PtError;
use std::fmt;

/// Which check failed. Each has a one-line meaning in [`Check::meaning`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Check {
    /// The table could not even be created.
    Setup,
    /// An operation returned something other than what the specification requires (a wrong
    /// error class, an error where success was due, or success where an error was due).
    Outcome,
    /// The height changed when it must not, or a notify did not grow exactly as needed.
    Height,
    /// An assigned device's DTE does not hold the current root and height, or its root is not
    /// a live table frame.
    Dte,
    /// The hardware walk through a device's DTE disagrees with the model.
    Translation,
    /// The implementation's own lookup disagrees with the model.
    Lookup,
    /// A device that is not assigned can reach memory.
    UnassignedAccess,
    /// The full sweep of every leaf disagrees with the model.
    Sweep,
    /// Table frames are left after teardown.
    TeardownLeak,
    /// An operation that failed changed the tables or the DTEs (leak, half-done growth...).
    FailureNotClean,
    /// A cached DTE differs from the DTE in memory: a DTE changed without
    /// INVALIDATE_DEVTAB_ENTRY and COMPLETION_WAIT.
    StaleDte,
    /// The IOTLB holds a translation the tables no longer grant: a missing or short flush.
    StaleIotlb,
    /// A device's DMA through the IOMMU (caches included) got other than the model grants.
    Dma,
    /// A device can reach a frame that is not a live table frame of the domain (freed,
    /// foreign), or a table frame is mapped as data.
    Ledger,
    /// A live table frame of the domain is not reachable from its root (leaked).
    Leak,
}

impl Check {
    /// A short name, stable for scripts and the minimizer.
    pub fn name(self) -> &'static str {
        match self {
            Check::Setup => "setup",
            Check::Outcome => "outcome",
            Check::Height => "height",
            Check::Dte => "dte",
            Check::Translation => "translation",
            Check::Lookup => "lookup",
            Check::UnassignedAccess => "unassigned-access",
            Check::Sweep => "sweep",
            Check::TeardownLeak => "teardown-leak",
            Check::FailureNotClean => "failure-not-clean",
            Check::StaleDte => "stale-dte",
            Check::StaleIotlb => "stale-iotlb",
            Check::Dma => "dma",
            Check::Ledger => "ledger",
            Check::Leak => "leak",
        }
    }

    /// What failing this check means, for the report.
    pub fn meaning(self) -> &'static str {
        match self {
            Check::Setup => "the page table could not be created",
            Check::Outcome => "the operation's result differs from what the specification requires",
            Check::Height => "the table height changed when it must not, or did not grow exactly as needed",
            Check::Dte => "an assigned device's DTE does not point at the current root with the current height",
            Check::Translation => "a device's DMA, walked in table memory as hardware does, differs from the model",
            Check::Lookup => "the implementation's own lookup differs from the model",
            Check::UnassignedAccess => "a device that is not assigned can reach memory",
            Check::Sweep => "the set of all reachable leaves differs from the model",
            Check::TeardownLeak => "table frames remain after teardown",
            Check::FailureNotClean => "an operation that failed changed the tables or the DTEs",
            Check::StaleDte => "the IOMMU still caches a DTE that was changed in memory (no invalidation)",
            Check::StaleIotlb => "the IOTLB still caches a translation the tables no longer grant (missing flush)",
            Check::Dma => "a device's DMA through the IOMMU and its caches differs from the model",
            Check::Ledger => "a device can reach a frame that is not a live page table of the domain",
            Check::Leak => "a live page-table frame is not reachable from the root (leaked)",
        }
    }

    /// Every check, in declaration order.
    pub const ALL: [Check; 15] = [
        Check::Setup,
        Check::Outcome,
        Check::Height,
        Check::Dte,
        Check::Translation,
        Check::Lookup,
        Check::UnassignedAccess,
        Check::Sweep,
        Check::TeardownLeak,
        Check::FailureNotClean,
        Check::StaleDte,
        Check::StaleIotlb,
        Check::Dma,
        Check::Ledger,
        Check::Leak,
    ];

    /// The check named `name` (as printed by [`Check::name`]).
    pub fn from_name(name: &str) -> Option<Check> {
        Check::ALL.into_iter().find(|c| c.name() == name)
    }
}

/// Where in the run a check failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Creating the tables.
    Setup,
    /// The runner's notification before map number `index`.
    NotifyBefore { index: usize },
    /// Operation number `index` (0-based).
    Op { index: usize },
    /// The final sweep after the last operation.
    Sweep,
}

/// What another implementation gave at the point of a finding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Gave {
    /// Its result for the same call (outcome findings).
    Result(Result<(), PtError>),
    /// Its hardware walk of the same DFN.
    Walk(Walked),
    /// It was torn down.
    TornDown,
    /// It has no DTE to walk through.
    NoDte,
}

impl fmt::Display for Gave {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Gave::Result(r) => f.write_str(&describe_result(r)),
            Gave::Walk(w) => f.write_str(&describe_walk(w)),
            Gave::TornDown => f.write_str("(torn down)"),
            Gave::NoDte => f.write_str("no DTE to walk"),
        }
    }
}

/// A failed check, with everything needed to understand and reproduce it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub check: Check,
    /// The implementation that failed it (`dynamic`, `fixed`, ...).
    pub implementation: String,
    pub phase: Phase,
    /// The operation being checked, if any.
    pub op: Option<Op>,
    pub dfn: Option<u64>,
    pub device: Option<u16>,
    /// The evidence: what the rule requires and what was found.
    pub violation: Violation,
    /// What each other implementation gave at the same point: its result for an outcome
    /// finding, its hardware walk of the same DFN otherwise (empty when not applicable).
    pub others: Vec<(String, Gave)>,
}

impl Finding {
    /// A finding of `violation` in `implementation`; `op` is dropped for setup and sweep phases.
    pub fn new(implementation: &str, phase: Phase, op: &Op, violation: Violation) -> Box<Finding> {
        let op = match phase {
            Phase::Setup | Phase::Sweep => None,
            _ => Some(*op),
        };
        Box::new(Finding {
            check: violation.check(),
            implementation: implementation.to_string(),
            phase,
            op,
            dfn: violation.dfn(),
            device: violation.device(),
            violation,
            others: Vec::new(),
        })
    }

    /// The index of the operation where the finding arose (a notify before a map counts as
    /// that map), `None` for setup and the final sweep.
    pub fn op_index(&self) -> Option<usize> {
        match self.phase {
            Phase::NotifyBefore { index } | Phase::Op { index } => Some(index),
            Phase::Setup | Phase::Sweep => None,
        }
    }

    /// A key that identifies "the same bug" for minimization: check and implementation.
    pub fn signature(&self) -> (Check, String) {
        (self.check, self.implementation.clone())
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "FINDING [{}] in `{}`: {}",
            self.check.name(),
            self.implementation,
            self.check.meaning()
        )?;
        match (self.phase, &self.op) {
            (Phase::Setup, _) => writeln!(f, "  at:       setup")?,
            (Phase::Sweep, _) => writeln!(f, "  at:       final sweep, after the last operation")?,
            (Phase::NotifyBefore { index }, Some(op)) => {
                writeln!(f, "  at:       the runner's notify before op #{index}: `{op}`")?
            }
            (Phase::Op { index }, Some(op)) => writeln!(f, "  at:       op #{index}: `{op}`")?,
            (Phase::NotifyBefore { index } | Phase::Op { index }, None) => {
                writeln!(f, "  at:       op #{index}")?
            }
        }
        if let Some(dev) = self.device {
            writeln!(f, "  device:   {dev}")?;
        }
        if let Some(dfn) = self.dfn {
            writeln!(f, "  dfn:      {dfn:#x} (iova {:#x})", dfn.wrapping_shl(12))?;
        }
        write!(f, "{}", self.violation)?;
        for (name, gave) in &self.others {
            write!(f, "\n  `{name}` gave: {gave}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ptdiff_reference::Perm;

    #[test]
    fn display_names_check_place_and_values() {
        let violation = Violation::Translation {
            dfn: 0x201,
            dev: Some(1),
            expected: Some((0x401, Perm::R)),
            walked: Walked {
                result: Err(ptdiff_reference::Fault::NotPresent { level: 2, spa: 0x4000_2010 }),
                frame: None,
            },
        };
        let mut finding = Finding::new(
            "fixed",
            Phase::Op { index: 3 },
            &Op::Map { dfn: 0x200, mfn: 0x400, order: 9, perm: Perm::R, missed: false },
            violation,
        );
        finding.others.push(("dynamic".into(), Gave::Result(Ok(()))));
        assert_eq!(
            finding.to_string(),
            "FINDING [translation] in `fixed`: a device's DMA, walked in table memory as hardware \
             does, differs from the model\n  at:       op #3: `map 0x200 0x400 9 r`\n  device:   1\n  \
             dfn:      0x201 (iova 0x201000)\n  expected: mfn 0x401 r\n  got:      fault: level-2 \
             entry at 0x40002010 not present (IoPageFault)\n  `dynamic` gave: ok"
        );
        assert_eq!(finding.op_index(), Some(3));
        assert_eq!(finding.signature(), (Check::Translation, "fixed".to_string()));
    }
}
