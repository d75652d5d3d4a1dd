//! The table's named decision points ("seams"), each a method whose default is the table's own
//! choice. [`Correct`] takes every default; it is a zero-sized type whose methods inline to the
//! constants they return, so [`Fixed`](super::Fixed) pays nothing for having seams.
//!
//! Another type implementing [`Seams`] makes a *variant* of the table: the same algorithm with
//! one choice made differently, for showing which check notices the difference. Seams take
//! `&self` and are `Sync`, like the step table they belong to: a variant that needs state
//! keeps it in itself behind a lock, never in the table.

use std::fmt::Debug;

/// The decision points of the fixed table, in the order an operation meets them.
pub trait Seams: Debug + Sync {
    /// The mode programmed into a DTE for the table's `levels` levels. Default: `levels`.
    #[inline]
    fn dte_levels(&self, levels: u8) -> u8 {
        levels
    }

    /// The last DFN a map or unmap installs, for a range ending at `last` whose first table
    /// of its leaf level ends at `first_table_last`. Default: `last` (a range continues
    /// across tables).
    #[inline]
    fn range_last(&self, last: u64, first_table_last: u64) -> u64 {
        let _ = first_table_last;
        last
    }

    /// Whether an unmap that cleared something present invalidates its range (and waits for
    /// the invalidation) before freeing what it unlinked. Default: yes.
    #[inline]
    fn invalidate_after_unmap(&self) -> bool {
        true
    }

    /// Whether deassign blocks the device's DTE and invalidates its cached copy. Default: yes.
    #[inline]
    fn block_on_deassign(&self) -> bool {
        true
    }

    /// When a map or unmap writes its leaf (or an empty entry) `new` over an entry holding
    /// `old`: the value stored first, if the entry is written in two stores (the second
    /// stores `new`). Default: none (one 64-bit store).
    #[inline]
    fn first_store(&self, old: u64, new: u64) -> Option<u64> {
        let _ = (old, new);
        None
    }
}

/// Every decision as the table was designed: what [`Fixed`](super::Fixed) uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Correct;

impl Seams for Correct {}
