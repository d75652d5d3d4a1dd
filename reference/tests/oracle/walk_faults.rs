//! Every fault rule of the walk firing, one test each, plus the order of the DTE checks.

use crate::common::*;
use ptdiff_reference::{
    walk, walk_dte, DeviceTable, Dte, Fault, FaultClass, Perm, Tv0Policy, WalkConfig,
};
use std::collections::BTreeMap;

const IOVA: u64 = 0x1234_5678_9abc;

#[test]
fn device_id_out_of_range() {
    let devtab = DeviceTable { base: 0x1000, entries: 16 };
    let mem = BTreeMap::new();
    let got = walk(&mem, &cfg(), &devtab, 16, IOVA, Perm::R);
    assert_eq!(got, Err(Fault::DeviceIdOutOfRange { dev: 16, entries: 16 }));
    assert_eq!(
        devtab.read(&mem, 0xffff),
        Err(Fault::DeviceIdOutOfRange { dev: 0xffff, entries: 16 })
    );
    assert_eq!(got.unwrap_err().class(), FaultClass::IoPageFault);
}

#[test]
fn dte_read_failed_names_first_missing_qword() {
    let devtab = DeviceTable { base: 0x1000, entries: 16 };
    let mut mem = BTreeMap::new();
    // DTE 3 is at 0x1000 + 3 * 32 = 0x1060; qwords 0 and 1 exist, 2 does not.
    mem.insert(0x1060u64, 0u64);
    mem.insert(0x1068u64, 0u64);
    let got = walk(&mem, &cfg(), &devtab, 3, IOVA, Perm::R);
    assert_eq!(got, Err(Fault::DteReadFailed { dev: 3, spa: 0x1070 }));
    assert_eq!(got.unwrap_err().class(), FaultClass::DevTabHardwareError);
    // Nothing there at all.
    assert_eq!(devtab.read(&mem, 5), Err(Fault::DteReadFailed { dev: 5, spa: 0x10a0 }));
}

#[test]
fn dte_read_past_end_of_address_space_fails_cleanly() {
    let devtab = DeviceTable { base: u64::MAX - 0xfff, entries: 0x1_0000 };
    let mem = BTreeMap::new();
    assert_eq!(
        devtab.read(&mem, 0xffff),
        Err(Fault::DteReadFailed { dev: 0xffff, spa: u64::MAX - 0xfff })
    );
}

#[test]
fn device_table_read_returns_the_four_qwords() {
    let devtab = DeviceTable { base: 0x8000, entries: 256 };
    let mut mem = BTreeMap::new();
    for (i, q) in [0x11u64, 0x22, 0x33, 0x44].iter().enumerate() {
        mem.insert(0x8000 + 2 * 32 + 8 * i as u64, *q);
    }
    assert_eq!(devtab.read(&mem, 2), Ok(Dte([0x11, 0x22, 0x33, 0x44])));
}

#[test]
fn walk_through_device_table_translates() {
    let (mut mem, d, _) = chain(3, 1, IOVA & 0x7f_ffff_ffff, pte(0xabc_d000, Perm::RW));
    let devtab = DeviceTable { base: 0x1_0000, entries: 4 };
    for (i, q) in d.0.iter().enumerate() {
        mem.qwords.insert(0x1_0000 + 32 + 8 * i as u64, *q);
    }
    let iova = IOVA & 0x7f_ffff_ffff;
    assert_eq!(
        walk(&mem.qwords, &cfg(), &devtab, 1, iova, Perm::W),
        translated(0xabc_d000 | (iova & 0xfff), 12, Perm::RW, 1)
    );
}

#[test]
fn illegal_dte_reserved_bits() {
    let mem = Mem::new();
    for bit in [2u32, 3, 4, 5, 6, 63] {
        let mut d = dte(0x10_0000, 3, Perm::RW);
        d.0[0] |= 1 << bit;
        let got = walk_dte(&mem.qwords, &cfg(), &d, 0, Perm::R);
        assert_eq!(got, Err(Fault::IllegalDte { bits: 1 << bit }), "bit {bit}");
        assert_eq!(got.unwrap_err().class(), FaultClass::IllegalDevTableEntry);
    }
    // Several at once, and the check precedes TV and mode.
    let d = Dte([1 | (1 << 3) | (1 << 63) | (7 << 9), 0, 0, 0]);
    assert_eq!(
        walk_dte(&mem.qwords, &cfg(), &d, 0, Perm::NONE),
        Err(Fault::IllegalDte { bits: (1 << 3) | (1 << 63) })
    );
}

#[test]
fn tv0_fault_policy() {
    let mem = Mem::new();
    let d = Dte([1 | (3 << 9) | 0x10_0000 | IR | IW, 0, 0, 0]); // V = 1, TV = 0
    for access in [Perm::NONE, Perm::R, Perm::RW] {
        assert_eq!(
            walk_dte(&mem.qwords, &cfg(), &d, IOVA, access),
            Err(Fault::TranslationNotValid)
        );
    }
}

#[test]
fn dte_permission_checked_before_mode() {
    let mem = Mem::new();
    // Mode 7 (reserved) and an R-only DTE: a write fails on the permission first.
    let d = Dte([1 | 2 | (7 << 9) | IR, 0, 0, 0]);
    assert_eq!(
        walk_dte(&mem.qwords, &cfg(), &d, 0, Perm::W),
        Err(Fault::DtePermission { requested: Perm::W, allowed: Perm::R })
    );
    assert_eq!(walk_dte(&mem.qwords, &cfg(), &d, 0, Perm::R), Err(Fault::ReservedMode));
    // A table that would translate RW is never consulted when the DTE denies.
    let (mem, mut d, _) = chain(3, 1, 0, pte(0x5000, Perm::RW));
    d.0[0] &= !IW;
    assert_eq!(
        walk_dte(&mem.qwords, &cfg(), &d, 0, Perm::RW),
        Err(Fault::DtePermission { requested: Perm::RW, allowed: Perm::R })
    );
    d.0[0] &= !IR;
    assert_eq!(
        walk_dte(&mem.qwords, &cfg(), &d, 0, Perm::R),
        Err(Fault::DtePermission { requested: Perm::R, allowed: Perm::NONE })
    );
}

#[test]
fn reserved_mode_7() {
    let mem = Mem::new();
    let d = dte(0x10_0000, 7, Perm::RW);
    assert_eq!(walk_dte(&mem.qwords, &cfg(), &d, 0, Perm::R), Err(Fault::ReservedMode));
    let cfg4 = WalkConfig { max_levels: 4, tv0: Tv0Policy::Fault };
    assert_eq!(walk_dte(&mem.qwords, &cfg4, &d, 0, Perm::R), Err(Fault::ReservedMode));
}

#[test]
fn mode_above_hardware_max() {
    let (mem, d5, _) = chain(5, 1, 0, pte(0x7000, Perm::RW));
    let cfg4 = WalkConfig { max_levels: 4, tv0: Tv0Policy::Fault };
    assert_eq!(
        walk_dte(&mem.qwords, &cfg4, &d5, 0, Perm::R),
        Err(Fault::ModeAboveMax { mode: 5, max: 4 })
    );
    // The same tree is fine with HATS = 1 (5 levels).
    let cfg5 = WalkConfig { max_levels: 5, tv0: Tv0Policy::Fault };
    assert_eq!(
        walk_dte(&mem.qwords, &cfg5, &d5, 0x12, Perm::R),
        translated(0x7012, 12, Perm::RW, 1)
    );
    // Mode 4 is within a 4-level maximum.
    let (mem, d4, _) = chain(4, 1, 0, pte(0x7000, Perm::RW));
    assert_eq!(walk_dte(&mem.qwords, &cfg4, &d4, 0, Perm::R), translated(0x7000, 12, Perm::RW, 1));
}

#[test]
fn iova_above_span() {
    for mode in 1u64..=5 {
        let (mem, d, _) = chain(mode as u32, 1, 0, pte(0x7000, Perm::RW));
        let first_outside = 1u64 << (12 + 9 * mode);
        for iova in [first_outside, first_outside | 0x123, u64::MAX, 1 << 63] {
            assert_eq!(
                walk_dte(&mem.qwords, &cfg(), &d, iova, Perm::NONE),
                Err(Fault::IovaAboveSpan { mode: mode as u8, iova }),
                "mode {mode} iova {iova:#x}"
            );
        }
        // The last byte inside the span is walked (and faults only later: not present).
        let last_inside = first_outside - 1;
        assert!(matches!(
            walk_dte(&mem.qwords, &cfg(), &d, last_inside, Perm::NONE),
            Err(Fault::NotPresent { .. })
        ));
    }
}

#[test]
fn table_read_failed_root_and_child() {
    // Root not in memory: the fault names the root level and the entry address.
    let mem = Mem::new();
    let d = dte(0x50_0000, 4, Perm::RW);
    let iova = (3 << 39) | (5 << 30);
    let got = walk_dte(&mem.qwords, &cfg(), &d, iova, Perm::R);
    assert_eq!(got, Err(Fault::TableReadFailed { level: 4, spa: 0x50_0000 + 3 * 8 }));
    assert_eq!(got.unwrap_err().class(), FaultClass::PageTabHardwareError);
    // A PDE pointing at memory that does not exist.
    let mut mem = Mem::new();
    let root = mem.table();
    mem.set(root, 3, pde(0x7777_7000, 3));
    let d = dte(root, 4, Perm::RW);
    assert_eq!(
        walk_dte(&mem.qwords, &cfg(), &d, iova, Perm::R),
        Err(Fault::TableReadFailed { level: 3, spa: 0x7777_7000 + 5 * 8 })
    );
}

#[test]
fn not_present() {
    let iova = 0x4000_3000; // L3 index 1, L2 index 0, L1 index 3
    let (mut mem, d, l1) = chain(3, 1, iova, pte(0x9000, Perm::RW));
    // PR = 0 with everything else set: not present, nothing else examined.
    mem.set(l1, 3, !PR);
    assert_eq!(
        walk_dte(&mem.qwords, &cfg(), &d, iova, Perm::NONE),
        Err(Fault::NotPresent { level: 1, spa: l1 + 3 * 8 })
    );
    // Another index of the same table was never written (zero).
    assert_eq!(
        walk_dte(&mem.qwords, &cfg(), &d, iova + 0x1000, Perm::NONE),
        Err(Fault::NotPresent { level: 1, spa: l1 + 4 * 8 })
    );
    // At the root.
    let root = d.root();
    assert_eq!(
        walk_dte(&mem.qwords, &cfg(), &d, 2 << 30, Perm::R),
        Err(Fault::NotPresent { level: 3, spa: root + 2 * 8 })
    );
}

#[test]
fn reserved_bits_pte_and_pde() {
    // PTE: bits 58:52 reserved.
    for bit in 52..=58 {
        let leaf = pte(0x9000, Perm::RW) | (1 << bit);
        let (mem, d, _) = chain(3, 1, 0, leaf);
        assert_eq!(
            walk_dte(&mem.qwords, &cfg(), &d, 0, Perm::NONE),
            Err(Fault::ReservedBits { level: 1, entry: leaf }),
            "PTE bit {bit}"
        );
    }
    // NL = 7 leaves are PTEs too.
    let leaf = sized_pte(0x10000, 15, Perm::RW) | (1 << 55);
    let (mem, d, _) = chain(3, 1, 0, leaf);
    assert_eq!(
        walk_dte(&mem.qwords, &cfg(), &d, 0, Perm::NONE),
        Err(Fault::ReservedBits { level: 1, entry: leaf })
    );
    // PTE bits 59 (U) and 60 (FC), and ignored bits 63, 8:1, are not reserved.
    let leaf = pte(0x9000, Perm::RW) | (1 << 59) | (1 << 63) | 0x1fe;
    let (mem, d, _) = chain(3, 1, 0, leaf);
    assert_eq!(walk_dte(&mem.qwords, &cfg(), &d, 0, Perm::R), translated(0x9000, 12, Perm::RW, 1));
    // PDE: bits 60:52 reserved, including 59 and 60.
    for bit in 52..=60 {
        let (mut mem, d, _) = chain(3, 1, 0, pte(0x9000, Perm::RW));
        let root = d.root();
        let bad = mem.get(root, 0) | (1 << bit);
        mem.set(root, 0, bad);
        assert_eq!(
            walk_dte(&mem.qwords, &cfg(), &d, 0, Perm::NONE),
            Err(Fault::ReservedBits { level: 3, entry: bad }),
            "PDE bit {bit}"
        );
    }
}

#[test]
fn reserved_bits_checked_before_permission() {
    // A PDE with no permissions and a reserved bit: the reserved bit is reported.
    let (mut mem, d, _) = chain(2, 1, 0, pte(0x9000, Perm::RW));
    let root = d.root();
    let bad = (mem.get(root, 0) & !(IR | IW)) | (1 << 53);
    mem.set(root, 0, bad);
    assert_eq!(
        walk_dte(&mem.qwords, &cfg(), &d, 0, Perm::W),
        Err(Fault::ReservedBits { level: 2, entry: bad })
    );
}

#[test]
fn permission_fault_names_level_and_accumulated_perm() {
    // PDE at L3 read-only above an RW leaf: writes fault at level 3.
    let iova = 0x40_2000;
    let (mut mem, d, _) = chain(3, 1, iova, pte(0xa000, Perm::RW));
    let root = d.root();
    let child = mem.get(root, 0) & 0x000f_ffff_ffff_f000;
    mem.set(root, 0, pde_perm(child, 2, Perm::R));
    assert_eq!(
        walk_dte(&mem.qwords, &cfg(), &d, iova, Perm::W),
        Err(Fault::Permission { level: 3, requested: Perm::W, allowed: Perm::R })
    );
    assert_eq!(
        walk_dte(&mem.qwords, &cfg(), &d, iova, Perm::RW),
        Err(Fault::Permission { level: 3, requested: Perm::RW, allowed: Perm::R })
    );
    assert_eq!(
        walk_dte(&mem.qwords, &cfg(), &d, iova, Perm::R),
        translated(0xa000, 12, Perm::R, 1)
    );
    // Leaf write-only under an RW path: reads fault at level 1.
    let (mem, d, _) = chain(3, 1, iova, pte(0xa000, Perm::W));
    assert_eq!(
        walk_dte(&mem.qwords, &cfg(), &d, iova, Perm::R),
        Err(Fault::Permission { level: 1, requested: Perm::R, allowed: Perm::W })
    );
}

#[test]
fn leaf_at_top_level() {
    for leaf in [pte(0, Perm::RW), sized_pte(0, 52, Perm::RW), sized_pte(1 << 51, 13, Perm::RW)] {
        let mut mem = Mem::new();
        let root = mem.table();
        mem.set(root, 1, leaf);
        let d = dte(root, 6, Perm::RW);
        let got = walk_dte(&mem.qwords, &cfg(), &d, 1 << 57, Perm::NONE);
        assert_eq!(got, Err(Fault::LeafAtTopLevel { entry: leaf }), "{leaf:#x}");
    }
}

#[test]
fn leaf_at_level_6_faults_even_when_mode_6_is_reached_via_index_0() {
    let mut mem = Mem::new();
    let root = mem.table();
    let leaf = pte(0x1000, Perm::RW);
    mem.set(root, 0, leaf);
    let d = dte(root, 6, Perm::RW);
    assert_eq!(
        walk_dte(&mem.qwords, &cfg(), &d, 0, Perm::R),
        Err(Fault::LeafAtTopLevel { entry: leaf })
    );
}

#[test]
fn invalid_page_size() {
    // 2 MiB with NL = 7 at L1: not below L2's default size.
    let leaf = sized_pte(0x4000_0000, 21, Perm::RW);
    let (mem, d, _) = chain(3, 1, 0, leaf);
    assert_eq!(
        walk_dte(&mem.qwords, &cfg(), &d, 0, Perm::NONE),
        Err(Fault::InvalidPageSize { level: 1, entry: leaf, size_log2: 21 })
    );
    // No zero bit in 51:12: no size at all (reported as 2^53).
    let leaf = PR | nl(7) | 0x000f_ffff_ffff_f000 | IR;
    let (mem, d, _) = chain(5, 5, 0, leaf);
    assert_eq!(
        walk_dte(&mem.qwords, &cfg(), &d, 0, Perm::NONE),
        Err(Fault::InvalidPageSize { level: 5, entry: leaf, size_log2: 53 })
    );
}

#[test]
fn invalid_next_level() {
    // NL equal to the table's level, and above it.
    for (level, next) in [(3u32, 3u64), (3, 4), (3, 6), (4, 5), (2, 2)] {
        let bad = pde(0x20_0000, next);
        let (mem, d, _) = chain(level, level, 0, bad);
        assert_eq!(
            walk_dte(&mem.qwords, &cfg(), &d, 0, Perm::NONE),
            Err(Fault::InvalidNextLevel { level: level as u8, entry: bad, next_level: next as u8 }),
            "L{level} NL{next}"
        );
    }
    // Any PDE in an L1 table.
    for next in 1..=6 {
        let bad = pde(0x20_0000, next);
        let (mem, d, _) = chain(2, 1, 0, bad);
        assert_eq!(
            walk_dte(&mem.qwords, &cfg(), &d, 0, Perm::NONE),
            Err(Fault::InvalidNextLevel { level: 1, entry: bad, next_level: next as u8 })
        );
    }
    // A PDE in the L6 table pointing to L6.
    let mut mem = Mem::new();
    let root = mem.table();
    let bad = pde(root, 6);
    mem.set(root, 0, bad);
    let d = dte(root, 6, Perm::RW);
    assert_eq!(
        walk_dte(&mem.qwords, &cfg(), &d, 0, Perm::NONE),
        Err(Fault::InvalidNextLevel { level: 6, entry: bad, next_level: 6 })
    );
}

#[test]
fn skipped_bits_non_zero() {
    // L4 PDE skipping to L2: IOVA bits 38:30 must be zero.
    let mut mem = Mem::new();
    let root = mem.table();
    let l2 = mem.table();
    mem.set(root, 0, pde(l2, 2));
    mem.set(l2, 0, pte(0x4000_0000, Perm::RW)); // 2 MiB leaf
    let d = dte(root, 4, Perm::RW);
    for bit in 30..=38 {
        let iova = 1u64 << bit;
        assert_eq!(
            walk_dte(&mem.qwords, &cfg(), &d, iova, Perm::NONE),
            Err(Fault::SkippedBitsNonZero { level: 4, next_level: 2, iova }),
            "bit {bit}"
        );
    }
    assert_eq!(
        walk_dte(&mem.qwords, &cfg(), &d, 0x1f_ffff, Perm::R),
        translated(0x401f_ffff, 21, Perm::RW, 2)
    );
}

#[test]
fn walk_never_reads_more_than_the_path() {
    // Memory that only contains the path: any extra read would fault with TableReadFailed.
    let iova = 0x0123_4567_89ab_c000;
    let mut qwords = BTreeMap::new();
    let tables = [0x10_0000u64, 0x20_0000, 0x30_0000, 0x40_0000, 0x50_0000, 0x60_0000];
    for level in (1..=6u32).rev() {
        let t = tables[(6 - level) as usize];
        let e = if level == 1 {
            pte(0xdead_b000, Perm::R)
        } else {
            pde(tables[(7 - level) as usize], u64::from(level - 1))
        };
        qwords.insert(t + 8 * index(iova, level), e);
    }
    let d = dte(tables[0], 6, Perm::RW);
    assert_eq!(
        walk_dte(&qwords, &cfg(), &d, iova, Perm::R),
        translated(0xdead_b000, 12, Perm::R, 1)
    );
}
