//! The leaf enumerator on hand-built trees: exact leaf lists, DTE outcomes, budgets.

use crate::common::*;
use ptdiff_reference::{
    enumerate, walk_dte, Dte, EnumerateError, Fault, Leaf, Perm, Reach, Tv0Policy, WalkConfig,
};

const BUDGET: usize = 10_000;

fn leaf(iova: u64, slot_log2: u32, spa: u64, page_size_log2: u32, perm: Perm, level: u8) -> Leaf {
    Leaf { iova, slot_log2, spa, page_size_log2, perm, level }
}

fn leaves(mem: &Mem, d: &Dte) -> Vec<Leaf> {
    match enumerate(&mem.qwords, &cfg(), d, BUDGET) {
        Ok(Reach::Table(leaves)) => leaves,
        other => panic!("expected a table, got {other:?}"),
    }
}

/// Every leaf's first and last byte walk (for `Perm::NONE`) to what the leaf says.
fn assert_walk_agrees(mem: &Mem, d: &Dte, leaves: &[Leaf]) {
    for l in leaves {
        let last = (1u64 << l.slot_log2) - 1;
        for off in [0, last] {
            assert_eq!(
                walk_dte(&mem.qwords, &cfg(), d, l.iova + off, Perm::NONE),
                translated(l.spa + off, l.page_size_log2, l.perm, l.level),
                "{l:?} +{off:#x}"
            );
        }
    }
}

#[test]
fn three_level_tree_exact_leaves() {
    let mut mem = Mem::new();
    let root = mem.table();
    let l2 = mem.table();
    let l1 = mem.table();
    mem.set(root, 0, pde(l2, 2));
    mem.set(root, 1, pte(0x40_0000_0000, Perm::R)); // 1 GiB at IOVA 1 GiB
    mem.set(l2, 0, pde(l1, 1));
    mem.set(l2, 3, pte(0x8020_0000, Perm::RW)); // 2 MiB at IOVA 6 MiB
    mem.set(l1, 0, pte(0x1000, Perm::RW));
    mem.set(l1, 5, pte(0x9000, Perm::W));
    mem.set(l1, 6, pte(0xa000, Perm::RW) | (1 << 52)); // reserved bit: no leaf
    mem.set(l1, 7, pde(l1, 1)); // PDE at L1: no leaf
    mem.set(l1, 8, pte(0xb000, Perm::RW) & !PR); // not present
    let d = dte(root, 3, Perm::RW);
    let got = leaves(&mem, &d);
    assert_eq!(
        got,
        vec![
            leaf(0x0000, 12, 0x1000, 12, Perm::RW, 1),
            leaf(0x5000, 12, 0x9000, 12, Perm::W, 1),
            leaf(0x60_0000, 21, 0x8020_0000, 21, Perm::RW, 2),
            leaf(0x4000_0000, 30, 0x40_0000_0000, 30, Perm::R, 3),
        ]
    );
    assert_walk_agrees(&mem, &d, &got);
}

#[test]
fn sized_leaf_replicas_are_one_leaf_per_slot() {
    let mut mem = Mem::new();
    let root = mem.table();
    let l1 = mem.table();
    mem.set(root, 1, pde(l1, 1));
    let page = sized_pte(0x7_0000_8000, 15, Perm::R);
    for i in 8..16 {
        mem.set(l1, i, page);
    }
    let d = dte(root, 2, Perm::RW);
    let got = leaves(&mem, &d);
    let want: Vec<Leaf> = (0..8)
        .map(|i| {
            leaf(0x20_0000 + 0x8000 + i * 0x1000, 12, 0x7_0000_8000 + i * 0x1000, 15, Perm::R, 1)
        })
        .collect();
    assert_eq!(got, want);
    assert_walk_agrees(&mem, &d, &got);
}

#[test]
fn skipping_pde_places_child_entries_with_zero_skipped_bits() {
    let mut mem = Mem::new();
    let root = mem.table();
    let l1 = mem.table();
    mem.set(root, 2, pde(l1, 1)); // L3 -> L1
    mem.set(l1, 0, pte(0x3000, Perm::RW));
    mem.set(l1, 511, pte(0x4000, Perm::RW));
    let d = dte(root, 3, Perm::RW);
    let got = leaves(&mem, &d);
    assert_eq!(
        got,
        vec![
            leaf(2 << 30, 12, 0x3000, 12, Perm::RW, 1),
            leaf((2 << 30) | (511 << 12), 12, 0x4000, 12, Perm::RW, 1),
        ]
    );
    assert_walk_agrees(&mem, &d, &got);
    // Just past the last leaf: bit 21 is a skipped bit, the walk faults.
    assert!(matches!(
        walk_dte(&mem.qwords, &cfg(), &d, (2 << 30) | (512 << 12), Perm::NONE),
        Err(Fault::SkippedBitsNonZero { .. })
    ));
}

#[test]
fn mode6_enumerates_only_indices_below_128_and_no_l6_leaves() {
    let mut mem = Mem::new();
    let root = mem.table();
    let l5 = mem.table();
    mem.set(root, 127, pde(l5, 5));
    mem.set(root, 128, pde(l5, 5)); // unreachable: bits 63:57 give at most 127
    mem.set(root, 511, pde(l5, 5)); // unreachable
    mem.set(root, 3, pte(0, Perm::RW)); // leaf at L6: faults, no leaf
    mem.set(l5, 511, pte(0xf_0000_0000_0000, Perm::RW)); // 256 TiB
    let d = dte(root, 6, Perm::RW);
    let got = leaves(&mem, &d);
    assert_eq!(got, vec![leaf(0xffff_0000_0000_0000, 48, 0xf_0000_0000_0000, 48, Perm::RW, 5)]);
    assert_walk_agrees(&mem, &d, &got);
}

#[test]
fn root_of_mode_below_6_covers_only_its_span() {
    let mut mem = Mem::new();
    let root = mem.table();
    mem.set(root, 511, pte(0x1_0000_0000, Perm::RW));
    let d = dte(root, 2, Perm::RW); // L2 root: 1 GiB span
    let got = leaves(&mem, &d);
    assert_eq!(got, vec![leaf(511 << 21, 21, 0x1_0000_0000, 21, Perm::RW, 2)]);
    assert_walk_agrees(&mem, &d, &got);
}

#[test]
fn faulting_entries_yield_no_leaves() {
    let mut mem = Mem::new();
    let root = mem.table();
    let l1 = mem.table();
    mem.set(root, 0, pde(0x9999_0000, 2)); // table not in memory
    mem.set(root, 1, pde(l1, 1) | (1 << 60)); // PDE reserved bit 60
    mem.set(root, 2, sized_pte(0, 21, Perm::RW)); // 2 MiB with NL = 7 at L2
    mem.set(root, 3, pde(l1, 2)); // NL = level
    mem.set(root, 4, pde(l1, 5)); // NL > level
    mem.set(root, 5, PR | nl(7) | 0x000f_ffff_ffff_f000); // no size encoded
    mem.set(l1, 0, pte(0x1000, Perm::RW));
    let d = dte(root, 2, Perm::RW);
    assert_eq!(leaves(&mem, &d), vec![]);
}

#[test]
fn dte_outcomes() {
    let (mem, good, _) = chain(3, 1, 0, pte(0x1000, Perm::RW));
    let q0 = good.0[0];
    let mode_bits = 7u64 << 9;
    let cases: Vec<(Dte, WalkConfig, Reach)> = vec![
        (Dte([0, 0, 0, 0]), cfg(), Reach::Untranslated(Perm::RW)),
        (Dte([q0 & !1, 0, 0, 0]), cfg(), Reach::Untranslated(Perm::RW)),
        (Dte([q0 | (1 << 5), 0, 0, 0]), cfg(), Reach::Blocked(Fault::IllegalDte { bits: 1 << 5 })),
        (Dte([q0 & !2, 0, 0, 0]), cfg(), Reach::Blocked(Fault::TranslationNotValid)),
        (
            Dte([(q0 & !2) & !IW, 0, 0, 0]),
            WalkConfig { max_levels: 6, tv0: Tv0Policy::Untranslated },
            Reach::Untranslated(Perm::R),
        ),
        (Dte([q0 & !mode_bits, 0, 0, 0]) /* mode 0 */, cfg(), Reach::Untranslated(Perm::RW)),
        (dte(0, 0, Perm::W), cfg(), Reach::Untranslated(Perm::W)),
        (Dte([q0 | mode_bits, 0, 0, 0]), cfg(), Reach::Blocked(Fault::ReservedMode)),
        (
            dte(good.root(), 5, Perm::RW),
            WalkConfig { max_levels: 4, tv0: Tv0Policy::Fault },
            Reach::Blocked(Fault::ModeAboveMax { mode: 5, max: 4 }),
        ),
        (good, cfg(), Reach::Table(vec![leaf(0, 12, 0x1000, 12, Perm::RW, 1)])),
    ];
    for (d, cfg, want) in cases {
        assert_eq!(enumerate(&mem.qwords, &cfg, &d, BUDGET), Ok(want.clone()), "{d:?}");
        // And the walk agrees at a few IOVAs.
        for iova in [0u64, 0xfff, 0x1000, 1 << 40, u64::MAX] {
            let w = walk_dte(&mem.qwords, &cfg, &d, iova, Perm::NONE);
            match &want {
                Reach::Blocked(f) => assert_eq!(w, Err(*f)),
                Reach::Untranslated(p) => {
                    let t = w.unwrap();
                    assert_eq!((t.spa, t.perm, t.page_size_log2), (iova, *p, 12));
                }
                Reach::Table(_) => {}
            }
        }
    }
}

#[test]
fn dte_without_permissions_still_enumerates_with_none() {
    let (mem, mut d, _) = chain(3, 1, 0x7000, pte(0x1000, Perm::RW));
    d.0[0] &= !(IR | IW);
    assert_eq!(
        enumerate(&mem.qwords, &cfg(), &d, BUDGET),
        Ok(Reach::Table(vec![leaf(0x7000, 12, 0x1000, 12, Perm::NONE, 1)]))
    );
}

#[test]
fn path_permissions_are_anded_into_leaves() {
    let mut mem = Mem::new();
    let root = mem.table();
    let l1_r = mem.table();
    let l1_w = mem.table();
    mem.set(root, 0, pde_perm(l1_r, 1, Perm::R));
    mem.set(root, 1, pde_perm(l1_w, 1, Perm::W));
    mem.set(l1_r, 0, pte(0x1000, Perm::RW));
    mem.set(l1_w, 0, pte(0x2000, Perm::RW));
    mem.set(l1_w, 1, pte(0x3000, Perm::R));
    let d = dte(root, 2, Perm::RW);
    let got = leaves(&mem, &d);
    assert_eq!(
        got,
        vec![
            leaf(0, 12, 0x1000, 12, Perm::R, 1),
            leaf(0x20_0000, 12, 0x2000, 12, Perm::W, 1),
            leaf(0x20_1000, 12, 0x3000, 12, Perm::NONE, 1),
        ]
    );
    assert_walk_agrees(&mem, &d, &got);
}

#[test]
fn aliased_table_gives_leaves_at_every_place_it_is_reached() {
    let mut mem = Mem::new();
    let root = mem.table();
    let l1 = mem.table();
    mem.set(root, 0, pde(l1, 1));
    mem.set(root, 9, pde(l1, 1));
    mem.set(l1, 1, pte(0x5000, Perm::RW));
    let d = dte(root, 2, Perm::RW);
    let got = leaves(&mem, &d);
    assert_eq!(
        got,
        vec![
            leaf(0x1000, 12, 0x5000, 12, Perm::RW, 1),
            leaf((9 << 21) | 0x1000, 12, 0x5000, 12, Perm::RW, 1)
        ]
    );
    assert_walk_agrees(&mem, &d, &got);
}

#[test]
fn leaf_budget_is_exact() {
    let mut mem = Mem::new();
    let root = mem.table();
    for i in 0..3 {
        mem.set(root, i, pte(i << 12, Perm::RW));
    }
    let d = dte(root, 1, Perm::RW);
    assert!(matches!(enumerate(&mem.qwords, &cfg(), &d, 3), Ok(Reach::Table(l)) if l.len() == 3));
    assert_eq!(
        enumerate(&mem.qwords, &cfg(), &d, 2),
        Err(EnumerateError::TooManyLeaves { budget: 2 })
    );
    assert_eq!(
        enumerate(&mem.qwords, &cfg(), &d, 0),
        Err(EnumerateError::TooManyLeaves { budget: 0 })
    );
}

#[test]
fn table_budget_bounds_leafless_trees() {
    // A 6-level chain ending in an empty L1 table: 5 tables below the root, no leaves.
    let (mem, d, _) = chain(6, 1, 0, 0);
    assert_eq!(enumerate(&mem.qwords, &cfg(), &d, 5), Ok(Reach::Table(vec![])));
    assert_eq!(
        enumerate(&mem.qwords, &cfg(), &d, 4),
        Err(EnumerateError::TooManyLeaves { budget: 4 })
    );
}

#[test]
fn self_aliasing_garbage_hits_the_budget() {
    // Every entry of an L3 root points at one frame `t` read as L2, whose entries point at `t`
    // again read as L1, where they are invalid PDEs: no leaves, but 512 * 512 table visits.
    let mut mem = Mem::new();
    let root = mem.table();
    let t = mem.table();
    for i in 0..512 {
        mem.set(root, i, pde(t, 2));
        mem.set(t, i, pde(t, 1));
    }
    let d = dte(root, 3, Perm::RW);
    assert_eq!(
        enumerate(&mem.qwords, &cfg(), &d, 1000),
        Err(EnumerateError::TooManyLeaves { budget: 1000 })
    );
    // `t` now holds default-size leaves: read as L2 below the L3 root they are 512 * 512
    // 2 MiB leaves, beyond the leaf budget.
    for i in 0..512 {
        mem.set(t, i, pte(i << 21, Perm::RW));
    }
    assert_eq!(
        enumerate(&mem.qwords, &cfg(), &d, 1000),
        Err(EnumerateError::TooManyLeaves { budget: 1000 })
    );
    // The same root read as L2 (mode 2): its PDEs have NL = 2, not below 2: nothing.
    let d2 = dte(root, 2, Perm::RW);
    assert_eq!(enumerate(&mem.qwords, &cfg(), &d2, 1000), Ok(Reach::Table(vec![])));
}
