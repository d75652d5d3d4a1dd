//! Freeing unlinked subtrees, and the flush after an operation.

use super::entry::{self, Entry};
use super::geometry::ENTRIES;
use super::{Dynamic, Seams};
use crate::step::Cx;
use crate::substrate::commands::Command;
use crate::table::PtError;

impl<S: Seams> Dynamic<S> {
    /// Frees the level-`level` table at `table` and every table below it, post-order: a
    /// table's children in index order, each child's subtree before the next child, the table
    /// itself last. Walks with an explicit stack of `(table, level, next index)`; the entries
    /// of a table above L1 are loaded (one step each) when the walk enters it.
    pub(super) async fn free_subtree(
        &self,
        cx: &Cx<'_>,
        table: u64,
        level: u8,
    ) -> Result<(), PtError> {
        let per_table = ENTRIES as usize;
        // Entries of the tables above L1 on the stack, the one at depth `d` at `d * 512`.
        let mut entries = vec![0; per_table * usize::from(level.saturating_sub(1))];
        let mut stack = Vec::with_capacity(usize::from(level));
        self.enter(cx, &mut entries, &mut stack, table, level).await?;
        while let Some(&(table, level, next)) = stack.last() {
            let depth = stack.len() - 1;
            if level > 1 && next < per_table {
                if let Some(top) = stack.last_mut() {
                    top.2 = next + 1;
                }
                let raw = entries.get(depth * per_table + next).copied().unwrap_or(0);
                if let Entry::Pde { table: child } = entry::decode(raw, level) {
                    self.enter(cx, &mut entries, &mut stack, child, level - 1).await?;
                }
            } else {
                cx.free_table(table).await?;
                stack.pop();
            }
        }
        Ok(())
    }

    /// Pushes the level-`level` table at `table` on the stack of [`Dynamic::free_subtree`],
    /// loading its entries if it is above L1.
    async fn enter(
        &self,
        cx: &Cx<'_>,
        entries: &mut [u64],
        stack: &mut Vec<(u64, u8, usize)>,
        table: u64,
        level: u8,
    ) -> Result<(), PtError> {
        if level > 1 {
            let at = stack.len() * ENTRIES as usize;
            let own = entries.get_mut(at..at + ENTRIES as usize).unwrap_or_default();
            cx.read_into(table, own).await?;
        }
        stack.push((table, level, 0));
        Ok(())
    }

    /// INVALIDATE_IOMMU_PAGES for `[dfn, dfn + 2^order)` of the domain, then COMPLETION_WAIT.
    pub(super) async fn flush(&self, cx: &Cx<'_>, dfn: u64, order: u32) {
        cx.issue(Command::InvalidateIommuPages { domain: self.domain(), dfn, order }).await;
        cx.issue(Command::CompletionWait).await;
    }
}
