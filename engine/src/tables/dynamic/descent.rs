//! Descent (`iommu_pde_from_dfn`): the walk from the root to the target level, linking
//! missing tables and shattering superpages, and its undo.

use super::entry::{self, Entry};
use super::geometry::{entry_order, index, low_mask, slot_spa, ENTRIES};
use super::{Dynamic, Seams, Top};
use crate::table::{Perm, PtError};

/// A table linked into a slot by the current map or unmap.
#[derive(Clone, Copy, Debug)]
struct Link {
    /// SPA of the slot that now holds the PDE.
    slot: u64,
    /// Level of the table holding the slot.
    level: u8,
    /// The slot's entry before (empty, or the superpage that was shattered).
    previous: u64,
    /// The new table.
    table: u64,
}

/// What a descent changed above the target level, oldest first, so that a failure can undo
/// it and a success can flush what it shattered.
#[derive(Debug)]
pub(super) struct Descent {
    dfn: u64,
    links: Vec<Link>,
}

impl Descent {
    pub(super) fn new(dfn: u64) -> Descent {
        Descent { dfn, links: Vec::new() }
    }

    /// The `(dfn, order)` range of the slot of `link`.
    fn slot_range(&self, link: &Link) -> (u64, u32) {
        let order = entry_order(link.level);
        (self.dfn & !low_mask(order), order)
    }

    /// The largest superpage shattered, as a `(dfn, order)` range (links are top-down).
    pub(super) fn shattered(&self) -> Option<(u64, u32)> {
        let link =
            self.links.iter().find(|l| entry::decode(l.previous, l.level) != Entry::Empty)?;
        Some(self.slot_range(link))
    }

    /// The range of the topmost slot changed, which covers every other change.
    fn changed(&self) -> Option<(u64, u32)> {
        self.links.first().map(|link| self.slot_range(link))
    }
}

impl<S: Seams> Dynamic<S> {
    /// Map's walk from the root to the level-`target_level` table covering `dfn`, allocating
    /// missing tables and shattering superpages on the way. Returns that table's SPA; every
    /// table linked is recorded in `descent`.
    pub(super) fn pde_from_dfn(
        &mut self,
        top: Top,
        dfn: u64,
        target_level: u8,
        descent: &mut Descent,
    ) -> Result<u64, PtError> {
        let mut table = top.root;
        let mut level = top.levels;
        while level > target_level {
            let slot = slot_spa(table, index(dfn, level));
            let raw = self.iommu.read_entry(slot)?;
            table = match entry::decode(raw, level) {
                Entry::Pde { table } => table,
                Entry::Empty => self.link_table(slot, level, raw, None, descent)?,
                Entry::Pte { mfn, perm } => {
                    self.link_table(slot, level, raw, Some((mfn, perm)), descent)?
                }
            };
            level -= 1;
        }
        Ok(table)
    }

    /// Unmap's walk: like [`Dynamic::pde_from_dfn`] but a missing table ends it with `None`
    /// (nothing is mapped there); superpages are still shattered.
    pub(super) fn existing_pde_from_dfn(
        &mut self,
        top: Top,
        dfn: u64,
        target_level: u8,
        descent: &mut Descent,
    ) -> Result<Option<u64>, PtError> {
        let mut table = top.root;
        let mut level = top.levels;
        while level > target_level {
            let slot = slot_spa(table, index(dfn, level));
            let raw = self.iommu.read_entry(slot)?;
            table = match entry::decode(raw, level) {
                Entry::Pde { table } => table,
                Entry::Empty => return Ok(None),
                Entry::Pte { mfn, perm } => {
                    self.link_table(slot, level, raw, Some((mfn, perm)), descent)?
                }
            };
            level -= 1;
        }
        Ok(Some(table))
    }

    /// Links a new next-level table into `slot` of a level-`level` table, whose entry was
    /// `previous`: empty, or, with `superpage = Some((mfn, perm))`, filled first with the 512
    /// smaller pages of that superpage. Returns the new table's SPA.
    fn link_table(
        &mut self,
        slot: u64,
        level: u8,
        previous: u64,
        superpage: Option<(u64, Perm)>,
        descent: &mut Descent,
    ) -> Result<u64, PtError> {
        let next_level = level - 1;
        let table = self.iommu.alloc_table(self.domain())?;
        descent.links.push(Link { slot, level, previous, table });
        if let Some((mfn, perm)) = superpage {
            self.fill_shattered(table, next_level, mfn, perm)?;
        }
        self.iommu.write_entry(slot, entry::pde(table, next_level))?;
        Ok(table)
    }

    /// Fills the level-`level` table at `table` with the 512 pages of the superpage at `mfn`,
    /// keeping its permissions (Xen b8238afd07).
    fn fill_shattered(
        &mut self,
        table: u64,
        level: u8,
        mfn: u64,
        perm: Perm,
    ) -> Result<(), PtError> {
        let perm = self.seams.piece_perm(perm);
        let page_order = entry_order(level);
        for i in 0..ENTRIES {
            self.iommu
                .write_entry(slot_spa(table, i), entry::pte(mfn + (i << page_order), perm))?;
        }
        Ok(())
    }

    /// After `error` part-way through a descent: puts every linked slot back and frees the
    /// tables, newest first, so that nothing changed; returns `error`.
    pub(super) fn abandon<T>(&mut self, descent: Descent, error: PtError) -> Result<T, PtError> {
        for link in descent.links.iter().rev() {
            self.iommu.write_entry(link.slot, link.previous)?;
        }
        if let Some((dfn, order)) = descent.changed() {
            // The unlinked tables may sit in walk caches: flush before freeing them.
            self.flush(dfn, order);
        }
        for link in descent.links.iter().rev() {
            self.iommu.free_table(link.table)?;
        }
        Err(error)
    }
}
