//! Argument checks, in the contract's error precedence (see [`crate::table`]).

use super::geometry::{DFN_LIMIT, LEVELS, MFN_LIMIT, ORDERS};
use super::{Fixed, Seams};
use crate::table::{Perm, PtError};

impl<S: Seams> Fixed<S> {
    /// InvalidArgument: `order` is not one of 0, 9, 18.
    pub(super) fn check_order(order: u32) -> Result<(), PtError> {
        if ORDERS.contains(&order) {
            Ok(())
        } else {
            Err(PtError::UnsupportedOrder { order })
        }
    }

    /// InvalidArgument: `dfn` or `mfn` is not aligned to 2^`order` frames (`order` checked).
    pub(super) fn check_aligned(dfn: u64, mfn: u64, order: u32) -> Result<(), PtError> {
        let mask = (1u64 << order) - 1;
        if dfn & mask != 0 || mfn & mask != 0 {
            return Err(PtError::Misaligned { dfn, mfn, order });
        }
        Ok(())
    }

    /// InvalidArgument: a range of no pages.
    pub(super) fn check_count(count: u64) -> Result<(), PtError> {
        if count == 0 {
            return Err(PtError::EmptyRange);
        }
        Ok(())
    }

    /// Frames in `count` pages of `order` (checked), `u64::MAX` when too many to count.
    pub(super) fn frames(order: u32, count: u64) -> u64 {
        count.saturating_mul(1 << order)
    }

    /// All checks of a map of `count` pages, in the contract's order: InvalidArgument (order,
    /// permission, count, alignment, frame limit), then OutOfRange. Returns the range's last
    /// DFN.
    pub(super) fn check_map(
        dfn: u64,
        mfn: u64,
        order: u32,
        count: u64,
        perm: Perm,
    ) -> Result<u64, PtError> {
        Self::check_order(order)?;
        if perm.is_empty() {
            return Err(PtError::NoPermission);
        }
        Self::check_count(count)?;
        Self::check_aligned(dfn, mfn, order)?;
        let frames = Self::frames(order, count);
        if mfn.checked_add(frames).is_none_or(|end| end > MFN_LIMIT) {
            return Err(PtError::MfnTooLarge { mfn, order });
        }
        match dfn.checked_add(frames - 1) {
            Some(last) if last < DFN_LIMIT => Ok(last),
            _ => Err(PtError::OutOfRange { dfn, max_levels: LEVELS }),
        }
    }
}
