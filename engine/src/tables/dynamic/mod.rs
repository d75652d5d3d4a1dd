//! The dynamic-height table: Xen's AMD-Vi I/O page table of 2011-2019
//! (`update_paging_mode`), driven by the never-merged 2019 `notify_dfn` hook
//! (amd-vi.md 4.3, 4.5; DESIGN.md 4).
//!
//! The table starts at [`DynamicConfig::initial_levels`] and grows by adding levels on top,
//! but only when told that a fresh DFN is about to be mapped ([`PageTable::notify_dfn`]); a
//! map never grows it and fails with [`PtError::BeyondHeight`] instead (the "non-working
//! guest" outcome of a missed notification). Growth builds the whole chain of new roots
//! first, each holding only entry 0 = PDE to the previous root, frees that chain if an
//! allocation fails (the XSA-311 leak), and then publishes the new root: every assigned
//! device's DTE first, then the domain's own root and height, then a flush of every page.
//!
//! Map and unmap walk down from the root Xen-style (`iommu_pde_from_dfn`): map allocates
//! missing tables, both shatter a superpage met on the way into a full table of the next
//! size (filled before it is linked, keeping the superpage's permissions). A failed
//! allocation part-way puts every linked table back and frees it, so a failing operation
//! changes no translation and leaks nothing. Unmap never frees a table that merely became
//! empty (Xen 4.13); only a subtree replaced or fully unmapped as a whole is freed.
//!
//! Decisions where the contract is silent:
//! - The leaf level of a map is `min(order / 9 + 1, levels)`: a mapping as large as the whole
//!   table is written as the 512 leaves of the root, since no entry may map a root's span.
//! - Shattering invalidates the whole shattered superpage, not only the operation's range, so
//!   a cache model that drops only translations a command fully covers stays correct.
//! - Freed subtrees are freed after the flush that follows the write unlinking them (Xen's
//!   deferred free); a failed operation that rolls back links issues one flush too.
//! - Unmap of a range larger than the current table (only possible from DFN 0) clears the
//!   whole table; a range starting beyond the current height is a no-op.
//! - Teardown blocks every DTE, flushes all pages of the domain, then frees the tables.

use crate::plant::{Plant, PlantedBug};
use crate::substrate::commands::{Command, ALL_PAGES_ORDER};
use crate::substrate::device_table::{DteSetting, DEVICE_TABLE_ENTRIES};
use crate::substrate::iommu::Iommu;
use crate::table::{PageTable, Perm, PtError};
use entry::Entry;
use std::collections::BTreeSet;

/// Heights and domain of a [`Dynamic`] table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DynamicConfig {
    /// Levels at creation, 1..=6 (Xen HVM used 2, Linux uses 3).
    pub initial_levels: u8,
    /// Highest height growth may reach, 4..=6 (4 + HATS).
    pub max_levels: u8,
    /// Domain ID written into DTEs.
    pub domain: u16,
}

/// The AMD-Vi v1 PDE/PTE layout as this table writes and reads it (amd-vi.md 2), in one
/// place. Written independently of the oracle's format module on purpose.
mod entry {
    use super::Perm;

    /// Bit 0: present.
    const PR: u64 = 1;
    /// Bits 11:9: next level (level of the child table in a PDE, 0 in a leaf).
    const NL_SHIFT: u32 = 9;
    const NL_MASK: u64 = 0x7;
    /// Bits 51:12: SPA of the child table or of the page.
    const ADDR_MASK: u64 = 0x000f_ffff_ffff_f000;
    /// Bit 60 of a leaf: force coherent.
    const FC: u64 = 1 << 60;
    /// Bit 61: IR, read permission.
    const IR: u64 = 1 << 61;
    /// Bit 62: IW, write permission.
    const IW: u64 = 1 << 62;

    /// One 64-bit entry, decoded.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub(super) enum Entry {
        /// PR = 0.
        Empty,
        /// A PDE: the next-level table is at SPA `table`.
        Pde { table: u64 },
        /// A leaf (pte) mapping the level's page size from frame `mfn` with `perm`.
        Pte { mfn: u64, perm: Perm },
    }

    /// PDE to the level-`next_level` table at SPA `table`: PR, NL, address, IR = IW = 1.
    pub(super) fn pde(table: u64, next_level: u8) -> u64 {
        PR | ((u64::from(next_level) & NL_MASK) << NL_SHIFT) | (table & ADDR_MASK) | IR | IW
    }

    /// Default-size leaf for frame `mfn`: PR, NL = 0, address, FC, IR/IW from `perm`.
    pub(super) fn pte(mfn: u64, perm: Perm) -> u64 {
        let ir = if perm.read { IR } else { 0 };
        let iw = if perm.write { IW } else { 0 };
        PR | ((mfn << 12) & ADDR_MASK) | FC | ir | iw
    }

    /// Decodes `raw`, found in a level-`level` table. Every present entry of an L1 table is a
    /// leaf; above L1, NL = 0 is a leaf and anything else a PDE (this table writes no NL = 7).
    pub(super) fn decode(raw: u64, level: u8) -> Entry {
        if raw & PR == 0 {
            return Entry::Empty;
        }
        let next_level = (raw >> NL_SHIFT) & NL_MASK;
        if level <= 1 || next_level == 0 {
            let perm = Perm { read: raw & IR != 0, write: raw & IW != 0 };
            Entry::Pte { mfn: (raw & ADDR_MASK) >> 12, perm }
        } else {
            Entry::Pde { table: raw & ADDR_MASK }
        }
    }
}

/// Entries per table.
const ENTRIES: u64 = 512;
/// DFN bits one level decodes.
const BITS_PER_LEVEL: u32 = 9;
/// DFN bits of a 64-bit IOVA: the span of a 6-level table is capped here.
const DFN_BITS: u32 = 52;
/// Heights the format allows for a root.
const LEVELS: std::ops::RangeInclusive<u8> = 1..=6;
/// Maximum heights hardware offers (4 + HATS).
const MAX_LEVELS: std::ops::RangeInclusive<u8> = 4..=6;
/// Frames must lie below 2^40 (52-bit SPAs).
const MFN_LIMIT: u64 = 1 << 40;

/// log2 of the DFNs one entry of a level-`level` table covers: 9 (level - 1).
fn entry_order(level: u8) -> u32 {
    BITS_PER_LEVEL * u32::from(level.saturating_sub(1))
}

/// Number of DFNs a table of `levels` levels spans: 2^(9 levels), capped at 2^52.
fn span(levels: u8) -> u64 {
    1 << (BITS_PER_LEVEL * u32::from(levels)).min(DFN_BITS)
}

/// Index of the entry covering `dfn` in a level-`level` table.
fn index(dfn: u64, level: u8) -> u64 {
    (dfn >> entry_order(level)) & (ENTRIES - 1)
}

/// SPA of entry `index` (< 512) of the table at SPA `table` (a table frame, below 2^52).
fn slot_spa(table: u64, index: u64) -> u64 {
    table + 8 * index
}

/// Mask of the DFN bits below `order` (`order` < 64).
fn low_mask(order: u32) -> u64 {
    (1 << order) - 1
}

/// The smallest height whose span covers `dfn`, if any height can.
fn levels_to_cover(dfn: u64) -> Option<u8> {
    LEVELS.into_iter().find(|&levels| dfn < span(levels))
}

/// Level of the leaves a mapping of `order` gets in a table of `levels` levels: the level
/// whose entries are that large, or the root when the mapping spans the whole table.
fn leaf_level(order: u32, levels: u8) -> u8 {
    let natural = u8::try_from(order / BITS_PER_LEVEL + 1).unwrap_or(u8::MAX);
    natural.min(levels)
}

/// Only 4 KiB, 2 MiB and 1 GiB mappings exist.
fn check_order(order: u32) -> Result<(), PtError> {
    match order {
        0 | 9 | 18 => Ok(()),
        _ => Err(PtError::UnsupportedOrder { order }),
    }
}

/// The root and height, always read and published together (what generic_pt keeps in one
/// word and Linux's 2020 fix merged into one atomic).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Top {
    root: u64,
    levels: u8,
}

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
struct Descent {
    dfn: u64,
    links: Vec<Link>,
}

impl Descent {
    fn new(dfn: u64) -> Descent {
        Descent { dfn, links: Vec::new() }
    }

    /// The `(dfn, order)` range of the slot of `link`.
    fn slot_range(&self, link: &Link) -> (u64, u32) {
        let order = entry_order(link.level);
        (self.dfn & !low_mask(order), order)
    }

    /// The largest superpage shattered, as a `(dfn, order)` range (links are top-down).
    fn shattered(&self) -> Option<(u64, u32)> {
        let link =
            self.links.iter().find(|l| entry::decode(l.previous, l.level) != Entry::Empty)?;
        Some(self.slot_range(link))
    }

    /// The range of the topmost slot changed, which covers every other change.
    fn changed(&self) -> Option<(u64, u32)> {
        self.links.first().map(|link| self.slot_range(link))
    }
}

/// A page table that starts low and grows on notification.
#[derive(Debug)]
pub struct Dynamic {
    iommu: Iommu,
    config: DynamicConfig,
    plant: Plant,
    /// `None` once torn down.
    top: Option<Top>,
    /// Assigned devices, in device-ID order.
    devices: BTreeSet<u16>,
    /// D1 only: the device list as it was when the domain first grew.
    first_growth_devices: Option<BTreeSet<u16>>,
}

impl Dynamic {
    /// Creates the domain with an empty root of `config.initial_levels` levels.
    ///
    /// Errors: [`PtError::BadHeight`] unless `1 <= initial_levels <= max_levels` and
    /// `4 <= max_levels <= 6`; [`PtError::NoMemory`] if the root cannot be allocated.
    pub fn new(config: DynamicConfig, plant: Plant) -> Result<Dynamic, PtError> {
        let DynamicConfig { initial_levels, max_levels, domain } = config;
        if !LEVELS.contains(&initial_levels)
            || !MAX_LEVELS.contains(&max_levels)
            || initial_levels > max_levels
        {
            return Err(PtError::BadHeight { initial_levels, max_levels });
        }
        let mut iommu = Iommu::new();
        let root = iommu.alloc_table(domain)?;
        Ok(Dynamic {
            iommu,
            config,
            plant,
            top: Some(Top { root, levels: initial_levels }),
            devices: BTreeSet::new(),
            first_growth_devices: None,
        })
    }

    /// The current root and height, or [`PtError::TornDown`].
    fn top(&self) -> Result<Top, PtError> {
        self.top.ok_or(PtError::TornDown)
    }

    fn domain(&self) -> u16 {
        self.config.domain
    }

    // ---- growth (update_paging_mode) -------------------------------------------------------

    /// Grows the table, if needed, so that its span covers `dfn` (the `notify_dfn` hook).
    fn grow_to_cover(&mut self, dfn: u64) -> Result<(), PtError> {
        let top = self.top()?;
        let max_levels = self.config.max_levels;
        let needed = levels_to_cover(dfn)
            .filter(|&levels| levels <= max_levels)
            .ok_or(PtError::OutOfRange { dfn, max_levels })?;
        let mut target = needed;
        if self.plant.is(PlantedBug::D4GrowNoRecheck) {
            // D4 LNX-AMD-GROW-NO-RECHECK (Linux 46ac18c347b0): grow one level without
            // re-checking whether the DFN is already covered; at the maximum height the
            // growth WARNs and fails, so a legal notify fails.
            if top.levels >= max_levels {
                return Err(PtError::NoMemory);
            }
            target = needed.max(top.levels + 1);
        }
        if target <= top.levels {
            return Ok(());
        }
        let grown = self.build_chain(top, target)?;
        self.publish(grown)
    }

    /// Allocates the new roots from `top.levels + 1` up to `target`, each holding only entry
    /// 0 = PDE to the previous root. On failure frees every table it allocated (XSA-311
    /// leaked them) and changes nothing. Returns the new top, not yet published.
    fn build_chain(&mut self, top: Top, target: u8) -> Result<Top, PtError> {
        let mut chain = Vec::new();
        let mut grown = top;
        while grown.levels < target {
            match self.add_level(grown) {
                Ok(next) => {
                    chain.push(next.root);
                    grown = next;
                }
                Err(error) => {
                    // D1 XEN-XSA311-GROW-DTE (the leak): the levels built so far are dropped
                    // without being freed.
                    if !self.plant.is(PlantedBug::D1GrowLeak) {
                        for root in chain {
                            self.iommu.free_table(root)?;
                        }
                    }
                    return Err(error);
                }
            }
        }
        Ok(grown)
    }

    /// One new root above `top`: entry 0 covers DFNs [0, span(top.levels)), the old table.
    fn add_level(&mut self, top: Top) -> Result<Top, PtError> {
        let root = self.iommu.alloc_table(self.domain())?;
        if let Err(error) = self.iommu.write_entry(root, entry::pde(top.root, top.levels)) {
            self.iommu.free_table(root)?;
            return Err(error.into());
        }
        Ok(Top { root, levels: top.levels + 1 })
    }

    /// Makes `grown` the table every device walks: DTEs first (so no mapping that needs the
    /// new root can be reachable through a stale DTE, Linux's 2020 rule), then the domain's
    /// root and height, then a flush of every page "for safety" as Xen did.
    fn publish(&mut self, grown: Top) -> Result<(), PtError> {
        let devices: Vec<u16> = if self.plant.is(PlantedBug::D1StaleDeviceList) {
            // D1 XEN-XSA311-GROW-DTE: the device list is the one seen at the first growth;
            // devices assigned since keep their old root and mode.
            let snapshot = self.first_growth_devices.get_or_insert_with(|| self.devices.clone());
            snapshot.iter().copied().collect()
        } else {
            self.devices.iter().copied().collect()
        };
        let setting = self.translate_setting(grown);
        for dev in devices {
            self.program_dte(dev, setting)?;
        }
        self.iommu.issue(Command::CompletionWait);
        self.top = Some(grown);
        self.flush(0, ALL_PAGES_ORDER);
        Ok(())
    }

    // ---- devices ---------------------------------------------------------------------------

    fn translate_setting(&self, top: Top) -> DteSetting {
        DteSetting::Translate { domain: self.domain(), root: top.root, levels: top.levels }
    }

    /// Writes `dev`'s DTE and invalidates the IOMMU's copy (the caller waits for completion).
    fn program_dte(&mut self, dev: u16, setting: DteSetting) -> Result<(), PtError> {
        self.iommu.set_dte(dev, setting)?;
        self.iommu.issue(Command::InvalidateDevtabEntry { dev });
        Ok(())
    }

    /// [`PtError::NoSuchDevice`] for device IDs beyond the device table.
    fn check_device(dev: u16) -> Result<(), PtError> {
        if u32::from(dev) < DEVICE_TABLE_ENTRIES {
            Ok(())
        } else {
            Err(PtError::NoSuchDevice { dev })
        }
    }

    // ---- descent (iommu_pde_from_dfn) ------------------------------------------------------

    /// Map's walk from the root to the level-`target_level` table covering `dfn`, allocating
    /// missing tables and shattering superpages on the way. Returns that table's SPA; every
    /// table linked is recorded in `descent`.
    fn pde_from_dfn(
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
    fn existing_pde_from_dfn(
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
        let perm = if self.plant.is(PlantedBug::SplitGrantsRw) {
            // SPLIT-RW (the bug Xen b8238afd07 fixed): the smaller pages get read/write.
            Perm::RW
        } else {
            perm
        };
        let page_order = entry_order(level);
        for i in 0..ENTRIES {
            self.iommu
                .write_entry(slot_spa(table, i), entry::pte(mfn + (i << page_order), perm))?;
        }
        Ok(())
    }

    /// After `error` part-way through a descent: puts every linked slot back and frees the
    /// tables, newest first, so that nothing changed; returns `error`.
    fn abandon<T>(&mut self, descent: Descent, error: PtError) -> Result<T, PtError> {
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

    // ---- leaves ----------------------------------------------------------------------------

    /// Writes `count` consecutive entries of the level-`level` table at `table` from `dfn`'s
    /// index on, entry `i` being `value(i)`. Returns whether a present entry was overwritten
    /// and the subtrees (table SPA, level) that were unlinked, still to be freed.
    fn write_slots(
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
    fn free_subtree(&mut self, table: u64, level: u8) -> Result<(), PtError> {
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
    fn finish(
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
    fn flush(&mut self, dfn: u64, order: u32) {
        self.iommu.issue(Command::InvalidateIommuPages { domain: self.domain(), dfn, order });
        self.iommu.issue(Command::CompletionWait);
    }
}

impl PageTable for Dynamic {
    fn name(&self) -> &str {
        "dynamic"
    }

    fn iommu(&self) -> &Iommu {
        &self.iommu
    }

    fn iommu_mut(&mut self) -> &mut Iommu {
        &mut self.iommu
    }

    fn domain_id(&self) -> u16 {
        self.config.domain
    }

    fn levels(&self) -> u8 {
        self.top.map_or(0, |top| top.levels)
    }

    fn max_levels(&self) -> u8 {
        self.config.max_levels
    }

    fn root(&self) -> Option<u64> {
        self.top.map(|top| top.root)
    }

    /// Checks in the contract's order, then walks to the leaf level (allocating and
    /// shattering), writes the leaves, flushes if anything present was replaced and frees
    /// replaced subtrees. Never grows the table.
    fn map(&mut self, dfn: u64, mfn: u64, order: u32, perm: Perm) -> Result<(), PtError> {
        let top = self.top()?;
        check_order(order)?;
        if perm.is_empty() {
            return Err(PtError::NoPermission);
        }
        let mask = low_mask(order);
        if dfn & mask != 0 || mfn & mask != 0 {
            return Err(PtError::Misaligned { dfn, mfn, order });
        }
        if mfn.checked_add(1 << order).map_or(true, |end| end > MFN_LIMIT) {
            return Err(PtError::MfnTooLarge { mfn, order });
        }
        let last = dfn | mask;
        let max_levels = self.config.max_levels;
        if last >= span(max_levels) {
            return Err(PtError::OutOfRange { dfn: last, max_levels });
        }
        if last >= span(top.levels) {
            return Err(PtError::BeyondHeight { dfn: last, levels: top.levels });
        }

        let level = leaf_level(order, top.levels);
        let mut descent = Descent::new(dfn);
        let table = match self.pde_from_dfn(top, dfn, level, &mut descent) {
            Ok(table) => table,
            Err(error) => return self.abandon(descent, error),
        };
        let page_order = entry_order(level);
        let count = 1 << (order - page_order);
        let (replaced, orphans) = self
            .write_slots(table, level, dfn, count, |i| entry::pte(mfn + (i << page_order), perm))?;
        self.finish(&descent, (dfn, order), replaced, orphans)
    }

    /// Argument checks, then: beyond the current height a no-op (never grows); otherwise
    /// walks without allocating tables (a hole means nothing is mapped), shattering a
    /// superpage that is only partly covered, and clears the covered entries, freeing
    /// subtrees that are wholly unmapped. Tables that merely become empty stay (Xen 4.13).
    fn unmap(&mut self, dfn: u64, order: u32) -> Result<(), PtError> {
        let mut top = self.top()?;
        check_order(order)?;
        let mask = low_mask(order);
        if dfn & mask != 0 {
            return Err(PtError::Misaligned { dfn, mfn: 0, order });
        }
        let last = dfn | mask;
        if self.plant.is(PlantedBug::UnmapGrows)
            && last >= span(top.levels)
            && last < span(self.config.max_levels)
        {
            // UNMAP-GROW (the bug Xen ad591454f0 fixed): unmap grows the table like a map.
            self.grow_to_cover(last)?;
            top = self.top()?;
        }
        if dfn >= span(top.levels) {
            return Ok(());
        }
        // A range larger than the table starts at DFN 0 (it is aligned): it is the table.
        let order = order.min(BITS_PER_LEVEL * u32::from(top.levels));

        let level = leaf_level(order, top.levels);
        let mut descent = Descent::new(dfn);
        let table = match self.existing_pde_from_dfn(top, dfn, level, &mut descent) {
            Ok(Some(table)) => table,
            Ok(None) => return Ok(()),
            Err(error) => return self.abandon(descent, error),
        };
        let count = 1 << (order - entry_order(level));
        let (cleared, orphans) = self.write_slots(table, level, dfn, count, |_| 0)?;
        self.finish(&descent, (dfn, order), cleared, orphans)
    }

    /// [`PtError::OutOfRange`] beyond the span of the maximum height; otherwise grows to the
    /// smallest height covering `dfn` (never shrinks, no growth when already covered).
    fn notify_dfn(&mut self, dfn: u64) -> Result<(), PtError> {
        self.grow_to_cover(dfn)
    }

    /// Walks the table in memory for `dfn`: the exact frame and the leaf's permissions.
    fn lookup(&self, dfn: u64) -> Option<(u64, Perm)> {
        let top = self.top?;
        if dfn >= span(top.levels) {
            return None;
        }
        let mut table = top.root;
        let mut level = top.levels;
        loop {
            let raw = self.iommu.read_entry(slot_spa(table, index(dfn, level))).ok()?;
            match entry::decode(raw, level) {
                Entry::Empty => return None,
                Entry::Pte { mfn, perm } => {
                    return Some((mfn.checked_add(dfn & low_mask(entry_order(level)))?, perm));
                }
                Entry::Pde { table: next } => {
                    table = next;
                    level -= 1;
                }
            }
        }
    }

    fn assign(&mut self, dev: u16) -> Result<(), PtError> {
        let top = self.top()?;
        Self::check_device(dev)?;
        if self.devices.contains(&dev) {
            return Err(PtError::AlreadyAssigned { dev });
        }
        self.program_dte(dev, self.translate_setting(top))?;
        self.iommu.issue(Command::CompletionWait);
        self.devices.insert(dev);
        Ok(())
    }

    fn deassign(&mut self, dev: u16) -> Result<(), PtError> {
        self.top()?;
        Self::check_device(dev)?;
        if !self.devices.contains(&dev) {
            return Err(PtError::NotAssigned { dev });
        }
        if self.plant.is(PlantedBug::T2StaleDteCache) {
            // T2 class (XSA-386): the DTE is blocked in memory, but the IOMMU's cached copy
            // is never invalidated, so the device keeps walking the domain's tables.
            self.iommu.set_dte(dev, DteSetting::Blocked)?;
        } else {
            self.program_dte(dev, DteSetting::Blocked)?;
        }
        self.iommu.issue(Command::CompletionWait);
        self.devices.remove(&dev);
        Ok(())
    }

    /// Blocks every assigned device, flushes the domain's pages, frees every table.
    fn teardown(&mut self) -> Result<(), PtError> {
        let top = self.top()?;
        for dev in std::mem::take(&mut self.devices) {
            self.program_dte(dev, DteSetting::Blocked)?;
        }
        self.iommu.issue(Command::CompletionWait);
        self.flush(0, ALL_PAGES_ORDER);
        self.top = None;
        self.free_subtree(top.root, top.levels)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::substrate::frames::{POISON_MFN, TABLE_POOL_FIRST_PFN};
    use ptdiff_reference::{
        enumerate, walk, Fault, Model, Reach, Translation, TranslationKind, WalkConfig,
    };

    const DOMAIN: u16 = 7;
    const PR: u64 = 1;
    const FC: u64 = 1 << 60;
    const IR: u64 = 1 << 61;
    const IW: u64 = 1 << 62;
    /// The first table frame the allocator hands out.
    const FIRST_TABLE: u64 = TABLE_POOL_FIRST_PFN << 12;

    fn config(initial_levels: u8, max_levels: u8) -> DynamicConfig {
        DynamicConfig { initial_levels, max_levels, domain: DOMAIN }
    }

    fn table(initial_levels: u8, max_levels: u8) -> Dynamic {
        Dynamic::new(config(initial_levels, max_levels), Plant::NONE).unwrap()
    }

    /// The oracle's view: device `dev` reads DFN `dfn` (no permission check).
    fn walk_dfn(t: &Dynamic, dev: u16, dfn: u64) -> Result<Translation, Fault> {
        let cfg = WalkConfig { max_levels: t.max_levels(), ..Default::default() };
        let iova = dfn.wrapping_shl(12);
        walk(t.iommu().memory(), &cfg, &t.iommu().device_table(), dev, iova, Perm::NONE)
    }

    /// What device `dev` translates `dfn` to through the table per the oracle, as (mfn, perm).
    fn hw(t: &Dynamic, dev: u16, dfn: u64) -> Option<(u64, Perm)> {
        let tr = walk_dfn(t, dev, dfn).ok()?;
        matches!(tr.kind, TranslationKind::Table { .. }).then_some((tr.spa >> 12, tr.perm))
    }

    /// Whether a DMA read or write by `dev` to `dfn` gets through (oracle).
    fn dma_reaches(t: &Dynamic, dev: u16, dfn: u64) -> bool {
        let cfg = WalkConfig { max_levels: t.max_levels(), ..Default::default() };
        let devtab = t.iommu().device_table();
        [Perm::R, Perm::W]
            .into_iter()
            .any(|access| walk(t.iommu().memory(), &cfg, &devtab, dev, dfn << 12, access).is_ok())
    }

    fn raw(t: &Dynamic, table: u64, index: u64) -> u64 {
        t.iommu().read_entry(table + 8 * index).unwrap()
    }

    fn live_tables(t: &Dynamic) -> usize {
        t.iommu().frames().live_tables(DOMAIN).count()
    }

    fn commands_since(t: &Dynamic, cursor: usize) -> Vec<Command> {
        t.iommu().commands().since(cursor).to_vec()
    }

    fn pde(table: u64, next_level: u64) -> u64 {
        PR | (next_level << 9) | table | IR | IW
    }

    fn dte_mode_and_root(t: &Dynamic, dev: u16) -> (u8, u64) {
        let dte = t.iommu().device_table().read(t.iommu().memory(), dev).unwrap();
        (dte.mode(), dte.root())
    }

    fn flush(dfn: u64, order: u32) -> [Command; 2] {
        [Command::InvalidateIommuPages { domain: DOMAIN, dfn, order }, Command::CompletionWait]
    }

    // ---- creation ----------------------------------------------------------------------------

    #[test]
    fn test_new_rejects_bad_heights() {
        for (initial, max) in [(0, 4), (7, 6), (1, 3), (1, 7), (5, 4), (6, 5)] {
            let err = Dynamic::new(config(initial, max), Plant::NONE).unwrap_err();
            assert_eq!(err, PtError::BadHeight { initial_levels: initial, max_levels: max });
        }
        for (initial, max) in [(1, 4), (2, 4), (4, 4), (3, 5), (6, 6)] {
            assert!(Dynamic::new(config(initial, max), Plant::NONE).is_ok());
        }
    }

    #[test]
    fn test_new_allocates_one_empty_root() {
        let t = table(2, 4);
        assert_eq!((t.levels(), t.max_levels(), t.domain_id()), (2, 4, DOMAIN));
        assert_eq!(t.root(), Some(FIRST_TABLE));
        assert_eq!(live_tables(&t), 1);
        assert!((0..ENTRIES).all(|i| raw(&t, FIRST_TABLE, i) == 0));
        assert_eq!(t.name(), "dynamic");
        assert!(t.iommu().commands().is_empty());
    }

    // ---- growth ------------------------------------------------------------------------------

    #[test]
    fn test_increase_level() {
        let mut t = table(1, 6);
        for levels in 1u8..6 {
            let old_root = t.root().unwrap();
            // The first DFN just past the current span needs exactly one more level.
            t.notify_dfn(span(levels)).unwrap();
            assert_eq!(t.levels(), levels + 1);
            let root = t.root().unwrap();
            assert_ne!(root, old_root);
            assert_eq!(raw(&t, root, 0), pde(old_root, u64::from(levels)));
            assert!((1..ENTRIES).all(|i| raw(&t, root, i) == 0));
        }
        assert_eq!(live_tables(&t), 6);
        assert_eq!(span(6), 1 << 52);
        assert_eq!(t.notify_dfn((1 << 52) - 1), Ok(()));
        assert_eq!(t.notify_dfn(1 << 52), Err(PtError::OutOfRange { dfn: 1 << 52, max_levels: 6 }));
        assert_eq!(t.levels(), 6);
    }

    #[test]
    fn test_notify_grows_to_smallest_covering_height_in_one_step() {
        let mut t = table(1, 5);
        let l1 = t.root().unwrap();
        t.notify_dfn(1 << 27).unwrap(); // needs 4 levels
        assert_eq!(t.levels(), 4);
        assert_eq!(live_tables(&t), 4);
        let l4 = t.root().unwrap();
        let l3 = raw(&t, l4, 0) & 0x000f_ffff_ffff_f000;
        let l2 = raw(&t, l3, 0) & 0x000f_ffff_ffff_f000;
        assert_eq!(raw(&t, l4, 0), pde(l3, 3));
        assert_eq!(raw(&t, l3, 0), pde(l2, 2));
        assert_eq!(raw(&t, l2, 0), pde(l1, 1));
        assert_eq!(t.notify_dfn(1 << 45), Err(PtError::OutOfRange { dfn: 1 << 45, max_levels: 5 }));
        assert_eq!(t.levels(), 4);
    }

    #[test]
    fn test_notify_covered_dfn_does_not_grow() {
        let mut t = table(3, 4);
        let cursor = t.iommu().commands().len();
        for dfn in [0, 1, (1 << 27) - 1] {
            t.notify_dfn(dfn).unwrap();
        }
        assert_eq!((t.levels(), live_tables(&t)), (3, 1));
        assert!(commands_since(&t, cursor).is_empty());
        t.notify_dfn(1 << 27).unwrap();
        t.notify_dfn(5).unwrap(); // never shrinks
        assert_eq!(t.levels(), 4);
    }

    #[test]
    fn test_grow_keeps_translations() {
        let mut t = table(1, 6);
        t.assign(3).unwrap();
        t.map(0, 0x200, 9, Perm::RW).unwrap(); // the whole 1-level table
        t.map(0, 0x555, 0, Perm::R).unwrap();
        let probes = [0u64, 1, 2, 300, 511];
        let before: Vec<_> = probes.iter().map(|&d| hw(&t, 3, d)).collect();
        assert_eq!(before[0], Some((0x555, Perm::R)));
        assert_eq!(before[2], Some((0x202, Perm::RW)));
        for dfn in [512, 1 << 18, 1 << 27, 1 << 36, 1 << 45] {
            t.notify_dfn(dfn).unwrap();
            let after: Vec<_> = probes.iter().map(|&d| hw(&t, 3, d)).collect();
            assert_eq!(after, before, "after growing for dfn {dfn:#x}");
            assert_eq!(hw(&t, 3, 512), None);
            assert_eq!(t.lookup(300), Some((0x200 + 300, Perm::RW)));
        }
        assert_eq!(t.levels(), 6);
    }

    #[test]
    fn test_grow_rewrites_dtes_then_flushes_everything() {
        let mut t = table(2, 4);
        t.assign(9).unwrap();
        t.assign(4).unwrap();
        let cursor = t.iommu().commands().len();
        t.notify_dfn(1 << 18).unwrap();
        let root = t.root().unwrap();
        for dev in [4, 9] {
            assert_eq!(dte_mode_and_root(&t, dev), (3, root));
        }
        assert_eq!(dte_mode_and_root(&t, 5), (0, 0), "unassigned devices stay blocked");
        assert_eq!(
            commands_since(&t, cursor),
            vec![
                Command::InvalidateDevtabEntry { dev: 4 },
                Command::InvalidateDevtabEntry { dev: 9 },
                Command::CompletionWait,
                Command::InvalidateIommuPages { domain: DOMAIN, dfn: 0, order: ALL_PAGES_ORDER },
                Command::CompletionWait,
            ]
        );
    }

    #[test]
    fn test_grow_failure_frees_chain() {
        let mut t = table(1, 4);
        t.assign(0).unwrap();
        t.map(7, 0x42, 0, Perm::W).unwrap();
        let (root, commands) = (t.root(), t.iommu().commands().len());
        for nth in 1..=3 {
            t.iommu_mut().frames_mut().fail_nth_allocation(nth);
            assert_eq!(t.notify_dfn(1 << 27), Err(PtError::NoMemory), "failing allocation {nth}");
            assert_eq!((t.levels(), t.root()), (1, root));
            assert_eq!(live_tables(&t), 1, "the partial chain is freed");
            assert_eq!(dte_mode_and_root(&t, 0), (1, root.unwrap()));
            assert_eq!(t.iommu().commands().len(), commands);
            assert_eq!(hw(&t, 0, 7), Some((0x42, Perm::W)));
        }
        t.notify_dfn(1 << 27).unwrap();
        assert_eq!((t.levels(), live_tables(&t)), (4, 4));
        assert_eq!(hw(&t, 0, 7), Some((0x42, Perm::W)));
    }

    #[test]
    fn test_assign_after_growth_gets_current_root() {
        let mut t = table(2, 5);
        t.assign(1).unwrap();
        t.notify_dfn(1 << 18).unwrap();
        t.assign(2).unwrap();
        t.notify_dfn(1 << 27).unwrap();
        let root = t.root().unwrap();
        assert_eq!(dte_mode_and_root(&t, 1), (4, root));
        assert_eq!(dte_mode_and_root(&t, 2), (4, root));
        t.map(1 << 27, 0x9000, 9, Perm::RW).unwrap();
        for dev in [1, 2] {
            assert_eq!(hw(&t, dev, (1 << 27) + 3), Some((0x9003, Perm::RW)));
        }
    }

    // ---- map ---------------------------------------------------------------------------------

    #[test]
    fn test_map_argument_errors_in_contract_order() {
        let mut t = table(2, 4);
        let cases = [
            ((0, 0, 1, Perm::RW), PtError::UnsupportedOrder { order: 1 }),
            ((0, 0, u32::MAX, Perm::NONE), PtError::UnsupportedOrder { order: u32::MAX }),
            ((1, 1, 9, Perm::NONE), PtError::NoPermission),
            ((1, 0, 9, Perm::R), PtError::Misaligned { dfn: 1, mfn: 0, order: 9 }),
            ((0, 512 + 1, 9, Perm::R), PtError::Misaligned { dfn: 0, mfn: 513, order: 9 }),
            ((1 << 40, 1 << 40, 0, Perm::R), PtError::MfnTooLarge { mfn: 1 << 40, order: 0 }),
            ((0, !511u64, 9, Perm::R), PtError::MfnTooLarge { mfn: !511u64, order: 9 }),
            (
                (1 << 36, (1 << 40) - 1, 0, Perm::W),
                PtError::OutOfRange { dfn: 1 << 36, max_levels: 4 },
            ),
            ((u64::MAX, 0, 0, Perm::W), PtError::OutOfRange { dfn: u64::MAX, max_levels: 4 }),
            ((1 << 18, 0, 18, Perm::RW), PtError::BeyondHeight { dfn: (1 << 19) - 1, levels: 2 }),
        ];
        for ((dfn, mfn, order, perm), expected) in cases {
            assert_eq!(
                t.map(dfn, mfn, order, perm),
                Err(expected),
                "map {dfn:#x} {mfn:#x} {order}"
            );
        }
        assert_eq!(live_tables(&t), 1);
        assert!(t.iommu().commands().is_empty());
        // The last frame below 2^40 is fine.
        t.map(0, (1 << 40) - 1, 0, Perm::R).unwrap();
        assert_eq!(t.lookup(0), Some(((1 << 40) - 1, Perm::R)));
    }

    #[test]
    fn test_map_beyond_height_rejected() {
        let mut t = table(2, 4);
        t.assign(0).unwrap();
        let cursor = t.iommu().commands().len();
        assert_eq!(
            t.map(1 << 18, 0x1000, 0, Perm::RW),
            Err(PtError::BeyondHeight { dfn: 1 << 18, levels: 2 })
        );
        assert_eq!((t.levels(), live_tables(&t)), (2, 1), "a map never grows the table");
        assert!(commands_since(&t, cursor).is_empty());
        assert_eq!(t.lookup(1 << 18), None);
        t.notify_dfn(1 << 18).unwrap();
        t.map(1 << 18, 0x1000, 0, Perm::RW).unwrap();
        assert_eq!(hw(&t, 0, 1 << 18), Some((0x1000, Perm::RW)));
    }

    #[test]
    fn test_map_4k_writes_exact_entries() {
        let mut t = table(3, 4);
        t.assign(2).unwrap();
        let dfn = (5 << 18) | (6 << 9) | 7;
        let cursor = t.iommu().commands().len();
        t.map(dfn, 0xabcde, 0, Perm::W).unwrap();
        let l3 = t.root().unwrap();
        let l2 = raw(&t, l3, 5) & 0x000f_ffff_ffff_f000;
        let l1 = raw(&t, l2, 6) & 0x000f_ffff_ffff_f000;
        assert_eq!(raw(&t, l3, 5), pde(l2, 2));
        assert_eq!(raw(&t, l2, 6), pde(l1, 1));
        assert_eq!(raw(&t, l1, 7), PR | (0xabcde << 12) | FC | IW);
        assert_eq!(live_tables(&t), 3);
        assert!(commands_since(&t, cursor).is_empty(), "nothing present was replaced");
        let tr = walk_dfn(&t, 2, dfn).unwrap();
        assert_eq!((tr.spa, tr.page_size_log2, tr.perm), (0xabcde << 12, 12, Perm::W));
        assert_eq!(t.lookup(dfn), Some((0xabcde, Perm::W)));
        assert_eq!(hw(&t, 2, dfn + 1), None);
    }

    #[test]
    fn test_map_superpages_are_single_leaves() {
        let mut t = table(4, 4);
        t.assign(0).unwrap();
        t.map(1 << 18, 1 << 18, 18, Perm::R).unwrap();
        t.map(3 << 9, 5 << 9, 9, Perm::RW).unwrap();
        let l4 = t.root().unwrap();
        let l3 = raw(&t, l4, 0) & 0x000f_ffff_ffff_f000;
        assert_eq!(raw(&t, l3, 1), PR | (1 << 30) | FC | IR);
        let tr = walk_dfn(&t, 0, (1 << 18) + 12345).unwrap();
        assert_eq!((tr.spa >> 12, tr.page_size_log2, tr.perm), ((1 << 18) + 12345, 30, Perm::R));
        let tr = walk_dfn(&t, 0, (3 << 9) + 511).unwrap();
        assert_eq!((tr.spa >> 12, tr.page_size_log2), ((5 << 9) + 511, 21));
        assert_eq!(live_tables(&t), 3, "L4, L3 and one L2: no L1 for superpages");
    }

    #[test]
    fn test_map_whole_table_span_writes_root_leaves() {
        // 2 MiB into a 1-level table: 512 4 KiB leaves in the root.
        let mut t = table(1, 4);
        t.assign(0).unwrap();
        t.map(0, 0x800, 9, Perm::R).unwrap();
        let root = t.root().unwrap();
        for i in [0, 1, 511] {
            assert_eq!(raw(&t, root, i), PR | ((0x800 + i) << 12) | FC | IR);
            assert_eq!(hw(&t, 0, i), Some((0x800 + i, Perm::R)));
        }
        assert_eq!(live_tables(&t), 1);
        // 1 GiB into a 2-level table: 512 2 MiB leaves in the root.
        let mut t = table(2, 4);
        t.assign(0).unwrap();
        t.map(0, 1 << 18, 18, Perm::RW).unwrap();
        let root = t.root().unwrap();
        assert_eq!(raw(&t, root, 3), PR | (((1 << 18) + (3 << 9)) << 12) | FC | IR | IW);
        let tr = walk_dfn(&t, 0, (1 << 18) - 1).unwrap();
        assert_eq!((tr.spa >> 12, tr.page_size_log2), ((1 << 19) - 1, 21));
        assert_eq!(live_tables(&t), 1);
        // After growth the same range can become one 1 GiB leaf, freeing the old root.
        t.notify_dfn(1 << 18).unwrap();
        t.map(0, 1 << 19, 18, Perm::R).unwrap();
        assert_eq!(live_tables(&t), 1);
        assert_eq!(hw(&t, 0, 5), Some(((1 << 19) + 5, Perm::R)));
    }

    #[test]
    fn test_map_superpage_frees_subtree() {
        let mut t = table(3, 4);
        t.assign(1).unwrap();
        for i in 0..4 {
            t.map((1 << 18) + (i << 9) + i, 0x100 + i, 0, Perm::RW).unwrap();
        }
        assert_eq!(live_tables(&t), 1 + 1 + 4);
        let cursor = t.iommu().commands().len();
        t.map(1 << 18, 1 << 20, 18, Perm::W).unwrap();
        assert_eq!(live_tables(&t), 1, "the L2 table and its 4 L1 tables are freed");
        assert_eq!(commands_since(&t, cursor), flush(1 << 18, 18));
        assert_eq!(raw(&t, t.root().unwrap(), 1), PR | (1 << 32) | FC | IW);
        assert_eq!(hw(&t, 1, (1 << 18) + (2 << 9) + 2), Some(((1 << 20) + (2 << 9) + 2, Perm::W)));
    }

    #[test]
    fn test_map_over_superpage_shatters_keeping_perms() {
        let mut t = table(4, 4);
        t.assign(0).unwrap();
        t.map(0, 1 << 18, 18, Perm::R).unwrap();
        let cursor = t.iommu().commands().len();
        t.map(1000, 0x77, 0, Perm::RW).unwrap();
        // 1 GiB -> 512 x 2 MiB -> 512 x 4 KiB around DFN 1000.
        assert_eq!(live_tables(&t), 4);
        assert_eq!(commands_since(&t, cursor), flush(0, 18), "the whole superpage is flushed");
        assert_eq!(hw(&t, 0, 1000), Some((0x77, Perm::RW)));
        for dfn in [0, 999, 1001, 1 << 9, (1 << 18) - 1] {
            assert_eq!(hw(&t, 0, dfn), Some(((1 << 18) + dfn, Perm::R)), "dfn {dfn}");
        }
        let tr = walk_dfn(&t, 0, (1 << 17) + 3).unwrap();
        assert_eq!(tr.page_size_log2, 21, "untouched parts stay 2 MiB pages");
    }

    #[test]
    fn test_map_replacing_leaf_flushes_range() {
        let mut t = table(2, 4);
        t.map(512, 0x10, 0, Perm::R).unwrap();
        let cursor = t.iommu().commands().len();
        t.map(512, 0x20, 0, Perm::W).unwrap();
        assert_eq!(commands_since(&t, cursor), flush(512, 0));
        assert_eq!(t.lookup(512), Some((0x20, Perm::W)));
    }

    #[test]
    fn test_map_failure_leaves_nothing() {
        let mut t = table(4, 4);
        t.assign(0).unwrap();
        t.map(1 << 27, 0x5, 0, Perm::R).unwrap();
        let tables = live_tables(&t);
        for nth in 1..=3 {
            t.iommu_mut().frames_mut().fail_nth_allocation(nth);
            assert_eq!(t.map(0, 0x9, 0, Perm::RW), Err(PtError::NoMemory));
            assert_eq!(live_tables(&t), tables, "failing allocation {nth}");
            assert_eq!(raw(&t, t.root().unwrap(), 0), 0, "the root slot is put back");
            assert_eq!(hw(&t, 0, 0), None);
            assert_eq!(hw(&t, 0, 1 << 27), Some((0x5, Perm::R)));
        }
        t.map(0, 0x9, 0, Perm::RW).unwrap();
        assert_eq!(live_tables(&t), tables + 3);
    }

    #[test]
    fn test_map_shatter_failure_restores_superpage() {
        let mut t = table(3, 4);
        t.assign(0).unwrap();
        t.map(0, 1 << 18, 18, Perm::R).unwrap();
        let root = t.root().unwrap();
        let superpage = raw(&t, root, 0);
        t.iommu_mut().frames_mut().fail_nth_allocation(2);
        assert_eq!(t.map(3, 0x9, 0, Perm::RW), Err(PtError::NoMemory));
        assert_eq!(raw(&t, root, 0), superpage);
        assert_eq!(live_tables(&t), 1);
        let tr = walk_dfn(&t, 0, 3).unwrap();
        assert_eq!((tr.spa >> 12, tr.page_size_log2, tr.perm), ((1 << 18) + 3, 30, Perm::R));
    }

    // ---- unmap -------------------------------------------------------------------------------

    #[test]
    fn test_unmap_argument_errors() {
        let mut t = table(2, 4);
        assert_eq!(t.unmap(0, 3), Err(PtError::UnsupportedOrder { order: 3 }));
        assert_eq!(t.unmap(0, u32::MAX), Err(PtError::UnsupportedOrder { order: u32::MAX }));
        assert_eq!(t.unmap(5, 9), Err(PtError::Misaligned { dfn: 5, mfn: 0, order: 9 }));
        assert_eq!(t.unmap(u64::MAX, 0), Ok(()));
        assert_eq!(t.unmap(!0x3ffffu64, 18), Ok(()));
    }

    #[test]
    fn test_unmap_split_keeps_perms() {
        let mut t = table(3, 4);
        t.assign(0).unwrap();
        t.map(1 << 9, 1 << 9, 9, Perm::R).unwrap();
        let cursor = t.iommu().commands().len();
        t.unmap((1 << 9) + 5, 0).unwrap();
        assert_eq!(commands_since(&t, cursor), flush(1 << 9, 9));
        assert_eq!(hw(&t, 0, (1 << 9) + 5), None);
        assert_eq!(t.lookup((1 << 9) + 5), None);
        for dfn in [(1 << 9), (1 << 9) + 4, (1 << 9) + 6, (1 << 10) - 1] {
            assert_eq!(hw(&t, 0, dfn), Some((dfn, Perm::R)), "dfn {dfn:#x}");
        }
        assert_eq!(live_tables(&t), 3);
    }

    #[test]
    fn test_unmap_split_1g_down_to_4k() {
        let mut t = table(4, 4);
        t.assign(0).unwrap();
        t.map(1 << 18, 1 << 18, 18, Perm::W).unwrap();
        t.unmap((1 << 18) + 600, 0).unwrap();
        assert_eq!(live_tables(&t), 4);
        assert_eq!(hw(&t, 0, (1 << 18) + 600), None);
        assert_eq!(hw(&t, 0, (1 << 18) + 601), Some(((1 << 18) + 601, Perm::W)));
        assert_eq!(hw(&t, 0, (1 << 19) - 1), Some(((1 << 19) - 1, Perm::W)));
        // A 2 MiB hole inside what is left.
        t.unmap((1 << 18) + (7 << 9), 9).unwrap();
        assert_eq!(hw(&t, 0, (1 << 18) + (7 << 9) + 1), None);
        assert_eq!(hw(&t, 0, (1 << 18) + (8 << 9)), Some(((1 << 18) + (8 << 9), Perm::W)));
    }

    #[test]
    fn test_unmap_beyond_height_is_noop() {
        let mut t = table(2, 4);
        t.map(3, 4, 0, Perm::R).unwrap();
        let (tables, cursor) = (live_tables(&t), t.iommu().commands().len());
        for (dfn, order) in [(1 << 18, 0), (1 << 18, 18), (1 << 40, 9), (u64::MAX, 0)] {
            assert_eq!(t.unmap(dfn, order), Ok(()));
        }
        assert_eq!((t.levels(), live_tables(&t)), (2, tables));
        assert!(commands_since(&t, cursor).is_empty());
        assert_eq!(t.lookup(3), Some((4, Perm::R)));
    }

    #[test]
    fn test_unmap_hole_is_noop_and_allocates_nothing() {
        let mut t = table(4, 4);
        let cursor = t.iommu().commands().len();
        t.unmap(12345, 0).unwrap();
        t.unmap(1 << 18, 18).unwrap();
        assert_eq!(live_tables(&t), 1);
        assert!(commands_since(&t, cursor).is_empty());
    }

    #[test]
    fn test_unmap_keeps_emptied_tables() {
        let mut t = table(3, 4);
        t.map(42, 1, 0, Perm::RW).unwrap();
        assert_eq!(live_tables(&t), 3);
        let cursor = t.iommu().commands().len();
        t.unmap(42, 0).unwrap();
        assert_eq!(commands_since(&t, cursor), flush(42, 0));
        assert_eq!(live_tables(&t), 3, "Xen 4.13 frees tables only at teardown");
        assert_eq!(t.lookup(42), None);
    }

    #[test]
    fn test_unmap_whole_slot_frees_subtree() {
        let mut t = table(3, 4);
        t.map(1 << 18, 1, 0, Perm::RW).unwrap();
        t.map((1 << 18) + (1 << 9), 2, 0, Perm::RW).unwrap();
        assert_eq!(live_tables(&t), 4);
        let cursor = t.iommu().commands().len();
        t.unmap(1 << 18, 18).unwrap();
        assert_eq!(live_tables(&t), 1);
        assert_eq!(raw(&t, t.root().unwrap(), 1), 0);
        assert_eq!(commands_since(&t, cursor), flush(1 << 18, 18));
    }

    #[test]
    fn test_unmap_range_larger_than_table_clears_it() {
        let mut t = table(1, 4);
        t.assign(0).unwrap();
        t.map(0, 0x40, 0, Perm::R).unwrap();
        t.map(511, 0x41, 0, Perm::R).unwrap();
        t.unmap(0, 18).unwrap();
        assert_eq!((t.lookup(0), t.lookup(511)), (None, None));
        assert!((0..ENTRIES).all(|i| raw(&t, t.root().unwrap(), i) == 0));
        // 1 GiB at DFN 0 in a 2-level table: the root's 2 MiB leaves and tables all go.
        let mut t = table(2, 4);
        t.map(0, 0, 9, Perm::R).unwrap();
        t.map(1 << 10, 0, 0, Perm::R).unwrap();
        t.unmap(0, 18).unwrap();
        assert_eq!(live_tables(&t), 1);
        assert_eq!((t.lookup(0), t.lookup(1 << 10)), (None, None));
    }

    #[test]
    fn test_unmap_shatter_failure_changes_nothing() {
        let mut t = table(4, 4);
        t.assign(0).unwrap();
        t.map(0, 1 << 18, 18, Perm::RW).unwrap();
        let tables = live_tables(&t);
        for nth in 1..=2 {
            t.iommu_mut().frames_mut().fail_nth_allocation(nth);
            assert_eq!(t.unmap(5, 0), Err(PtError::NoMemory));
            assert_eq!(live_tables(&t), tables);
            assert_eq!(hw(&t, 0, 5), Some(((1 << 18) + 5, Perm::RW)));
            assert_eq!(walk_dfn(&t, 0, 5).unwrap().page_size_log2, 30);
        }
    }

    // ---- devices and teardown ----------------------------------------------------------------

    #[test]
    fn test_assign_and_deassign() {
        let mut t = table(2, 4);
        t.map(1, 2, 0, Perm::R).unwrap();
        assert_eq!(t.assign(128), Err(PtError::NoSuchDevice { dev: 128 }));
        assert_eq!(t.assign(u16::MAX), Err(PtError::NoSuchDevice { dev: u16::MAX }));
        assert_eq!(t.deassign(3), Err(PtError::NotAssigned { dev: 3 }));
        assert!(!dma_reaches(&t, 3, 1), "an unassigned device reaches nothing");
        let cursor = t.iommu().commands().len();
        t.assign(3).unwrap();
        assert_eq!(
            commands_since(&t, cursor),
            [Command::InvalidateDevtabEntry { dev: 3 }, Command::CompletionWait]
        );
        let dte = t.iommu().device_table().read(t.iommu().memory(), 3).unwrap();
        assert_eq!((dte.mode(), dte.root(), dte.domain_id()), (2, t.root().unwrap(), DOMAIN));
        assert_eq!(hw(&t, 3, 1), Some((2, Perm::R)));
        assert_eq!(t.assign(3), Err(PtError::AlreadyAssigned { dev: 3 }));
        t.deassign(3).unwrap();
        assert!(!dma_reaches(&t, 3, 1), "a deassigned device reaches nothing");
        assert_eq!(dte_mode_and_root(&t, 3), (0, 0));
        assert_eq!(t.deassign(3), Err(PtError::NotAssigned { dev: 3 }));
    }

    #[test]
    fn test_teardown_frees_everything() {
        let mut t = table(2, 5);
        t.assign(0).unwrap();
        t.assign(127).unwrap();
        t.notify_dfn(1 << 40).unwrap();
        t.map(1 << 40, 0x3, 0, Perm::RW).unwrap();
        t.map(0, 0x400, 9, Perm::RW).unwrap();
        assert_eq!(live_tables(&t), 5 + 3);
        let cursor = t.iommu().commands().len();
        t.teardown().unwrap();
        assert_eq!(live_tables(&t), 0);
        assert_eq!((t.levels(), t.root()), (0, None));
        for dev in [0, 127] {
            assert_eq!(dte_mode_and_root(&t, dev), (0, 0));
            assert!(!dma_reaches(&t, dev, 0));
        }
        assert_eq!(
            commands_since(&t, cursor),
            [
                Command::InvalidateDevtabEntry { dev: 0 },
                Command::InvalidateDevtabEntry { dev: 127 },
                Command::CompletionWait,
                Command::InvalidateIommuPages { domain: DOMAIN, dfn: 0, order: ALL_PAGES_ORDER },
                Command::CompletionWait,
            ]
        );
    }

    #[test]
    fn test_torn_down_rejects_everything() {
        let mut t = table(4, 4);
        t.teardown().unwrap();
        assert_eq!(t.teardown(), Err(PtError::TornDown));
        assert_eq!(t.map(0, 0, 0, Perm::R), Err(PtError::TornDown));
        assert_eq!(t.map(1, 0, 77, Perm::NONE), Err(PtError::TornDown));
        assert_eq!(t.unmap(0, 0), Err(PtError::TornDown));
        assert_eq!(t.notify_dfn(0), Err(PtError::TornDown));
        assert_eq!(t.assign(0), Err(PtError::TornDown));
        assert_eq!(t.deassign(0), Err(PtError::TornDown));
        assert_eq!(t.lookup(0), None);
    }

    #[test]
    fn test_extreme_inputs_do_not_panic() {
        let mut t = table(1, 6);
        for dfn in [0, 1, 511, 512, 1 << 51, (1 << 52) - 1, 1 << 52, u64::MAX / 2, u64::MAX] {
            for order in [0, 9, 18, 19, 52, 63, 64, u32::MAX] {
                for mfn in [0, (1 << 40) - 1, 1 << 40, u64::MAX] {
                    let _ = t.map(dfn, mfn, order, Perm::RW);
                }
                let _ = t.unmap(dfn, order);
            }
            let _ = t.lookup(dfn);
            let _ = t.notify_dfn(dfn);
        }
        assert_eq!(t.levels(), 6);
        t.map((1 << 52) - (1 << 18), 0, 18, Perm::R).unwrap();
        assert_eq!(t.lookup((1 << 52) - 1), Some(((1 << 18) - 1, Perm::R)));
        assert_eq!(t.lookup(u64::MAX), None);
        t.teardown().unwrap();
        assert_eq!(live_tables(&t), 0);
    }

    // ---- randomized agreement with the model and the oracle ----------------------------------

    /// xorshift64*: deterministic, no dependencies.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    /// Tables reachable from the root, counted by this test's own traversal.
    fn reachable_tables(t: &Dynamic) -> usize {
        fn count(t: &Dynamic, table: u64, level: u8) -> usize {
            let mut n = 1;
            if level > 1 {
                for i in 0..ENTRIES {
                    let e = raw(t, table, i);
                    if e & PR != 0 && (e >> 9) & 7 != 0 {
                        n += count(t, e & 0x000f_ffff_ffff_f000, level - 1);
                    }
                }
            }
            n
        }
        t.root().map_or(0, |root| count(t, root, t.levels()))
    }

    /// A DFN aligned to `order` near one of the first `regions` (1..=5) regions, each needing
    /// a taller table than the one before.
    fn random_dfn(rng: &mut Rng, order: u32, regions: u64) -> u64 {
        let bases = [0u64, 1 << 18, 1 << 27, 1 << 36, (1 << 45) + (3 << 18)];
        let base = bases[rng.below(regions) as usize];
        let offset = rng.below(1 << 19) & !((1 << order) - 1);
        base + offset
    }

    /// Outcomes the randomized test must reach, so it is shown to exercise each path.
    #[derive(Debug, Default)]
    struct Reached {
        maps: usize,
        unmaps: usize,
        no_memory: usize,
        beyond_height: usize,
        growths: usize,
        shatters: usize,
    }

    #[test]
    fn test_random_ops_agree_with_model_and_oracle() {
        let mut reached = Reached::default();
        for seed in 1..=6u64 {
            let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
            let (initial, max) =
                [(1, 4), (2, 4), (3, 5), (2, 6), (1, 6), (4, 4)][seed as usize - 1];
            let mut t = table(initial, max);
            let mut model = Model::new();
            t.assign(0).unwrap();
            let mut probes = Vec::new();
            for step in 0..250 {
                let order = [0, 0, 9, 18][rng.below(4) as usize];
                // Regions open one by one, so the table grows step by step.
                let dfn = random_dfn(&mut rng, order, 1 + step / 50);
                let (tables_before, levels_before) = (live_tables(&t), t.levels());
                let cursor = t.iommu().commands().len();
                let inject = rng.below(10) == 0;
                if inject {
                    t.iommu_mut().frames_mut().fail_nth_allocation(1 + rng.below(2));
                }
                let result = match rng.below(10) {
                    0..=5 => {
                        let mfn = rng.below(1 << 30) & !((1 << order) - 1);
                        let perm = [Perm::R, Perm::W, Perm::RW][rng.below(3) as usize];
                        let last = dfn + (1 << order) - 1;
                        let notified = rng.below(3) != 0 && t.notify_dfn(last).is_ok();
                        let r = t.map(dfn, mfn, order, perm);
                        if r.is_ok() {
                            reached.maps += 1;
                            model.map(dfn, mfn, order, perm);
                            probes.push(dfn + rng.below(1 << order));
                        } else if notified && last < span(max) && !inject {
                            panic!("seed {seed} step {step}: notified map failed: {r:?}");
                        }
                        r
                    }
                    6..=8 => {
                        let r = t.unmap(dfn, order);
                        if r.is_ok() {
                            reached.unmaps += 1;
                            model.unmap(dfn, order);
                        }
                        probes.push(dfn);
                        r
                    }
                    _ => {
                        let dev = 1 + rng.below(3) as u16;
                        if t.deassign(dev).is_err() {
                            t.assign(dev).unwrap();
                        }
                        Ok(())
                    }
                };
                t.iommu_mut().frames_mut().cancel_failure();
                reached.growths += usize::from(t.levels() > levels_before);
                // Only shattering flushes more than the operation's own range.
                reached.shatters += usize::from(commands_since(&t, cursor).iter().any(|c| {
                    matches!(c, Command::InvalidateIommuPages { order: o, .. }
                        if *o > order && *o != ALL_PAGES_ORDER)
                }));
                match result {
                    Err(PtError::NoMemory) => reached.no_memory += 1,
                    Err(PtError::BeyondHeight { .. }) => reached.beyond_height += 1,
                    _ => {}
                }
                if result == Err(PtError::NoMemory) {
                    assert_eq!(live_tables(&t), tables_before, "seed {seed} step {step}: leak");
                } else if let Err(e) = result {
                    assert!(
                        matches!(e, PtError::BeyondHeight { .. } | PtError::OutOfRange { .. }),
                        "seed {seed} step {step}: {e:?}"
                    );
                }
                assert_eq!(live_tables(&t), reachable_tables(&t), "seed {seed} step {step}");
                for &dfn in probes.iter().rev().take(24) {
                    let expected = model.translate(dfn);
                    assert_eq!(t.lookup(dfn), expected, "seed {seed} step {step} dfn {dfn:#x}");
                    assert_eq!(hw(&t, 0, dfn), expected, "seed {seed} step {step} dfn {dfn:#x}");
                }
                for dev in 1..4u16 {
                    if t.devices.contains(&dev) {
                        let (mode, root) = dte_mode_and_root(&t, dev);
                        assert_eq!((mode, Some(root)), (t.levels(), t.root()));
                    }
                }
            }
            let dte = t.iommu().device_table().read(t.iommu().memory(), 0).unwrap();
            let cfg = WalkConfig { max_levels: max, ..Default::default() };
            let Ok(Reach::Table(leaves)) = enumerate(t.iommu().memory(), &cfg, &dte, 1 << 20)
            else {
                panic!("seed {seed}: enumeration failed");
            };
            assert!(leaves.iter().all(|l| l.spa >> 12 != POISON_MFN));
            assert_eq!(model.first_difference(&Model::from_leaves(&leaves)), None, "seed {seed}");
            t.teardown().unwrap();
            assert_eq!(live_tables(&t), 0);
        }
        let Reached { maps, unmaps, no_memory, beyond_height, growths, shatters } = reached;
        let all = [maps, unmaps, no_memory, beyond_height, growths, shatters];
        assert!(all.iter().all(|&n| n >= 5), "a path was not exercised: {reached:?}");
    }

    // ---- planted bugs ------------------------------------------------------------------------

    #[cfg(feature = "planted-bugs")]
    fn planted(initial_levels: u8, max_levels: u8, bug: PlantedBug) -> Dynamic {
        Dynamic::new(config(initial_levels, max_levels), Plant::select(bug).unwrap()).unwrap()
    }

    #[cfg(feature = "planted-bugs")]
    #[test]
    fn test_planted_d1_stale_device_list() {
        let run = |mut t: Dynamic| {
            t.assign(1).unwrap();
            t.notify_dfn(1 << 18).unwrap(); // first growth: device 1 only
            t.assign(2).unwrap();
            t.notify_dfn(1 << 27).unwrap();
            t.map(1 << 27, 0x10, 0, Perm::RW).unwrap();
            (dte_mode_and_root(&t, 2), t.root().unwrap(), hw(&t, 1, 1 << 27), hw(&t, 2, 1 << 27))
        };
        let (dte, root, dev1, dev2) = run(table(2, 4));
        assert_eq!((dte, dev1, dev2), ((4, root), Some((0x10, Perm::RW)), Some((0x10, Perm::RW))));
        let (dte, root, dev1, dev2) = run(planted(2, 4, PlantedBug::D1StaleDeviceList));
        assert_eq!(dte.0, 3, "device 2 keeps the 3-level mode");
        assert_ne!(dte.1, root);
        assert_eq!((dev1, dev2), (Some((0x10, Perm::RW)), None));
    }

    #[cfg(feature = "planted-bugs")]
    #[test]
    fn test_planted_d4_grow_no_recheck() {
        let mut t = planted(2, 4, PlantedBug::D4GrowNoRecheck);
        t.notify_dfn(0).unwrap();
        assert_eq!(t.levels(), 3, "grew although DFN 0 was covered");
        t.notify_dfn(1 << 27).unwrap(); // needs 4: grows as needed
        assert_eq!(t.levels(), 4);
        assert_eq!(t.notify_dfn(5), Err(PtError::NoMemory), "a legal notify fails at the top");
        let mut t = table(2, 4);
        t.notify_dfn(0).unwrap();
        assert_eq!(t.levels(), 2);
    }

    #[cfg(feature = "planted-bugs")]
    #[test]
    fn test_planted_split_grants_rw() {
        let run = |mut t: Dynamic| {
            t.assign(0).unwrap();
            t.map(1 << 9, 1 << 9, 9, Perm::R).unwrap();
            t.unmap(1 << 9, 0).unwrap();
            (t.lookup((1 << 9) + 1), hw(&t, 0, (1 << 9) + 1))
        };
        let kept = Some(((1 << 9) + 1, Perm::R));
        assert_eq!(run(table(2, 4)), (kept, kept));
        let widened = Some(((1 << 9) + 1, Perm::RW));
        assert_eq!(run(planted(2, 4, PlantedBug::SplitGrantsRw)), (widened, widened));
    }

    #[cfg(feature = "planted-bugs")]
    #[test]
    fn test_planted_unmap_grows() {
        let mut t = planted(2, 4, PlantedBug::UnmapGrows);
        t.assign(0).unwrap();
        t.unmap(1 << 27, 0).unwrap();
        assert_eq!(t.levels(), 4);
        assert_eq!(dte_mode_and_root(&t, 0), (4, t.root().unwrap()));
        let mut t = table(2, 4);
        t.unmap(1 << 27, 0).unwrap();
        assert_eq!(t.levels(), 2);
    }
}
