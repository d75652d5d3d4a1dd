//! Map and unmap: one recursive descent from the root, installing a leaf or an empty entry.
//! New tables are built off-line and published with one PDE write; unlinked tables are freed
//! after the invalidation that covers them.

use super::entry::Entry;
use super::geometry::{entry_order, entry_spa, slot_spa, ENTRIES, INDEX_BITS, LEVELS};
use super::{Fixed, Seams};
use crate::substrate::commands::Command;
use crate::table::{Perm, PtError};

/// What one map or unmap writes: `entry` into `dfn`'s slot of the level-`level` table.
#[derive(Clone, Copy, Debug)]
pub(super) struct Install {
    pub(super) dfn: u64,
    pub(super) order: u32,
    pub(super) level: u8,
    /// A leaf (map) or [`Entry::Empty`] (unmap).
    pub(super) entry: Entry,
}

/// What an operation did to live tables, settled by [`Fixed::settle`] once the tree is final.
#[derive(Debug, Default)]
pub(super) struct Aftermath {
    /// A present entry was replaced or cleared: cached translations of the range are stale.
    flush: bool,
    /// Unlinked subtrees `(table SPA, level)`, to free once the flush has completed.
    garbage: Vec<(u64, u8)>,
}

impl<S: Seams> Fixed<S> {
    /// Descends from the level-`level` table at `table` to `req.level` and installs
    /// `req.entry` there. Missing tables are created, and superpages on the way split, off-line
    /// and published with one PDE write. Returns whether anything under this table changed.
    ///
    /// An unmap (`req.entry` empty) never creates a table for an empty slot: there is nothing
    /// to unmap. After an unmap below a PDE, a child table left all-zero is unlinked and
    /// queued for freeing, so emptiness propagates up to (never including) the root.
    fn descend(
        &mut self,
        table: u64,
        level: u8,
        req: &Install,
        after: &mut Aftermath,
    ) -> Result<bool, PtError> {
        if level <= req.level {
            return self.install(table, level, req, after);
        }
        let slot = slot_spa(table, level, req.dfn);
        let old = self.read(slot, level)?;
        let unmapping = !req.entry.is_present();
        match old {
            Entry::Empty if unmapping => Ok(false),
            Entry::Pde { table: child, .. } => {
                let changed = self.descend(child, level - 1, req, after)?;
                if changed && unmapping && self.table_is_empty(child)? {
                    self.write(slot, Entry::Empty)?;
                    after.garbage.push((child, level - 1));
                }
                Ok(changed)
            }
            Entry::Empty | Entry::Pte { .. } => {
                let child = self.build_off_line(old, level, req)?;
                self.write(slot, Entry::Pde { table: child, next_level: level - 1 })?;
                after.flush |= old.is_present();
                Ok(true)
            }
        }
    }

    /// Writes `req.entry` into its slot of the live level-`level` table at `table`, queueing a
    /// replaced subtree for freeing. Returns whether anything changed (an empty slot stays
    /// unchanged by an unmap).
    fn install(
        &mut self,
        table: u64,
        level: u8,
        req: &Install,
        after: &mut Aftermath,
    ) -> Result<bool, PtError> {
        let slot = slot_spa(table, level, req.dfn);
        let old = self.read(slot, level)?;
        if !old.is_present() && !req.entry.is_present() {
            return Ok(false);
        }
        self.write(slot, req.entry)?;
        after.flush |= old.is_present();
        if let Entry::Pde { table: subtree, .. } = old {
            after.garbage.push((subtree, level - 1));
        }
        Ok(true)
    }

    /// Builds, unreachable by hardware, the level-`level - 1` table that takes the place of
    /// `old` (empty, or a superpage leaf to split) in a level-`level` table, with `req`
    /// installed below it. Returns its SPA. On failure every table built here is freed again.
    fn build_off_line(&mut self, old: Entry, level: u8, req: &Install) -> Result<u64, PtError> {
        let mut built = Vec::new();
        let result = self.build_chain(old, level, req, &mut built);
        if result.is_err() {
            for table in built {
                // Frames this operation allocated and never published: freeing cannot
                // disturb anything; the first error is the one to report.
                let _ = self.iommu.free_table(table);
            }
        }
        result
    }

    /// [`Fixed::build_off_line`]'s recursion: allocates the child table (recorded in
    /// `built`), fills it with the pieces of a split superpage, then fills `req`'s slot in it,
    /// building further down if `req` lives lower still.
    fn build_chain(
        &mut self,
        old: Entry,
        level: u8,
        req: &Install,
        built: &mut Vec<u64>,
    ) -> Result<u64, PtError> {
        let child_level = level - 1;
        let table = self.iommu.alloc_table(self.domain)?;
        built.push(table);
        if let Entry::Pte { mfn, perm } = old {
            self.fill_with_pieces(table, child_level, mfn, perm)?;
        }
        if child_level <= req.level {
            // Fresh table: nothing to flush or free, whatever `install` reports.
            self.install(table, child_level, req, &mut Aftermath::default())?;
        } else {
            let slot = slot_spa(table, child_level, req.dfn);
            let piece = self.read(slot, child_level)?;
            let grandchild = self.build_chain(piece, child_level, req, built)?;
            self.write(slot, Entry::Pde { table: grandchild, next_level: child_level - 1 })?;
        }
        Ok(table)
    }

    /// Fills the level-`level` table at `table` with the 512 leaves that together map what
    /// one superpage `mfn`/`perm` of the level above mapped, keeping its permissions.
    fn fill_with_pieces(
        &mut self,
        table: u64,
        level: u8,
        mfn: u64,
        perm: Perm,
    ) -> Result<(), PtError> {
        let piece_frames = 1u64 << entry_order(level);
        let base = mfn & !((piece_frames << INDEX_BITS) - 1);
        for i in 0..ENTRIES {
            let piece = Entry::Pte { mfn: base.wrapping_add(i * piece_frames), perm };
            self.write(entry_spa(table, i), piece)?;
        }
        Ok(())
    }

    /// True when every entry of the table at `table` is zero.
    fn table_is_empty(&self, table: u64) -> Result<bool, PtError> {
        for i in 0..ENTRIES {
            if self.iommu.read_entry(entry_spa(table, i))? != 0 {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Runs `req` from the root, then flushes and frees what it left behind.
    pub(super) fn apply(&mut self, req: Install) -> Result<(), PtError> {
        let root = self.live_root()?;
        let mut after = Aftermath::default();
        self.descend(root, LEVELS, &req, &mut after)?;
        self.settle(&req, after)
    }

    /// Invalidates `req`'s range if a present entry changed, waits for it, and only then frees
    /// the unlinked subtrees (hardware may walk them until the invalidation completes).
    fn settle(&mut self, req: &Install, after: Aftermath) -> Result<(), PtError> {
        let invalidate = req.entry.is_present() || self.seams.invalidate_after_unmap();
        if after.flush && invalidate {
            self.iommu.issue(Command::InvalidateIommuPages {
                domain: self.domain,
                dfn: req.dfn,
                order: req.order,
            });
            self.iommu.issue(Command::CompletionWait);
        }
        for (table, level) in after.garbage {
            self.free_subtree(table, level)?;
        }
        Ok(())
    }

    /// Frees the level-`level` table at `table` and every table below it. Entries of level-1
    /// tables are never followed, so the recursion is at most 4 deep whatever memory holds.
    pub(super) fn free_subtree(&mut self, table: u64, level: u8) -> Result<(), PtError> {
        if level > 1 {
            for i in 0..ENTRIES {
                if let Entry::Pde { table: child, .. } = self.read(entry_spa(table, i), level)? {
                    self.free_subtree(child, level - 1)?;
                }
            }
        }
        Ok(self.iommu.free_table(table)?)
    }

    /// The implementation's walk: the leaf covering `dfn` below the level-`level` table.
    pub(super) fn translate(&self, table: u64, level: u8, dfn: u64) -> Option<(u64, Perm)> {
        match self.read(slot_spa(table, level, dfn), level).ok()? {
            Entry::Empty => None,
            Entry::Pte { mfn, perm } => {
                let span = (1u64 << entry_order(level)) - 1;
                Some(((mfn & !span) | (dfn & span), perm))
            }
            Entry::Pde { table: child, .. } => self.translate(child, level - 1, dfn),
        }
    }
}
