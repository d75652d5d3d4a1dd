//! Map and unmap of a range of pages: one recursive descent from the root over every table the
//! range touches, entry by entry in DFN order, continuing across table boundaries, installing
//! leaves (map) or clearing entries (unmap). New tables are built off-line, with the range's
//! part below them already installed, and published with one PDE write; unlinked tables are
//! freed after the invalidation that covers them.
//!
//! A range stops at the first table it cannot build: that table's part of the range, built
//! off-line, is dropped with it, so the pages before it are done and everything from it on is
//! as before.
//!
//! The descent is `async` over the step substrate: every entry read or written, every table
//! allocated or freed and every command is one step. Its recursion goes through one boxed
//! future per table visited ([`Fixed::descend`]) and per table built off-line (so that the
//! common path's futures stay small); freeing a subtree uses an explicit stack.

use super::entry::Entry;
use super::geometry::{entry_order, entry_spa, slot_spa, ENTRIES, INDEX_BITS, LEVELS};
use super::{Fixed, Seams};
use crate::step::Cx;
use crate::substrate::commands::{Command, ALL_PAGES_ORDER};
use crate::substrate::iommu::Iommu;
use crate::table::{PagesError, Perm, PtError};
use std::future::Future;
use std::pin::Pin;

/// One map or unmap: leaves for `[first, last]` written into level-`level` tables.
#[derive(Clone, Copy, Debug)]
pub(super) struct Install {
    pub(super) first: u64,
    /// Last DFN of the range (inclusive), inside the 4-level span.
    pub(super) last: u64,
    /// Order of the range's pages.
    pub(super) order: u32,
    /// Level of the tables holding the range's leaves.
    pub(super) level: u8,
    /// What the range's entries get: a leaf for the range's first DFN, the others continuing
    /// from it (map), or [`Entry::Empty`] (unmap).
    pub(super) entry: Entry,
}

impl Install {
    /// The entry for the level-`level` slot covering DFNs from `block` (inside the range).
    fn entry_at(&self, block: u64) -> Entry {
        match self.entry {
            Entry::Pte { mfn, perm } => Entry::Pte { mfn: mfn + (block - self.first), perm },
            other => other,
        }
    }

    fn unmapping(&self) -> bool {
        !self.entry.is_present()
    }
}

/// What an operation did to live tables, settled by [`Fixed::settle`] once the tree is final.
#[derive(Debug)]
struct Aftermath {
    /// A present entry was replaced or cleared: cached translations of the range are stale.
    flush: bool,
    /// Unlinked subtrees `(table SPA, level)`, to free once the flush has completed.
    garbage: Vec<(u64, u8)>,
    /// The range is installed below this DFN.
    done_to: u64,
}

/// One map or unmap under way: the substrate it runs on, the request and its aftermath (all
/// of it the operation's own, none of it shared).
struct Descent<'c, 's> {
    cx: &'c Cx<'s>,
    req: Install,
    after: Aftermath,
}

/// The future of one table's part of a descent: whether anything under the table changed.
type TableFuture<'a> = Pin<Box<dyn Future<Output = Result<bool, PtError>> + 'a>>;

/// Mask of the DFN bits below `order` (< 64).
fn low_mask(order: u32) -> u64 {
    (1u64 << order) - 1
}

impl<S: Seams> Fixed<S> {
    /// Installs the request's part `[lo, hi]` inside the level-`level` table at `table`, entry
    /// by entry. Returns whether anything under this table changed. Boxed: the descent
    /// recurses through it.
    fn descend<'a, 'c: 'a, 's: 'c>(
        &'a self,
        d: &'a mut Descent<'c, 's>,
        table: u64,
        level: u8,
        lo: u64,
        hi: u64,
    ) -> TableFuture<'a> {
        Box::pin(async move {
            let mask = low_mask(entry_order(level));
            let mut changed = false;
            let mut at = lo;
            loop {
                let part_last = (at | mask).min(hi);
                changed |= self.install(d, table, level, at, part_last).await?;
                d.after.done_to = part_last + 1;
                if part_last >= hi {
                    return Ok(changed);
                }
                at = part_last + 1;
            }
        })
    }

    /// Installs the request's part `[s, e]` in the entry covering `s` of the level-`level`
    /// table at `table`: its leaf or empty entry when the entry is the range's (at the leaf
    /// level, or wholly unmapped), else below it: through its table, or a table built off-line
    /// for it (empty, or the pieces of the superpage it held). An unmap never creates a table
    /// for an empty slot (there is nothing to unmap), and a child table an unmap left all-zero
    /// is unlinked and queued for freeing, so emptiness propagates up to (never including) the
    /// root. Returns whether anything changed.
    async fn install(
        &self,
        d: &mut Descent<'_, '_>,
        table: u64,
        level: u8,
        s: u64,
        e: u64,
    ) -> Result<bool, PtError> {
        let cx = d.cx;
        let req = d.req;
        let slot = slot_spa(table, level, s);
        let raw = cx.read(slot).await?;
        let old = Entry::decode(raw, level);
        let block = s & !low_mask(entry_order(level));
        let whole = s == block && e == block | low_mask(entry_order(level));
        if level <= req.level || (req.unmapping() && whole) {
            if !old.is_present() && req.unmapping() {
                return Ok(false);
            }
            let new = req.entry_at(block).encode();
            if let Some(first) = self.seams.first_store(raw, new) {
                cx.write(slot, first).await?;
            }
            cx.write(slot, new).await?;
            d.after.flush |= old.is_present();
            if let Entry::Pde { table: subtree, .. } = old {
                d.after.garbage.push((subtree, level - 1));
            }
            return Ok(true);
        }
        match old {
            Entry::Empty if req.unmapping() => Ok(false),
            Entry::Pde { table: child, .. } => {
                let changed = self.descend(d, child, level - 1, s, e).await?;
                if changed && req.unmapping() && self.table_is_empty(cx, child).await? {
                    cx.write(slot, Entry::Empty.encode()).await?;
                    d.after.garbage.push((child, level - 1));
                }
                Ok(changed)
            }
            Entry::Empty | Entry::Pte { .. } => {
                let child = Box::pin(self.build_off_line(d, old, level, s, e)).await?;
                let pde = Entry::Pde { table: child, next_level: level - 1 };
                cx.write(slot, pde.encode()).await?;
                d.after.flush |= old.is_present();
                Ok(true)
            }
        }
    }

    /// Builds, unreachable by hardware, the level-`level - 1` table that takes the place of
    /// `old` (empty, or a superpage leaf to split) in a level-`level` table, with the
    /// request's part `[s, e]` installed in it. Returns its SPA. On failure everything built
    /// here is freed again and the range is done only up to `s`.
    async fn build_off_line(
        &self,
        d: &mut Descent<'_, '_>,
        old: Entry,
        level: u8,
        s: u64,
        e: u64,
    ) -> Result<u64, PtError> {
        let cx = d.cx;
        let table = cx.alloc_table(self.domain).await?;
        // What is replaced in the new table was never reachable: nothing to invalidate.
        let live_flush = d.after.flush;
        let mut built = match old {
            Entry::Pte { mfn, perm } => {
                self.fill_with_pieces(cx, table, level - 1, mfn, perm).await
            }
            _ => Ok(()),
        };
        if built.is_ok() {
            built = self.descend(d, table, level - 1, s, e).await.map(|_| ());
        }
        d.after.flush = live_flush;
        if let Err(error) = built {
            // Never published: freeing cannot disturb anything; the first error is the one
            // to report.
            let _ = self.free_subtree(cx, table, level - 1).await;
            d.after.done_to = s;
            return Err(error);
        }
        Ok(table)
    }

    /// Fills the level-`level` table at `table` with the 512 leaves that together map what
    /// one superpage `mfn`/`perm` of the level above mapped, keeping its permissions.
    async fn fill_with_pieces(
        &self,
        cx: &Cx<'_>,
        table: u64,
        level: u8,
        mfn: u64,
        perm: Perm,
    ) -> Result<(), PtError> {
        let piece_frames = 1u64 << entry_order(level);
        let base = mfn & !((piece_frames << INDEX_BITS) - 1);
        for i in 0..ENTRIES {
            let piece = Entry::Pte { mfn: base.wrapping_add(i * piece_frames), perm };
            cx.write(entry_spa(table, i), piece.encode()).await?;
        }
        Ok(())
    }

    /// True when every entry of the table at `table` is zero.
    async fn table_is_empty(&self, cx: &Cx<'_>, table: u64) -> Result<bool, PtError> {
        for i in 0..ENTRIES {
            if cx.read(entry_spa(table, i)).await? != 0 {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Runs `req` from the level-4 table at `root`, then flushes and frees what it left
    /// behind, whether or not it completed; a range that stopped reports the pages it
    /// completed.
    pub(super) async fn apply(
        &self,
        cx: &Cx<'_>,
        root: u64,
        mut req: Install,
    ) -> Result<(), PagesError> {
        let first_table_last = req.first | low_mask(INDEX_BITS * u32::from(req.level));
        req.last = self.seams.range_last(req.last, first_table_last);
        let after = Aftermath { flush: false, garbage: Vec::new(), done_to: req.first };
        let mut d = Descent { cx, req, after };
        let installed = self.descend(&mut d, root, LEVELS, req.first, req.last).await;
        let done = (d.after.done_to - req.first) >> req.order;
        let settled = self.settle(cx, &req, d.after).await;
        installed.and(settled).map(|_| ()).map_err(|error| PagesError { error, done })
    }

    /// Invalidates the smallest aligned block covering `req`'s range if a present entry
    /// changed, waits for it, and only then frees the unlinked subtrees (hardware may walk
    /// them until the invalidation completes).
    async fn settle(&self, cx: &Cx<'_>, req: &Install, after: Aftermath) -> Result<(), PtError> {
        let invalidate = req.entry.is_present() || self.seams.invalidate_after_unmap();
        if after.flush && invalidate {
            let order = 64 - (req.first ^ req.last).leading_zeros();
            let (dfn, order) = if order >= ALL_PAGES_ORDER {
                (0, ALL_PAGES_ORDER)
            } else {
                (req.first & !low_mask(order), order)
            };
            cx.issue(Command::InvalidateIommuPages { domain: self.domain, dfn, order }).await;
            cx.issue(Command::CompletionWait).await;
        }
        for (table, level) in after.garbage {
            self.free_subtree(cx, table, level).await?;
        }
        Ok(())
    }

    /// Frees the level-`level` table (`level` at most 4) at `table` and every table below it,
    /// children in entry order before their parent. Entries of level-1 tables are never
    /// followed, so the stack is at most 4 deep whatever memory holds.
    pub(super) async fn free_subtree(
        &self,
        cx: &Cx<'_>,
        table: u64,
        level: u8,
    ) -> Result<(), PtError> {
        // (table, level, index of its next entry to look at); `depth` of them in use.
        let mut stack = [(table, level, 0); LEVELS as usize];
        let mut depth = 1;
        while let Some(top) = usize::checked_sub(depth, 1).and_then(|i| stack.get_mut(i)) {
            let (table, level, next) = *top;
            if level > 1 && next < ENTRIES {
                top.2 += 1;
                let entry = Entry::decode(cx.read(entry_spa(table, next)).await?, level);
                if let (Entry::Pde { table: child, .. }, Some(below)) =
                    (entry, stack.get_mut(depth))
                {
                    *below = (child, level - 1, 0);
                    depth += 1;
                }
            } else {
                depth -= 1;
                cx.free_table(table).await?;
            }
        }
        Ok(())
    }
}

/// The implementation's walk over `iommu`'s memory: the leaf covering `dfn` below the
/// level-`level` table at `table`.
pub(super) fn translate(iommu: &Iommu, table: u64, level: u8, dfn: u64) -> Option<(u64, Perm)> {
    match Entry::decode(iommu.read_entry(slot_spa(table, level, dfn)).ok()?, level) {
        Entry::Empty => None,
        Entry::Pte { mfn, perm } => {
            let span = (1u64 << entry_order(level)) - 1;
            Some(((mfn & !span) | (dfn & span), perm))
        }
        Entry::Pde { table: child, .. } => translate(iommu, child, level - 1, dfn),
    }
}
