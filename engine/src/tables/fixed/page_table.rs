//! The [`PageTable`] contract, implemented on the parts above.

use super::entry::Entry;
use super::geometry::{leaf_level, DFN_LIMIT, LEVELS};
use super::install::Install;
use super::{Fixed, Seams};
use crate::substrate::commands::{Command, ALL_PAGES_ORDER};
use crate::substrate::device_table::{DteSetting, DEVICE_TABLE_ENTRIES};
use crate::substrate::iommu::Iommu;
use crate::table::{PageTable, PagesError, Perm, PtError};

impl<S: Seams> PageTable for Fixed<S> {
    fn name(&self) -> &str {
        "fixed"
    }

    fn iommu(&self) -> &Iommu {
        &self.iommu
    }

    fn iommu_mut(&mut self) -> &mut Iommu {
        &mut self.iommu
    }

    fn domain_id(&self) -> u16 {
        self.domain
    }

    /// 4, or 0 once torn down.
    fn levels(&self) -> u8 {
        if self.root.is_some() {
            LEVELS
        } else {
            0
        }
    }

    /// Always 4: the table never grows.
    fn max_levels(&self) -> u8 {
        LEVELS
    }

    fn root(&self) -> Option<u64> {
        self.root
    }

    fn map(&mut self, dfn: u64, mfn: u64, order: u32, perm: Perm) -> Result<(), PtError> {
        self.map_pages(dfn, mfn, order, 1, perm).map_err(|e| e.error)
    }

    fn unmap(&mut self, dfn: u64, order: u32) -> Result<(), PtError> {
        self.unmap_pages(dfn, order, 1).map_err(|e| e.error)
    }

    /// Maps the range in one descent, writing one leaf of `order` per page (splitting a
    /// superpage a page lands in, replacing and freeing a table a page lands on), then
    /// invalidates the range if something present was replaced. A failed allocation drops
    /// the table it was for with its part of the range; the pages before it stay.
    fn map_pages(
        &mut self,
        dfn: u64,
        mfn: u64,
        order: u32,
        count: u64,
        perm: Perm,
    ) -> Result<(), PagesError> {
        self.live_root()?;
        let last = Self::check_map(dfn, mfn, order, count, perm)?;
        let leaf = Entry::Pte { mfn, perm };
        self.apply(Install { first: dfn, last, order, level: leaf_level(order), entry: leaf })
    }

    /// Unmaps the range in one descent, splitting a superpage that it covers only partly
    /// (the only allocation) and freeing tables left empty. What lies beyond 2^36 DFNs is
    /// not mapped: a successful no-op.
    fn unmap_pages(&mut self, dfn: u64, order: u32, count: u64) -> Result<(), PagesError> {
        self.live_root()?;
        Self::check_order(order)?;
        Self::check_count(count)?;
        Self::check_aligned(dfn, 0, order)?;
        if dfn >= DFN_LIMIT {
            return Ok(());
        }
        let last = dfn.saturating_add(Self::frames(order, count) - 1).min(DFN_LIMIT - 1);
        let clear =
            Install { first: dfn, last, order, level: leaf_level(order), entry: Entry::Empty };
        self.apply(clear)
    }

    /// The fixed table never grows: only checks that `dfn` is within the 4-level span.
    fn notify_dfn(&mut self, dfn: u64) -> Result<(), PtError> {
        self.live_root()?;
        if dfn >= DFN_LIMIT {
            return Err(PtError::OutOfRange { dfn, max_levels: LEVELS });
        }
        Ok(())
    }

    fn lookup(&self, dfn: u64) -> Option<(u64, Perm)> {
        let root = self.root?;
        if dfn >= DFN_LIMIT {
            return None;
        }
        self.translate(root, LEVELS, dfn)
    }

    /// Points `dev`'s DTE at the root with mode 4 (checks: torn down, device exists, not
    /// already assigned).
    fn assign(&mut self, dev: u16) -> Result<(), PtError> {
        let root = self.live_root()?;
        if u32::from(dev) >= DEVICE_TABLE_ENTRIES {
            return Err(PtError::NoSuchDevice { dev });
        }
        if self.assigned.contains(&dev) {
            return Err(PtError::AlreadyAssigned { dev });
        }
        let setting =
            DteSetting::Translate { domain: self.domain, root, levels: self.dte_levels() };
        self.program_dte(dev, setting)?;
        self.iommu.issue(Command::CompletionWait);
        self.assigned.insert(dev);
        Ok(())
    }

    /// Blocks `dev`'s DTE (checks: torn down, device exists, assigned).
    fn deassign(&mut self, dev: u16) -> Result<(), PtError> {
        self.live_root()?;
        if u32::from(dev) >= DEVICE_TABLE_ENTRIES {
            return Err(PtError::NoSuchDevice { dev });
        }
        if !self.assigned.remove(&dev) {
            return Err(PtError::NotAssigned { dev });
        }
        if !self.seams.block_on_deassign() {
            return Ok(());
        }
        self.program_dte(dev, DteSetting::Blocked)?;
        self.iommu.issue(Command::CompletionWait);
        Ok(())
    }

    /// Blocks every assigned device, invalidates the whole domain, then frees every table.
    fn teardown(&mut self) -> Result<(), PtError> {
        let root = self.root.take().ok_or(PtError::TornDown)?;
        for dev in std::mem::take(&mut self.assigned) {
            self.program_dte(dev, DteSetting::Blocked)?;
        }
        self.iommu.issue(Command::InvalidateIommuPages {
            domain: self.domain,
            dfn: 0,
            order: ALL_PAGES_ORDER,
        });
        self.iommu.issue(Command::CompletionWait);
        self.free_subtree(root, LEVELS)
    }
}
