//! Unit tests of the dynamic table: exact entries, commands and frames per operation, and a
//! randomized run against the model and the oracle.

mod interleaved;

use super::geometry::{span, ENTRIES};
use super::*;
use crate::step::Sequential;
use crate::substrate::commands::{Command, ALL_PAGES_ORDER};
use crate::substrate::frames::{POISON_MFN, TABLE_POOL_FIRST_PFN};
use crate::table::{PageOrders, PageTable, PagesError, Perm, PtError};
use ptdiff_reference::{
    enumerate, walk, Fault, Model, Reach, Translation, TranslationKind, WalkConfig,
};

const DOMAIN: u16 = 7;
const PR: u64 = 1;
const FC: u64 = 1 << 60;
const IR: u64 = 1 << 61;
const IW: u64 = 1 << 62;
/// The first table frame the allocator hands out.
const FIRST_TABLE: u64 = TABLE_POOL_FIRST_PFN << 12;

fn config(initial_levels: u8, max_levels: u8) -> DynamicConfig {
    DynamicConfig {
        initial_levels,
        max_levels,
        domain: DOMAIN,
        all_page_sizes: false,
        growth: Default::default(),
    }
}

fn table(initial_levels: u8, max_levels: u8) -> Sequential<Dynamic> {
    Dynamic::new(config(initial_levels, max_levels)).unwrap()
}

/// A table that maps every page size (NL = 7 leaves).
fn sized_table(initial_levels: u8, max_levels: u8) -> Sequential<Dynamic> {
    Dynamic::new(DynamicConfig { all_page_sizes: true, ..config(initial_levels, max_levels) })
        .unwrap()
}

/// Expected raw NL = 7 replica of the page of `2^order` frames at `mfn`.
fn sized(mfn: u64, order: u64, perm_bits: u64) -> u64 {
    PR | 7 << 9 | (mfn | ((1 << (order - 1)) - 1)) << 12 | FC | perm_bits
}

/// The address field of a raw entry.
fn addr(raw: u64) -> u64 {
    raw & 0x000f_ffff_ffff_f000
}

/// The oracle's view: device `dev` reads DFN `dfn` (no permission check).
fn walk_dfn(t: &Sequential<Dynamic>, dev: u16, dfn: u64) -> Result<Translation, Fault> {
    let cfg = WalkConfig { max_levels: t.max_levels(), ..Default::default() };
    let iova = dfn.wrapping_shl(12);
    walk(t.iommu().memory(), &cfg, &t.iommu().device_table(), dev, iova, Perm::NONE)
}

/// What device `dev` translates `dfn` to through the table per the oracle, as (mfn, perm).
fn hw(t: &Sequential<Dynamic>, dev: u16, dfn: u64) -> Option<(u64, Perm)> {
    let tr = walk_dfn(t, dev, dfn).ok()?;
    matches!(tr.kind, TranslationKind::Table { .. }).then_some((tr.spa >> 12, tr.perm))
}

/// Whether a DMA read or write by `dev` to `dfn` gets through (oracle).
fn dma_reaches(t: &Sequential<Dynamic>, dev: u16, dfn: u64) -> bool {
    let cfg = WalkConfig { max_levels: t.max_levels(), ..Default::default() };
    let devtab = t.iommu().device_table();
    [Perm::R, Perm::W]
        .into_iter()
        .any(|access| walk(t.iommu().memory(), &cfg, &devtab, dev, dfn << 12, access).is_ok())
}

fn raw(t: &Sequential<Dynamic>, table: u64, index: u64) -> u64 {
    t.iommu().read_entry(table + 8 * index).unwrap()
}

fn live_tables(t: &Sequential<Dynamic>) -> usize {
    t.iommu().frames().live_tables(DOMAIN).count()
}

fn commands_since(t: &Sequential<Dynamic>, cursor: usize) -> Vec<Command> {
    t.iommu().commands().since(cursor).to_vec()
}

fn pde(table: u64, next_level: u64) -> u64 {
    PR | (next_level << 9) | table | IR | IW
}

fn dte_mode_and_root(t: &Sequential<Dynamic>, dev: u16) -> (u8, u64) {
    let dte = t.iommu().device_table().read(t.iommu().memory(), dev).unwrap();
    (dte.mode(), dte.root())
}

fn flush(dfn: u64, order: u32) -> [Command; 2] {
    [Command::InvalidateIommuPages { domain: DOMAIN, dfn, order }, Command::CompletionWait]
}

// ---- creation ----------------------------------------------------------------------------

#[test]
fn test_new_rejects_bad_heights() {
    for (initial, max) in [(0, 4), (7, 6), (1, 3), (1, 7), (5, 4), (6, 5)] {
        let err = Dynamic::new(config(initial, max)).unwrap_err();
        assert_eq!(err, PtError::BadHeight { initial_levels: initial, max_levels: max });
    }
    for (initial, max) in [(1, 4), (2, 4), (4, 4), (3, 5), (6, 6)] {
        assert!(Dynamic::new(config(initial, max)).is_ok());
    }
}

#[test]
fn test_new_allocates_one_empty_root() {
    let t = table(2, 4);
    assert_eq!((t.levels(), t.max_levels(), t.domain_id()), (2, 4, DOMAIN));
    assert_eq!(t.root(), Some(FIRST_TABLE));
    assert_eq!(live_tables(&t), 1);
    assert!((0..ENTRIES).all(|i| raw(&t, FIRST_TABLE, i) == 0));
    assert_eq!(t.name(), "dynamic");
    assert!(t.iommu().commands().is_empty());
}

// ---- growth ------------------------------------------------------------------------------

#[test]
fn test_increase_level() {
    let mut t = table(1, 6);
    for levels in 1u8..6 {
        let old_root = t.root().unwrap();
        // The first DFN just past the current span needs exactly one more level.
        t.notify_dfn(span(levels)).unwrap();
        assert_eq!(t.levels(), levels + 1);
        let root = t.root().unwrap();
        assert_ne!(root, old_root);
        assert_eq!(raw(&t, root, 0), pde(old_root, u64::from(levels)));
        assert!((1..ENTRIES).all(|i| raw(&t, root, i) == 0));
    }
    assert_eq!(live_tables(&t), 6);
    assert_eq!(span(6), 1 << 52);
    assert_eq!(t.notify_dfn((1 << 52) - 1), Ok(()));
    assert_eq!(t.notify_dfn(1 << 52), Err(PtError::OutOfRange { dfn: 1 << 52, max_levels: 6 }));
    assert_eq!(t.levels(), 6);
}

#[test]
fn test_notify_grows_to_smallest_covering_height_in_one_step() {
    let mut t = table(1, 5);
    let l1 = t.root().unwrap();
    t.notify_dfn(1 << 27).unwrap(); // needs 4 levels
    assert_eq!(t.levels(), 4);
    assert_eq!(live_tables(&t), 4);
    let l4 = t.root().unwrap();
    let l3 = raw(&t, l4, 0) & 0x000f_ffff_ffff_f000;
    let l2 = raw(&t, l3, 0) & 0x000f_ffff_ffff_f000;
    assert_eq!(raw(&t, l4, 0), pde(l3, 3));
    assert_eq!(raw(&t, l3, 0), pde(l2, 2));
    assert_eq!(raw(&t, l2, 0), pde(l1, 1));
    assert_eq!(t.notify_dfn(1 << 45), Err(PtError::OutOfRange { dfn: 1 << 45, max_levels: 5 }));
    assert_eq!(t.levels(), 4);
}

#[test]
fn test_notify_covered_dfn_does_not_grow() {
    let mut t = table(3, 4);
    let cursor = t.iommu().commands().len();
    for dfn in [0, 1, (1 << 27) - 1] {
        t.notify_dfn(dfn).unwrap();
    }
    assert_eq!((t.levels(), live_tables(&t)), (3, 1));
    assert!(commands_since(&t, cursor).is_empty());
    t.notify_dfn(1 << 27).unwrap();
    t.notify_dfn(5).unwrap(); // never shrinks
    assert_eq!(t.levels(), 4);
}

#[test]
fn test_grow_keeps_translations() {
    let mut t = table(1, 6);
    t.assign(3).unwrap();
    t.map(0, 0x200, 9, Perm::RW).unwrap(); // the whole 1-level table
    t.map(0, 0x555, 0, Perm::R).unwrap();
    let probes = [0u64, 1, 2, 300, 511];
    let before: Vec<_> = probes.iter().map(|&d| hw(&t, 3, d)).collect();
    assert_eq!(before[0], Some((0x555, Perm::R)));
    assert_eq!(before[2], Some((0x202, Perm::RW)));
    for dfn in [512, 1 << 18, 1 << 27, 1 << 36, 1 << 45] {
        t.notify_dfn(dfn).unwrap();
        let after: Vec<_> = probes.iter().map(|&d| hw(&t, 3, d)).collect();
        assert_eq!(after, before, "after growing for dfn {dfn:#x}");
        assert_eq!(hw(&t, 3, 512), None);
        assert_eq!(t.lookup(300), Some((0x200 + 300, Perm::RW)));
    }
    assert_eq!(t.levels(), 6);
}

#[test]
fn test_grow_rewrites_dtes_then_flushes_everything() {
    let mut t = table(2, 4);
    t.assign(9).unwrap();
    t.assign(4).unwrap();
    let cursor = t.iommu().commands().len();
    t.notify_dfn(1 << 18).unwrap();
    let root = t.root().unwrap();
    for dev in [4, 9] {
        assert_eq!(dte_mode_and_root(&t, dev), (3, root));
    }
    assert_eq!(dte_mode_and_root(&t, 5), (0, 0), "unassigned devices stay blocked");
    assert_eq!(
        commands_since(&t, cursor),
        vec![
            Command::InvalidateDevtabEntry { dev: 4 },
            Command::InvalidateDevtabEntry { dev: 9 },
            Command::CompletionWait,
            Command::InvalidateIommuPages { domain: DOMAIN, dfn: 0, order: ALL_PAGES_ORDER },
            Command::CompletionWait,
        ]
    );
}

#[test]
fn test_grow_failure_frees_chain() {
    let mut t = table(1, 4);
    t.assign(0).unwrap();
    t.map(7, 0x42, 0, Perm::W).unwrap();
    let (root, commands) = (t.root(), t.iommu().commands().len());
    for nth in 1..=3 {
        t.iommu_mut().frames_mut().fail_nth_allocation(nth);
        assert_eq!(t.notify_dfn(1 << 27), Err(PtError::NoMemory), "failing allocation {nth}");
        assert_eq!((t.levels(), t.root()), (1, root));
        assert_eq!(live_tables(&t), 1, "the partial chain is freed");
        assert_eq!(dte_mode_and_root(&t, 0), (1, root.unwrap()));
        assert_eq!(t.iommu().commands().len(), commands);
        assert_eq!(hw(&t, 0, 7), Some((0x42, Perm::W)));
    }
    t.notify_dfn(1 << 27).unwrap();
    assert_eq!((t.levels(), live_tables(&t)), (4, 4));
    assert_eq!(hw(&t, 0, 7), Some((0x42, Perm::W)));
}

#[test]
fn test_assign_after_growth_gets_current_root() {
    let mut t = table(2, 5);
    t.assign(1).unwrap();
    t.notify_dfn(1 << 18).unwrap();
    t.assign(2).unwrap();
    t.notify_dfn(1 << 27).unwrap();
    let root = t.root().unwrap();
    assert_eq!(dte_mode_and_root(&t, 1), (4, root));
    assert_eq!(dte_mode_and_root(&t, 2), (4, root));
    t.map(1 << 27, 0x9000, 9, Perm::RW).unwrap();
    for dev in [1, 2] {
        assert_eq!(hw(&t, dev, (1 << 27) + 3), Some((0x9003, Perm::RW)));
    }
}

// ---- growth inside map (Linux increase_address_space) ------------------------------------

fn in_map_table(initial_levels: u8, max_levels: u8) -> Sequential<Dynamic> {
    Dynamic::new(DynamicConfig { growth: Growth::InMap, ..config(initial_levels, max_levels) })
        .unwrap()
}

#[test]
fn test_in_map_growth_grows_as_needed_dtes_first_then_maps() {
    let mut t = in_map_table(2, 5);
    t.assign(3).unwrap();
    t.map(7, 0x42, 0, Perm::W).unwrap();
    let cursor = t.iommu().commands().len();
    t.map(1 << 27, 0x1000, 0, Perm::RW).unwrap();
    let root = t.root().unwrap();
    assert_eq!((t.levels(), dte_mode_and_root(&t, 3)), (4, (4, root)));
    assert_eq!(
        commands_since(&t, cursor)[..4],
        [
            Command::InvalidateDevtabEntry { dev: 3 },
            Command::CompletionWait,
            Command::InvalidateIommuPages { domain: DOMAIN, dfn: 0, order: ALL_PAGES_ORDER },
            Command::CompletionWait,
        ],
        "the DTE is retargeted before the top is published and everything flushed"
    );
    assert_eq!(hw(&t, 3, 1 << 27), Some((0x1000, Perm::RW)));
    assert_eq!(hw(&t, 3, 7), Some((0x42, Perm::W)), "earlier mappings survive");
    // Covered: no growth.
    t.map(1 << 18, 0x2000, 0, Perm::R).unwrap();
    assert_eq!((t.levels(), t.root()), (4, Some(root)));
    // Beyond the maximum height: out of range, not grown.
    assert_eq!(
        t.map(1 << 45, 0x3000, 0, Perm::R),
        Err(PtError::OutOfRange { dfn: 1 << 45, max_levels: 5 })
    );
    assert_eq!(t.levels(), 4);
}

#[test]
fn test_in_map_growth_failure_frees_its_chain() {
    let mut t = in_map_table(1, 4);
    t.assign(0).unwrap();
    let root = t.root();
    t.iommu_mut().frames_mut().fail_nth_allocation(2);
    assert_eq!(t.map(1 << 27, 0x1000, 0, Perm::RW), Err(PtError::NoMemory));
    assert_eq!((t.levels(), t.root(), live_tables(&t)), (1, root, 1));
    t.map(1 << 27, 0x1000, 0, Perm::RW).unwrap();
    assert_eq!((t.levels(), hw(&t, 0, 1 << 27)), (4, Some((0x1000, Perm::RW))));
}

// ---- map ---------------------------------------------------------------------------------

#[test]
fn test_map_argument_errors_in_contract_order() {
    let mut t = table(2, 4);
    let cases = [
        ((0, 0, 1, Perm::RW), PtError::UnsupportedOrder { order: 1 }),
        ((0, 0, u32::MAX, Perm::NONE), PtError::UnsupportedOrder { order: u32::MAX }),
        ((1, 1, 9, Perm::NONE), PtError::NoPermission),
        ((1, 0, 9, Perm::R), PtError::Misaligned { dfn: 1, mfn: 0, order: 9 }),
        ((0, 512 + 1, 9, Perm::R), PtError::Misaligned { dfn: 0, mfn: 513, order: 9 }),
        ((1 << 40, 1 << 40, 0, Perm::R), PtError::MfnTooLarge { mfn: 1 << 40, order: 0 }),
        ((0, !511u64, 9, Perm::R), PtError::MfnTooLarge { mfn: !511u64, order: 9 }),
        ((1 << 36, (1 << 40) - 1, 0, Perm::W), PtError::OutOfRange { dfn: 1 << 36, max_levels: 4 }),
        ((u64::MAX, 0, 0, Perm::W), PtError::OutOfRange { dfn: u64::MAX, max_levels: 4 }),
        ((1 << 18, 0, 18, Perm::RW), PtError::BeyondHeight { dfn: (1 << 19) - 1, levels: 2 }),
    ];
    for ((dfn, mfn, order, perm), expected) in cases {
        assert_eq!(t.map(dfn, mfn, order, perm), Err(expected), "map {dfn:#x} {mfn:#x} {order}");
    }
    assert_eq!(live_tables(&t), 1);
    assert!(t.iommu().commands().is_empty());
    // The last frame below 2^40 is fine.
    t.map(0, (1 << 40) - 1, 0, Perm::R).unwrap();
    assert_eq!(t.lookup(0), Some(((1 << 40) - 1, Perm::R)));
}

#[test]
fn test_map_beyond_height_rejected() {
    let mut t = table(2, 4);
    t.assign(0).unwrap();
    let cursor = t.iommu().commands().len();
    assert_eq!(
        t.map(1 << 18, 0x1000, 0, Perm::RW),
        Err(PtError::BeyondHeight { dfn: 1 << 18, levels: 2 })
    );
    assert_eq!((t.levels(), live_tables(&t)), (2, 1), "a map never grows the table");
    assert!(commands_since(&t, cursor).is_empty());
    assert_eq!(t.lookup(1 << 18), None);
    t.notify_dfn(1 << 18).unwrap();
    t.map(1 << 18, 0x1000, 0, Perm::RW).unwrap();
    assert_eq!(hw(&t, 0, 1 << 18), Some((0x1000, Perm::RW)));
}

#[test]
fn test_map_4k_writes_exact_entries() {
    let mut t = table(3, 4);
    t.assign(2).unwrap();
    let dfn = (5 << 18) | (6 << 9) | 7;
    let cursor = t.iommu().commands().len();
    t.map(dfn, 0xabcde, 0, Perm::W).unwrap();
    let l3 = t.root().unwrap();
    let l2 = raw(&t, l3, 5) & 0x000f_ffff_ffff_f000;
    let l1 = raw(&t, l2, 6) & 0x000f_ffff_ffff_f000;
    assert_eq!(raw(&t, l3, 5), pde(l2, 2));
    assert_eq!(raw(&t, l2, 6), pde(l1, 1));
    assert_eq!(raw(&t, l1, 7), PR | (0xabcde << 12) | FC | IW);
    assert_eq!(live_tables(&t), 3);
    assert!(commands_since(&t, cursor).is_empty(), "nothing present was replaced");
    let tr = walk_dfn(&t, 2, dfn).unwrap();
    assert_eq!((tr.spa, tr.page_size_log2, tr.perm), (0xabcde << 12, 12, Perm::W));
    assert_eq!(t.lookup(dfn), Some((0xabcde, Perm::W)));
    assert_eq!(hw(&t, 2, dfn + 1), None);
}

#[test]
fn test_map_superpages_are_single_leaves() {
    let mut t = table(4, 4);
    t.assign(0).unwrap();
    t.map(1 << 18, 1 << 18, 18, Perm::R).unwrap();
    t.map(3 << 9, 5 << 9, 9, Perm::RW).unwrap();
    let l4 = t.root().unwrap();
    let l3 = raw(&t, l4, 0) & 0x000f_ffff_ffff_f000;
    assert_eq!(raw(&t, l3, 1), PR | (1 << 30) | FC | IR);
    let tr = walk_dfn(&t, 0, (1 << 18) + 12345).unwrap();
    assert_eq!((tr.spa >> 12, tr.page_size_log2, tr.perm), ((1 << 18) + 12345, 30, Perm::R));
    let tr = walk_dfn(&t, 0, (3 << 9) + 511).unwrap();
    assert_eq!((tr.spa >> 12, tr.page_size_log2), ((5 << 9) + 511, 21));
    assert_eq!(live_tables(&t), 3, "L4, L3 and one L2: no L1 for superpages");
}

#[test]
fn test_map_whole_table_span_writes_root_leaves() {
    // 2 MiB into a 1-level table: 512 4 KiB leaves in the root.
    let mut t = table(1, 4);
    t.assign(0).unwrap();
    t.map(0, 0x800, 9, Perm::R).unwrap();
    let root = t.root().unwrap();
    for i in [0, 1, 511] {
        assert_eq!(raw(&t, root, i), PR | ((0x800 + i) << 12) | FC | IR);
        assert_eq!(hw(&t, 0, i), Some((0x800 + i, Perm::R)));
    }
    assert_eq!(live_tables(&t), 1);
    // 1 GiB into a 2-level table: 512 2 MiB leaves in the root.
    let mut t = table(2, 4);
    t.assign(0).unwrap();
    t.map(0, 1 << 18, 18, Perm::RW).unwrap();
    let root = t.root().unwrap();
    assert_eq!(raw(&t, root, 3), PR | (((1 << 18) + (3 << 9)) << 12) | FC | IR | IW);
    let tr = walk_dfn(&t, 0, (1 << 18) - 1).unwrap();
    assert_eq!((tr.spa >> 12, tr.page_size_log2), ((1 << 19) - 1, 21));
    assert_eq!(live_tables(&t), 1);
    // After growth the same range can become one 1 GiB leaf, freeing the old root.
    t.notify_dfn(1 << 18).unwrap();
    t.map(0, 1 << 19, 18, Perm::R).unwrap();
    assert_eq!(live_tables(&t), 1);
    assert_eq!(hw(&t, 0, 5), Some(((1 << 19) + 5, Perm::R)));
}

#[test]
fn test_map_superpage_frees_subtree() {
    let mut t = table(3, 4);
    t.assign(1).unwrap();
    for i in 0..4 {
        t.map((1 << 18) + (i << 9) + i, 0x100 + i, 0, Perm::RW).unwrap();
    }
    assert_eq!(live_tables(&t), 1 + 1 + 4);
    let cursor = t.iommu().commands().len();
    t.map(1 << 18, 1 << 20, 18, Perm::W).unwrap();
    assert_eq!(live_tables(&t), 1, "the L2 table and its 4 L1 tables are freed");
    assert_eq!(commands_since(&t, cursor), flush(1 << 18, 18));
    assert_eq!(raw(&t, t.root().unwrap(), 1), PR | (1 << 32) | FC | IW);
    assert_eq!(hw(&t, 1, (1 << 18) + (2 << 9) + 2), Some(((1 << 20) + (2 << 9) + 2, Perm::W)));
}

#[test]
fn test_map_over_superpage_shatters_keeping_perms() {
    let mut t = table(4, 4);
    t.assign(0).unwrap();
    t.map(0, 1 << 18, 18, Perm::R).unwrap();
    let cursor = t.iommu().commands().len();
    t.map(1000, 0x77, 0, Perm::RW).unwrap();
    // 1 GiB -> 512 x 2 MiB -> 512 x 4 KiB around DFN 1000.
    assert_eq!(live_tables(&t), 4);
    assert_eq!(commands_since(&t, cursor), flush(0, 18), "the whole superpage is flushed");
    assert_eq!(hw(&t, 0, 1000), Some((0x77, Perm::RW)));
    for dfn in [0, 999, 1001, 1 << 9, (1 << 18) - 1] {
        assert_eq!(hw(&t, 0, dfn), Some(((1 << 18) + dfn, Perm::R)), "dfn {dfn}");
    }
    let tr = walk_dfn(&t, 0, (1 << 17) + 3).unwrap();
    assert_eq!(tr.page_size_log2, 21, "untouched parts stay 2 MiB pages");
}

#[test]
fn test_map_replacing_leaf_flushes_range() {
    let mut t = table(2, 4);
    t.map(512, 0x10, 0, Perm::R).unwrap();
    let cursor = t.iommu().commands().len();
    t.map(512, 0x20, 0, Perm::W).unwrap();
    assert_eq!(commands_since(&t, cursor), flush(512, 0));
    assert_eq!(t.lookup(512), Some((0x20, Perm::W)));
}

#[test]
fn test_map_failure_leaves_nothing() {
    let mut t = table(4, 4);
    t.assign(0).unwrap();
    t.map(1 << 27, 0x5, 0, Perm::R).unwrap();
    let tables = live_tables(&t);
    for nth in 1..=3 {
        t.iommu_mut().frames_mut().fail_nth_allocation(nth);
        assert_eq!(t.map(0, 0x9, 0, Perm::RW), Err(PtError::NoMemory));
        assert_eq!(live_tables(&t), tables, "failing allocation {nth}");
        assert_eq!(raw(&t, t.root().unwrap(), 0), 0, "the root slot is put back");
        assert_eq!(hw(&t, 0, 0), None);
        assert_eq!(hw(&t, 0, 1 << 27), Some((0x5, Perm::R)));
    }
    t.map(0, 0x9, 0, Perm::RW).unwrap();
    assert_eq!(live_tables(&t), tables + 3);
}

#[test]
fn test_map_shatter_failure_restores_superpage() {
    let mut t = table(3, 4);
    t.assign(0).unwrap();
    t.map(0, 1 << 18, 18, Perm::R).unwrap();
    let root = t.root().unwrap();
    let superpage = raw(&t, root, 0);
    t.iommu_mut().frames_mut().fail_nth_allocation(2);
    assert_eq!(t.map(3, 0x9, 0, Perm::RW), Err(PtError::NoMemory));
    assert_eq!(raw(&t, root, 0), superpage);
    assert_eq!(live_tables(&t), 1);
    let tr = walk_dfn(&t, 0, 3).unwrap();
    assert_eq!((tr.spa >> 12, tr.page_size_log2, tr.perm), ((1 << 18) + 3, 30, Perm::R));
}

// ---- unmap -------------------------------------------------------------------------------

#[test]
fn test_unmap_argument_errors() {
    let mut t = table(2, 4);
    assert_eq!(t.unmap(0, 3), Err(PtError::UnsupportedOrder { order: 3 }));
    assert_eq!(t.unmap(0, u32::MAX), Err(PtError::UnsupportedOrder { order: u32::MAX }));
    assert_eq!(t.unmap(5, 9), Err(PtError::Misaligned { dfn: 5, mfn: 0, order: 9 }));
    assert_eq!(t.unmap(u64::MAX, 0), Ok(()));
    assert_eq!(t.unmap(!0x3ffffu64, 18), Ok(()));
}

#[test]
fn test_unmap_split_keeps_perms() {
    let mut t = table(3, 4);
    t.assign(0).unwrap();
    t.map(1 << 9, 1 << 9, 9, Perm::R).unwrap();
    let cursor = t.iommu().commands().len();
    t.unmap((1 << 9) + 5, 0).unwrap();
    assert_eq!(commands_since(&t, cursor), flush(1 << 9, 9));
    assert_eq!(hw(&t, 0, (1 << 9) + 5), None);
    assert_eq!(t.lookup((1 << 9) + 5), None);
    for dfn in [(1 << 9), (1 << 9) + 4, (1 << 9) + 6, (1 << 10) - 1] {
        assert_eq!(hw(&t, 0, dfn), Some((dfn, Perm::R)), "dfn {dfn:#x}");
    }
    assert_eq!(live_tables(&t), 3);
}

#[test]
fn test_unmap_split_1g_down_to_4k() {
    let mut t = table(4, 4);
    t.assign(0).unwrap();
    t.map(1 << 18, 1 << 18, 18, Perm::W).unwrap();
    t.unmap((1 << 18) + 600, 0).unwrap();
    assert_eq!(live_tables(&t), 4);
    assert_eq!(hw(&t, 0, (1 << 18) + 600), None);
    assert_eq!(hw(&t, 0, (1 << 18) + 601), Some(((1 << 18) + 601, Perm::W)));
    assert_eq!(hw(&t, 0, (1 << 19) - 1), Some(((1 << 19) - 1, Perm::W)));
    // A 2 MiB hole inside what is left.
    t.unmap((1 << 18) + (7 << 9), 9).unwrap();
    assert_eq!(hw(&t, 0, (1 << 18) + (7 << 9) + 1), None);
    assert_eq!(hw(&t, 0, (1 << 18) + (8 << 9)), Some(((1 << 18) + (8 << 9), Perm::W)));
}

#[test]
fn test_unmap_beyond_height_is_noop() {
    let mut t = table(2, 4);
    t.map(3, 4, 0, Perm::R).unwrap();
    let (tables, cursor) = (live_tables(&t), t.iommu().commands().len());
    for (dfn, order) in [(1 << 18, 0), (1 << 18, 18), (1 << 40, 9), (u64::MAX, 0)] {
        assert_eq!(t.unmap(dfn, order), Ok(()));
    }
    assert_eq!((t.levels(), live_tables(&t)), (2, tables));
    assert!(commands_since(&t, cursor).is_empty());
    assert_eq!(t.lookup(3), Some((4, Perm::R)));
}

#[test]
fn test_unmap_hole_is_noop_and_allocates_nothing() {
    let mut t = table(4, 4);
    let cursor = t.iommu().commands().len();
    t.unmap(12345, 0).unwrap();
    t.unmap(1 << 18, 18).unwrap();
    assert_eq!(live_tables(&t), 1);
    assert!(commands_since(&t, cursor).is_empty());
}

#[test]
fn test_unmap_keeps_emptied_tables() {
    let mut t = table(3, 4);
    t.map(42, 1, 0, Perm::RW).unwrap();
    assert_eq!(live_tables(&t), 3);
    let cursor = t.iommu().commands().len();
    t.unmap(42, 0).unwrap();
    assert_eq!(commands_since(&t, cursor), flush(42, 0));
    assert_eq!(live_tables(&t), 3, "Xen 4.13 frees tables only at teardown");
    assert_eq!(t.lookup(42), None);
}

#[test]
fn test_unmap_whole_slot_frees_subtree() {
    let mut t = table(3, 4);
    t.map(1 << 18, 1, 0, Perm::RW).unwrap();
    t.map((1 << 18) + (1 << 9), 2, 0, Perm::RW).unwrap();
    assert_eq!(live_tables(&t), 4);
    let cursor = t.iommu().commands().len();
    t.unmap(1 << 18, 18).unwrap();
    assert_eq!(live_tables(&t), 1);
    assert_eq!(raw(&t, t.root().unwrap(), 1), 0);
    assert_eq!(commands_since(&t, cursor), flush(1 << 18, 18));
}

#[test]
fn test_unmap_range_larger_than_table_clears_it() {
    let mut t = table(1, 4);
    t.assign(0).unwrap();
    t.map(0, 0x40, 0, Perm::R).unwrap();
    t.map(511, 0x41, 0, Perm::R).unwrap();
    t.unmap(0, 18).unwrap();
    assert_eq!((t.lookup(0), t.lookup(511)), (None, None));
    assert!((0..ENTRIES).all(|i| raw(&t, t.root().unwrap(), i) == 0));
    // 1 GiB at DFN 0 in a 2-level table: the root's 2 MiB leaves and tables all go.
    let mut t = table(2, 4);
    t.map(0, 0, 9, Perm::R).unwrap();
    t.map(1 << 10, 0, 0, Perm::R).unwrap();
    t.unmap(0, 18).unwrap();
    assert_eq!(live_tables(&t), 1);
    assert_eq!((t.lookup(0), t.lookup(1 << 10)), (None, None));
}

#[test]
fn test_unmap_shatter_failure_changes_nothing() {
    let mut t = table(4, 4);
    t.assign(0).unwrap();
    t.map(0, 1 << 18, 18, Perm::RW).unwrap();
    let tables = live_tables(&t);
    for nth in 1..=2 {
        t.iommu_mut().frames_mut().fail_nth_allocation(nth);
        assert_eq!(t.unmap(5, 0), Err(PtError::NoMemory));
        assert_eq!(live_tables(&t), tables);
        assert_eq!(hw(&t, 0, 5), Some(((1 << 18) + 5, Perm::RW)));
        assert_eq!(walk_dfn(&t, 0, 5).unwrap().page_size_log2, 30);
    }
}

// ---- ranges and every page size --------------------------------------------------------

#[test]
fn test_map_range_continues_across_tables_with_one_flush() {
    let mut t = table(2, 4);
    t.assign(0).unwrap();
    t.map(0x1ff, 0x77, 0, Perm::R).unwrap();
    t.map(0x200, 0x78, 0, Perm::R).unwrap();
    let (tables, cursor) = (live_tables(&t), t.iommu().commands().len());
    t.map_pages(0x1fe, 0x1000, 0, 4, Perm::RW).unwrap();
    let root = t.root().unwrap();
    let (l1a, l1b) = (addr(raw(&t, root, 0)), addr(raw(&t, root, 1)));
    assert_eq!(raw(&t, l1a, 0x1fe), PR | 0x1000 << 12 | FC | IR | IW);
    assert_eq!(raw(&t, l1a, 0x1ff), PR | 0x1001 << 12 | FC | IR | IW);
    assert_eq!(raw(&t, l1b, 0), PR | 0x1002 << 12 | FC | IR | IW);
    assert_eq!(raw(&t, l1b, 1), PR | 0x1003 << 12 | FC | IR | IW);
    assert_eq!(live_tables(&t), tables, "both level-1 tables existed");
    // One invalidation: the smallest aligned block holding the two replaced pages.
    assert_eq!(commands_since(&t, cursor), flush(0, 10));
    for dfn in 0x1fe..0x202 {
        assert_eq!(hw(&t, 0, dfn), Some((0x1000 + dfn - 0x1fe, Perm::RW)));
    }
    assert_eq!((hw(&t, 0, 0x1fd), hw(&t, 0, 0x202)), (None, None));
    // Superpages across a level-2 table boundary, in a grown table: two pages in the old
    // root (now below the new one), two in a new level-2 table.
    t.notify_dfn(1 << 19).unwrap();
    t.map_pages((1 << 18) - 1024, 0x4_0000, 9, 4, Perm::R).unwrap();
    assert_eq!(live_tables(&t), tables + 2, "a new root and one level-2 table");
    assert_eq!(hw(&t, 0, (1 << 18) + 1023), Some((0x4_0000 + 2047, Perm::R)));
    assert_eq!(walk_dfn(&t, 0, 1 << 18).unwrap().page_size_log2, 21);
}

#[test]
fn test_unmap_range_splits_both_ends_and_keeps_the_rest() {
    let mut t = table(3, 4);
    t.assign(0).unwrap();
    t.map_pages(0x200, 0x800, 9, 3, Perm::W).unwrap();
    let cursor = t.iommu().commands().len();
    t.unmap_pages(0x3ff, 0, 0x202).unwrap();
    // Both straddled 2 MiB pages shattered: the flush covers them, [0x200, 0x7ff].
    assert_eq!(commands_since(&t, cursor), flush(0, 11));
    for (dfn, expected) in [
        (0x200, Some((0x800, Perm::W))),
        (0x3fe, Some((0x9fe, Perm::W))),
        (0x3ff, None),
        (0x400, None),
        (0x5ff, None),
        (0x600, None),
        (0x601, Some((0xc01, Perm::W))),
        (0x7ff, Some((0xdff, Perm::W))),
    ] {
        assert_eq!(hw(&t, 0, dfn), expected, "dfn {dfn:#x}");
        assert_eq!(t.lookup(dfn), expected, "dfn {dfn:#x}");
    }
    assert_eq!(live_tables(&t), 2 + 2, "root, level 2, and one level-1 table per end");
}

#[test]
fn test_range_failure_keeps_the_pages_done() {
    // The first level-1 table exists: two pages go in, the next table cannot be allocated.
    let mut t = table(2, 4);
    t.map(0, 0x500, 0, Perm::RW).unwrap();
    t.iommu_mut().frames_mut().fail_nth_allocation(2);
    assert_eq!(
        t.map_pages(0x3fe, 0x1000, 0, 4, Perm::RW),
        Err(PagesError { error: PtError::NoMemory, done: 2 })
    );
    assert_eq!(
        (t.lookup(0x3fe), t.lookup(0x3ff)),
        (Some((0x1000, Perm::RW)), Some((0x1001, Perm::RW)))
    );
    assert_eq!((t.lookup(0x400), t.lookup(0x401)), (None, None));
    assert_eq!(live_tables(&t), 3);
    assert_eq!(raw(&t, t.root().unwrap(), 2), 0);
    // A table linked for the failed page holds nothing of the range: it is put back.
    let mut t = table(3, 4);
    t.iommu_mut().frames_mut().fail_nth_allocation(2);
    assert_eq!(
        t.map_pages(0x3fe, 0x1000, 0, 4, Perm::RW),
        Err(PagesError { error: PtError::NoMemory, done: 0 })
    );
    assert_eq!((live_tables(&t), raw(&t, t.root().unwrap(), 0)), (1, 0));
    // ... unless it does: the level-2 table holds the first level-1 table.
    let mut t = table(3, 4);
    t.iommu_mut().frames_mut().fail_nth_allocation(3);
    assert_eq!(
        t.map_pages(0x3fe, 0x1000, 0, 4, Perm::RW),
        Err(PagesError { error: PtError::NoMemory, done: 2 })
    );
    assert_eq!(live_tables(&t), 3);
    assert_eq!(t.lookup(0x3ff), Some((0x1001, Perm::RW)));
    // An unmap range that cannot split its end keeps what it cleared before.
    let mut t = table(3, 4);
    t.map_pages(0, 0, 0, 2, Perm::R).unwrap();
    t.map(0x200, 0x200, 9, Perm::R).unwrap();
    t.iommu_mut().frames_mut().fail_nth_allocation(1);
    assert_eq!(
        t.unmap_pages(0, 0, 0x201),
        Err(PagesError { error: PtError::NoMemory, done: 0x200 })
    );
    assert_eq!((t.lookup(1), t.lookup(0x200)), (None, Some((0x200, Perm::R))));
}

#[test]
fn test_page_orders_follow_the_config() {
    assert_eq!(table(2, 4).page_orders(), PageOrders::BASE);
    assert_eq!(sized_table(2, 4).page_orders(), PageOrders::ALL);
    let mut t = sized_table(6, 6);
    assert_eq!(t.map(0, 0, 41, Perm::R), Err(PtError::UnsupportedOrder { order: 41 }));
    assert_eq!(table(2, 4).map(0, 0, 3, Perm::R), Err(PtError::UnsupportedOrder { order: 3 }));
    assert_eq!(table(2, 4).unmap(0, 3), Err(PtError::UnsupportedOrder { order: 3 }));
    assert_eq!(t.map(8, 8, 3, Perm::R), Ok(()));
}

#[test]
fn test_sized_pages_are_identical_replicas() {
    let mut t = sized_table(2, 4);
    t.assign(0).unwrap();
    t.map_pages(0x8, 0x108, 3, 2, Perm::RW).unwrap();
    let root = t.root().unwrap();
    let l1 = addr(raw(&t, root, 0));
    for i in 0..8 {
        assert_eq!(raw(&t, l1, 0x8 + i), sized(0x108, 3, IR | IW));
        assert_eq!(raw(&t, l1, 0x10 + i), sized(0x110, 3, IR | IW));
    }
    assert_eq!((raw(&t, l1, 0x7), raw(&t, l1, 0x18)), (0, 0));
    let tr = walk_dfn(&t, 0, 0xd).unwrap();
    assert_eq!((tr.spa >> 12, tr.page_size_log2), (0x10d, 15));
    assert_eq!(t.lookup(0x17), Some((0x117, Perm::RW)));
    // 4 MiB: two replicas of level 2; 4 PiB: sixteen of level 5.
    t.map(0x400, 0x2400, 10, Perm::R).unwrap();
    assert_eq!(
        (raw(&t, root, 2), raw(&t, root, 3)),
        (sized(0x2400, 10, IR), sized(0x2400, 10, IR))
    );
    assert_eq!(walk_dfn(&t, 0, 0x7ff).unwrap().page_size_log2, 22);
    let mut t = sized_table(5, 5);
    t.assign(0).unwrap();
    t.map(0, 0, 40, Perm::W).unwrap();
    let root = t.root().unwrap();
    assert!((0..16).all(|i| raw(&t, root, i) == sized(0, 40, IW)));
    assert_eq!(raw(&t, root, 16), 0);
    assert_eq!(walk_dfn(&t, 0, (1 << 40) - 1).unwrap().page_size_log2, 52);
    assert_eq!(live_tables(&t), 1);
}

#[test]
fn test_changing_part_of_a_sized_page_splits_it_first() {
    let mut t = sized_table(2, 4);
    t.assign(0).unwrap();
    t.map(0x400, 0x2400, 10, Perm::R).unwrap();
    let root = t.root().unwrap();
    let cursor = t.iommu().commands().len();
    t.map(0x600, 0x3000, 9, Perm::W).unwrap();
    // The 4 MiB page became two 2 MiB pieces, then the second was replaced.
    assert_eq!(raw(&t, root, 2), PR | 0x2400 << 12 | FC | IR);
    assert_eq!(raw(&t, root, 3), PR | 0x3000 << 12 | FC | IW);
    assert_eq!(commands_since(&t, cursor), flush(0x400, 10), "the whole 4 MiB page");
    // A hole in a 32 KiB page: 4 KiB pieces around it.
    t.map(0x8, 0x108, 3, Perm::RW).unwrap();
    let cursor = t.iommu().commands().len();
    t.unmap(0xc, 0).unwrap();
    let l1 = addr(raw(&t, root, 0));
    assert_eq!(raw(&t, l1, 0xb), PR | 0x10b << 12 | FC | IR | IW);
    assert_eq!(raw(&t, l1, 0xc), 0);
    assert_eq!(raw(&t, l1, 0xf), PR | 0x10f << 12 | FC | IR | IW);
    assert_eq!(commands_since(&t, cursor), flush(0x8, 3));
    assert_eq!(walk_dfn(&t, 0, 0xd).unwrap().page_size_log2, 12);
    // Shattering through a sized page: 16 MiB at level 2, then 4 KiB inside it.
    t.map(0x1000, 0x1000, 12, Perm::R).unwrap();
    t.map(0x1a05, 0x5, 0, Perm::RW).unwrap();
    assert_eq!(raw(&t, root, 0xc), PR | 0x1800 << 12 | FC | IR, "a 2 MiB piece");
    let l1 = addr(raw(&t, root, 0xd));
    assert_eq!(raw(&t, l1, 4), PR | 0x1a04 << 12 | FC | IR);
    assert_eq!(hw(&t, 0, 0x1a05), Some((0x5, Perm::RW)));
    assert_eq!(hw(&t, 0, 0x1fff), Some((0x1fff, Perm::R)));
}

// ---- devices and teardown ----------------------------------------------------------------

#[test]
fn test_assign_and_deassign() {
    let mut t = table(2, 4);
    t.map(1, 2, 0, Perm::R).unwrap();
    assert_eq!(t.assign(128), Err(PtError::NoSuchDevice { dev: 128 }));
    assert_eq!(t.assign(u16::MAX), Err(PtError::NoSuchDevice { dev: u16::MAX }));
    assert_eq!(t.deassign(3), Err(PtError::NotAssigned { dev: 3 }));
    assert!(!dma_reaches(&t, 3, 1), "an unassigned device reaches nothing");
    let cursor = t.iommu().commands().len();
    t.assign(3).unwrap();
    assert_eq!(
        commands_since(&t, cursor),
        [Command::InvalidateDevtabEntry { dev: 3 }, Command::CompletionWait]
    );
    let dte = t.iommu().device_table().read(t.iommu().memory(), 3).unwrap();
    assert_eq!((dte.mode(), dte.root(), dte.domain_id()), (2, t.root().unwrap(), DOMAIN));
    assert_eq!(hw(&t, 3, 1), Some((2, Perm::R)));
    assert_eq!(t.assign(3), Err(PtError::AlreadyAssigned { dev: 3 }));
    t.deassign(3).unwrap();
    assert!(!dma_reaches(&t, 3, 1), "a deassigned device reaches nothing");
    assert_eq!(dte_mode_and_root(&t, 3), (0, 0));
    assert_eq!(t.deassign(3), Err(PtError::NotAssigned { dev: 3 }));
}

#[test]
fn test_teardown_frees_everything() {
    let mut t = table(2, 5);
    t.assign(0).unwrap();
    t.assign(127).unwrap();
    t.notify_dfn(1 << 40).unwrap();
    t.map(1 << 40, 0x3, 0, Perm::RW).unwrap();
    t.map(0, 0x400, 9, Perm::RW).unwrap();
    assert_eq!(live_tables(&t), 5 + 3);
    let cursor = t.iommu().commands().len();
    t.teardown().unwrap();
    assert_eq!(live_tables(&t), 0);
    assert_eq!((t.levels(), t.root()), (0, None));
    for dev in [0, 127] {
        assert_eq!(dte_mode_and_root(&t, dev), (0, 0));
        assert!(!dma_reaches(&t, dev, 0));
    }
    assert_eq!(
        commands_since(&t, cursor),
        [
            Command::InvalidateDevtabEntry { dev: 0 },
            Command::InvalidateDevtabEntry { dev: 127 },
            Command::CompletionWait,
            Command::InvalidateIommuPages { domain: DOMAIN, dfn: 0, order: ALL_PAGES_ORDER },
            Command::CompletionWait,
        ]
    );
}

#[test]
fn test_torn_down_rejects_everything() {
    let mut t = table(4, 4);
    t.teardown().unwrap();
    assert_eq!(t.teardown(), Err(PtError::TornDown));
    assert_eq!(t.map(0, 0, 0, Perm::R), Err(PtError::TornDown));
    assert_eq!(t.map(1, 0, 77, Perm::NONE), Err(PtError::TornDown));
    assert_eq!(t.unmap(0, 0), Err(PtError::TornDown));
    assert_eq!(t.notify_dfn(0), Err(PtError::TornDown));
    assert_eq!(t.assign(0), Err(PtError::TornDown));
    assert_eq!(t.deassign(0), Err(PtError::TornDown));
    assert_eq!(t.lookup(0), None);
}

#[test]
fn test_extreme_inputs_do_not_panic() {
    let mut t = table(1, 6);
    for dfn in [0, 1, 511, 512, 1 << 51, (1 << 52) - 1, 1 << 52, u64::MAX / 2, u64::MAX] {
        for order in [0, 9, 18, 19, 52, 63, 64, u32::MAX] {
            for mfn in [0, (1 << 40) - 1, 1 << 40, u64::MAX] {
                let _ = t.map(dfn, mfn, order, Perm::RW);
            }
            let _ = t.unmap(dfn, order);
        }
        let _ = t.lookup(dfn);
        let _ = t.notify_dfn(dfn);
    }
    assert_eq!(t.levels(), 6);
    t.map((1 << 52) - (1 << 18), 0, 18, Perm::R).unwrap();
    assert_eq!(t.lookup((1 << 52) - 1), Some(((1 << 18) - 1, Perm::R)));
    assert_eq!(t.lookup(u64::MAX), None);
    t.teardown().unwrap();
    assert_eq!(live_tables(&t), 0);
}

// ---- randomized agreement with the model and the oracle ----------------------------------

/// xorshift64*: deterministic, no dependencies.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Tables reachable from the root, counted by this test's own traversal.
fn reachable_tables(t: &Sequential<Dynamic>) -> usize {
    fn count(t: &Sequential<Dynamic>, table: u64, level: u8) -> usize {
        let mut n = 1;
        if level > 1 {
            for i in 0..ENTRIES {
                let e = raw(t, table, i);
                if e & PR != 0 && (e >> 9) & 7 != 0 && (e >> 9) & 7 != 7 {
                    n += count(t, e & 0x000f_ffff_ffff_f000, level - 1);
                }
            }
        }
        n
    }
    t.root().map_or(0, |root| count(t, root, t.levels()))
}

/// A DFN aligned to `order` near one of the first `regions` (1..=5) regions, each needing
/// a taller table than the one before.
fn random_dfn(rng: &mut Rng, order: u32, regions: u64) -> u64 {
    let bases = [0u64, 1 << 18, 1 << 27, 1 << 36, (1 << 45) + (3 << 18)];
    let base = bases[rng.below(regions) as usize];
    let offset = rng.below(1 << 19) & !((1 << order) - 1);
    base + offset
}

/// Outcomes the randomized test must reach, so it is shown to exercise each path.
#[derive(Debug, Default)]
struct Reached {
    maps: usize,
    unmaps: usize,
    no_memory: usize,
    beyond_height: usize,
    growths: usize,
    shatters: usize,
}

#[test]
fn test_random_ops_agree_with_model_and_oracle() {
    let mut reached = Reached::default();
    for seed in 1..=6u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let (initial, max) = [(1, 4), (2, 4), (3, 5), (2, 6), (1, 6), (4, 4)][seed as usize - 1];
        let mut t = table(initial, max);
        let mut model = Model::new();
        t.assign(0).unwrap();
        let mut probes = Vec::new();
        for step in 0..250 {
            let order = [0, 0, 9, 18][rng.below(4) as usize];
            // Regions open one by one, so the table grows step by step.
            let dfn = random_dfn(&mut rng, order, 1 + step / 50);
            let (tables_before, levels_before) = (live_tables(&t), t.levels());
            let cursor = t.iommu().commands().len();
            let inject = rng.below(10) == 0;
            if inject {
                t.iommu_mut().frames_mut().fail_nth_allocation(1 + rng.below(2));
            }
            let result = match rng.below(10) {
                0..=5 => {
                    let mfn = rng.below(1 << 30) & !((1 << order) - 1);
                    let perm = [Perm::R, Perm::W, Perm::RW][rng.below(3) as usize];
                    let last = dfn + (1 << order) - 1;
                    let notified = rng.below(3) != 0 && t.notify_dfn(last).is_ok();
                    let r = t.map(dfn, mfn, order, perm);
                    if r.is_ok() {
                        reached.maps += 1;
                        model.map(dfn, mfn, order, perm);
                        probes.push(dfn + rng.below(1 << order));
                    } else if notified && last < span(max) && !inject {
                        panic!("seed {seed} step {step}: notified map failed: {r:?}");
                    }
                    r
                }
                6..=8 => {
                    let r = t.unmap(dfn, order);
                    if r.is_ok() {
                        reached.unmaps += 1;
                        model.unmap(dfn, order);
                    }
                    probes.push(dfn);
                    r
                }
                _ => {
                    let dev = 1 + rng.below(3) as u16;
                    if t.deassign(dev).is_err() {
                        t.assign(dev).unwrap();
                    }
                    Ok(())
                }
            };
            t.iommu_mut().frames_mut().cancel_failure();
            reached.growths += usize::from(t.levels() > levels_before);
            // Only shattering flushes more than the operation's own range.
            reached.shatters += usize::from(commands_since(&t, cursor).iter().any(|c| {
                matches!(c, Command::InvalidateIommuPages { order: o, .. }
                    if *o > order && *o != ALL_PAGES_ORDER)
            }));
            match result {
                Err(PtError::NoMemory) => reached.no_memory += 1,
                Err(PtError::BeyondHeight { .. }) => reached.beyond_height += 1,
                _ => {}
            }
            if result == Err(PtError::NoMemory) {
                assert_eq!(live_tables(&t), tables_before, "seed {seed} step {step}: leak");
            } else if let Err(e) = result {
                assert!(
                    matches!(e, PtError::BeyondHeight { .. } | PtError::OutOfRange { .. }),
                    "seed {seed} step {step}: {e:?}"
                );
            }
            assert_eq!(live_tables(&t), reachable_tables(&t), "seed {seed} step {step}");
            for &dfn in probes.iter().rev().take(24) {
                let expected = model.translate(dfn);
                assert_eq!(t.lookup(dfn), expected, "seed {seed} step {step} dfn {dfn:#x}");
                assert_eq!(hw(&t, 0, dfn), expected, "seed {seed} step {step} dfn {dfn:#x}");
            }
            for dev in 1..4u16 {
                if t.shared().devices.contains(dev) {
                    let (mode, root) = dte_mode_and_root(&t, dev);
                    assert_eq!((mode, Some(root)), (t.levels(), t.root()));
                }
            }
        }
        let dte = t.iommu().device_table().read(t.iommu().memory(), 0).unwrap();
        let cfg = WalkConfig { max_levels: max, ..Default::default() };
        let Ok(Reach::Table(leaves)) = enumerate(t.iommu().memory(), &cfg, &dte, 1 << 20) else {
            panic!("seed {seed}: enumeration failed");
        };
        assert!(leaves.iter().all(|l| l.spa >> 12 != POISON_MFN));
        assert_eq!(model.first_difference(&Model::from_leaves(&leaves)), None, "seed {seed}");
        t.teardown().unwrap();
        assert_eq!(live_tables(&t), 0);
    }
    let Reached { maps, unmaps, no_memory, beyond_height, growths, shatters } = reached;
    let all = [maps, unmaps, no_memory, beyond_height, growths, shatters];
    assert!(all.iter().all(|&n| n >= 5), "a path was not exercised: {reached:?}");
}

/// Every NL = 7 page the oracle enumerates is there whole: all its replicas, in a row (the
/// leaves are sorted), each translating its own part of the page.
fn assert_sized_pages_whole(leaves: &[ptdiff_reference::Leaf], what: &str) {
    let mut i = 0;
    while i < leaves.len() {
        let leaf = leaves[i];
        if leaf.page_size_log2 == leaf.slot_log2 {
            i += 1;
            continue;
        }
        let replicas = 1usize << (leaf.page_size_log2 - leaf.slot_log2);
        assert_eq!(leaf.iova & ((1u64 << leaf.page_size_log2) - 1), 0, "{what}: {leaf:?}");
        let group = leaves.get(i..i + replicas).unwrap_or_default();
        assert_eq!(group.len(), replicas, "{what}: {leaf:?}");
        for (j, l) in group.iter().enumerate() {
            let offset = (j as u64) << leaf.slot_log2;
            assert_eq!((l.iova, l.spa), (leaf.iova + offset, leaf.spa + offset), "{what}: {l:?}");
            assert_eq!((l.page_size_log2, l.perm), (leaf.page_size_log2, leaf.perm), "{what}");
        }
        i += replicas;
    }
}

#[test]
fn test_random_ranges_of_every_page_size_agree_with_model_and_oracle() {
    let (mut ranges, mut sized_maps, mut partial) = (0, 0, 0);
    for seed in 1..=6u64 {
        let mut rng = Rng(seed.wrapping_mul(0x2545_f491_4f6c_dd1d) | 1);
        let (initial, max) = [(1, 4), (2, 4), (3, 5), (2, 6), (1, 6), (4, 5)][seed as usize - 1];
        let mut t = sized_table(initial, max);
        let mut model = Model::new();
        t.assign(0).unwrap();
        let mut probes = Vec::new();
        for step in 0..200 {
            let order = match rng.below(8) {
                0..=3 => rng.below(10) as u32,
                4..=5 => 9 + rng.below(10) as u32,
                6 => 18 + rng.below(10) as u32,
                _ => rng.below(41) as u32,
            };
            let count = [1, 1, 2, 3, 7, 511, 513][rng.below(7) as usize].min(4096 >> (order % 9));
            let region = [0u64, 1 << 18, 1 << 27, 1 << 36][rng.below(4) as usize];
            let dfn = (region + rng.below(1 << 19)) & !((1u64 << order) - 1);
            let frames = count << order;
            let inject = rng.below(8) == 0;
            if inject {
                t.iommu_mut().frames_mut().fail_nth_allocation(1 + rng.below(3));
            }
            let tables_before = live_tables(&t);
            let what = format!("seed {seed} step {step}: {order} x{count} at {dfn:#x}");
            let result = if rng.below(3) != 0 {
                let mfn = rng.below(1 << 28) & !((1u64 << order) - 1);
                let perm = [Perm::R, Perm::W, Perm::RW][rng.below(3) as usize];
                let _ = t.notify_dfn(dfn + frames - 1);
                let r = t.map_pages(dfn, mfn, order, count, perm);
                let done = match r {
                    Ok(()) => count,
                    Err(e) => e.done,
                };
                model.map_range(dfn, done << order, mfn, perm);
                sized_sizes(&mut sized_maps, order, r.is_ok());
                r
            } else {
                let r = t.unmap_pages(dfn, order, count);
                let done = match r {
                    Ok(()) => count,
                    Err(e) => e.done,
                };
                model.unmap_range(dfn, done << order);
                r
            };
            t.iommu_mut().frames_mut().cancel_failure();
            ranges += usize::from(count > 1 && result.is_ok());
            match result {
                Err(PagesError { error: PtError::NoMemory, done }) => {
                    assert!(done < count, "{what}");
                    partial += usize::from(done > 0);
                    if done == 0 {
                        assert_eq!(live_tables(&t), tables_before, "{what}: leak");
                    }
                }
                Err(e) => {
                    assert_eq!(e.done, 0, "{what}");
                    assert!(
                        matches!(
                            e.error,
                            PtError::BeyondHeight { .. }
                                | PtError::OutOfRange { .. }
                                | PtError::MfnTooLarge { .. }
                        ),
                        "{what}: {e:?}"
                    );
                }
                Ok(()) => {}
            }
            assert_eq!(live_tables(&t), reachable_tables(&t), "{what}");
            probes.extend([dfn, dfn + frames / 2, dfn + frames - 1, dfn + frames]);
            for &dfn in probes.iter().rev().take(32) {
                let expected = model.translate(dfn);
                assert_eq!(t.lookup(dfn), expected, "{what}: dfn {dfn:#x}");
                assert_eq!(hw(&t, 0, dfn), expected, "{what}: dfn {dfn:#x}");
            }
        }
        let dte = t.iommu().device_table().read(t.iommu().memory(), 0).unwrap();
        let cfg = WalkConfig { max_levels: max, ..Default::default() };
        let Ok(Reach::Table(leaves)) = enumerate(t.iommu().memory(), &cfg, &dte, 1 << 22) else {
            panic!("seed {seed}: enumeration failed");
        };
        assert_sized_pages_whole(&leaves, &format!("seed {seed}"));
        assert_eq!(model.first_difference(&Model::from_leaves(&leaves)), None, "seed {seed}");
        t.teardown().unwrap();
        assert_eq!(live_tables(&t), 0);
    }
    assert!(ranges > 50 && partial > 3, "ranges {ranges}, part-way failures {partial}");
    assert!(sized_maps.count_ones() > 30, "NL = 7 orders mapped: {sized_maps:#b}");
}

/// Notes in `mapped` (bit per order) that a map of an NL = 7 order succeeded.
fn sized_sizes(mapped: &mut u64, order: u32, ok: bool) {
    if ok && order % 9 != 0 {
        *mapped |= 1 << order;
    }
}
