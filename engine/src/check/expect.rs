//! What each operation must return, from DESIGN.md section 4 and the error order documented
//! in [`crate::table`]. The runner checks every implementation against this, not only
//! against the other implementation, so a bug shared by both is still caught here.
//!
//! These helpers belong to the runner; implementations must not use them.

use crate::table::{ErrorClass, Perm};

pub use crate::table::{DFN_BITS, DFN_LIMIT, MFN_LIMIT};

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

fn valid_order(order: u32) -> bool {
    matches!(order, 0 | 9 | 18)
}

fn aligned(frame: u64, order: u32) -> bool {
    frame & ((1u64 << order) - 1) == 0
}

/// Expected result of `map` on a table currently `levels` high that may grow to `max_levels`.
pub fn map(
    dfn: u64,
    mfn: u64,
    order: u32,
    perm: Perm,
    levels: u8,
    max_levels: u8,
) -> Result<(), ErrorClass> {
    if !valid_order(order) || perm.is_empty() || !aligned(dfn, order) || !aligned(mfn, order) {
        return Err(ErrorClass::InvalidArgument);
    }
    match mfn.checked_add(1 << order) {
        Some(end) if end <= MFN_LIMIT => {}
        _ => return Err(ErrorClass::InvalidArgument),
    }
    let Some(last) = last_dfn(dfn, order) else { return Err(ErrorClass::OutOfRange) };
    if last >= span(max_levels) {
        return Err(ErrorClass::OutOfRange);
    }
    if last >= span(levels) {
        return Err(ErrorClass::BeyondHeight);
    }
    Ok(())
}

/// Expected result of `unmap`: only bad arguments fail; beyond any height it is a no-op.
pub fn unmap(dfn: u64, order: u32) -> Result<(), ErrorClass> {
    if !valid_order(order) || !aligned(dfn, order) {
        return Err(ErrorClass::InvalidArgument);
    }
    Ok(())
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

    #[test]
    fn map_errors_in_documented_order() {
        use ErrorClass::*;
        assert_eq!(map(0, 0, 5, Perm::RW, 4, 4), Err(InvalidArgument));
        assert_eq!(map(0, 0, 0, Perm::NONE, 4, 4), Err(InvalidArgument));
        assert_eq!(map(1, 0, 9, Perm::RW, 4, 4), Err(InvalidArgument));
        assert_eq!(map(0, 1, 9, Perm::RW, 4, 4), Err(InvalidArgument));
        assert_eq!(map(0, MFN_LIMIT - 1, 0, Perm::RW, 4, 4), Ok(()));
        assert_eq!(map(0, MFN_LIMIT, 0, Perm::RW, 4, 4), Err(InvalidArgument));
        // Misaligned beats out of range.
        assert_eq!(map((1 << 40) + 1, 0, 9, Perm::RW, 4, 4), Err(InvalidArgument));
        assert_eq!(map(1 << 36, 0, 0, Perm::RW, 4, 4), Err(OutOfRange));
        assert_eq!(map((1 << 36) - 512, 0, 9, Perm::RW, 4, 4), Ok(()));
        assert_eq!(map(1 << 36, 0, 0, Perm::RW, 2, 5), Err(BeyondHeight));
        assert_eq!(map(u64::MAX - 511, 0, 9, Perm::RW, 6, 6), Err(OutOfRange));
        assert_eq!(map(1 << 18, 0, 18, Perm::R, 2, 4), Err(BeyondHeight));
        assert_eq!(map(0, 0, 18, Perm::R, 2, 4), Ok(()));
    }

    #[test]
    fn unmap_and_notify() {
        assert_eq!(unmap(u64::MAX, 0), Ok(()));
        assert_eq!(unmap(3, 9), Err(ErrorClass::InvalidArgument));
        assert_eq!(unmap(0, 64), Err(ErrorClass::InvalidArgument));
        assert_eq!(notify((1 << 36) - 1, 4), Ok(()));
        assert_eq!(notify(1 << 36, 4), Err(ErrorClass::OutOfRange));
        assert_eq!(notify(1 << 36, 5), Ok(()));
        assert_eq!(last_dfn(u64::MAX, 0), Some(u64::MAX));
        assert_eq!(last_dfn(u64::MAX, 1), None);
        assert_eq!(last_dfn(0, 64), None);
    }
}
