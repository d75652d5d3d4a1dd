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

    /// All checks of a map, in the contract's order: InvalidArgument (order, permission,
    /// alignment, frame limit), then OutOfRange.
    pub(super) fn check_map(dfn: u64, mfn: u64, order: u32, perm: Perm) -> Result<(), PtError> {
        Self::check_order(order)?;
        if perm.is_empty() {
            return Err(PtError::NoPermission);
        }
        Self::check_aligned(dfn, mfn, order)?;
        let frames = 1u64 << order;
        if mfn.checked_add(frames).map_or(true, |end| end > MFN_LIMIT) {
            return Err(PtError::MfnTooLarge { mfn, order });
        }
        if dfn.checked_add(frames - 1).map_or(true, |last| last >= DFN_LIMIT) {
            return Err(PtError::OutOfRange { dfn, max_levels: LEVELS });
        }
        Ok(())
    }
}
