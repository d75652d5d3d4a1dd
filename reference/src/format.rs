//! The AMD-Vi v1 bit layout, declared once for the oracle (amd-vi.md sections 1 and 2).
//!
//! This is the oracle's own description of the format. Implementations under test must not use
//! it: a shared mistake here would be invisible to the differential test.

/// Bytes in a page-table frame; every table is one 4 KiB frame of 512 entries.
pub const TABLE_BYTES: u64 = 4096;
/// Entries per table.
pub const ENTRIES: u64 = 512;

/// PDE/PTE bit 0: present.
pub const PR: u64 = 1 << 0;
/// Bits 11:9: next level (PDE), 0 or 7 (PTE).
pub const NL_SHIFT: u32 = 9;
/// Mask of the next-level field after shifting.
pub const NL_MASK: u64 = 0x7;
/// Bits 51:12: address of the next table or of the page.
pub const ADDR_MASK: u64 = 0x000f_ffff_ffff_f000;
/// PTE (NL = 0 or 7) reserved bits 58:52.
pub const PTE_RESERVED: u64 = 0x07f0_0000_0000_0000;
/// PDE (NL = 1..6) reserved bits 60:52.
pub const PDE_RESERVED: u64 = 0x1ff0_0000_0000_0000;
/// Bit 59 of a PTE: U, untranslated access only.
pub const PTE_U: u64 = 1 << 59;
/// Bit 60 of a PTE: FC, force coherent.
pub const PTE_FC: u64 = 1 << 60;
/// Bit 61: IR, read permission.
pub const IR: u64 = 1 << 61;
/// Bit 62: IW, write permission.
pub const IW: u64 = 1 << 62;

/// Next-level value of a leaf with the level's default page size.
pub const NL_DEFAULT_LEAF: u8 = 0;
/// Next-level value of a leaf whose size is encoded in the address field.
pub const NL_SIZED_LEAF: u8 = 7;

/// Highest level (and DTE mode) the format has.
pub const MAX_LEVEL: u8 = 6;

/// Size, as log2 bytes, of what one entry of a level-`level` table maps: 12 + 9 (level - 1).
/// Level 0 (which does not exist) is treated as level 1 rather than underflowing.
pub const fn entry_size_log2(level: u8) -> u32 {
    12 + 9 * (level as u32).saturating_sub(1)
}

/// Width, as log2 bytes, of the IOVA space a root of `mode` levels covers (64 for mode 6).
pub const fn span_log2(mode: u8) -> u32 {
    let bits = 12 + 9 * mode as u32;
    if bits > 64 {
        64
    } else {
        bits
    }
}

/// DTE qword 0 bit 0: V, valid.
pub const DTE_V: u64 = 1 << 0;
/// DTE qword 0 bit 1: TV, translation information valid.
pub const DTE_TV: u64 = 1 << 1;
/// DTE qword 0 bits 11:9: paging mode.
pub const DTE_MODE_SHIFT: u32 = 9;
/// DTE qword 0 bits 51:12: host page table root pointer.
pub const DTE_ROOT_MASK: u64 = 0x000f_ffff_ffff_f000;
/// DTE qword 0 bit 61: IR.
pub const DTE_IR: u64 = 1 << 61;
/// DTE qword 0 bit 62: IW.
pub const DTE_IW: u64 = 1 << 62;
/// DTE qword 0 reserved bits: 6:2 and 63.
pub const DTE_Q0_RESERVED: u64 = (0x1f << 2) | (1 << 63);
/// DTE qword 1 bits 79:64 (bits 15:0 of qword 1): domain ID.
pub const DTE_DOMAIN_MASK: u64 = 0xffff;
/// Bytes per DTE (256 bits).
pub const DTE_BYTES: u64 = 32;
