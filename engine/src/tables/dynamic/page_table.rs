//! The [`PageTable`] contract, implemented on the parts above.

use super::descent::Descent;
use super::entry::{self, Entry};
use super::geometry::{
    check_order, entry_order, index, leaf_level, low_mask, slot_spa, span, BITS_PER_LEVEL,
    MFN_LIMIT,
};
use super::{Dynamic, Seams};
use crate::substrate::commands::{Command, ALL_PAGES_ORDER};
use crate::substrate::device_table::DteSetting;
use crate::substrate::iommu::Iommu;
use crate::table::{PageTable, Perm, PtError};

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

    /// Checks in the contract's order, then walks to the leaf level (allocating and
    /// shattering), writes the leaves, flushes if anything present was replaced and frees
    /// replaced subtrees. Never grows the table.
    fn map(&mut self, dfn: u64, mfn: u64, order: u32, perm: Perm) -> Result<(), PtError> {
        let top = self.top()?;
        check_order(order)?;
        if perm.is_empty() {
            return Err(PtError::NoPermission);
        }
        let mask = low_mask(order);
        if dfn & mask != 0 || mfn & mask != 0 {
            return Err(PtError::Misaligned { dfn, mfn, order });
        }
        if mfn.checked_add(1 << order).map_or(true, |end| end > MFN_LIMIT) {
            return Err(PtError::MfnTooLarge { mfn, order });
        }
        let last = dfn | mask;
        let max_levels = self.config.max_levels;
        if last >= span(max_levels) {
            return Err(PtError::OutOfRange { dfn: last, max_levels });
        }
        if last >= span(top.levels) {
            return Err(PtError::BeyondHeight { dfn: last, levels: top.levels });
        }

        let level = leaf_level(order, top.levels);
        let mut descent = Descent::new(dfn);
        let table = match self.pde_from_dfn(top, dfn, level, &mut descent) {
            Ok(table) => table,
            Err(error) => return self.abandon(descent, error),
        };
        let page_order = entry_order(level);
        let count = 1 << (order - page_order);
        let (replaced, orphans) = self
            .write_slots(table, level, dfn, count, |i| entry::pte(mfn + (i << page_order), perm))?;
        self.finish(&descent, (dfn, order), replaced, orphans)
    }

    /// Argument checks, then: beyond the current height a no-op (never grows); otherwise
    /// walks without allocating tables (a hole means nothing is mapped), shattering a
    /// superpage that is only partly covered, and clears the covered entries, freeing
    /// subtrees that are wholly unmapped. Tables that merely become empty stay (Xen 4.13).
    fn unmap(&mut self, dfn: u64, order: u32) -> Result<(), PtError> {
        let top = self.top()?;
        check_order(order)?;
        let mask = low_mask(order);
        if dfn & mask != 0 {
            return Err(PtError::Misaligned { dfn, mfn: 0, order });
        }
        if dfn >= span(top.levels) {
            return Ok(());
        }
        // A range larger than the table starts at DFN 0 (it is aligned): it is the table.
        let order = order.min(BITS_PER_LEVEL * u32::from(top.levels));

        let level = leaf_level(order, top.levels);
        let mut descent = Descent::new(dfn);
        let table = match self.existing_pde_from_dfn(top, dfn, level, &mut descent) {
            Ok(Some(table)) => table,
            Ok(None) => return Ok(()),
            Err(error) => return self.abandon(descent, error),
        };
        let count = 1 << (order - entry_order(level));
        let (cleared, orphans) = self.write_slots(table, level, dfn, count, |_| 0)?;
        self.finish(&descent, (dfn, order), cleared, orphans)
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
