//! The [`PageTable`] contract, implemented on the parts above.

use super::entry::Entry;
use super::geometry::{leaf_level, DFN_LIMIT, LEVELS};
use super::install::Install;
use super::{Fixed, Seams};
use crate::substrate::commands::{Command, ALL_PAGES_ORDER};
use crate::substrate::device_table::{DteSetting, DEVICE_TABLE_ENTRIES};
use crate::substrate::iommu::Iommu;
use crate::table::{PageTable, Perm, PtError};

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

    /// Maps `[dfn, dfn + 2^order)`, writing one leaf of `order` (splitting a superpage it
    /// lands in, replacing and freeing a table it lands on), then invalidates the range if
    /// something present was replaced. Allocation failure changes nothing.
    fn map(&mut self, dfn: u64, mfn: u64, order: u32, perm: Perm) -> Result<(), PtError> {
        self.live_root()?;
        Self::check_map(dfn, mfn, order, perm)?;
        let leaf = Entry::Pte { mfn, perm };
        self.apply(Install { dfn, order, level: leaf_level(order), entry: leaf })
    }

    /// Unmaps `[dfn, dfn + 2^order)`, splitting a superpage that covers it only partly
    /// (the only allocation; failure changes nothing) and freeing tables left empty.
    /// A range beyond 2^36 DFNs is a successful no-op.
    fn unmap(&mut self, dfn: u64, order: u32) -> Result<(), PtError> {
        self.live_root()?;
        Self::check_order(order)?;
        Self::check_aligned(dfn, 0, order)?;
        // Aligned and order < 36: the range is either entirely inside the span or outside.
        if dfn >= DFN_LIMIT {
            return Ok(());
        }
        self.apply(Install { dfn, order, level: leaf_level(order), entry: Entry::Empty })
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
