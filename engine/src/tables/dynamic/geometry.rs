//! The DFN geometry of the table: spans, indices, slot addresses, leaf levels.

use crate::table::{PageOrders, PtError};

/// Entries per table.
pub(super) const ENTRIES: u64 = 512;
/// DFN bits one level decodes.
pub(super) const BITS_PER_LEVEL: u32 = 9;
/// DFN bits of a 64-bit IOVA: the span of a 6-level table is capped here.
const DFN_BITS: u32 = 52;
/// Heights the format allows for a root.
pub(super) const LEVELS: std::ops::RangeInclusive<u8> = 1..=6;
/// Maximum heights hardware offers (4 + HATS).
pub(super) const MAX_LEVELS: std::ops::RangeInclusive<u8> = 4..=6;
/// Frames must lie below 2^40 (52-bit SPAs).
pub(super) const MFN_LIMIT: u64 = 1 << 40;

/// log2 of the DFNs one entry of a level-`level` table covers: 9 (level - 1).
pub(super) fn entry_order(level: u8) -> u32 {
    BITS_PER_LEVEL * u32::from(level.saturating_sub(1))
}

/// Number of DFNs a table of `levels` levels spans: 2^(9 levels), capped at 2^52.
pub(super) fn span(levels: u8) -> u64 {
    1 << (BITS_PER_LEVEL * u32::from(levels)).min(DFN_BITS)
}

/// Index of the entry covering `dfn` in a level-`level` table.
pub(super) fn index(dfn: u64, level: u8) -> u64 {
    (dfn >> entry_order(level)) & (ENTRIES - 1)
}

/// SPA of entry `index` (< 512) of the table at SPA `table` (a table frame, below 2^52).
pub(super) fn slot_spa(table: u64, index: u64) -> u64 {
    table + 8 * index
}

/// Mask of the DFN bits below `order` (`order` < 64).
pub(super) fn low_mask(order: u32) -> u64 {
    (1 << order) - 1
}

/// The smallest height whose span covers `dfn`, if any height can.
pub(super) fn levels_to_cover(dfn: u64) -> Option<u8> {
    LEVELS.into_iter().find(|&levels| dfn < span(levels))
}

/// Level of the leaves a mapping of `order` gets in a table of `levels` levels: the level
/// whose entries are that large, or the root when the mapping spans the whole table.
pub(super) fn leaf_level(order: u32, levels: u8) -> u8 {
    let natural = u8::try_from(order / BITS_PER_LEVEL + 1).unwrap_or(u8::MAX);
    natural.min(levels)
}

/// `order` is one of the table's page orders.
pub(super) fn check_order(order: u32, orders: PageOrders) -> Result<(), PtError> {
    if orders.contains(order) {
        Ok(())
    } else {
        Err(PtError::UnsupportedOrder { order })
    }
}
