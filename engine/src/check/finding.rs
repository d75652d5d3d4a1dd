//! Findings: what the runner reports when a check fails, as values a person can act on.

pub use super::names::Check;
use super::violation::{describe_result, describe_walk, Violation, Walked};
use crate::scenario::Op;
use crate::table::PtError;
use std::fmt;

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
    /// The concurrent phase: thread `task`'s op number `op` (0-based in its program), or the
    /// phase as a whole (`op` is then `None` in the finding).
    Concurrent { task: u8, op: usize },
    /// The quiescent point after the concurrent phase.
    Quiescent,
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
            Phase::Setup | Phase::Sweep | Phase::Quiescent => None,
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
            Phase::Setup | Phase::Sweep | Phase::Concurrent { .. } | Phase::Quiescent => None,
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
            (Phase::Concurrent { task, op: index }, Some(op)) => {
                writeln!(f, "  at:       concurrent phase, t{task} op #{index}: `{op}`")?
            }
            (Phase::Concurrent { .. }, None) => writeln!(f, "  at:       concurrent phase")?,
            (Phase::Quiescent, _) => {
                writeln!(f, "  at:       the quiescent point after the concurrent phase")?
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
            &Op::Map { dfn: 0x200, mfn: 0x400, order: 9, perm: Perm::R, missed: false, count: 1 },
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
