//! The AMD-Vi v1 PDE/PTE layout as this table writes and reads it (amd-vi.md 2), in one
//! place. Written independently of the oracle's format module on purpose.

use crate::table::Perm;

/// Bit 0: present.
const PR: u64 = 1;
/// Bits 11:9: next level (level of the child table in a PDE, 0 or 7 in a leaf).
const NL_SHIFT: u32 = 9;
const NL_MASK: u64 = 0x7;
/// NL of a leaf whose page size is encoded in its address field.
const NL_SIZED: u64 = 7;
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
    /// A leaf (pte) of the level's default size (NL = 0) mapping from frame `mfn` with `perm`.
    Pte { mfn: u64, perm: Perm },
    /// An NL = 7 leaf: one replica of a page of `2^order` frames from frame `mfn` (aligned to
    /// the page), larger than the level's entries.
    Sized { mfn: u64, order: u32, perm: Perm },
}

/// PDE to the level-`next_level` table at SPA `table`: PR, NL, address, IR = IW = 1.
pub(super) fn pde(table: u64, next_level: u8) -> u64 {
    PR | ((u64::from(next_level) & NL_MASK) << NL_SHIFT) | (table & ADDR_MASK) | IR | IW
}

/// Default-size leaf for frame `mfn`: PR, NL = 0, address, FC, IR/IW from `perm`.
pub(super) fn pte(mfn: u64, perm: Perm) -> u64 {
    PR | ((mfn << 12) & ADDR_MASK) | FC | perm_bits(perm)
}

/// One replica of an NL = 7 leaf for the page of `2^order` frames (`order >= 1`) at frame
/// `mfn`: the address field is the page base with frame bits `0..order-1` set and bit
/// `order - 1` clear, so its first zero bit from bit 12 up says the size (amd-vi.md 2.2).
pub(super) fn sized_pte(mfn: u64, order: u32, perm: Perm) -> u64 {
    let size_code = (1u64 << order.saturating_sub(1)) - 1;
    let frame = (mfn & !((1u64 << order) - 1)) | size_code;
    PR | (NL_SIZED << NL_SHIFT) | ((frame << 12) & ADDR_MASK) | FC | perm_bits(perm)
}

fn perm_bits(perm: Perm) -> u64 {
    (if perm.read { IR } else { 0 }) | (if perm.write { IW } else { 0 })
}

/// Decodes `raw`, found in a level-`level` table. NL = 7 is a sized leaf at any level; every
/// other present entry of an L1 table is a default-size leaf; above L1, NL = 0 is a leaf and
/// anything else a PDE.
pub(super) fn decode(raw: u64, level: u8) -> Entry {
    if raw & PR == 0 {
        return Entry::Empty;
    }
    let next_level = (raw >> NL_SHIFT) & NL_MASK;
    let perm = Perm { read: raw & IR != 0, write: raw & IW != 0 };
    if next_level == NL_SIZED {
        // The first zero bit at or above bit 12 (bits 11:0 count as ones), at most bit 51.
        let z = ((raw & ADDR_MASK) | 0xfff).trailing_ones().min(51);
        let order = z + 1 - 12;
        let mfn = (raw & ADDR_MASK) >> 12 & !((1u64 << order) - 1);
        Entry::Sized { mfn, order, perm }
    } else if level <= 1 || next_level == 0 {
        Entry::Pte { mfn: (raw & ADDR_MASK) >> 12, perm }
    } else {
        Entry::Pde { table: raw & ADDR_MASK }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sized_leaves_encode_their_size_in_the_address() {
        // 8 KiB at frame 0x1234 << 1: bit 12 clear.
        assert_eq!(sized_pte(0x2468, 1, Perm::RW), PR | 7 << 9 | 0x2468 << 12 | FC | IR | IW);
        // 32 KiB: frame bits 0, 1 set, bit 2 clear ("lowest bits 011").
        assert_eq!(sized_pte(0x50, 3, Perm::R), PR | 7 << 9 | 0x53 << 12 | FC | IR);
        // 4 MiB (order 10, an L2 page): frame bits 0..=8 set, bit 9 clear.
        assert_eq!(sized_pte(0x400, 10, Perm::W) >> 12 & 0x3ff, 0x1ff);
        // The largest: 2^52 bytes at frame 0, bits 12..=50 set.
        assert_eq!(sized_pte(0, 40, Perm::R) & ADDR_MASK, 0x0007_ffff_ffff_f000);
        for (mfn, order) in [(0x2468, 1), (0x50, 3), (0x400, 10), (0, 40), (1 << 39, 39)] {
            let raw = sized_pte(mfn, order, Perm::W);
            assert_eq!(decode(raw, 1), Entry::Sized { mfn, order, perm: Perm::W });
            assert_eq!(decode(raw, 4), Entry::Sized { mfn, order, perm: Perm::W });
        }
    }

    #[test]
    fn decodes_every_kind() {
        assert_eq!(decode(0, 3), Entry::Empty);
        assert_eq!(decode(pde(0x5000, 2), 3), Entry::Pde { table: 0x5000 });
        assert_eq!(decode(pde(0x5000, 2), 1), Entry::Pte { mfn: 5, perm: Perm::RW });
        assert_eq!(decode(pte(9, Perm::R), 2), Entry::Pte { mfn: 9, perm: Perm::R });
        // All ones in the address field: no size encoded; decoded as large as it can be.
        let all = PR | 7 << 9 | ADDR_MASK;
        assert_eq!(decode(all, 5), Entry::Sized { mfn: 0, order: 40, perm: Perm::NONE });
    }
}
