//! Planted bugs at the [`PageTable`] boundary: each adds behaviour around the real operation,
//! so it fits a table of any implementation. They read and write the wrapped table's memory
//! as hardware lays it out (amd-vi.md 2).

use super::wrapper::{Boundary, Wrapper};
use super::Mechanism;
use crate::check::expect::{range_last, span};
use crate::substrate::commands::Command;
use crate::substrate::frames::FrameState;
use crate::table::{PageTable, PagesError, Perm, PtError};
use ptdiff_reference::format::{ADDR_MASK, NL_MASK, NL_SHIFT, PR};

/// The catalogue's mechanism for the wrapper bug `B`.
pub(super) fn wrapper<B: Boundary + 'static>() -> Mechanism {
    Mechanism::Wrapper(|inner| Box::new(Wrapper::<B>::new(inner)))
}

/// Entries per table.
const ENTRIES: u64 = 512;

/// Index of `dfn`'s entry in a level-`level` table.
fn index(dfn: u64, level: u8) -> u64 {
    (dfn >> (9 * u32::from(level - 1))) & (ENTRIES - 1)
}

/// The table a present `raw` entry of a level-`level` table points to, when it is a PDE.
fn next_table(raw: u64, level: u8) -> Option<u64> {
    let next_level = (raw >> NL_SHIFT) & NL_MASK;
    (raw & PR != 0 && level > 1 && next_level != 0 && next_level != 7).then_some(raw & ADDR_MASK)
}

/// Frees the level-`level` table at `table` and every table below it, children in entry
/// order first.
fn free_subtree(t: &mut dyn PageTable, table: u64, level: u8) -> Result<(), PtError> {
    for i in 0..ENTRIES {
        if let Some(child) = next_table(t.iommu().read_entry(table + 8 * i)?, level) {
            free_subtree(t, child, level - 1)?;
        }
    }
    Ok(t.iommu_mut().free_table(table)?)
}

/// S5 (Linux dce043c07ca1, bug-patterns.md S5): after installing superpages, the entry after
/// the last one in the same table is cleared too, as if the cleared range were rounded up.
/// The neighbour's mapping disappears without an IOTLB invalidation; a table it pointed to is
/// freed.
#[derive(Debug, Default)]
pub(super) struct Overclear;

impl Boundary for Overclear {
    fn map_pages(
        &mut self,
        inner: &mut dyn PageTable,
        dfn: u64,
        mfn: u64,
        order: u32,
        count: u64,
        perm: Perm,
    ) -> Result<(), PagesError> {
        inner.map_pages(dfn, mfn, order, count, perm)?;
        let (Some(table), Some(last), true) =
            (inner.root(), range_last(dfn, order, count), order > 0)
        else {
            return Ok(());
        };
        Ok(overclear_after(inner, table, last)?)
    }
}

/// Clears the entry after the one holding the leaf of `last`, in the same table (none when
/// that leaf is the table's last), freeing a table it pointed to.
fn overclear_after(inner: &mut dyn PageTable, mut table: u64, last: u64) -> Result<(), PtError> {
    // The table holding the mapping's last leaf: follow PDEs from the root.
    let mut level = inner.levels();
    while let Some(child) =
        next_table(inner.iommu().read_entry(table + 8 * index(last, level))?, level)
    {
        table = child;
        level -= 1;
    }
    let next = index(last, level) + 1;
    if next == ENTRIES {
        return Ok(());
    }
    let slot = table + 8 * next;
    let old = inner.iommu().read_entry(slot)?;
    inner.iommu_mut().write_entry(slot, 0)?;
    match next_table(old, level) {
        Some(subtree) => free_subtree(inner, subtree, level - 1),
        None => Ok(()),
    }
}

/// Xen ad591454f0 (the bug it fixed): an unmap whose range lies beyond the current height but
/// within the maximum one grows the table first, as a map would after its notification.
#[derive(Debug, Default)]
pub(super) struct UnmapGrows;

impl Boundary for UnmapGrows {
    fn unmap_pages(
        &mut self,
        inner: &mut dyn PageTable,
        dfn: u64,
        order: u32,
        count: u64,
    ) -> Result<(), PagesError> {
        let aligned = inner.page_orders().contains(order) && dfn & ((1 << order) - 1) == 0;
        if let (true, true, Some(last)) =
            (inner.levels() > 0, aligned, range_last(dfn, order, count))
        {
            if last >= span(inner.levels()) && last < span(inner.max_levels()) {
                inner.notify_dfn(last)?;
            }
        }
        inner.unmap_pages(dfn, order, count)
    }
}

/// RANGE-DONE: a range map that fails part-way reports that it completed no page (a
/// `map_pages` that returns its error without setting `*mapped`), although the pages before
/// the failure are mapped and the tables they needed allocated: its caller would undo
/// nothing.
#[derive(Debug, Default)]
pub(super) struct HidesProgress;

impl Boundary for HidesProgress {
    fn map_pages(
        &mut self,
        inner: &mut dyn PageTable,
        dfn: u64,
        mfn: u64,
        order: u32,
        count: u64,
        perm: Perm,
    ) -> Result<(), PagesError> {
        inner.map_pages(dfn, mfn, order, count, perm).map_err(|e| PagesError { done: 0, ..e })
    }
}

/// FLUSH-LAST (a range flush one page short, the page count off by one): unmapping a whole
/// superpage clears its leaf, then invalidates the superpage's pages but the last, as the
/// naturally aligned blocks of `2^order - 1` pages, and waits. No device can keep the
/// superpage itself (every cached copy overlaps a block), so AMD's cache model sees nothing;
/// an IOMMU that caches the superpage in smaller pieces keeps the last one.
#[derive(Debug, Default)]
pub(super) struct FlushAllButLast;

impl Boundary for FlushAllButLast {
    fn unmap_pages(
        &mut self,
        inner: &mut dyn PageTable,
        dfn: u64,
        order: u32,
        count: u64,
    ) -> Result<(), PagesError> {
        let slot = if count == 1 { superpage_leaf(inner, dfn, order)? } else { None };
        let Some(slot) = slot else {
            return inner.unmap_pages(dfn, order, count);
        };
        inner.iommu_mut().write_entry(slot, 0).map_err(PtError::from)?;
        let domain = inner.domain_id();
        let mut at = dfn;
        for block in (0..order).rev() {
            inner.iommu_mut().issue(Command::InvalidateIommuPages {
                domain,
                dfn: at,
                order: block,
            });
            at += 1 << block;
        }
        inner.iommu_mut().issue(Command::CompletionWait);
        Ok(())
    }
}

/// The slot of the default-size (NL = 0) leaf that maps exactly `[dfn, dfn + 2^order)` with
/// `order` above 0, found by following PDEs from the root; `None` when there is none.
fn superpage_leaf(t: &dyn PageTable, dfn: u64, order: u32) -> Result<Option<u64>, PtError> {
    let (Some(mut table), true) = (t.root(), order > 0 && order % 9 == 0) else {
        return Ok(None);
    };
    if order >= 64 || dfn & ((1 << order) - 1) != 0 {
        return Ok(None);
    }
    let mut level = t.levels();
    while level > 1 {
        let slot = table + 8 * index(dfn, level);
        let raw = t.iommu().read_entry(slot)?;
        if let Some(child) = next_table(raw, level) {
            table = child;
            level -= 1;
            continue;
        }
        let leaf = raw & PR != 0 && (raw >> NL_SHIFT) & NL_MASK == 0;
        return Ok((leaf && order == 9 * u32::from(level - 1)).then_some(slot));
    }
    Ok(None)
}

/// Address bits 51:32 of an entry, which a 32-bit address field drops.
const ADDR_HIGH: u64 = ADDR_MASK & !0xffff_ffff;

/// PDE-32 (a table address kept in 32 bits, a classic of code only ever run with its tables
/// below 4 GiB): every PDE a map or notify leaves on the walk to the first and last DFN of its
/// range loses address bits 51:32. With the tables below 4 GiB nothing changes; above, the
/// PDE points at a frame that is no table.
#[derive(Debug, Default)]
pub(super) struct Pde32;

impl Boundary for Pde32 {
    fn map_pages(
        &mut self,
        inner: &mut dyn PageTable,
        dfn: u64,
        mfn: u64,
        order: u32,
        count: u64,
        perm: Perm,
    ) -> Result<(), PagesError> {
        inner.map_pages(dfn, mfn, order, count, perm)?;
        let last = range_last(dfn, order, count).unwrap_or(u64::MAX);
        Ok(truncate_paths(inner, &[dfn, last])?)
    }

    fn notify_dfn(&mut self, inner: &mut dyn PageTable, dfn: u64) -> Result<(), PtError> {
        inner.notify_dfn(dfn)?;
        truncate_paths(inner, &[dfn])
    }
}

/// Clears address bits 51:32 of every PDE on the walks from the root to `dfns`. The walks
/// follow only PDEs to live table frames of the domain (not those truncated before), and
/// every PDE is read before any is written.
fn truncate_paths(t: &mut dyn PageTable, dfns: &[u64]) -> Result<(), PtError> {
    let (Some(root), levels, domain) = (t.root(), t.levels(), t.domain_id()) else {
        return Ok(());
    };
    let mut pdes: Vec<(u64, u64)> = Vec::new();
    for &dfn in dfns.iter().filter(|&&d| d < span(levels)) {
        let (mut table, mut level) = (root, levels);
        while level > 1 {
            let slot = table + 8 * index(dfn, level);
            let raw = t.iommu().read_entry(slot)?;
            let Some(child) = next_table(raw, level) else { break };
            if t.iommu().frames().state(child >> 12) != Some(FrameState::Table { domain }) {
                break;
            }
            pdes.push((slot, raw));
            table = child;
            level -= 1;
        }
    }
    for (slot, raw) in pdes {
        t.iommu_mut().write_entry(slot, raw & !ADDR_HIGH)?;
    }
    Ok(())
}
