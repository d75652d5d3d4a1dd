//! The concrete oracle vectors of amd-vi.md section 8, one test each.

use crate::common::*;
use ptdiff_reference::{walk_dte, Fault, Perm};

/// "Mode 3, IOVA 0x80_0000_0000 (bit 39) → out-of-range fault; Mode 4 same IOVA → walk L4
/// index 1."
#[test]
fn vector_bit39_mode3_faults_mode4_walks_index_1() {
    let iova = 0x80_0000_0000u64;
    let mut mem = Mem::new();
    let root3 = mem.table();
    mem.set(root3, 0, pte(0, Perm::RW)); // would alias index 0 if bit 39 were dropped
    let d3 = dte(root3, 3, Perm::RW);
    assert_eq!(
        walk_dte(&mem.qwords, &cfg(), &d3, iova, Perm::R),
        Err(Fault::IovaAboveSpan { mode: 3, iova })
    );

    let mut mem = Mem::new();
    let root = mem.table();
    let l3_a = mem.table();
    let l3_b = mem.table();
    mem.set(root, 0, pde(l3_a, 3));
    mem.set(root, 1, pde(l3_b, 3));
    mem.set(l3_a, 0, pte(0x1_0000_0000, Perm::RW));
    mem.set(l3_b, 0, pte(0x2_0000_0000, Perm::RW));
    let d4 = dte(root, 4, Perm::RW);
    assert_eq!(
        walk_dte(&mem.qwords, &cfg(), &d4, iova, Perm::R),
        translated(0x2_0000_0000, 30, Perm::RW, 3)
    );
    assert_eq!(
        walk_dte(&mem.qwords, &cfg(), &d4, 0, Perm::R),
        translated(0x1_0000_0000, 30, Perm::RW, 3)
    );
}

/// "Mode 6: IOVA bits 63:57 index the root (max index 127)."
#[test]
fn vector_mode6_root_index_from_bits_63_57() {
    let mut mem = Mem::new();
    let root = mem.table();
    let l5 = mem.table();
    let l5_other = mem.table();
    mem.set(root, 127, pde(l5, 5));
    mem.set(root, 63, pde(l5_other, 5));
    mem.set(l5, 0, sized_pte(0, 49, Perm::RW));
    mem.set(l5, 1, sized_pte(0, 49, Perm::RW));
    mem.set(l5_other, 0, pte(0x3_0000_0000_0000, Perm::R));
    let d = dte(root, 6, Perm::RW);
    // 0xfe00.. has bits 63:57 = 127.
    assert_eq!(
        walk_dte(&mem.qwords, &cfg(), &d, 0xfe00_0000_0000_0000 | 0x1_2345_6789_abcd, Perm::R),
        translated(0x1_2345_6789_abcd, 49, Perm::RW, 5)
    );
    // 0x7e00.. has bits 63:57 = 63.
    assert_eq!(
        walk_dte(&mem.qwords, &cfg(), &d, 0x7e00_0000_0000_0000 | 0xabc, Perm::R),
        translated(0x3_0000_0000_0abc, 48, Perm::R, 5)
    );
    // Entries 128..511 of the L6 table are never read: nothing an IOVA can reach.
    let mut mem2 = mem.clone();
    for i in 128..512 {
        mem2.set(root, i, u64::MAX);
    }
    for iova in [0u64, u64::MAX, 1 << 63, 0x7e00_0000_0000_0000] {
        assert_eq!(
            walk_dte(&mem2.qwords, &cfg(), &d, iova, Perm::NONE),
            walk_dte(&mem.qwords, &cfg(), &d, iova, Perm::NONE)
        );
    }
}

/// "NL=7 at L1: address bit 12 = 0 → 8 KiB (base = address with bit 12 cleared, 8K-aligned)."
#[test]
fn vector_nl7_l1_bit12_clear_is_8k() {
    let leaf = PR | nl(7) | 0x7654_2000 | IR | IW; // bit 12 = 0, bit 13 = 1 (an address bit)
    let iova = 0x3000u64 | 0x456; // L1 index 3, the second slot of the 8K page at IOVA 0x2000
    let mut mem = Mem::new();
    let root = mem.table();
    let l1 = mem.table();
    mem.set(root, 0, pde(l1, 1));
    mem.set(l1, 2, leaf);
    mem.set(l1, 3, leaf);
    let d = dte(root, 2, Perm::RW);
    assert_eq!(
        walk_dte(&mem.qwords, &cfg(), &d, iova, Perm::R),
        translated(0x7654_3456, 13, Perm::RW, 1)
    );
    assert_eq!(
        walk_dte(&mem.qwords, &cfg(), &d, 0x2000, Perm::R),
        translated(0x7654_2000, 13, Perm::RW, 1)
    );
}

/// "bits 12,13 = 1, bit 14 = 0 → 32 KiB."
#[test]
fn vector_nl7_l1_011_is_32k() {
    let leaf = PR | nl(7) | 0x0abc_8000 | 0x3000 | IR; // page 0xabc_8000, code 011
    let mut mem = Mem::new();
    let root = mem.table();
    let l1 = mem.table();
    mem.set(root, 0, pde(l1, 1));
    for i in 8..16 {
        mem.set(l1, i, leaf);
    }
    let d = dte(root, 2, Perm::RW);
    // IOVA 0xf00f: slot 15, 0x700f into the page. The size code must not leak into the SPA.
    assert_eq!(
        walk_dte(&mem.qwords, &cfg(), &d, 0xf00f, Perm::R),
        translated(0x0abc_f00f, 15, Perm::R, 1)
    );
    assert_eq!(
        walk_dte(&mem.qwords, &cfg(), &d, 0x8000, Perm::R),
        translated(0x0abc_8000, 15, Perm::R, 1)
    );
}

/// "all of bits 12..19 = 1, bit 20 = 0 → 2 MiB → invalid at L1 (≥ L2 default) → fault."
#[test]
fn vector_nl7_l1_2m_faults() {
    let leaf = PR | nl(7) | 0x4000_0000 | 0xf_f000 | IR | IW;
    let (mem, d, _) = chain(2, 1, 0x5000, leaf);
    assert_eq!(
        walk_dte(&mem.qwords, &cfg(), &d, 0x5000, Perm::NONE),
        Err(Fault::InvalidPageSize { level: 1, entry: leaf, size_log2: 21 })
    );
}

/// "NL=7 at L2 with size code 2 MiB → fault (must be NL=0)."
#[test]
fn vector_nl7_l2_2m_faults() {
    let leaf = PR | nl(7) | 0x4000_0000 | 0xf_f000 | IR | IW;
    let (mem, d, _) = chain(3, 2, 0x60_0000, leaf);
    assert_eq!(
        walk_dte(&mem.qwords, &cfg(), &d, 0x60_0000, Perm::NONE),
        Err(Fault::InvalidPageSize { level: 2, entry: leaf, size_log2: 21 })
    );
    // The same page written with NL = 0 is fine.
    let (mem, d, _) = chain(3, 2, 0x60_0000, pte(0x4000_0000, Perm::RW));
    assert_eq!(
        walk_dte(&mem.qwords, &cfg(), &d, 0x60_1234, Perm::R),
        translated(0x4000_1234, 21, Perm::RW, 2)
    );
}

/// "L3 PDE with NL=1 (skip L2): IOVA bits 29:21 must be 0 else fault; L1 table indexed by
/// bits 20:12."
#[test]
fn vector_l3_pde_skips_to_l1() {
    let mut mem = Mem::new();
    let root = mem.table();
    let l1 = mem.table();
    mem.set(root, 0, pde(l1, 1));
    mem.set(l1, 0x1ff, pte(0xf000, Perm::RW));
    mem.set(l1, 0x001, pte(0xe000, Perm::RW));
    let d = dte(root, 3, Perm::RW);
    assert_eq!(
        walk_dte(&mem.qwords, &cfg(), &d, 0x1f_f123, Perm::R),
        translated(0xf123, 12, Perm::RW, 1)
    );
    assert_eq!(
        walk_dte(&mem.qwords, &cfg(), &d, 0x1123, Perm::R),
        translated(0xe123, 12, Perm::RW, 1)
    );
    // Bit 21 set: without the check it would alias index 1 of the L1 table... it faults.
    let iova = 0x20_1123;
    assert_eq!(
        walk_dte(&mem.qwords, &cfg(), &d, iova, Perm::R),
        Err(Fault::SkippedBitsNonZero { level: 3, next_level: 1, iova })
    );
}

/// "PDE with IR=1, IW=0 above a leaf with IR=IW=1 → writes fault, reads succeed."
#[test]
fn vector_read_only_pde_above_rw_leaf() {
    let mut mem = Mem::new();
    let root = mem.table();
    let l1 = mem.table();
    mem.set(root, 4, pde_perm(l1, 1, Perm::R));
    mem.set(l1, 0, pte(0x77_7000, Perm::RW));
    let d = dte(root, 2, Perm::RW);
    let iova = 4 << 21;
    assert_eq!(
        walk_dte(&mem.qwords, &cfg(), &d, iova, Perm::R),
        translated(0x77_7000, 12, Perm::R, 1)
    );
    assert_eq!(
        walk_dte(&mem.qwords, &cfg(), &d, iova, Perm::W),
        Err(Fault::Permission { level: 2, requested: Perm::W, allowed: Perm::R })
    );
}

/// "L1 entry with PR=1, NL=3 → invalid-level fault (oracle) vs "4K leaf" (Linux models)."
#[test]
fn vector_l1_entry_with_nl3_faults() {
    let entry = PR | nl(3) | 0x1234_5000 | IR | IW;
    let (mem, d, _) = chain(3, 1, 0, entry);
    assert_eq!(
        walk_dte(&mem.qwords, &cfg(), &d, 0, Perm::R),
        Err(Fault::InvalidNextLevel { level: 1, entry, next_level: 3 })
    );
}
