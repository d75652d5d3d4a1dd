//! Successful walks: every translation kind, every page size at every level, SPA offsets,
//! level skipping and permissions along the path.

use crate::common::*;
use ptdiff_reference::{walk_dte, Dte, Fault, Perm, TranslationKind, Tv0Policy, WalkConfig};

#[test]
fn dte_not_valid_passes_through_rw() {
    let mem = Mem::new();
    // V = 0: every other bit is ignored, including reserved bits, TV, mode 7 and no IR/IW.
    for q0 in [0u64, 2 | (7 << 9) | (1 << 63) | 0x7c, 2 | (3 << 9) | 0x10_0000] {
        let d = Dte([q0, 0, 0, 0]);
        for iova in [0u64, 0x1234_5678, u64::MAX] {
            for access in [Perm::NONE, Perm::R, Perm::W, Perm::RW] {
                assert_eq!(
                    walk_dte(&mem.qwords, &cfg(), &d, iova, access),
                    untranslated(iova, Perm::RW, TranslationKind::DteNotValid)
                );
            }
        }
    }
}

#[test]
fn tv0_untranslated_policy_uses_dte_perms() {
    let mem = Mem::new();
    let cfg = WalkConfig { max_levels: 6, tv0: Tv0Policy::Untranslated };
    let d = Dte([1 | (3 << 9) | IR, 0, 0, 0]); // V = 1, TV = 0, IR only
    assert_eq!(
        walk_dte(&mem.qwords, &cfg, &d, 0xfeed_f00d, Perm::R),
        untranslated(0xfeed_f00d, Perm::R, TranslationKind::Tv0PassThrough)
    );
    assert_eq!(
        walk_dte(&mem.qwords, &cfg, &d, u64::MAX, Perm::NONE),
        untranslated(u64::MAX, Perm::R, TranslationKind::Tv0PassThrough)
    );
    assert_eq!(
        walk_dte(&mem.qwords, &cfg, &d, 0, Perm::W),
        Err(Fault::DtePermission { requested: Perm::W, allowed: Perm::R })
    );
    // The mode field is not looked at: mode 7 with TV = 0 still passes.
    let d = Dte([1 | (7 << 9) | IR | IW, 0, 0, 0]);
    assert_eq!(
        walk_dte(&mem.qwords, &cfg, &d, 0x42, Perm::RW),
        untranslated(0x42, Perm::RW, TranslationKind::Tv0PassThrough)
    );
    // Reserved DTE bits still make it illegal.
    let d = Dte([1 | (1 << 4) | IR, 0, 0, 0]);
    assert_eq!(
        walk_dte(&mem.qwords, &cfg, &d, 0, Perm::R),
        Err(Fault::IllegalDte { bits: 1 << 4 })
    );
}

#[test]
fn mode0_is_untranslated_gated_by_dte_perms() {
    let mem = Mem::new();
    let d = dte(0x10_0000, 0, Perm::R);
    assert_eq!(
        walk_dte(&mem.qwords, &cfg(), &d, 0xabcd_ef01_2345, Perm::R),
        untranslated(0xabcd_ef01_2345, Perm::R, TranslationKind::Mode0)
    );
    assert_eq!(
        walk_dte(&mem.qwords, &cfg(), &d, u64::MAX, Perm::NONE),
        untranslated(u64::MAX, Perm::R, TranslationKind::Mode0)
    );
    assert_eq!(
        walk_dte(&mem.qwords, &cfg(), &d, 0, Perm::W),
        Err(Fault::DtePermission { requested: Perm::W, allowed: Perm::R })
    );
    let none = dte(0, 0, Perm::NONE);
    assert_eq!(
        walk_dte(&mem.qwords, &cfg(), &none, 7, Perm::NONE),
        untranslated(7, Perm::NONE, TranslationKind::Mode0)
    );
    assert_eq!(
        walk_dte(&mem.qwords, &cfg(), &none, 7, Perm::R),
        Err(Fault::DtePermission { requested: Perm::R, allowed: Perm::NONE })
    );
}

#[test]
fn default_size_leaf_at_each_level() {
    // NL = 0 at L1..L5 maps 4K, 2M, 1G, 512G, 256T; the IOVA's offset inside is kept.
    let cases: [(u32, u64, u64, u64); 5] = [
        // (level, page base, iova, expected spa)
        (1, 0x1234_5000, 0x0000_0000_0040_3abc, 0x1234_5abc),
        (2, 0x8000_0000, 0x0000_0000_4068_1234, 0x8008_1234),
        (3, 0x40_0000_0000, 0x0000_00c0_1234_5678, 0x40_1234_5678),
        (4, 0x80_0000_0000, 0x0000_807f_1234_5678, 0xff_1234_5678),
        (5, 0x000f_0000_0000_0000, 0x00ff_1234_5678_9abc, 0x000f_1234_5678_9abc),
    ];
    for (level, base, iova, spa) in cases {
        // The literal expectation, from a 6-level table.
        let (mem, d, _) = chain(6, level, iova, pte(base, Perm::RW));
        assert_eq!(
            walk_dte(&mem.qwords, &cfg(), &d, iova, Perm::R),
            translated(spa, level_size_log2(level), Perm::RW, level as u8),
            "L{level}"
        );
        // Any root at or above the leaf's level, with the IOVA cut to the root's span (the
        // offset inside the page is unchanged, so the SPA is too).
        for mode in level..=5 {
            let iova = iova & ((1u64 << (12 + 9 * mode)) - 1);
            let (mem, d, _) = chain(mode, level, iova, pte(base, Perm::RW));
            assert_eq!(
                walk_dte(&mem.qwords, &cfg(), &d, iova, Perm::RW),
                translated(spa, level_size_log2(level), Perm::RW, level as u8),
                "mode {mode} L{level}"
            );
        }
    }
}

#[test]
fn default_size_leaf_page_sizes_are_exact() {
    let expected = [(1u32, 4 * KIB), (2, 2 * MIB), (3, GIB), (4, 512 * GIB), (5, 256 * TIB)];
    for (level, size) in expected {
        let (mem, d, _) = chain(5, level, 0, pte(0, Perm::RW));
        let t = walk_dte(&mem.qwords, &cfg(), &d, 0, Perm::NONE).unwrap();
        assert_eq!(1u64 << t.page_size_log2, size, "L{level}");
        // The last byte of the page is still in it.
        let t = walk_dte(&mem.qwords, &cfg(), &d, size - 1, Perm::NONE).unwrap();
        assert_eq!(t.spa, size - 1);
    }
}

#[test]
fn misaligned_low_address_bits_of_large_default_leaf_are_masked() {
    // A 2 MiB leaf whose address field has bits 20:12 set: they are ignored.
    let iova = 0x0060_0000 | 0x12_3456; // L2 index 3, offset 0x12_3456
    let (mem, d, _) = chain(3, 2, iova, pte(0x401f_f000, Perm::RW));
    assert_eq!(
        walk_dte(&mem.qwords, &cfg(), &d, iova, Perm::R),
        translated(0x4012_3456, 21, Perm::RW, 2)
    );
    // A 1 GiB leaf with bits 29:12 set.
    let iova = 0x1_5555_5555;
    let (mem, d, _) = chain(4, 3, iova, pte(0x7_3fff_f000, Perm::R));
    assert_eq!(
        walk_dte(&mem.qwords, &cfg(), &d, iova, Perm::R),
        translated(0x7_1555_5555, 30, Perm::R, 3)
    );
}

#[test]
fn default_leaf_at_level_6_faults() {
    let iova = 3 << 57;
    let leaf = pte(0, Perm::RW);
    let mut mem = Mem::new();
    let root = mem.table();
    mem.set(root, 3, leaf);
    let d = dte(root, 6, Perm::RW);
    assert_eq!(
        walk_dte(&mem.qwords, &cfg(), &d, iova, Perm::R),
        Err(Fault::LeafAtTopLevel { entry: leaf })
    );
}

/// Walks an NL = 7 leaf of `2^size_log2` at `level` for an IOVA `offset` bytes into the page
/// and checks SPA, size and level. The leaf is replicated in every slot the page covers.
fn check_sized(level: u32, size_log2: u32) {
    let base = 0x000a_0000_0000_0000u64 & !((1u64 << size_log2) - 1);
    let leaf = sized_pte(base, size_log2, Perm::RW);
    let mode = (level + 1).max(3);
    let page_iova = 1u64 << size_log2; // second page of that size: non-zero index bits
    let mut mem = Mem::new();
    let root = mem.table();
    let mut table = root;
    for l in (level + 1..=mode).rev() {
        let child = mem.table();
        mem.set(table, index(page_iova, l), pde(child, u64::from(l - 1)));
        table = child;
    }
    let slot = level_size_log2(level);
    let replicas = 1u64 << (size_log2 - slot);
    for r in 0..replicas {
        mem.set(table, index(page_iova, level) + r, leaf);
    }
    let d = dte(root, u64::from(mode), Perm::RW);
    let size = 1u64 << size_log2;
    for offset in [0, 0x123, size / 2 + 0x123, size - 1] {
        assert_eq!(
            walk_dte(&mem.qwords, &cfg(), &d, page_iova + offset, Perm::RW),
            translated(base + offset, size_log2, Perm::RW, level as u8),
            "L{level} 2^{size_log2} offset {offset:#x}"
        );
    }
}

#[test]
fn sized_leaf_every_size_at_l1_and_l2() {
    for s in 13..=20 {
        check_sized(1, s); // 8 KiB .. 1 MiB
    }
    for s in 22..=29 {
        check_sized(2, s); // 4 MiB .. 512 MiB
    }
}

#[test]
fn sized_leaf_some_sizes_at_l3_l4_l5() {
    for s in [31, 35, 38] {
        check_sized(3, s); // 2 GiB, 32 GiB, 256 GiB
    }
    for s in [40, 44, 47] {
        check_sized(4, s); // 1 TiB, 16 TiB, 128 TiB
    }
}

#[test]
fn sized_leaf_at_l5_including_largest_encodable() {
    // L5 has 512 slots of 256 TiB; a 2^49 page covers 2 of them. The largest code, 2^52,
    // needs 16 replicas.
    for s in [49u32, 52] {
        let leaf = sized_pte(0, s, Perm::R);
        let mut mem = Mem::new();
        let root = mem.table();
        for r in 0..(1u64 << (s - 48)) {
            mem.set(root, r, leaf);
        }
        let d = dte(root, 5, Perm::RW);
        let iova = (1u64 << s) - 0x10;
        assert_eq!(
            walk_dte(&mem.qwords, &cfg(), &d, iova, Perm::R),
            translated(iova, s, Perm::R, 5)
        );
    }
}

#[test]
fn sized_leaf_boundary_sizes_rejected() {
    // (level, size): equal to the level's default size, or to the next level's default.
    let cases = [(1u32, 21u32), (2, 21), (2, 30), (3, 30), (3, 39), (4, 39), (4, 48), (5, 48)];
    for (level, s) in cases {
        let leaf = sized_pte(0, s, Perm::RW);
        let (mem, d, _) = chain(5, level, 0, leaf);
        assert_eq!(
            walk_dte(&mem.qwords, &cfg(), &d, 0, Perm::NONE),
            Err(Fault::InvalidPageSize { level: level as u8, entry: leaf, size_log2: s }),
            "L{level} 2^{s}"
        );
    }
    // Too small for the level as well.
    for (level, s) in [(2u32, 13u32), (3, 29), (4, 20), (5, 47)] {
        let leaf = sized_pte(0, s, Perm::RW);
        let (mem, d, _) = chain(5, level, 0, leaf);
        assert_eq!(
            walk_dte(&mem.qwords, &cfg(), &d, 0, Perm::NONE),
            Err(Fault::InvalidPageSize { level: level as u8, entry: leaf, size_log2: s }),
            "L{level} 2^{s}"
        );
    }
}

#[test]
fn sized_leaf_reads_only_the_indexed_replica() {
    // A 32 KiB page whose replicas disagree: each slot translates by its own replica.
    let mut mem = Mem::new();
    let root = mem.table();
    let l1 = mem.table();
    mem.set(root, 0, pde(l1, 1));
    for r in 0..8 {
        mem.set(l1, 8 + r, sized_pte(0x100_0000 * (r + 1), 15, Perm::RW));
    }
    let d = dte(root, 2, Perm::RW);
    // IOVA 0xa123 is slot 10 (replica 2): page base 0x300_0000, offset in page 0x2123.
    assert_eq!(
        walk_dte(&mem.qwords, &cfg(), &d, 0xa123, Perm::R),
        translated(0x300_2123, 15, Perm::RW, 1)
    );
}

#[test]
fn level_skip_l3_to_l1() {
    let mut mem = Mem::new();
    let root = mem.table();
    let l1 = mem.table();
    mem.set(root, 2, pde(l1, 1)); // IOVA bits 38:30 = 2
    mem.set(l1, 5, pte(0xbeef_0000, Perm::RW));
    let d = dte(root, 3, Perm::RW);
    // Bits 29:21 zero: L1 indexed by bits 20:12 (index 5).
    let iova = (2 << 30) | (5 << 12) | 0x777;
    assert_eq!(
        walk_dte(&mem.qwords, &cfg(), &d, iova, Perm::W),
        translated(0xbeef_0777, 12, Perm::RW, 1)
    );
    // Any of bits 29:21 set: fault, even though the L1 index would be valid.
    for bit in 21..=29 {
        let bad = iova | (1 << bit);
        assert_eq!(
            walk_dte(&mem.qwords, &cfg(), &d, bad, Perm::NONE),
            Err(Fault::SkippedBitsNonZero { level: 3, next_level: 1, iova: bad })
        );
    }
}

#[test]
fn level_skip_from_l6_to_l4_indexes_by_l4_bits() {
    let mut mem = Mem::new();
    let root = mem.table();
    let l4 = mem.table();
    let l3 = mem.table();
    mem.set(root, 1, pde(l4, 4)); // skips L5: bits 56:48 must be zero
    mem.set(l4, 7, pde(l3, 3));
    mem.set(l3, 9, pte(0x1_4000_0000, Perm::R)); // 1 GiB leaf
    let d = dte(root, 6, Perm::RW);
    let iova = (1 << 57) | (7 << 39) | (9 << 30) | 0x2345_6789;
    assert_eq!(
        walk_dte(&mem.qwords, &cfg(), &d, iova, Perm::R),
        translated(0x1_6345_6789, 30, Perm::R, 3)
    );
    let bad = iova | (1 << 48);
    assert_eq!(
        walk_dte(&mem.qwords, &cfg(), &d, bad, Perm::R),
        Err(Fault::SkippedBitsNonZero { level: 6, next_level: 4, iova: bad })
    );
}

#[test]
fn mode_6_root_indexed_by_bits_63_57() {
    let iova = u64::MAX; // L6 index 127, then 511 at every level
    let (mem, d, _) = chain(6, 1, iova, pte(0x5_5555_5000, Perm::RW));
    assert_eq!(index(iova, 6), 127);
    assert_eq!(
        walk_dte(&mem.qwords, &cfg(), &d, iova, Perm::RW),
        translated(0x5_5555_5fff, 12, Perm::RW, 1)
    );
    // Bit 57 alone selects index 1, not aliased with anything in index 0.
    let (mem, d, _) = chain(6, 2, 1 << 57, pte(0x20_0000, Perm::R));
    assert_eq!(
        walk_dte(&mem.qwords, &cfg(), &d, (1 << 57) | 0x1234, Perm::R),
        translated(0x20_1234, 21, Perm::R, 2)
    );
    assert!(matches!(
        walk_dte(&mem.qwords, &cfg(), &d, 0x1234, Perm::R),
        Err(Fault::NotPresent { level: 6, .. })
    ));
}

#[test]
fn mode_1_single_table() {
    let mut mem = Mem::new();
    let root = mem.table();
    mem.set(root, 511, pte(0x9_9000, Perm::W));
    let d = dte(root, 1, Perm::RW);
    assert_eq!(
        walk_dte(&mem.qwords, &cfg(), &d, 0x1f_f0ab, Perm::W),
        translated(0x9_90ab, 12, Perm::W, 1)
    );
    assert_eq!(
        walk_dte(&mem.qwords, &cfg(), &d, 0x20_0000, Perm::W),
        Err(Fault::IovaAboveSpan { mode: 1, iova: 0x20_0000 })
    );
}

#[test]
fn permissions_accumulate_along_the_path() {
    let iova = 0x8040_2000u64;
    // DTE R only over an RW tree: reads give R, writes fault at the DTE.
    let (mem, mut d, _) = chain(3, 1, iova, pte(0xc000, Perm::RW));
    d.0[0] &= !IW;
    assert_eq!(
        walk_dte(&mem.qwords, &cfg(), &d, iova, Perm::R),
        translated(0xc000, 12, Perm::R, 1)
    );
    assert_eq!(
        walk_dte(&mem.qwords, &cfg(), &d, iova, Perm::W),
        Err(Fault::DtePermission { requested: Perm::W, allowed: Perm::R })
    );
    // Leaf R only: Perm::NONE reports the effective R, writes fault at the leaf.
    let (mem, d, _) = chain(3, 1, iova, pte(0xc000, Perm::R));
    assert_eq!(
        walk_dte(&mem.qwords, &cfg(), &d, iova, Perm::NONE),
        translated(0xc000, 12, Perm::R, 1)
    );
    assert_eq!(
        walk_dte(&mem.qwords, &cfg(), &d, iova, Perm::W),
        Err(Fault::Permission { level: 1, requested: Perm::W, allowed: Perm::R })
    );
    // DTE without permissions: Perm::NONE still translates with NONE.
    let (mem, mut d, _) = chain(3, 1, iova, pte(0xc000, Perm::RW));
    d.0[0] &= !(IR | IW);
    assert_eq!(
        walk_dte(&mem.qwords, &cfg(), &d, iova, Perm::NONE),
        translated(0xc000, 12, Perm::NONE, 1)
    );
    // W-only PDE and R-only leaf: nothing left; NONE reports it, R faults at the leaf level.
    let (mut mem, d, _) = chain(3, 1, iova, pte(0xc000, Perm::R));
    let root = d.root();
    let child = mem.get(root, index(iova, 3)) & 0x000f_ffff_ffff_f000;
    mem.set(root, index(iova, 3), pde_perm(child, 2, Perm::W));
    assert_eq!(
        walk_dte(&mem.qwords, &cfg(), &d, iova, Perm::NONE),
        translated(0xc000, 12, Perm::NONE, 1)
    );
    assert_eq!(
        walk_dte(&mem.qwords, &cfg(), &d, iova, Perm::R),
        Err(Fault::Permission { level: 3, requested: Perm::R, allowed: Perm::W })
    );
    assert_eq!(
        walk_dte(&mem.qwords, &cfg(), &d, iova, Perm::W),
        Err(Fault::Permission { level: 1, requested: Perm::W, allowed: Perm::NONE })
    );
}
