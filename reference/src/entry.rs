//! One PDE/PTE as the hardware walker interprets it (amd-vi.md 2 and 3, step 7).
//!
//! Shared by [`crate::walk`] and [`crate::enumerate`] so both read an entry identically. The
//! checks that do not depend on the IOVA or the access live here; the walk adds the
//! permission check (between the reserved-bit check and [`decode`]) and the skipped-bits check.

use crate::fault::Fault;
use crate::format::*;
use crate::perm::Perm;
use crate::sized_leaf;

/// PR: the entry is present.
pub(crate) fn present(entry: u64) -> bool {
    entry & PR != 0
}

/// NL, bits 11:9.
pub(crate) fn next_level(entry: u64) -> u8 {
    ((entry >> NL_SHIFT) & NL_MASK) as u8
}

/// Reserved bits that are set: 58:52 for a PTE (NL = 0 or 7), 60:52 for a PDE (NL = 1..6).
pub(crate) fn reserved_bits(entry: u64) -> u64 {
    let nl = next_level(entry);
    let mask =
        if nl == NL_DEFAULT_LEAF || nl == NL_SIZED_LEAF { PTE_RESERVED } else { PDE_RESERVED };
    entry & mask
}

/// IR/IW granted by the entry.
pub(crate) fn perm(entry: u64) -> Perm {
    Perm { read: entry & IR != 0, write: entry & IW != 0 }
}

/// What a present entry without reserved bits leads to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Decoded {
    /// A page: `base` is aligned to `2^size_log2`.
    Leaf { base: u64, size_log2: u32 },
    /// A PDE pointing to a level-`level` table at `table` (`level` below the entry's own).
    Table { level: u8, table: u64 },
}

/// Interprets a present entry, free of reserved bits, found in a level-`level` table
/// (`1 <= level <= 6`): NL = 0 and NL = 7 leaves (step 7e/7f) and PDEs (step 7g, without the
/// skipped-bits check, which needs the IOVA: see [`skipped_bits_mask`]).
pub(crate) fn decode(entry: u64, level: u8) -> Result<Decoded, Fault> {
    match next_level(entry) {
        NL_DEFAULT_LEAF => {
            if level >= MAX_LEVEL {
                return Err(Fault::LeafAtTopLevel { entry });
            }
            let size_log2 = entry_size_log2(level);
            // Low address bits of a large default-size leaf are masked off (amd-vi.md 3.7e).
            let base = entry & ADDR_MASK & !sized_leaf::low_mask(size_log2);
            Ok(Decoded::Leaf { base, size_log2 })
        }
        NL_SIZED_LEAF => {
            if level >= MAX_LEVEL {
                return Err(Fault::LeafAtTopLevel { entry });
            }
            match sized_leaf::decode(entry) {
                Some(page) if sized_leaf::size_fits_level(level, page.size_log2) => {
                    Ok(Decoded::Leaf { base: page.base, size_log2: page.size_log2 })
                }
                Some(page) => {
                    Err(Fault::InvalidPageSize { level, entry, size_log2: page.size_log2 })
                }
                None => Err(Fault::InvalidPageSize {
                    level,
                    entry,
                    size_log2: sized_leaf::NO_SIZE_LOG2,
                }),
            }
        }
        nl => {
            if nl >= level {
                return Err(Fault::InvalidNextLevel { level, entry, next_level: nl });
            }
            Ok(Decoded::Table { level: nl, table: entry & ADDR_MASK })
        }
    }
}

/// IOVA bits that index the levels a PDE in a level-`level` table skips when it points to a
/// level-`next` table: bits `[12 + 9 next, 12 + 9 (level - 1))`, empty without skipping. Needs
/// `1 <= next < level <= 6` (other inputs give an empty or clipped mask, never a panic).
pub(crate) fn skipped_bits_mask(level: u8, next: u8) -> u64 {
    let hi = sized_leaf::low_mask(entry_size_log2(level));
    let lo = sized_leaf::low_mask(entry_size_log2(next.saturating_add(1)));
    hi & !lo
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skipped_masks() {
        // L3 -> L1 skips L2: bits 29:21.
        assert_eq!(skipped_bits_mask(3, 1), 0x3fe0_0000);
        // L4 -> L2 skips L3: bits 38:30.
        assert_eq!(skipped_bits_mask(4, 2), 0x7f_c000_0000);
        // L6 -> L1 skips L5..L2: bits 56:21.
        assert_eq!(skipped_bits_mask(6, 1), 0x01ff_ffff_ffe0_0000);
        // No skip.
        assert_eq!(skipped_bits_mask(4, 3), 0);
        assert_eq!(skipped_bits_mask(2, 1), 0);
    }

    #[test]
    fn reserved_mask_depends_on_nl() {
        let bit60 = 1u64 << 60;
        let bit59 = 1u64 << 59;
        let bit52 = 1u64 << 52;
        // PTE: 59 (U) and 60 (FC) are not reserved; 52 is.
        assert_eq!(reserved_bits(bit60 | bit59 | 1), 0);
        assert_eq!(reserved_bits(bit60 | bit59 | (7 << 9) | 1), 0);
        assert_eq!(reserved_bits(bit52 | 1), bit52);
        // PDE: 59 and 60 are reserved.
        assert_eq!(reserved_bits(bit60 | (2 << 9) | 1), bit60);
        assert_eq!(reserved_bits(bit59 | (1 << 9) | 1), bit59);
        // Bit 63 and 61/62 are never reserved.
        assert_eq!(reserved_bits((1 << 63) | (1 << 62) | (1 << 61) | (3 << 9)), 0);
    }
}
