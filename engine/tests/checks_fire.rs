//! Every check of the runner can fire: each mutant below wraps the built-in fixed table and
//! breaks exactly one rule, and the runner must report exactly the matching check. This does
//! not depend on the planted bugs (which are compiled in only with `planted-bugs`).

mod common;

use common::mutant::{Misbehaviour, Mutant};
use ptdiff::scenario::text;
use ptdiff::tables::fixed::Fixed;
use ptdiff::{run_tables, Check, PageTable, Perm, PtError};

/// How a mutant misbehaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mutation {
    /// `lookup` forgets everything.
    LyingLookup,
    /// `map` accepts order 5.
    AcceptsBadOrder,
    /// `map` also maps `dfn + 7` (a mapping the model does not have, off the probe set).
    ExtraMapping,
    /// `map` also allocates a table it never links (a leak).
    LeaksTable,
    /// `map` links root entry 511 to the device table, as if it were a level-3 table.
    ForeignTable,
    /// `teardown` leaves one table frame allocated.
    TeardownKeepsTable,
    /// `map` allocates a table, then a second one; when the second allocation fails it
    /// returns `NoMemory` without freeing the first.
    DirtyFailure,
    /// `unmap` of one 4 KiB page clears its PTE in memory and issues no invalidation.
    SilentUnmap,
}

impl Mutation {
    fn boxed(self) -> Box<dyn PageTable> {
        Mutant::boxed("mutant", Box::new(Fixed::new(1).unwrap()), self)
    }
}

impl Misbehaviour for Mutation {
    fn map(
        &self,
        inner: &mut dyn PageTable,
        dfn: u64,
        mfn: u64,
        order: u32,
        perm: Perm,
    ) -> Result<(), PtError> {
        match self {
            Mutation::AcceptsBadOrder if order == 5 => return Ok(()),
            Mutation::DirtyFailure => {
                let first = inner.iommu_mut().alloc_table(1)?;
                inner.iommu_mut().alloc_table(1)?;
                inner.iommu_mut().free_table(first)?;
            }
            _ => {}
        }
        inner.map(dfn, mfn, order, perm)?;
        match self {
            Mutation::ExtraMapping => inner.map(dfn + 7, mfn + 7, 0, perm)?,
            Mutation::LeaksTable => {
                inner.iommu_mut().alloc_table(1)?;
            }
            Mutation::ForeignTable => {
                let root = inner.root().unwrap_or(0);
                // PR | NL=3 | address 0x1000 (the device table) | IR | IW.
                let pde = 1 | (3 << 9) | 0x1000 | (3 << 61);
                inner.iommu_mut().write_entry(root + 511 * 8, pde)?;
            }
            _ => {}
        }
        Ok(())
    }
    fn unmap(&self, inner: &mut dyn PageTable, dfn: u64, order: u32) -> Result<(), PtError> {
        if *self != Mutation::SilentUnmap || order != 0 {
            return inner.unmap(dfn, order);
        }
        // Down the four levels to the PTE (PDE addresses are bits 51:12), and clear it.
        let mut table = inner.root().ok_or(PtError::TornDown)?;
        for level in (2..=4).rev() {
            let index = (dfn >> (9 * (level - 1))) & 511;
            table = inner.iommu().read_entry(table + 8 * index)? & 0x000f_ffff_ffff_f000;
        }
        Ok(inner.iommu_mut().write_entry(table + 8 * (dfn & 511), 0)?)
    }
    fn lookup(&self, inner: &dyn PageTable, dfn: u64) -> Option<(u64, Perm)> {
        match self {
            Mutation::LyingLookup => None,
            _ => inner.lookup(dfn),
        }
    }
    fn teardown(&self, inner: &mut dyn PageTable) -> Result<(), PtError> {
        inner.teardown()?;
        if *self == Mutation::TeardownKeepsTable {
            inner.iommu_mut().alloc_table(1)?;
        }
        Ok(())
    }
}

/// Runs `scenario` on the mutant and a correct fixed table; returns the check that fired.
fn fired(mutation: Mutation, scenario: &str) -> Option<Check> {
    let scenario = text::parse(scenario).unwrap();
    let tables = vec![mutation.boxed(), Box::new(Fixed::new(1).unwrap()) as Box<dyn PageTable>];
    let finding = run_tables(&scenario, tables).unwrap().finding?;
    assert_eq!(finding.implementation, "mutant", "{finding}");
    Some(finding.check)
}

const HEADER: &str = "config initial_levels=4 max_levels=4 devices=1\nassign 0\n";

#[test]
fn the_mutants_behave_without_their_trigger() {
    // A scenario that never maps: none of the map mutations can show.
    for mutation in [
        Mutation::LyingLookup,
        Mutation::AcceptsBadOrder,
        Mutation::ExtraMapping,
        Mutation::LeaksTable,
    ] {
        assert_eq!(fired(mutation, &format!("{HEADER}notify 0x5\n")), None, "{mutation:?}");
    }
}

#[test]
fn lookup_check_fires() {
    assert_eq!(
        fired(Mutation::LyingLookup, &format!("{HEADER}map 0x10 0x20 0 rw\n")),
        Some(Check::Lookup)
    );
}

#[test]
fn outcome_check_fires() {
    assert_eq!(
        fired(Mutation::AcceptsBadOrder, &format!("{HEADER}map 0x0 0x0 5 rw\n")),
        Some(Check::Outcome)
    );
}

#[test]
fn sweep_check_fires() {
    assert_eq!(
        fired(Mutation::ExtraMapping, &format!("{HEADER}map 0x10 0x20 0 rw\n")),
        Some(Check::Sweep)
    );
}

#[test]
fn dma_check_fires() {
    assert_eq!(
        fired(Mutation::ExtraMapping, &format!("{HEADER}map 0x10 0x20 0 rw\ndma 0 0x17 r\n")),
        Some(Check::Dma)
    );
}

#[test]
fn leak_check_fires() {
    assert_eq!(
        fired(Mutation::LeaksTable, &format!("{HEADER}map 0x10 0x20 0 rw\n")),
        Some(Check::Leak)
    );
}

#[test]
fn ledger_check_fires() {
    assert_eq!(
        fired(Mutation::ForeignTable, &format!("{HEADER}map 0x10 0x20 0 rw\n")),
        Some(Check::Ledger)
    );
}

#[test]
fn flush_check_fires_where_no_device_cached_the_page() {
    // No device is assigned, so nothing is cached: only the flush rule sees the missing
    // invalidation.
    let quiet = "config initial_levels=4 max_levels=4 devices=1\nmap 0x10 0x20 0 rw\n";
    assert_eq!(fired(Mutation::SilentUnmap, &format!("{quiet}unmap 0x10 0\n")), Some(Check::Flush));
    // Unmapping what is not mapped changes no translation: no flush is due.
    assert_eq!(fired(Mutation::SilentUnmap, &format!("{quiet}unmap 0x11 0\n")), None);
    // A device that cached the page sees the stale translation first (`stale-iotlb`).
    assert_eq!(
        fired(Mutation::SilentUnmap, &format!("{HEADER}map 0x10 0x20 0 rw\nunmap 0x10 0\n")),
        Some(Check::StaleIotlb)
    );
}

#[test]
fn flush_report_names_the_range_the_change_and_the_invalidations() {
    let scenario = text::parse("config devices=1\nmap 0x10 0x20 0 rw\nunmap 0x10 0\n").unwrap();
    let tables = vec![Mutation::SilentUnmap.boxed(), Box::new(Fixed::new(1).unwrap()) as _];
    let finding = run_tables(&scenario, tables).unwrap().finding.unwrap();
    assert_eq!(
        finding.violation.got(),
        "dfns 0x10..=0x10 (iova 0x10000..=0x10fff) removed: was mfn 0x20 rw, now not mapped \
         (every access faults); the operation issued no INVALIDATE_IOMMU_PAGES"
    );
    assert_eq!(finding.dfn, Some(0x10));
}

#[test]
fn teardown_leak_check_fires() {
    assert_eq!(
        fired(Mutation::TeardownKeepsTable, &format!("{HEADER}teardown\n")),
        Some(Check::TeardownLeak)
    );
}

#[test]
fn failure_not_clean_check_fires_and_a_clean_failure_passes() {
    assert_eq!(
        fired(Mutation::DirtyFailure, &format!("{HEADER}fail 2\nmap 0x10 0x20 0 rw\n")),
        Some(Check::FailureNotClean)
    );
    // The correct table failing the same allocation is clean (and both failing is fine).
    let clean =
        text::parse(&format!("{HEADER}fail 1\nmap 0x10 0x20 0 rw\nmap 0x10 0x20 0 rw\n")).unwrap();
    let tables: Vec<Box<dyn PageTable>> =
        vec![Box::new(Fixed::new(1).unwrap()), Box::new(Fixed::new(1).unwrap())];
    let report = run_tables(&clean, tables).unwrap();
    assert_eq!(report.finding, None);
    assert_eq!(report.stats.alloc_failures, 2);
}
