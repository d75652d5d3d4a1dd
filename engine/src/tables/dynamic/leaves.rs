//! Freeing unlinked subtrees, and the flush after an operation.

use super::entry::{self, Entry};
use super::geometry::{slot_spa, ENTRIES};
use super::{Dynamic, Seams};
use crate::substrate::commands::Command;
use crate::table::PtError;

impl<S: Seams> Dynamic<S> {
    /// Frees the level-`level` table at `table` and every table below it (post-order).
    pub(super) fn free_subtree(&mut self, table: u64, level: u8) -> Result<(), PtError> {
        if level > 1 {
            for i in 0..ENTRIES {
                let raw = self.iommu.read_entry(slot_spa(table, i))?;
                if let Entry::Pde { table: child } = entry::decode(raw, level) {
                    self.free_subtree(child, level - 1)?;
                }
            }
        }
        self.iommu.free_table(table)?;
        Ok(())
    }

    /// INVALIDATE_IOMMU_PAGES for `[dfn, dfn + 2^order)` of the domain, then COMPLETION_WAIT.
    pub(super) fn flush(&mut self, dfn: u64, order: u32) {
        self.iommu.issue(Command::InvalidateIommuPages { domain: self.domain(), dfn, order });
        self.iommu.issue(Command::CompletionWait);
    }
}
