//! The DFN geometry of the 4-level table: limits, indices, slot addresses, leaf levels.

/// Number of levels of every fixed table (and the DTE mode it is programmed with).
pub(super) const LEVELS: u8 = 4;
/// The DFNs a 4-level table spans: `[0, 2^36)`.
pub(super) const DFN_LIMIT: u64 = 1 << (9 * LEVELS as u32);
/// Frames at or beyond this are beyond the 52-bit physical address space.
pub(super) const MFN_LIMIT: u64 = 1 << 40;
/// Entries per table (one 4 KiB frame of 8-byte entries).
pub(super) const ENTRIES: u64 = 512;
/// Bits of the DFN that index one table.
pub(super) const INDEX_BITS: u32 = 9;
/// The orders a map or unmap may have: 4 KiB, 2 MiB, 1 GiB.
pub(super) const ORDERS: [u32; 3] = [0, 9, 18];

/// log2 of the number of DFNs one entry of a level-`level` table covers.
pub(super) fn entry_order(level: u8) -> u32 {
    INDEX_BITS * u32::from(level.saturating_sub(1))
}

/// Index of `dfn`'s entry in a level-`level` table.
pub(super) fn index(dfn: u64, level: u8) -> u64 {
    (dfn >> entry_order(level)) & (ENTRIES - 1)
}

/// SPA of the entry at `index` in the table at `table`.
pub(super) fn entry_spa(table: u64, index: u64) -> u64 {
    table.wrapping_add(8 * index)
}

/// SPA of `dfn`'s entry in the level-`level` table at `table`.
pub(super) fn slot_spa(table: u64, level: u8, dfn: u64) -> u64 {
    entry_spa(table, index(dfn, level))
}

/// The level of the table that holds a leaf of `order`.
pub(super) fn leaf_level(order: u32) -> u8 {
    (order / INDEX_BITS + 1) as u8
}
