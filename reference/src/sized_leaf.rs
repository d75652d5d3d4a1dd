//! NL = 7 leaves: a page whose size is encoded in the address field (amd-vi.md 2.2, spec
//! "Table 14: Example Page Size Encodings").
//!
//! The size of the page is given by the first zero bit of the address field, starting from
//! bit 12: with `z` the index of the lowest clear bit at or above bit 12, the page is `2^(z+1)`
//! bytes and its base is the address field with bits `12..=z` cleared. Only bits 51:12 form the
//! address field, so an entry whose bits 51:12 are all ones encodes no size at all.
//!
//! The size is legal in a level-L table only when strictly between the default size of L and
//! the default size of L+1 (a default size must be written with NL = 0).

use crate::format::{entry_size_log2, ADDR_MASK};

/// log2 reported in [`crate::Fault::InvalidPageSize`] for an entry whose bits 51:12 are all
/// ones: no zero bit, so no size is encoded. It is the first size the 40-bit field cannot
/// express.
pub(crate) const NO_SIZE_LOG2: u32 = 53;

/// Largest encodable page: bits 50:12 ones, bit 51 zero, a 2^52-byte page at base 0.
pub(crate) const MAX_SIZE_LOG2: u32 = 52;

/// The page an NL = 7 entry describes, before the per-level size check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SizedPage {
    /// Page base: the address field with the size code (bits `12..=z`) cleared.
    pub base: u64,
    /// log2 of the page size, `z + 1`, in 13..=52.
    pub size_log2: u32,
}

/// Decodes the size code of an NL = 7 entry; `None` when bits 51:12 are all ones (no size
/// encoded). Total: any `entry` is accepted.
pub(crate) fn decode(entry: u64) -> Option<SizedPage> {
    // Bits 11:0 count as ones; bits 63:52 count as zero so the scan stops at bit 52 at most.
    let field = (entry & ADDR_MASK) | 0xfff;
    let z = field.trailing_ones(); // 12..=52
    if z >= MAX_SIZE_LOG2 {
        return None;
    }
    let size_log2 = z + 1; // 13..=52
    let base = entry & ADDR_MASK & !low_mask(size_log2);
    Some(SizedPage { base, size_log2 })
}

/// True when a page of `2^size_log2` bytes may be encoded with NL = 7 in a level-`level` table
/// (`1 <= level <= 5`): `default(level) < size < default(level + 1)`. Level 6 holds no leaves
/// and is rejected, as is any level outside 1..=5.
pub(crate) fn size_fits_level(level: u8, size_log2: u32) -> bool {
    if !(1..=5).contains(&level) {
        return false;
    }
    let low = entry_size_log2(level);
    let high = entry_size_log2(level + 1);
    low < size_log2 && size_log2 < high && size_log2 <= MAX_SIZE_LOG2
}

/// `2^bits - 1` for `bits` in 0..=64, without shifting by 64.
pub(crate) fn low_mask(bits: u32) -> u64 {
    if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit12_clear_is_8k() {
        let p = decode(0x0000_0000_1234_6000 | 0xe01);
        assert_eq!(p, Some(SizedPage { base: 0x1234_6000, size_log2: 13 }));
    }

    #[test]
    fn bits_12_13_set_bit14_clear_is_32k() {
        // Address 0x5_3000: bits 12, 13 set, bit 14 clear, bit 16 and 18 are address bits.
        let p = decode(0x0005_3000);
        assert_eq!(p, Some(SizedPage { base: 0x0005_0000, size_log2: 15 }));
    }

    #[test]
    fn bits_12_to_19_set_is_2m() {
        let p = decode(0x4000_0000 | 0x000f_f000);
        assert_eq!(p, Some(SizedPage { base: 0x4000_0000, size_log2: 21 }));
    }

    #[test]
    fn ignores_bits_outside_address_field() {
        // Flags and reserved bits above 51 and below 12 change nothing.
        let p = decode(0xfff0_0000_0000_0fff | 0x0000_0000_8000_1000 | 0x2000);
        assert_eq!(p, Some(SizedPage { base: 0x8000_0000, size_log2: 15 }));
    }

    #[test]
    fn largest_code_is_2_pow_52() {
        // Bits 12..=50 set, bit 51 clear: z = 51, size 2^52, base 0.
        let p = decode(0x0007_ffff_ffff_f000);
        assert_eq!(p, Some(SizedPage { base: 0, size_log2: 52 }));
    }

    #[test]
    fn all_ones_field_has_no_size() {
        assert_eq!(decode(ADDR_MASK), None);
        assert_eq!(decode(u64::MAX), None);
        for level in 0..=7 {
            assert!(!size_fits_level(level, NO_SIZE_LOG2));
        }
    }

    #[test]
    fn level_windows() {
        // L1: 8K..1M; L2: 4M..512M; L3: 2G..256G; L4: 1T..128T; L5: 512T..4P (2^52, the
        // largest size the address field can encode).
        let windows = [(1u8, 13u32, 20u32), (2, 22, 29), (3, 31, 38), (4, 40, 47), (5, 49, 52)];
        for (level, lo, hi) in windows {
            for s in 0..70 {
                assert_eq!(size_fits_level(level, s), (lo..=hi).contains(&s), "L{level} 2^{s}");
            }
        }
        for s in 0..70 {
            assert!(!size_fits_level(6, s));
            assert!(!size_fits_level(0, s));
        }
    }

    #[test]
    fn low_mask_edges() {
        assert_eq!(low_mask(0), 0);
        assert_eq!(low_mask(12), 0xfff);
        assert_eq!(low_mask(63), u64::MAX >> 1);
        assert_eq!(low_mask(64), u64::MAX);
        assert_eq!(low_mask(200), u64::MAX);
    }
}
