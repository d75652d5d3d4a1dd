//! What each operation must return, from DESIGN.md section 4 and the error order documented
//! in [`crate::table`]. The runner checks every implementation against this, not only
//! against the other implementation, so a bug shared by both is still caught here.
//!
//! These helpers belong to the runner; implementations must not use them.

use crate::table::{ErrorClass, PageOrders, Perm};

pub use crate::table::{DFN_BITS, DFN_LIMIT, MAX_ORDER, MFN_LIMIT};

/// Number of DFNs a table of `levels` levels spans: `2^(9 levels)`, capped at `2^52`.
pub fn span(levels: u8) -> u64 {
    1u64 << (9 * u32::from(levels)).min(DFN_BITS)
}

/// The smallest height (1..=6) whose span covers `dfn`; 7 when none does.
pub fn levels_needed(dfn: u64) -> u8 {
    (1..=6).find(|&l| dfn < span(l)).unwrap_or(7)
}

/// Last DFN of `[dfn, dfn + 2^order)`, or `None` when it is beyond `u64`.
pub fn last_dfn(dfn: u64, order: u32) -> Option<u64> {
    let frames_minus_one = 1u64.checked_shl(order)?.wrapping_sub(1);
    if order >= 64 {
        return None;
    }
    dfn.checked_add(frames_minus_one)
}

/// Frames in `count` pages of `order`, or `None` beyond `u64`.
pub fn range_frames(order: u32, count: u64) -> Option<u64> {
    count.checked_mul(1u64.checked_shl(order)?)
}

/// Last DFN of the range of `count` pages of `order` from `dfn`, or `None` when it is beyond
/// `u64` (or the range is empty).
pub fn range_last(dfn: u64, order: u32, count: u64) -> Option<u64> {
    dfn.checked_add(range_frames(order, count)?.checked_sub(1)?)
}

/// Whether `order` is a page size of a table mapping `orders` (and thus below 64).
fn valid_order(order: u32, orders: PageOrders) -> bool {
    orders.contains(order)
}

fn aligned(frame: u64, order: u32) -> bool {
    frame & ((1u64 << order) - 1) == 0
}

/// Expected result of `map_pages` (`count` pages of `order`) on a table mapping `orders`,
/// currently `levels` high, that may grow to `max_levels`.
#[allow(clippy::too_many_arguments)]
pub fn map(
    dfn: u64,
    mfn: u64,
    order: u32,
    count: u64,
    perm: Perm,
    orders: PageOrders,
    levels: u8,
    max_levels: u8,
) -> Result<(), ErrorClass> {
    if !valid_order(order, orders)
        || count == 0
        || perm.is_empty()
        || !aligned(dfn, order)
        || !aligned(mfn, order)
    {
        return Err(ErrorClass::InvalidArgument);
    }
    match range_frames(order, count).and_then(|frames| mfn.checked_add(frames)) {
        Some(end) if end <= MFN_LIMIT => {}
        _ => return Err(ErrorClass::InvalidArgument),
    }
    let Some(last) = range_last(dfn, order, count) else { return Err(ErrorClass::OutOfRange) };
    if last >= span(max_levels) {
        return Err(ErrorClass::OutOfRange);
    }
    if last >= span(levels) {
        return Err(ErrorClass::BeyondHeight);
    }
    Ok(())
}

/// Expected result of `unmap_pages` on a table mapping `orders`: only bad arguments fail;
/// beyond any height it is a no-op.
pub fn unmap(dfn: u64, order: u32, count: u64, orders: PageOrders) -> Result<(), ErrorClass> {
    if !valid_order(order, orders) || count == 0 || !aligned(dfn, order) {
        return Err(ErrorClass::InvalidArgument);
    }
    Ok(())
}

/// The level of the tables whose entries a page of `order` is written into, when the table is
/// tall enough: 1 for orders 0 to 8, 2 for 9 to 17, ... (NL = 0 leaves at the first order of
/// each level, NL = 7 leaves above it).
pub fn leaf_level(order: u32) -> u8 {
    u8::try_from(order / 9 + 1).unwrap_or(u8::MAX)
}

/// Whether the range of `count` pages of `order` from `dfn` lies in more than one table of
/// its leaf level (see [`leaf_level`]): it crosses a table boundary.
pub fn crosses_tables(dfn: u64, order: u32, count: u64) -> bool {
    let table_order = 9 * u32::from(leaf_level(order));
    match range_last(dfn, order, count) {
        Some(last) if table_order < 64 => dfn >> table_order != last >> table_order,
        _ => false,
    }
}

/// Expected result of `notify_dfn`.
pub fn notify(dfn: u64, max_levels: u8) -> Result<(), ErrorClass> {
    if dfn >= span(max_levels) {
        return Err(ErrorClass::OutOfRange);
    }
    Ok(())
}

/// Height a table must have after a successful notify of `dfn`: grown exactly as needed.
pub fn levels_after_notify(levels: u8, dfn: u64) -> u8 {
    levels.max(levels_needed(dfn))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_and_needed_levels() {
        assert_eq!(span(1), 512);
        assert_eq!(span(4), 1 << 36);
        assert_eq!(span(6), 1 << 52);
        assert_eq!(levels_needed(0), 1);
        assert_eq!(levels_needed(511), 1);
        assert_eq!(levels_needed(512), 2);
        assert_eq!(levels_needed((1 << 36) - 1), 4);
        assert_eq!(levels_needed(1 << 36), 5);
        assert_eq!(levels_needed(1 << 52), 7);
        assert_eq!(levels_after_notify(3, 5), 3);
        assert_eq!(levels_after_notify(2, 1 << 27), 4);
    }

    /// One page, on a table of the base orders.
    fn map1(
        dfn: u64,
        mfn: u64,
        order: u32,
        perm: Perm,
        levels: u8,
        max: u8,
    ) -> Result<(), ErrorClass> {
        map(dfn, mfn, order, 1, perm, PageOrders::BASE, levels, max)
    }

    #[test]
    fn map_errors_in_documented_order() {
        use ErrorClass::*;
        assert_eq!(map1(0, 0, 5, Perm::RW, 4, 4), Err(InvalidArgument));
        assert_eq!(map1(0, 0, 0, Perm::NONE, 4, 4), Err(InvalidArgument));
        assert_eq!(map1(1, 0, 9, Perm::RW, 4, 4), Err(InvalidArgument));
        assert_eq!(map1(0, 1, 9, Perm::RW, 4, 4), Err(InvalidArgument));
        assert_eq!(map1(0, MFN_LIMIT - 1, 0, Perm::RW, 4, 4), Ok(()));
        assert_eq!(map1(0, MFN_LIMIT, 0, Perm::RW, 4, 4), Err(InvalidArgument));
        // Misaligned beats out of range.
        assert_eq!(map1((1 << 40) + 1, 0, 9, Perm::RW, 4, 4), Err(InvalidArgument));
        assert_eq!(map1(1 << 36, 0, 0, Perm::RW, 4, 4), Err(OutOfRange));
        assert_eq!(map1((1 << 36) - 512, 0, 9, Perm::RW, 4, 4), Ok(()));
        assert_eq!(map1(1 << 36, 0, 0, Perm::RW, 2, 5), Err(BeyondHeight));
        assert_eq!(map1(u64::MAX - 511, 0, 9, Perm::RW, 6, 6), Err(OutOfRange));
        assert_eq!(map1(1 << 18, 0, 18, Perm::R, 2, 4), Err(BeyondHeight));
        assert_eq!(map1(0, 0, 18, Perm::R, 2, 4), Ok(()));
    }

    #[test]
    fn ranges_are_checked_whole() {
        use ErrorClass::*;
        let all = PageOrders::ALL;
        // Order 5 is a page size only of a table that maps every size.
        assert_eq!(map(0, 0, 5, 1, Perm::RW, PageOrders::BASE, 4, 4), Err(InvalidArgument));
        assert_eq!(map(0, 0, 5, 1, Perm::RW, all, 4, 4), Ok(()));
        assert_eq!(map(0, 0, 41, 1, Perm::RW, all, 6, 6), Err(InvalidArgument));
        assert_eq!(map(0, 0, 0, 0, Perm::RW, all, 4, 4), Err(InvalidArgument));
        // The last frame of the range, not of the first page, meets the limits.
        assert_eq!(map(0, MFN_LIMIT - 2, 0, 2, Perm::RW, all, 4, 4), Ok(()));
        assert_eq!(map(0, MFN_LIMIT - 2, 0, 3, Perm::RW, all, 4, 4), Err(InvalidArgument));
        assert_eq!(map(0, 0, 9, u64::MAX, Perm::RW, all, 4, 4), Err(InvalidArgument));
        assert_eq!(map(511, 0, 0, 2, Perm::RW, all, 1, 4), Err(BeyondHeight));
        assert_eq!(map(510, 0, 0, 2, Perm::RW, all, 1, 4), Ok(()));
        assert_eq!(map((1 << 36) - 512, 0, 9, 2, Perm::RW, all, 4, 4), Err(OutOfRange));
        assert_eq!(map(u64::MAX, 0, 0, 2, Perm::RW, all, 6, 6), Err(OutOfRange));
        assert_eq!(unmap(0, 3, 1, PageOrders::BASE), Err(InvalidArgument));
        assert_eq!(unmap(8, 3, 4, all), Ok(()));
        assert_eq!(unmap(4, 3, 4, all), Err(InvalidArgument));
        assert_eq!(unmap(8, 3, 0, all), Err(InvalidArgument));
        assert_eq!(unmap(u64::MAX, 0, u64::MAX, all), Ok(()));
        assert_eq!(range_last(510, 0, 2), Some(511));
        assert_eq!(range_last(0, 9, 3), Some(1535));
        assert_eq!(range_last(1, 0, 0), None);
        assert_eq!(range_last(u64::MAX, 0, 2), None);
        assert_eq!(range_frames(64, 1), None);
    }

    #[test]
    fn leaf_levels_and_table_crossings() {
        assert_eq!([0, 8, 9, 17, 18, 27, 40].map(leaf_level), [1, 1, 2, 2, 3, 4, 5]);
        assert!(!crosses_tables(0, 0, 512));
        assert!(crosses_tables(511, 0, 2));
        assert!(crosses_tables(0, 0, 513));
        assert!(!crosses_tables(0, 3, 64));
        assert!(crosses_tables(0, 3, 65));
        assert!(crosses_tables((1 << 18) - 512, 9, 2));
        assert!(!crosses_tables(0, 9, 512));
        assert!(!crosses_tables(u64::MAX, 0, 2));
    }

    #[test]
    fn unmap_and_notify() {
        let base = PageOrders::BASE;
        assert_eq!(unmap(u64::MAX, 0, 1, base), Ok(()));
        assert_eq!(unmap(3, 9, 1, base), Err(ErrorClass::InvalidArgument));
        assert_eq!(unmap(0, 64, 1, base), Err(ErrorClass::InvalidArgument));
        assert_eq!(notify((1 << 36) - 1, 4), Ok(()));
        assert_eq!(notify(1 << 36, 4), Err(ErrorClass::OutOfRange));
        assert_eq!(notify(1 << 36, 5), Ok(()));
        assert_eq!(last_dfn(u64::MAX, 0), Some(u64::MAX));
        assert_eq!(last_dfn(u64::MAX, 1), None);
        assert_eq!(last_dfn(0, 64), None);
    }
}
