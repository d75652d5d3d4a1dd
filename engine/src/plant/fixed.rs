//! Planted bugs of the `fixed` table, each a variant: one of its [`Seams`] chosen wrongly.
//! None of them keeps state (one that did would keep it behind a `std::sync::Mutex`, as its
//! own memory, not the table's).

use super::Mechanism;
use crate::tables::fixed::{Fixed, Seams};
use crate::tables::TableConfig;

/// The catalogue's mechanism for the variant `V` of the fixed table.
pub(super) fn variant<V: Seams + Default + 'static>() -> Mechanism {
    Mechanism::Variant(|config: TableConfig| {
        Ok(Box::new(Fixed::with_seams(config.domain, config.placement, V::default())?.boxed()))
    })
}

/// R2 (XSA-445, bug-patterns.md R2): the tables are built with 4 levels but the DTE says 3, so
/// the walk starts one level too low and reads the root as a level-3 table.
#[derive(Debug, Default)]
pub(super) struct ModeOneShort;

impl Seams for ModeOneShort {
    fn dte_levels(&self, levels: u8) -> u8 {
        levels - 1
    }
}

/// F2 XEN-UNMAP-PRESENT-WRONG-WORD: "was present" is computed wrongly for unmaps, so the
/// invalidation is skipped and the IOTLB keeps the old translation.
#[derive(Debug, Default)]
pub(super) struct UnmapNoFlush;

impl Seams for UnmapNoFlush {
    fn invalidate_after_unmap(&self) -> bool {
        false
    }
}

/// T2 (XSA-386, bug-patterns.md T2): deassign forgets the device but returns before blocking
/// its DTE: it still reaches the domain's memory, and after teardown it walks freed tables.
#[derive(Debug, Default)]
pub(super) struct DeassignKeepsDte;

impl Seams for DeassignKeepsDte {
    fn block_on_deassign(&self) -> bool {
        false
    }
}

/// RANGE-STOP: a range is installed only up to the end of the first table of its leaf level
/// (the end computed once, the loop over tables forgotten); the call still succeeds.
#[derive(Debug, Default)]
pub(super) struct StopsAtTable;

impl Seams for StopsAtTable {
    fn range_last(&self, last: u64, first_table_last: u64) -> u64 {
        last.min(first_table_last)
    }
}

/// A1 XEN-XSA347-TORN-PTE (bug-patterns.md A1): a 64-bit entry is written as two 32-bit
/// halves, low half first. The low half holds PR, NL and address bits 31:12, the high half
/// address bits 51:32, FC, IR and IW: between the two stores the hardware walker sees the new
/// address with the old permissions (a widening when they were larger) or half of each
/// address.
#[derive(Debug, Default)]
pub(super) struct TornEntry;

impl Seams for TornEntry {
    fn first_store(&self, old: u64, new: u64) -> Option<u64> {
        const LOW_HALF: u64 = 0xffff_ffff;
        let first = (new & LOW_HALF) | (old & !LOW_HALF);
        (first != old && first != new).then_some(first)
    }
}
