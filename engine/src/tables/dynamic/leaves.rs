//! Leaves: writing a run of slots, freeing unlinked subtrees, the flush after an operation.

use super::descent::Descent;
use super::entry::{self, Entry};
use super::geometry::{index, slot_spa, ENTRIES};
use super::{Dynamic, Seams};
use crate::substrate::commands::Command;
use crate::table::PtError;

impl<S: Seams> Dynamic<S> {
    /// Writes `count` consecutive entries of the level-`level` table at `table` from `dfn`'s
    /// index on, entry `i` being `value(i)`. Returns whether a present entry was overwritten
    /// and the subtrees (table SPA, level) that were unlinked, still to be freed.
    pub(super) fn write_slots(
        &mut self,
        table: u64,
        level: u8,
        dfn: u64,
        count: u64,
        value: impl Fn(u64) -> u64,
    ) -> Result<(bool, Vec<(u64, u8)>), PtError> {
        let first = index(dfn, level);
        let mut replaced = false;
        let mut orphans = Vec::new();
        for i in 0..count {
            let slot = slot_spa(table, first + i);
            let old = self.iommu.read_entry(slot)?;
            self.iommu.write_entry(slot, value(i))?;
            match entry::decode(old, level) {
                Entry::Empty => {}
                Entry::Pte { .. } => replaced = true,
                Entry::Pde { table } => {
                    replaced = true;
                    orphans.push((table, level - 1));
                }
            }
        }
        Ok((replaced, orphans))
    }

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

    /// Flushes, if anything present changed, the range written or the largest superpage
    /// shattered on the way, then frees the unlinked subtrees.
    pub(super) fn finish(
        &mut self,
        descent: &Descent,
        range: (u64, u32),
        replaced: bool,
        orphans: Vec<(u64, u8)>,
    ) -> Result<(), PtError> {
        let shattered = descent.shattered();
        if replaced || shattered.is_some() {
            let (dfn, order) = shattered.unwrap_or(range);
            self.flush(dfn, order);
        }
        for (table, level) in orphans {
            self.free_subtree(table, level)?;
        }
        Ok(())
    }

    /// INVALIDATE_IOMMU_PAGES for `[dfn, dfn + 2^order)` of the domain, then COMPLETION_WAIT.
    pub(super) fn flush(&mut self, dfn: u64, order: u32) {
        self.iommu.issue(Command::InvalidateIommuPages { domain: self.domain(), dfn, order });
        self.iommu.issue(Command::CompletionWait);
    }
}
