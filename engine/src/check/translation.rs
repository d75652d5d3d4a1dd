//! Probe checks over the shared [`ProbeWalks`]: every table a walk reads is a live table frame
//! of the domain (`ledger`), every walk equals the model (`translation`), and the
//! implementation's own lookup equals the model (`lookup`).

use super::probe_walks::ProbeWalks;
use super::subject::Subject;
use super::violation::{Violation, Walked};
use super::Ctx;
use ptdiff_reference::TranslationKind;

/// No probe walk reads a table that is not a live table frame of the domain.
pub fn walk_ledger(_: &Ctx<'_>, subject: &Subject, walks: &ProbeWalks) -> Result<(), Violation> {
    let frames = subject.table.iommu().frames();
    for w in &walks.walks {
        if let Some((level, table)) = w.foreign {
            return Err(Violation::WalkLedger {
                dfn: w.dfn,
                dev: walks.device,
                domain: subject.table.domain_id(),
                level,
                table,
                state: frames.state(table >> 12),
            });
        }
    }
    Ok(())
}

/// Every probe walk translates as the model says: the model's frame with exactly its
/// permissions, or (not mapped) a fault or a leaf that grants nothing.
pub fn translation(_: &Ctx<'_>, subject: &Subject, walks: &ProbeWalks) -> Result<(), Violation> {
    for (w, &expected) in walks.walks.iter().zip(&walks.expected) {
        let agrees = match (expected, &w.result) {
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
            let frame = w
                .result
                .as_ref()
                .ok()
                .and_then(|t| subject.table.iommu().frames().state(t.spa >> 12));
            return Err(Violation::Translation {
                dfn: w.dfn,
                dev: walks.device,
                expected,
                walked: Walked { result: w.result, frame },
            });
        }
    }
    Ok(())
}

/// The implementation's own lookup of every probe equals the model.
pub fn lookup(ctx: &Ctx<'_>, subject: &Subject, walks: &ProbeWalks) -> Result<(), Violation> {
    if subject.torn_down {
        return Ok(());
    }
    for (&dfn, &expected) in ctx.probes.iter().zip(&walks.expected) {
        let got = subject.table.lookup(dfn);
        if got != expected {
            return Err(Violation::Lookup { dfn, expected, got });
        }
    }
    Ok(())
}
