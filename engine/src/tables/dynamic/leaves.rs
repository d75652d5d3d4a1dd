//! Freeing unlinked subtrees, and the flush after an operation.

use super::entry::{self, Entry};
use super::geometry::{slot_spa, ENTRIES};
use super::{Dynamic, Seams};
use crate::step::Cx;
use crate::substrate::commands::Command;
use crate::table::PtError;

impl<S: Seams> Dynamic<S> {
    /// Frees the level-`level` table at `table` and every table below it (post-order: each
    /// table's entries in index order, a child's subtree freed before the next entry is read,
    /// the table itself last), with an explicit stack of `(table, level, next index)`.
    pub(super) async fn free_subtree(
        &self,
        cx: &Cx<'_>,
        table: u64,
        level: u8,
    ) -> Result<(), PtError> {
        let mut stack = Vec::with_capacity(usize::from(level));
        stack.push((table, level, 0));
        while let Some(&(table, level, next)) = stack.last() {
            if level > 1 && next < ENTRIES {
                if let Some(top) = stack.last_mut() {
                    top.2 = next + 1;
                }
                let raw = cx.read(slot_spa(table, next)).await?;
                if let Entry::Pde { table: child } = entry::decode(raw, level) {
                    stack.push((child, level - 1, 0));
                }
            } else {
                cx.free_table(table).await?;
                stack.pop();
            }
        }
        Ok(())
    }

    /// INVALIDATE_IOMMU_PAGES for `[dfn, dfn + 2^order)` of the domain, then COMPLETION_WAIT.
    pub(super) async fn flush(&self, cx: &Cx<'_>, dfn: u64, order: u32) {
        cx.issue(Command::InvalidateIommuPages { domain: self.domain(), dfn, order }).await;
        cx.issue(Command::CompletionWait).await;
    }
}
