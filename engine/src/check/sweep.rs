//! The final checks, after the last operation: the whole tree is enumerated once from the DTE
//! of the lowest assigned device (or the DTE a device would get) and shared by the checks
//! below. Every reachable table is a live table frame of the domain (`ledger`), every live
//! table frame is reachable (`leak`), no leaf maps a table frame the model does not ask for
//! (`ledger`), and the leaves translate exactly as the model (`sweep`).

use super::subject::Subject;
use super::violation::Violation;
use crate::table::Perm;
use ptdiff_reference::{enumerate_tree, Dte, Leaf, Reach, TableRef, WalkConfig};

/// Most leaves and tables the final sweep enumerates before giving up.
pub const SWEEP_BUDGET: usize = 1 << 20;

/// One implementation's enumerated tree, or why it could not be enumerated.
pub struct Enumerated {
    pub device: Option<u16>,
    /// The leaves in IOVA order and the tables reached, or the violation that prevents
    /// enumerating them.
    pub tree: Result<(Vec<Leaf>, Vec<TableRef>), Violation>,
    /// The live table frames of the domain, sorted.
    pub live: Vec<u64>,
}

impl Enumerated {
    /// Enumerates `subject`'s tree (not torn down).
    pub fn of(walk: &WalkConfig, subject: &Subject) -> Enumerated {
        let iommu = subject.table.iommu();
        let mem = iommu.memory();
        let domain = subject.table.domain_id();
        let live = iommu.frames().live_tables(domain).collect();
        let (device, dte) = match subject.assigned.first() {
            Some(dev) => (Some(dev), iommu.device_table().read(mem, dev).ok()),
            None => (
                None,
                subject
                    .table
                    .root()
                    .map(|r| Dte::translating(r, subject.table.levels(), Perm::RW, domain)),
            ),
        };
        let tree = match dte {
            None => Err(Violation::SweepNoDte),
            Some(dte) => match enumerate_tree(mem, walk, &dte, SWEEP_BUDGET) {
                Err(error) => Err(Violation::SweepNotEnumerable { error }),
                Ok(tree) => match tree.reach {
                    Reach::Table(leaves) => Ok((leaves, tree.tables)),
                    other => Err(Violation::SweepNotTranslating { reach: format!("{other:?}") }),
                },
            },
        };
        Enumerated { device, tree, live }
    }
}

/// The tree could be enumerated, and it translates (not blocked, not pass-through).
pub fn enumerable(_: &Subject, e: &Enumerated) -> Result<(), Violation> {
    e.tree.as_ref().map(|_| ()).map_err(Clone::clone)
}

/// Every reachable table is a live table frame of the domain.
pub fn reachable_tables_live(subject: &Subject, e: &Enumerated) -> Result<(), Violation> {
    let Ok((_, tables)) = &e.tree else { return Ok(()) };
    for t in tables {
        if e.live.binary_search(&(t.spa >> 12)).is_err() {
            return Err(Violation::SweepLedger {
                domain: subject.table.domain_id(),
                level: t.level,
                table: t.spa,
                state: subject.table.iommu().frames().state(t.spa >> 12),
            });
        }
    }
    Ok(())
}

/// Every live table frame of the domain is reachable.
pub fn leak(_: &Subject, e: &Enumerated) -> Result<(), Violation> {
    let Ok((_, tables)) = &e.tree else { return Ok(()) };
    let mut reachable: Vec<u64> = tables.iter().map(|t| t.spa >> 12).collect();
    reachable.sort_unstable();
    let pfns: Vec<u64> =
        e.live.iter().copied().filter(|p| reachable.binary_search(p).is_err()).collect();
    if pfns.is_empty() {
        Ok(())
    } else {
        Err(Violation::Leak { pfns })
    }
}

/// No leaf maps a live table frame, unless the model maps that very frame there.
pub fn no_table_as_data(subject: &Subject, e: &Enumerated) -> Result<(), Violation> {
    let Ok((leaves, _)) = &e.tree else { return Ok(()) };
    for leaf in leaves {
        let first = leaf.spa >> 12;
        let frames = 1u64 << leaf.slot_log2.saturating_sub(12).min(63);
        let at = e.live.partition_point(|&p| p < first);
        if let Some(&pfn) = e.live.get(at).filter(|&&p| p < first.saturating_add(frames)) {
            let dfn = (leaf.iova >> 12) + (pfn - first);
            if subject.model.translate(dfn).map(|(mfn, _)| mfn) != Some(pfn) {
                return Err(Violation::TableMappedAsData { dfn, pfn });
            }
        }
    }
    Ok(())
}

/// The leaves translate exactly as the model.
pub fn leaves_equal_model(subject: &Subject, e: &Enumerated) -> Result<(), Violation> {
    let Ok((leaves, _)) = &e.tree else { return Ok(()) };
    match subject.model.first_difference_from_leaves(leaves) {
        Some(diff) => Err(Violation::SweepDifference {
            dfn: diff.dfn,
            expected: diff.expected,
            got: diff.got,
        }),
        None => Ok(()),
    }
}
