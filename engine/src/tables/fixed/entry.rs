//! The AMD-Vi v1 entry layout (amd-vi.md section 2), as this implementation writes it, and
//! its decoded form.

use crate::table::Perm;

mod bits {
    /// PR: the entry is present.
    pub const PR: u64 = 1;
    /// NL (next level) field position: bits 11:9.
    pub const NEXT_LEVEL_SHIFT: u32 = 9;
    /// NL field width mask, after shifting.
    pub const NEXT_LEVEL_MASK: u64 = 0x7;
    /// Address field: bits 51:12 (a frame number shifted by 12).
    pub const ADDR: u64 = 0x000f_ffff_ffff_f000;
    /// FC: force coherent, set on every leaf.
    pub const FC: u64 = 1 << 60;
    /// IR: read permission.
    pub const IR: u64 = 1 << 61;
    /// IW: write permission.
    pub const IW: u64 = 1 << 62;
}

/// One table entry, decoded. Only what this implementation writes is distinguished: a
/// present entry with NL = 0 (or the unused 7), or any present entry of a level-1 table, is a
/// leaf; any other present entry a PDE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Entry {
    /// PR = 0: nothing mapped here.
    Empty,
    /// A PDE pointing at the table (SPA `table`) of level `next_level`.
    Pde { table: u64, next_level: u8 },
    /// A PTE mapping frames from `mfn` (aligned to the size of its level) with `perm`.
    Pte { mfn: u64, perm: Perm },
}

impl Entry {
    /// Decodes a raw entry of a level-`level` table. Never fails: garbage decodes to
    /// *something*, and never to a PDE below level 2, so no descent goes below level 1.
    pub(super) fn decode(raw: u64, level: u8) -> Entry {
        if raw & bits::PR == 0 {
            return Entry::Empty;
        }
        let next_level = ((raw >> bits::NEXT_LEVEL_SHIFT) & bits::NEXT_LEVEL_MASK) as u8;
        let addr = raw & bits::ADDR;
        let is_leaf = next_level == 0 || next_level == 7 || level <= 1;
        if is_leaf {
            let perm = Perm { read: raw & bits::IR != 0, write: raw & bits::IW != 0 };
            Entry::Pte { mfn: addr >> 12, perm }
        } else {
            Entry::Pde { table: addr, next_level }
        }
    }

    /// Encodes the entry: a PDE with IR = IW = 1 (permissions are controlled by the leaves),
    /// or a leaf with NL = 0, FC = 1 and the requested IR/IW.
    pub(super) fn encode(self) -> u64 {
        match self {
            Entry::Empty => 0,
            Entry::Pde { table, next_level } => {
                bits::PR
                    | (u64::from(next_level) & bits::NEXT_LEVEL_MASK) << bits::NEXT_LEVEL_SHIFT
                    | (table & bits::ADDR)
                    | bits::IR
                    | bits::IW
            }
            Entry::Pte { mfn, perm } => {
                let mut raw = bits::PR | ((mfn << 12) & bits::ADDR) | bits::FC;
                if perm.read {
                    raw |= bits::IR;
                }
                if perm.write {
                    raw |= bits::IW;
                }
                raw
            }
        }
    }

    /// True when something (leaf or table) is present.
    pub(super) fn is_present(self) -> bool {
        self != Entry::Empty
    }
}
