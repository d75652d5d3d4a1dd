//! Ranges (`map_pages`, `unmap_pages`): one descent from the root over every table a range of
//! pages touches, entry by entry in DFN order, continuing across table boundaries (depth first,
//! with an explicit stack of the tables it is in).
//! On the way, Xen-style (`iommu_pde_from_dfn`), missing tables are linked (map only: an unmap
//! finds nothing below an empty entry), a default-size leaf the range covers only in part is
//! shattered into a table of its pieces (filled before it is linked, keeping its
//! permissions), and an NL = 7 page whose entries are about to change is first split into
//! default-size pieces, so that no replica group is ever left half rewritten. Entries the
//! range covers whole get the range's leaves (map: NL = 0, or NL = 7 replicas when the page is
//! larger than the level's entries) or are cleared (unmap: a subtree below is unlinked).
//!
//! Then one INVALIDATE_IOMMU_PAGES (and COMPLETION_WAIT) for the smallest aligned block that
//! covers everything changed (replaced or cleared leaves, shattered or split pages, unlinked
//! tables), and only then are unlinked subtrees freed.
//!
//! A range that cannot allocate a table stops there: tables linked for the page it could not
//! complete and holding nothing of the range are put back (slot restored, table freed after
//! the flush); the pages before it stay done and are reported ([`PagesError::done`]).

use super::entry::{self, Entry};
use super::geometry::{entry_order, index, low_mask, slot_spa, ENTRIES};
use super::{Dynamic, Seams, Top};
use crate::step::Cx;
use crate::substrate::commands::ALL_PAGES_ORDER;
use crate::table::{PagesError, Perm, PtError};

/// What a range writes into the entries it covers.
#[derive(Clone, Copy, Debug)]
pub(super) enum Write {
    /// Leaves in level-`level` tables mapping the range from frame `mfn` with `perm`.
    Map { mfn: u64, perm: Perm, level: u8 },
    /// Nothing: covered entries are cleared.
    Unmap,
}

/// One range operation in progress.
#[derive(Debug)]
pub(super) struct Range {
    /// First DFN.
    first: u64,
    /// Last DFN, inside the table's span.
    last: u64,
    /// Order of the range's pages.
    order: u32,
    write: Write,
    /// The range is complete below this DFN.
    done_to: u64,
    /// Lowest and highest DFN whose cached translations or walks may be stale.
    changed: Option<(u64, u64)>,
    /// Unlinked subtrees `(table SPA, level)`, freed after the flush.
    orphans: Vec<(u64, u8)>,
}

impl Range {
    /// The range `[first, last]` of pages of `order` (`first` aligned to it).
    pub(super) fn new(first: u64, last: u64, order: u32, write: Write) -> Range {
        Range { first, last, order, write, done_to: first, changed: None, orphans: Vec::new() }
    }

    fn note_change(&mut self, lo: u64, hi: u64) {
        self.changed = Some(match self.changed {
            None => (lo, hi),
            Some((a, b)) => (a.min(lo), b.max(hi)),
        });
    }

    /// Pages completed so far.
    fn pages_done(&self) -> u64 {
        (self.done_to - self.first) >> self.order
    }
}

/// The smallest naturally aligned `(dfn, order)` block holding DFNs `lo..=hi`; every page
/// from order 52 on.
fn covering(lo: u64, hi: u64) -> (u64, u32) {
    let order = 64 - (lo ^ hi).leading_zeros();
    if order >= ALL_PAGES_ORDER {
        (0, ALL_PAGES_ORDER)
    } else {
        (lo & !low_mask(order), order)
    }
}

/// A table the descent is in: the part `[at, hi]` of the range still to do inside the
/// level-`level` table at `table`, and the entry it hangs from (`None` for the root).
#[derive(Debug)]
struct Frame {
    table: u64,
    level: u8,
    at: u64,
    hi: u64,
    above: Option<Above>,
}

/// The entry a table of the descent hangs from: its slot in a level-`level` table, what it
/// held before (`raw`), the first DFN it covers, whether the table was linked for this range,
/// and where the range stood when the descent entered the table.
#[derive(Debug)]
struct Above {
    slot: u64,
    raw: u64,
    block: u64,
    level: u8,
    linked: bool,
    done_before: u64,
}

/// What an entry needs after its own work.
enum Next {
    /// Nothing: the range is done in it.
    Done,
    /// The descent into the table at `child` (`linked` for this range), the entry having held
    /// `raw`.
    Below { child: u64, linked: bool, raw: u64 },
}

impl<S: Seams> Dynamic<S> {
    /// Runs `range` from the root of `top`, then flushes what changed and frees what was
    /// unlinked, whether or not the range completed.
    pub(super) async fn apply_range(
        &self,
        cx: &Cx<'_>,
        top: Top,
        mut range: Range,
    ) -> Result<(), PagesError> {
        let walked = self.walk(cx, &mut range, top).await;
        if let Some((lo, hi)) = range.changed {
            let first_page = (range.first, range.order);
            let (dfn, order) = self.seams.invalidated(covering(lo, hi), first_page);
            self.flush(cx, dfn, order).await;
        }
        let mut freed = Ok(());
        for (table, level) in std::mem::take(&mut range.orphans) {
            // Rare (only what an operation unlinked): boxed, keeping this future small.
            freed = Box::pin(self.free_subtree(cx, table, level)).await;
            if freed.is_err() {
                break;
            }
        }
        walked.and(freed).map_err(|error| PagesError { error, done: range.pages_done() })
    }

    /// The descent over the range from the root of `top`, entry by entry, each table's part
    /// of the range before the next entry of the table above it.
    async fn walk(&self, cx: &Cx<'_>, r: &mut Range, top: Top) -> Result<(), PtError> {
        let mut stack = Vec::with_capacity(usize::from(top.levels));
        let root =
            Frame { table: top.root, level: top.levels, at: r.first, hi: r.last, above: None };
        stack.push(root);
        while let Some(frame) = stack.last() {
            let (table, level, at, hi) = (frame.table, frame.level, frame.at, frame.hi);
            let span_mask = low_mask(entry_order(level));
            let (part_last, block) = ((at | span_mask).min(hi), at & !span_mask);
            let slot = slot_spa(table, index(at, level));
            match self.range_entry(cx, r, slot, level, block, at, part_last).await {
                Ok(Next::Done) => entry_done(&mut stack, r, part_last),
                Ok(Next::Below { child, linked, raw }) => {
                    let done_before = r.done_to;
                    let above = Above { slot, raw, block, level, linked, done_before };
                    let below = Frame {
                        table: child,
                        level: level - 1,
                        at,
                        hi: part_last,
                        above: Some(above),
                    };
                    stack.push(below);
                }
                Err(error) => return self.unwind(cx, &mut stack, r, error).await,
            }
        }
        Ok(())
    }

    /// Leaves the descent after `error`, table by table from the deepest: a table linked for
    /// this range that holds nothing of it (the range stopped before getting into it) is put
    /// back: its slot restored, the table freed after the flush. A failed restore replaces
    /// the error.
    async fn unwind(
        &self,
        cx: &Cx<'_>,
        stack: &mut Vec<Frame>,
        r: &mut Range,
        mut error: PtError,
    ) -> Result<(), PtError> {
        while let Some(frame) = stack.pop() {
            let Some(a) = frame.above else { continue };
            if a.linked && r.done_to == a.done_before {
                if let Err(failed) = cx.write(a.slot, a.raw).await {
                    error = failed.into();
                    continue;
                }
                r.note_change(a.block, a.block | low_mask(entry_order(a.level)));
                r.orphans.push((frame.table, frame.level));
            }
        }
        Err(error)
    }

    /// The part `[s, e]` of the range inside the entry at `slot` of a level-`level` table,
    /// which covers DFNs from `block`.
    #[allow(clippy::too_many_arguments)]
    async fn range_entry(
        &self,
        cx: &Cx<'_>,
        r: &mut Range,
        slot: u64,
        level: u8,
        block: u64,
        s: u64,
        e: u64,
    ) -> Result<Next, PtError> {
        let block_last = block | low_mask(entry_order(level));
        let mut raw = cx.read(slot).await?;
        if let Entry::Sized { mfn, order, perm } = entry::decode(raw, level) {
            // Rare (NL = 7 pages only): boxed, keeping this future small.
            Box::pin(self.split_sized(cx, r, slot, level, block, (mfn, order, perm))).await?;
            raw = cx.read(slot).await?;
        }
        let old = entry::decode(raw, level);
        match r.write {
            Write::Map { mfn, perm, level: leaf_level } if level <= leaf_level => {
                if let Some(leaf) = self.leaf(r, block, level, mfn, perm) {
                    cx.write(slot, leaf).await?;
                    self.unlinked(r, old, level, block, block_last);
                }
                Ok(Next::Done)
            }
            Write::Unmap if s == block && e == block_last => {
                if old != Entry::Empty {
                    cx.write(slot, 0).await?;
                    self.unlinked(r, old, level, block, block_last);
                }
                Ok(Next::Done)
            }
            _ => self.below(cx, r, slot, level, raw, block).await,
        }
    }

    /// Notes what replacing `old` in the entry covering `block..=block_last` changed: a
    /// present entry's translations, and a subtree to free.
    fn unlinked(&self, r: &mut Range, old: Entry, level: u8, block: u64, block_last: u64) {
        match old {
            Entry::Empty => {}
            Entry::Pte { .. } | Entry::Sized { .. } => r.note_change(block, block_last),
            Entry::Pde { table } => {
                r.note_change(block, block_last);
                r.orphans.push((table, level - 1));
            }
        }
    }

    /// The leaf a map writes into the entry covering `block` of a level-`level` table, or
    /// `None` for a replica the table chooses not to write. Pages are at least as large as
    /// the entries of their level: a page as large is one NL = 0 leaf, a larger one (up to
    /// the next level's size) that many NL = 7 replicas, a page as large as a whole root that
    /// many NL = 0 leaves.
    fn leaf(&self, r: &Range, block: u64, level: u8, mfn: u64, perm: Perm) -> Option<u64> {
        let entry_order = entry_order(level);
        let offset = block - r.first;
        if r.order > entry_order && r.order < entry_order + 9 {
            let replicas = 1u64 << (r.order - entry_order);
            let replica = (block >> entry_order) & (replicas - 1);
            let written = self.seams.replicas_written(replicas);
            let page = mfn + (offset & !low_mask(r.order));
            (replica < written).then(|| entry::sized_pte(page, r.order, perm))
        } else {
            Some(entry::pte(mfn + offset, perm))
        }
    }

    /// The table below the entry at `slot` (holding `raw`, covering DFNs from `block`) that the
    /// range descends into: its table, or a table linked for it (empty, or the pieces of its
    /// leaf); none for an unmap of an empty entry (nothing is mapped there).
    async fn below(
        &self,
        cx: &Cx<'_>,
        r: &mut Range,
        slot: u64,
        level: u8,
        raw: u64,
        block: u64,
    ) -> Result<Next, PtError> {
        let block_last = block | low_mask(entry_order(level));
        let superpage = match entry::decode(raw, level) {
            Entry::Pde { table } => return Ok(Next::Below { child: table, linked: false, raw }),
            Entry::Empty if matches!(r.write, Write::Unmap) => return Ok(Next::Done),
            Entry::Empty => None,
            Entry::Pte { mfn, perm } => {
                r.note_change(block, block_last);
                Some((mfn, perm))
            }
            Entry::Sized { mfn, order, perm } => {
                // Not met after `split_sized`; the piece this entry maps, if it were.
                r.note_change(block, block_last);
                Some((mfn + (block & low_mask(order)), perm))
            }
        };
        // Less common (a table missing or shattered): boxed, keeping this future small.
        let child = Box::pin(self.link_table(cx, slot, level, superpage)).await?;
        Ok(Next::Below { child, linked: true, raw })
    }

    /// Allocates a table for the level-`level` entry at `slot`, fills it with the 512 pieces
    /// of `superpage` (frame, permissions) if any, and links it (with
    /// [`Seams::fill_before_link`] false, links it and then fills it). Returns its SPA.
    async fn link_table(
        &self,
        cx: &Cx<'_>,
        slot: u64,
        level: u8,
        superpage: Option<(u64, Perm)>,
    ) -> Result<u64, PtError> {
        let table = cx.alloc_table(self.domain()).await?;
        if let Some((mfn, perm)) = superpage.filter(|_| !self.seams.fill_before_link()) {
            cx.write(slot, entry::pde(table, level - 1)).await?;
            self.fill_shattered(cx, table, level - 1, mfn, perm).await?;
            return Ok(table);
        }
        let filled = match superpage {
            Some((mfn, perm)) => self.fill_shattered(cx, table, level - 1, mfn, perm).await,
            None => Ok(()),
        };
        let linked = match filled {
            Ok(()) => cx.write(slot, entry::pde(table, level - 1)).await.map_err(PtError::from),
            Err(error) => Err(error),
        };
        if let Err(error) = linked {
            cx.free_table(table).await?;
            return Err(error);
        }
        Ok(table)
    }

    /// Fills the level-`level` table at `table` with the 512 pages of the superpage at `mfn`,
    /// keeping its permissions (Xen b8238afd07).
    async fn fill_shattered(
        &self,
        cx: &Cx<'_>,
        table: u64,
        level: u8,
        mfn: u64,
        perm: Perm,
    ) -> Result<(), PtError> {
        let perm = self.seams.piece_perm(perm);
        let page_order = entry_order(level);
        let piece = |i: u64| entry::pte(mfn + (i << page_order), perm);
        Ok(cx.write_each(slot_spa(table, 0), ENTRIES, piece).await?)
    }

    /// Rewrites every replica of the NL = 7 page (`mfn`, `order`, `perm`) that the entry at
    /// `slot` (covering DFNs from `block`) belongs to as the default-size leaf of its own
    /// piece: the same translations, no replica group left to change in part.
    async fn split_sized(
        &self,
        cx: &Cx<'_>,
        r: &mut Range,
        slot: u64,
        level: u8,
        block: u64,
        (mfn, order, perm): (u64, u32, Perm),
    ) -> Result<(), PtError> {
        let entry_order = entry_order(level);
        let replicas = 1u64 << order.saturating_sub(entry_order).min(9);
        let (table, index) = (slot & !0xfff, (slot & 0xfff) / 8);
        let first = index & !(replicas - 1);
        let (from, count) =
            if self.seams.split_whole_page() { (first, replicas) } else { (index, 1) };
        let piece = |k: u64| entry::pte(mfn + ((from + k - first) << entry_order), perm);
        cx.write_each(slot_spa(table, from), count, piece).await?;
        let group = block - ((index - first) << entry_order);
        r.note_change(group, group + (replicas << entry_order) - 1);
        Ok(())
    }
}

/// The entry being walked in the deepest table of `stack` is done up to `part_last`: the
/// range is complete below `part_last + 1`; the walk goes on at the table's next entry, or,
/// the table's part being done, returns to the entry above it, which is then done too.
fn entry_done(stack: &mut Vec<Frame>, r: &mut Range, part_last: u64) {
    while let Some(frame) = stack.last_mut() {
        r.done_to = part_last + 1;
        if part_last < frame.hi {
            frame.at = part_last + 1;
            return;
        }
        stack.pop();
    }
}
