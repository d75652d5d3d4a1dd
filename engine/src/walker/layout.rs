//! The AMD-Vi v1 bit layout as the independent walker reads it, written from amd-vi.md
//! sections 1 and 2.
//!
//! Deliberately not shared with `ptdiff-reference`: the oracle declares the same format in its
//! own words, so a slip in either declaration shows up as a disagreement in the `walker` fuzz
//! target instead of being invisible to it.

/// DTE qword 0, bit 0: V.
pub(crate) const DTE_VALID: u64 = 1;
/// DTE qword 0, bit 1: TV.
pub(crate) const DTE_TRANSLATION_VALID: u64 = 1 << 1;
/// DTE qword 0 bits that are reserved (6:2 and 63); with V = 1 they make the DTE illegal.
pub(crate) const DTE_RESERVED: u64 = 0b1_1111 << 2 | 1 << 63;
/// Bit position of the DTE's Mode field and of an entry's Next Level field (both 3 bits).
pub(crate) const LEVEL_FIELD_SHIFT: u32 = 9;

/// Bit 0 of a PDE/PTE: PR.
pub(crate) const PRESENT: u64 = 1;
/// Bits 51:12: the SPA of the next table, of the page, or of the root (in a DTE).
pub(crate) const ADDRESS_BITS: u64 = ((1 << 52) - 1) & !0xfff;
/// Reserved bits of a leaf (NL = 0 or 7): 58:52.
pub(crate) const LEAF_RESERVED: u64 = ((1 << 59) - 1) & !((1 << 52) - 1);
/// Reserved bits of a PDE (NL = 1..6): 60:52.
pub(crate) const PDE_RESERVED: u64 = ((1 << 61) - 1) & !((1 << 52) - 1);
/// Bit 61 (IR) of a DTE, PDE or PTE.
pub(crate) const READ: u64 = 1 << 61;
/// Bit 62 (IW) of a DTE, PDE or PTE.
pub(crate) const WRITE: u64 = 1 << 62;

/// Next Level of a leaf whose page has the default size of its level.
pub(crate) const NL_PAGE: u64 = 0;
/// Next Level of a leaf whose page size is encoded in its address bits.
pub(crate) const NL_SIZED_PAGE: u64 = 7;

/// Levels the format has; a level-6 table holds no leaves (spec Table 15).
pub(crate) const TOP_LEVEL: u64 = 6;
/// Widest SPA the address field can express, in bits: no page may be larger.
pub(crate) const SPA_BITS: u32 = 52;

/// The 3-bit field at bits 11:9 (DTE Mode, entry Next Level).
pub(crate) fn level_field(qword: u64) -> u64 {
    (qword >> LEVEL_FIELD_SHIFT) & 0b111
}

/// log2 of the bytes one entry of a level-`level` table maps: a 4 KiB page at level 1, then
/// 512 times more per level (level 0 counts as level 1; levels come from 3-bit fields, so at
/// most 7, or 8 for "the level above").
pub(crate) fn entry_span_log2(level: u64) -> u32 {
    12 + 9 * (level as u32 & 0xf).saturating_sub(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_match_the_tables_of_amd_vi_md() {
        assert_eq!(ADDRESS_BITS, 0x000f_ffff_ffff_f000);
        assert_eq!(LEAF_RESERVED, 0x07f0_0000_0000_0000);
        assert_eq!(PDE_RESERVED, 0x1ff0_0000_0000_0000);
        assert_eq!(DTE_RESERVED, 0x8000_0000_0000_007c);
        assert_eq!(level_field(0xe00), 7);
        assert_eq!(entry_span_log2(1), 12);
        assert_eq!(entry_span_log2(4), 39);
        assert_eq!(entry_span_log2(6), 57);
    }
}
