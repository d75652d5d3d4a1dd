//! The AMD-Vi v1 PDE/PTE layout as this table writes and reads it (amd-vi.md 2), in one
//! place. Written independently of the oracle's format module on purpose.

use crate::table::Perm;

/// Bit 0: present.
const PR: u64 = 1;
/// Bits 11:9: next level (level of the child table in a PDE, 0 in a leaf).
const NL_SHIFT: u32 = 9;
const NL_MASK: u64 = 0x7;
/// Bits 51:12: SPA of the child table or of the page.
const ADDR_MASK: u64 = 0x000f_ffff_ffff_f000;
/// Bit 60 of a leaf: force coherent.
const FC: u64 = 1 << 60;
/// Bit 61: IR, read permission.
const IR: u64 = 1 << 61;
/// Bit 62: IW, write permission.
const IW: u64 = 1 << 62;

/// One 64-bit entry, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Entry {
    /// PR = 0.
    Empty,
    /// A PDE: the next-level table is at SPA `table`.
    Pde { table: u64 },
    /// A leaf (pte) mapping the level's page size from frame `mfn` with `perm`.
    Pte { mfn: u64, perm: Perm },
}

/// PDE to the level-`next_level` table at SPA `table`: PR, NL, address, IR = IW = 1.
pub(super) fn pde(table: u64, next_level: u8) -> u64 {
    PR | ((u64::from(next_level) & NL_MASK) << NL_SHIFT) | (table & ADDR_MASK) | IR | IW
}

/// Default-size leaf for frame `mfn`: PR, NL = 0, address, FC, IR/IW from `perm`.
pub(super) fn pte(mfn: u64, perm: Perm) -> u64 {
    let ir = if perm.read { IR } else { 0 };
    let iw = if perm.write { IW } else { 0 };
    PR | ((mfn << 12) & ADDR_MASK) | FC | ir | iw
}

/// Decodes `raw`, found in a level-`level` table. Every present entry of an L1 table is a
/// leaf; above L1, NL = 0 is a leaf and anything else a PDE (this table writes no NL = 7).
pub(super) fn decode(raw: u64, level: u8) -> Entry {
    if raw & PR == 0 {
        return Entry::Empty;
    }
    let next_level = (raw >> NL_SHIFT) & NL_MASK;
    if level <= 1 || next_level == 0 {
        let perm = Perm { read: raw & IR != 0, write: raw & IW != 0 };
        Entry::Pte { mfn: (raw & ADDR_MASK) >> 12, perm }
    } else {
        Entry::Pde { table: raw & ADDR_MASK }
    }
}
