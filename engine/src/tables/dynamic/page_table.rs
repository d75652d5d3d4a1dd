//! The [`PageTable`] contract, implemented on the parts above.

use super::entry::{self, Entry};
use super::geometry::{
    check_order, entry_order, index, leaf_level, low_mask, slot_spa, span, MFN_LIMIT,
};
use super::range::{Range, Write};
use super::{Dynamic, Seams};
use crate::substrate::commands::{Command, ALL_PAGES_ORDER};
use crate::substrate::device_table::DteSetting;
use crate::substrate::iommu::Iommu;
use crate::table::{PageOrders, PageTable, PagesError, Perm, PtError};

impl<S: Seams> PageTable for Dynamic<S> {
    fn name(&self) -> &str {
        "dynamic"
    }

    fn iommu(&self) -> &Iommu {
        &self.iommu
    }

    fn iommu_mut(&mut self) -> &mut Iommu {
        &mut self.iommu
    }

    fn domain_id(&self) -> u16 {
        self.config.domain
    }

    fn levels(&self) -> u8 {
        self.top.map_or(0, |top| top.levels)
    }

    fn max_levels(&self) -> u8 {
        self.config.max_levels
    }

    fn root(&self) -> Option<u64> {
        self.top.map(|top| top.root)
    }

    /// 4 KiB, 2 MiB and 1 GiB; with `all_page_sizes`, every size AMD-Vi v1 encodes.
    fn page_orders(&self) -> PageOrders {
        self.orders()
    }

    fn map(&mut self, dfn: u64, mfn: u64, order: u32, perm: Perm) -> Result<(), PtError> {
        self.map_pages(dfn, mfn, order, 1, perm).map_err(|e| e.error)
    }

    fn unmap(&mut self, dfn: u64, order: u32) -> Result<(), PtError> {
        self.unmap_pages(dfn, order, 1).map_err(|e| e.error)
    }

    /// Checks in the contract's order, then one descent over the range writing its leaves
    /// (allocating and shattering on the way), one flush if anything present changed, and
    /// the replaced subtrees freed. Never grows the table.
    fn map_pages(
        &mut self,
        dfn: u64,
        mfn: u64,
        order: u32,
        count: u64,
        perm: Perm,
    ) -> Result<(), PagesError> {
        let top = self.top()?;
        check_order(order, self.orders())?;
        if perm.is_empty() {
            return Err(PtError::NoPermission.into());
        }
        if count == 0 {
            return Err(PtError::EmptyRange.into());
        }
        let mask = low_mask(order);
        if dfn & mask != 0 || mfn & mask != 0 {
            return Err(PtError::Misaligned { dfn, mfn, order }.into());
        }
        let frames = count.saturating_mul(1 << order);
        if mfn.checked_add(frames).map_or(true, |end| end > MFN_LIMIT) {
            return Err(PtError::MfnTooLarge { mfn, order }.into());
        }
        let last = dfn.saturating_add(frames - 1);
        let max_levels = self.config.max_levels;
        if last >= span(max_levels) {
            return Err(PtError::OutOfRange { dfn: last, max_levels }.into());
        }
        if last >= span(top.levels) {
            return Err(PtError::BeyondHeight { dfn: last, levels: top.levels }.into());
        }
        let level = leaf_level(order, top.levels);
        self.apply_range(top, Range::new(dfn, last, order, Write::Map { mfn, perm, level }))
    }

    /// Argument checks, then: the part within the current height (none: a no-op, never
    /// grows) in one descent that links no table for a hole (nothing is mapped there),
    /// shatters a superpage covered only in part and clears the covered entries, freeing
    /// subtrees wholly unmapped. Tables that merely become empty stay (Xen 4.13).
    fn unmap_pages(&mut self, dfn: u64, order: u32, count: u64) -> Result<(), PagesError> {
        let top = self.top()?;
        check_order(order, self.orders())?;
        if count == 0 {
            return Err(PtError::EmptyRange.into());
        }
        if dfn & low_mask(order) != 0 {
            return Err(PtError::Misaligned { dfn, mfn: 0, order }.into());
        }
        let table_span = span(top.levels);
        if dfn >= table_span {
            return Ok(());
        }
        let frames = count.saturating_mul(1 << order);
        let last = dfn.saturating_add(frames - 1).min(table_span - 1);
        self.apply_range(top, Range::new(dfn, last, order, Write::Unmap))
    }

    /// [`PtError::OutOfRange`] beyond the span of the maximum height; otherwise grows to the
    /// smallest height covering `dfn` (never shrinks, no growth when already covered).
    fn notify_dfn(&mut self, dfn: u64) -> Result<(), PtError> {
        self.grow_to_cover(dfn)
    }

    /// Walks the table in memory for `dfn`: the exact frame and the leaf's permissions.
    fn lookup(&self, dfn: u64) -> Option<(u64, Perm)> {
        let top = self.top?;
        if dfn >= span(top.levels) {
            return None;
        }
        let mut table = top.root;
        let mut level = top.levels;
        loop {
            let raw = self.iommu.read_entry(slot_spa(table, index(dfn, level))).ok()?;
            match entry::decode(raw, level) {
                Entry::Empty => return None,
                Entry::Pte { mfn, perm } => {
                    return Some((mfn.checked_add(dfn & low_mask(entry_order(level)))?, perm));
                }
                Entry::Sized { mfn, order, perm } => {
                    return Some((mfn.checked_add(dfn & low_mask(order))?, perm));
                }
                Entry::Pde { table: next } => {
                    table = next;
                    level -= 1;
                }
            }
        }
    }

    fn assign(&mut self, dev: u16) -> Result<(), PtError> {
        let top = self.top()?;
        Self::check_device(dev)?;
        if self.devices.contains(&dev) {
            return Err(PtError::AlreadyAssigned { dev });
        }
        self.program_dte(dev, self.translate_setting(top))?;
        self.iommu.issue(Command::CompletionWait);
        self.devices.insert(dev);
        Ok(())
    }

    fn deassign(&mut self, dev: u16) -> Result<(), PtError> {
        self.top()?;
        Self::check_device(dev)?;
        if !self.devices.contains(&dev) {
            return Err(PtError::NotAssigned { dev });
        }
        if self.seams.invalidate_blocked_dte() {
            self.program_dte(dev, DteSetting::Blocked)?;
        } else {
            self.iommu.set_dte(dev, DteSetting::Blocked)?;
        }
        self.iommu.issue(Command::CompletionWait);
        self.devices.remove(&dev);
        Ok(())
    }

    /// Blocks every assigned device, flushes the domain's pages, frees every table.
    fn teardown(&mut self) -> Result<(), PtError> {
        let top = self.top()?;
        for dev in std::mem::take(&mut self.devices) {
            self.program_dte(dev, DteSetting::Blocked)?;
        }
        self.iommu.issue(Command::CompletionWait);
        self.flush(0, ALL_PAGES_ORDER);
        self.top = None;
        self.free_subtree(top.root, top.levels)
    }
}
