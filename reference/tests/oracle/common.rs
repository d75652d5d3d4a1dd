//! Builders for raw AMD-Vi entries, written from amd-vi.md sections 1 and 2 bit by bit.

#![allow(dead_code)]

use ptdiff_reference::{Dte, Fault, Perm, Translation, TranslationKind, WalkConfig};
use std::collections::BTreeMap;

/// PDE/PTE bit 0.
pub const PR: u64 = 1;
/// Bit 61.
pub const IR: u64 = 1 << 61;
/// Bit 62.
pub const IW: u64 = 1 << 62;

pub const KIB: u64 = 1 << 10;
pub const MIB: u64 = 1 << 20;
pub const GIB: u64 = 1 << 30;
pub const TIB: u64 = 1 << 40;

/// NL field, bits 11:9.
pub fn nl(level: u64) -> u64 {
    level << 9
}

pub fn perm_bits(perm: Perm) -> u64 {
    (if perm.read { IR } else { 0 }) | (if perm.write { IW } else { 0 })
}

/// A PDE as writers produce it: PR, NL, table address, IR = IW = 1.
pub fn pde(table: u64, next_level: u64) -> u64 {
    PR | nl(next_level) | table | IR | IW
}

/// A PDE with explicit permissions.
pub fn pde_perm(table: u64, next_level: u64, perm: Perm) -> u64 {
    PR | nl(next_level) | table | perm_bits(perm)
}

/// A default-size leaf (NL = 0) with FC (bit 60) set as Linux and Xen write it.
pub fn pte(page: u64, perm: Perm) -> u64 {
    PR | page | (1 << 60) | perm_bits(perm)
}

/// An NL = 7 leaf of `2^size_log2` bytes at `base` (aligned): bits `[12, size_log2 - 2]` set,
/// bit `size_log2 - 1` clear (amd-vi.md 2.2, "Encode").
pub fn sized_pte(base: u64, size_log2: u32, perm: Perm) -> u64 {
    assert!(size_log2 >= 13);
    assert_eq!(base % (1u64 << size_log2), 0, "test bug: unaligned base");
    let code = ((1u64 << (size_log2 - 1)) - 1) & !0xfff;
    PR | nl(7) | base | code | perm_bits(perm)
}

/// A translating DTE (V = 1 bit 0, TV = 1 bit 1, mode bits 11:9, root 51:12, IR 61, IW 62).
pub fn dte(root: u64, mode: u64, perm: Perm) -> Dte {
    Dte([1 | 2 | (mode << 9) | root | perm_bits(perm), 0, 0, 0])
}

/// Index of `iova` in a level-`level` table: bits `[12 + 9 (level - 1), +9)`.
pub fn index(iova: u64, level: u32) -> u64 {
    (iova >> (12 + 9 * (level - 1))) & 0x1ff
}

/// Default page size of a level: 4K, 2M, 1G, 512G, 256T, 128P.
pub fn level_size_log2(level: u32) -> u32 {
    12 + 9 * (level - 1)
}

/// Physical memory with zero-filled tables.
#[derive(Clone, Debug, Default)]
pub struct Mem {
    pub qwords: BTreeMap<u64, u64>,
    next_frame: u64,
}

impl Mem {
    pub fn new() -> Mem {
        Mem { qwords: BTreeMap::new(), next_frame: 0x10_0000 }
    }

    /// A fresh zero-filled table frame.
    pub fn table(&mut self) -> u64 {
        let spa = self.next_frame;
        self.next_frame += 0x1000;
        for i in 0..512 {
            self.qwords.insert(spa + 8 * i, 0);
        }
        spa
    }

    pub fn set(&mut self, table: u64, index: u64, entry: u64) {
        assert!(index < 512);
        self.qwords.insert(table + 8 * index, entry);
    }

    pub fn get(&self, table: u64, index: u64) -> u64 {
        self.qwords[&(table + 8 * index)]
    }
}

/// Builds tables from `mode` down to `leaf_level` along `iova`'s path (each PDE with
/// NL = level - 1 and IR = IW = 1) and stores `leaf` at `iova`'s index in the level
/// `leaf_level` table. Returns the memory, a DTE (RW) and the leaf table's address.
pub fn chain(mode: u32, leaf_level: u32, iova: u64, leaf: u64) -> (Mem, Dte, u64) {
    let mut mem = Mem::new();
    let root = mem.table();
    let mut table = root;
    for level in (leaf_level + 1..=mode).rev() {
        let child = mem.table();
        mem.set(table, index(iova, level), pde(child, u64::from(level - 1)));
        table = child;
    }
    mem.set(table, index(iova, leaf_level), leaf);
    (mem, dte(root, u64::from(mode), Perm::RW), table)
}

pub fn cfg() -> WalkConfig {
    WalkConfig::default()
}

/// The walk result of a translation by a table leaf.
pub fn translated(
    spa: u64,
    page_size_log2: u32,
    perm: Perm,
    leaf_level: u8,
) -> Result<Translation, Fault> {
    Ok(Translation { spa, page_size_log2, perm, kind: TranslationKind::Table { leaf_level } })
}

/// The walk result of an untranslated access.
pub fn untranslated(iova: u64, perm: Perm, kind: TranslationKind) -> Result<Translation, Fault> {
    Ok(Translation { spa: iova, page_size_log2: 12, perm, kind })
}
