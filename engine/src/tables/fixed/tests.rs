//! Unit tests of the fixed table: exact entries, commands and frames per operation, failure
//! atomicity, robustness against garbage memory, and a randomized run against the model.

mod interleaved;

use super::geometry::LEVELS;
use super::*;
use crate::step::Sequential;
use crate::substrate::commands::Command::{
    CompletionWait, InvalidateDevtabEntry, InvalidateIommuPages,
};
use crate::substrate::commands::{Command, ALL_PAGES_ORDER};
use crate::substrate::device_table::DEVICE_TABLE_SPA;
use crate::substrate::frames::FrameState;
use crate::table::{PageTable, PagesError, Perm, PtError};
use ptdiff_reference::{
    enumerate, walk, Fault, Model, Reach, Translation, TranslationKind, WalkConfig,
};

/// The fixed table as the runner sees it.
type Pt = Sequential<Fixed>;

const DOMAIN: u16 = 7;
const DEV: u16 = 3;
/// SPA of the root: the first frame of the table pool.
const ROOT: u64 = 0x4000_0000;
/// Raw-entry building blocks for expected values (amd-vi.md section 2).
const PR_IR_IW: u64 = 1 | 1 << 61 | 1 << 62;
const FC: u64 = 1 << 60;

fn fixed() -> Pt {
    Fixed::new(DOMAIN).unwrap()
}

/// A table with device [`DEV`] assigned and the command log's cursor after the assign.
fn with_device() -> (Pt, usize) {
    let mut pt = fixed();
    pt.assign(DEV).unwrap();
    let cursor = pt.iommu().commands().len();
    (pt, cursor)
}

fn config() -> WalkConfig {
    WalkConfig { max_levels: 4, ..Default::default() }
}

/// The hardware walk of `dfn` through `dev`'s DTE, asking for no access.
fn hw_walk(pt: &Pt, dev: u16, dfn: u64, access: Perm) -> Result<Translation, Fault> {
    let iommu = pt.iommu();
    walk(iommu.memory(), &config(), &iommu.device_table(), dev, dfn << 12, access)
}

/// What the hardware translates `dfn` to for [`DEV`]: `(mfn, perm)`, `None` on a fault.
fn hw(pt: &Pt, dfn: u64) -> Option<(u64, Perm)> {
    let t = hw_walk(pt, DEV, dfn, Perm::NONE).ok()?;
    assert!(matches!(t.kind, TranslationKind::Table { .. }), "{t:?}");
    assert_eq!(t.spa & 0xfff, 0);
    Some((t.spa >> 12, t.perm))
}

/// The implementation's and the hardware's translation of `dfn`, checked to agree.
fn translation(pt: &Pt, dfn: u64) -> Option<(u64, Perm)> {
    let hardware = hw(pt, dfn);
    assert_eq!(pt.lookup(dfn), hardware, "lookup and hardware walk disagree at {dfn:#x}");
    hardware
}

fn leaf_level_of(pt: &Pt, dfn: u64) -> u8 {
    match hw_walk(pt, DEV, dfn, Perm::NONE).unwrap().kind {
        TranslationKind::Table { leaf_level } => leaf_level,
        other => panic!("not a table translation: {other:?}"),
    }
}

fn live_tables(pt: &Pt) -> Vec<u64> {
    pt.iommu().frames().live_tables(DOMAIN).collect()
}

fn raw(pt: &Pt, spa: u64) -> u64 {
    pt.iommu().read_entry(spa).unwrap()
}

fn commands_since(pt: &Pt, cursor: usize) -> Vec<Command> {
    pt.iommu().commands().since(cursor).to_vec()
}

/// Expected raw PDE pointing at the level-`next_level` table at `table`.
fn pde(table: u64, next_level: u64) -> u64 {
    PR_IR_IW | next_level << 9 | table
}

/// Expected raw leaf for `mfn` with `perm`.
fn pte(mfn: u64, perm: Perm) -> u64 {
    1 | FC | mfn << 12 | u64::from(perm.read) << 61 | u64::from(perm.write) << 62
}

/// Everything [`DEV`] can reach, as the oracle enumerates it, as a model.
fn hw_model(pt: &Pt) -> Model {
    let iommu = pt.iommu();
    let dte = iommu.device_table().read(iommu.memory(), DEV).unwrap();
    match enumerate(iommu.memory(), &config(), &dte, 1 << 20).unwrap() {
        Reach::Table(leaves) => Model::from_leaves(&leaves),
        other => panic!("device {DEV} does not translate: {other:?}"),
    }
}

/// Tables reachable from the root through PDEs, read from raw memory (oracle's layout).
fn reachable_tables(pt: &Pt) -> usize {
    fn count(pt: &Pt, table: u64, level: u8) -> usize {
        use ptdiff_reference::format::{ADDR_MASK, NL_MASK, NL_SHIFT, PR};
        let mut n = 1;
        for i in 0..512 {
            let e = raw(pt, table + 8 * i);
            let nl = (e >> NL_SHIFT) & NL_MASK;
            if e & PR != 0 && nl != 0 && nl != 7 {
                assert_eq!(nl, u64::from(level) - 1, "level skipping or bad NL: {e:#x}");
                assert_eq!(e & !ADDR_MASK, PR_IR_IW | nl << NL_SHIFT, "bad PDE {e:#x}");
                n += count(pt, e & ADDR_MASK, level - 1);
            }
        }
        n
    }
    pt.root().map_or(0, |root| count(pt, root, LEVELS))
}

/// Every live table entry, the live-table set, and the command log: what a failed
/// operation must leave exactly as it was.
fn snapshot(pt: &Pt) -> (Vec<(u64, Vec<u64>)>, usize) {
    let tables = live_tables(pt)
        .into_iter()
        .map(|pfn| (pfn, (0..512).map(|i| raw(pt, (pfn << 12) + 8 * i)).collect()))
        .collect();
    (tables, pt.iommu().commands().len())
}

#[test]
fn test_new_has_an_empty_four_level_root() {
    let pt = fixed();
    assert_eq!((pt.name(), pt.domain_id()), ("fixed", DOMAIN));
    assert_eq!((pt.levels(), pt.max_levels(), pt.root()), (4, 4, Some(ROOT)));
    assert_eq!(live_tables(&pt), vec![ROOT >> 12]);
    assert!((0..512).all(|i| raw(&pt, ROOT + 8 * i) == 0));
    assert!(pt.iommu().commands().is_empty());
    assert_eq!(pt.lookup(0), None);
}

#[test]
fn test_map_simple() {
    let (mut pt, cursor) = with_device();
    let dfn = 0x812_3567; // L4 index 1, L3 index 4, L2 index 0x11a, L1 index 0x167
    pt.map(dfn, 0xab_cdef, 0, Perm::RW).unwrap();

    assert_eq!(translation(&pt, dfn), Some((0xab_cdef, Perm::RW)));
    assert_eq!(leaf_level_of(&pt, dfn), 1);
    assert_eq!(translation(&pt, dfn + 1), None);
    assert_eq!(translation(&pt, dfn - 1), None);
    // Root, L3, L2, L1 allocated in that order; PDEs with NL = child level, IR = IW = 1.
    let (l3, l2, l1) = (ROOT + 0x1000, ROOT + 0x2000, ROOT + 0x3000);
    assert_eq!(live_tables(&pt), vec![ROOT >> 12, l3 >> 12, l2 >> 12, l1 >> 12]);
    assert_eq!(raw(&pt, ROOT + 8), pde(l3, 3));
    assert_eq!(raw(&pt, l3 + 8 * 4), pde(l2, 2));
    assert_eq!(raw(&pt, l2 + 8 * 0x11a), pde(l1, 1));
    assert_eq!(raw(&pt, l1 + 8 * 0x167), pte(0xab_cdef, Perm::RW));
    assert_eq!(raw(&pt, l1 + 8 * 0x167), 0x7000_000a_bcde_f001);
    // Nothing was replaced: no invalidation.
    assert_eq!(commands_since(&pt, cursor), vec![]);
}

#[test]
fn test_map_permissions_reach_the_hardware() {
    let (mut pt, _) = with_device();
    pt.map(0x10, 0x100, 0, Perm::R).unwrap();
    pt.map(0x11, 0x101, 0, Perm::W).unwrap();
    assert_eq!(translation(&pt, 0x10), Some((0x100, Perm::R)));
    assert_eq!(translation(&pt, 0x11), Some((0x101, Perm::W)));
    assert!(matches!(hw_walk(&pt, DEV, 0x10, Perm::W), Err(Fault::Permission { level: 1, .. })));
    assert!(matches!(hw_walk(&pt, DEV, 0x11, Perm::R), Err(Fault::Permission { level: 1, .. })));
    assert_eq!(hw_walk(&pt, DEV, 0x10, Perm::R).unwrap().spa, 0x10_0000);
    assert_eq!(raw(&pt, ROOT + 0x3000 + 8 * 0x10), 0x3000_0000_0010_0001);
    assert_eq!(raw(&pt, ROOT + 0x3000 + 8 * 0x11), 0x5000_0000_0010_1001);
}

#[test]
fn test_map_superpages_use_level_2_and_3_leaves() {
    let (mut pt, _) = with_device();
    pt.map(0x600, 0x20_0000, 9, Perm::RW).unwrap();
    assert_eq!(live_tables(&pt).len(), 3, "root, L3, L2: a 2 MiB leaf needs no L1");
    pt.map(0x4_0000, 0x4000_0000, 18, Perm::R).unwrap();
    assert_eq!(live_tables(&pt).len(), 3, "the 1 GiB leaf sits in the existing L3 table");

    assert_eq!(raw(&pt, ROOT + 0x2000 + 8 * 3), pte(0x20_0000, Perm::RW));
    assert_eq!(raw(&pt, ROOT + 0x1000 + 8), pte(0x4000_0000, Perm::R));
    for (dfn, mfn, perm, level) in [
        (0x600, 0x20_0000, Perm::RW, 2),
        (0x7ff, 0x20_01ff, Perm::RW, 2),
        (0x4_0000, 0x4000_0000, Perm::R, 3),
        (0x7_ffff, 0x4003_ffff, Perm::R, 3),
        (0x5_2345, 0x4001_2345, Perm::R, 3),
    ] {
        assert_eq!(translation(&pt, dfn), Some((mfn, perm)), "dfn {dfn:#x}");
        assert_eq!(leaf_level_of(&pt, dfn), level);
    }
    assert_eq!(translation(&pt, 0x5ff), None);
    assert_eq!(translation(&pt, 0x800), None);
    assert_eq!(translation(&pt, 0x8_0000), None);
    let t = hw_walk(&pt, DEV, 0x4_0001, Perm::NONE).unwrap();
    assert_eq!(t.page_size_log2, 30);
}

#[test]
fn test_map_replacing_a_leaf_flushes_its_range() {
    let (mut pt, cursor) = with_device();
    pt.map(0x200, 0x1000, 9, Perm::RW).unwrap();
    assert_eq!(commands_since(&pt, cursor), vec![], "a fresh map replaces nothing");
    pt.map(0x200, 0x3000, 9, Perm::R).unwrap();
    assert_eq!(
        commands_since(&pt, cursor),
        vec![InvalidateIommuPages { domain: DOMAIN, dfn: 0x200, order: 9 }, CompletionWait]
    );
    assert_eq!(translation(&pt, 0x2ab), Some((0x30ab, Perm::R)));
    assert_eq!(live_tables(&pt).len(), 3);
}

#[test]
fn test_map_into_superpage_splits_it_keeping_perms() {
    let (mut pt, cursor) = with_device();
    pt.map(0x400, 0x8_0000, 9, Perm::R).unwrap();
    pt.map(0x405, 0x1234, 0, Perm::RW).unwrap();

    assert_eq!(
        commands_since(&pt, cursor),
        vec![InvalidateIommuPages { domain: DOMAIN, dfn: 0x405, order: 0 }, CompletionWait]
    );
    assert_eq!(live_tables(&pt).len(), 4);
    let l1 = ROOT + 0x3000;
    assert_eq!(raw(&pt, ROOT + 0x2000 + 8 * 2), pde(l1, 1));
    assert_eq!(raw(&pt, l1), pte(0x8_0000, Perm::R));
    assert_eq!(raw(&pt, l1 + 8 * 511), pte(0x8_01ff, Perm::R));
    assert_eq!(translation(&pt, 0x405), Some((0x1234, Perm::RW)));
    for dfn in [0x400, 0x404, 0x406, 0x5ff] {
        assert_eq!(translation(&pt, dfn), Some((0x8_0000 + dfn - 0x400, Perm::R)));
        assert_eq!(leaf_level_of(&pt, dfn), 1);
    }
}

#[test]
fn test_map_into_gigapage_splits_two_levels() {
    let (mut pt, cursor) = with_device();
    pt.map(0x8_0000, 0x100_0000, 18, Perm::W).unwrap();
    assert_eq!(live_tables(&pt).len(), 2);
    pt.map(0x8_0203, 0x77, 0, Perm::RW).unwrap();
    assert_eq!(live_tables(&pt).len(), 4, "root, L3, split L2, split L1");
    assert_eq!(
        commands_since(&pt, cursor),
        vec![InvalidateIommuPages { domain: DOMAIN, dfn: 0x8_0203, order: 0 }, CompletionWait]
    );
    assert_eq!(translation(&pt, 0x8_0203), Some((0x77, Perm::RW)));
    for (dfn, level) in [(0x8_0202, 1), (0x8_0204, 1), (0x8_0000, 2), (0x8_05ff, 2)] {
        assert_eq!(translation(&pt, dfn), Some((0x100_0000 + dfn - 0x8_0000, Perm::W)));
        assert_eq!(leaf_level_of(&pt, dfn), level);
    }
    assert_eq!(translation(&pt, 0xb_ffff), Some((0x103_ffff, Perm::W)));
    assert_eq!(leaf_level_of(&pt, 0xb_ffff), 2);
}

#[test]
fn test_superpage_replaces_table_and_frees_it() {
    let (mut pt, cursor) = with_device();
    pt.map(0x200, 0x5000, 0, Perm::RW).unwrap();
    pt.map(0x3ff, 0x5001, 0, Perm::RW).unwrap();
    let l1 = ROOT + 0x3000;
    assert_eq!(live_tables(&pt).len(), 4);

    pt.map(0x200, 0x6_0000, 9, Perm::R).unwrap();
    assert_eq!(live_tables(&pt).len(), 3);
    assert_eq!(pt.iommu().frames().state(l1 >> 12), Some(FrameState::Freed));
    assert_eq!(raw(&pt, ROOT + 0x2000 + 8), pte(0x6_0000, Perm::R));
    assert_eq!(translation(&pt, 0x3ff), Some((0x6_01ff, Perm::R)));
    assert_eq!(
        commands_since(&pt, cursor),
        vec![InvalidateIommuPages { domain: DOMAIN, dfn: 0x200, order: 9 }, CompletionWait]
    );

    // A gigapage over a subtree of L2 and L1 tables frees both.
    pt.map(0x400, 0x7000, 0, Perm::RW).unwrap();
    assert_eq!(live_tables(&pt).len(), 4);
    pt.map(0, 0x4000_0000, 18, Perm::RW).unwrap();
    assert_eq!(live_tables(&pt), vec![ROOT >> 12, (ROOT + 0x1000) >> 12]);
    assert_eq!(reachable_tables(&pt), 2);
    assert_eq!(translation(&pt, 0x400), Some((0x4000_0400, Perm::RW)));
}

#[test]
fn test_unmap_frees_emptied_tables() {
    let (mut pt, cursor) = with_device();
    pt.map(0x8_0123_4567, 0xab_cdef, 0, Perm::RW).unwrap();
    assert_eq!(live_tables(&pt).len(), 4);
    pt.unmap(0x8_0123_4567, 0).unwrap();

    assert_eq!(live_tables(&pt), vec![ROOT >> 12], "only the root survives");
    assert!((0..512).all(|i| raw(&pt, ROOT + 8 * i) == 0));
    for freed in [ROOT + 0x1000, ROOT + 0x2000, ROOT + 0x3000] {
        assert_eq!(pt.iommu().frames().state(freed >> 12), Some(FrameState::Freed));
    }
    assert_eq!(
        commands_since(&pt, cursor),
        vec![InvalidateIommuPages { domain: DOMAIN, dfn: 0x8_0123_4567, order: 0 }, CompletionWait]
    );
    assert_eq!(translation(&pt, 0x8_0123_4567), None);
    assert!(matches!(
        hw_walk(&pt, DEV, 0x8_0123_4567, Perm::NONE),
        Err(Fault::NotPresent { level: 4, .. })
    ));
}

#[test]
fn test_unmap_keeps_tables_that_still_map_something() {
    let (mut pt, _) = with_device();
    pt.map(0x10, 0x100, 0, Perm::RW).unwrap();
    pt.map(0x11, 0x101, 0, Perm::RW).unwrap();
    pt.map(0x4_0000_0000, 0x102, 0, Perm::RW).unwrap(); // another L4 slot
    assert_eq!(live_tables(&pt).len(), 7);
    pt.unmap(0x10, 0).unwrap();
    assert_eq!(live_tables(&pt).len(), 7);
    assert_eq!(translation(&pt, 0x11), Some((0x101, Perm::RW)));
    pt.unmap(0x11, 0).unwrap();
    assert_eq!(live_tables(&pt).len(), 4, "the chain of dfn 0x10 is gone, the other stays");
    assert_eq!(translation(&pt, 0x4_0000_0000), Some((0x102, Perm::RW)));
    assert_eq!(raw(&pt, ROOT), 0);
}

#[test]
fn test_unmap_split_keeps_perms() {
    let (mut pt, cursor) = with_device();
    pt.map(0x200, 0x4_0000, 9, Perm::R).unwrap();
    pt.unmap(0x2ff, 0).unwrap();

    assert_eq!(
        commands_since(&pt, cursor),
        vec![InvalidateIommuPages { domain: DOMAIN, dfn: 0x2ff, order: 0 }, CompletionWait]
    );
    assert_eq!(live_tables(&pt).len(), 4);
    assert_eq!(translation(&pt, 0x2ff), None);
    assert!(matches!(
        hw_walk(&pt, DEV, 0x2ff, Perm::NONE),
        Err(Fault::NotPresent { level: 1, .. })
    ));
    for dfn in [0x200, 0x2fe, 0x300, 0x3ff] {
        assert_eq!(translation(&pt, dfn), Some((0x4_0000 + dfn - 0x200, Perm::R)));
    }

    // A gigapage partly unmapped by 2 MiB: 511 2 MiB leaves remain, no L1 table.
    pt.map(0x4_0000, 0x80_0000, 18, Perm::W).unwrap();
    let before = live_tables(&pt).len();
    pt.unmap(0x4_0200, 9).unwrap();
    assert_eq!(live_tables(&pt).len(), before + 1);
    assert_eq!(translation(&pt, 0x4_0200), None);
    assert_eq!(translation(&pt, 0x4_03ff), None);
    assert_eq!(translation(&pt, 0x4_01ff), Some((0x80_01ff, Perm::W)));
    assert_eq!(translation(&pt, 0x4_0400), Some((0x80_0400, Perm::W)));
    assert_eq!(leaf_level_of(&pt, 0x4_0400), 2);
}

#[test]
fn test_unmap_superpage_range_frees_the_subtree_below() {
    let (mut pt, cursor) = with_device();
    pt.map(0x4_0000, 0x1, 0, Perm::RW).unwrap();
    pt.map(0x4_0400, 0x2, 0, Perm::RW).unwrap();
    pt.map(0x7_ffff, 0x3, 0, Perm::RW).unwrap();
    assert_eq!(live_tables(&pt).len(), 6);
    pt.unmap(0x4_0000, 18).unwrap();
    assert_eq!(live_tables(&pt), vec![ROOT >> 12]);
    assert_eq!(
        commands_since(&pt, cursor),
        vec![InvalidateIommuPages { domain: DOMAIN, dfn: 0x4_0000, order: 18 }, CompletionWait]
    );
}

#[test]
fn test_unmap_what_is_not_mapped_is_a_no_op() {
    let (mut pt, cursor) = with_device();
    pt.unmap(0x1234, 0).unwrap();
    pt.unmap(0x4_0000, 18).unwrap();
    assert_eq!(live_tables(&pt).len(), 1);
    pt.map(0x10, 0x100, 0, Perm::RW).unwrap();
    let before = snapshot(&pt);
    pt.unmap(0x11, 0).unwrap(); // empty L1 slot
    pt.unmap(0x200, 9).unwrap(); // empty L2 slot
    pt.unmap(0x8_0000, 18).unwrap(); // empty L3 slot
    assert_eq!(snapshot(&pt), before);
    assert_eq!(commands_since(&pt, cursor), vec![]);
    assert_eq!(pt.iommu().frames().allocations(), 4, "unmap never allocated");
}

#[test]
fn test_out_of_range() {
    let (mut pt, _) = with_device();
    let limit = 1u64 << 36;
    let out = |dfn| Err(PtError::OutOfRange { dfn, max_levels: 4 });
    assert_eq!(pt.map(limit, 0, 0, Perm::RW), out(limit));
    assert_eq!(pt.map(limit, 0, 9, Perm::RW), out(limit));
    assert_eq!(pt.map(limit, 0, 18, Perm::RW), out(limit));
    assert_eq!(pt.map(u64::MAX, 0, 0, Perm::RW), out(u64::MAX));
    assert_eq!(pt.map(u64::MAX << 18, 0, 18, Perm::RW), out(u64::MAX << 18));
    assert_eq!(pt.notify_dfn(limit), out(limit));
    assert_eq!(pt.notify_dfn(u64::MAX), out(u64::MAX));
    assert_eq!(live_tables(&pt).len(), 1);

    // The last DFN of each size is in range.
    assert_eq!(pt.notify_dfn(limit - 1), Ok(()));
    assert_eq!(pt.notify_dfn(0), Ok(()));
    pt.map(limit - 1, 0x11, 0, Perm::RW).unwrap();
    pt.map(limit - (1 << 10), 0x200, 9, Perm::RW).unwrap();
    pt.map(limit - (1 << 19), 0x4_0000, 18, Perm::RW).unwrap();
    assert_eq!(translation(&pt, limit - 1), Some((0x11, Perm::RW)));
    assert_eq!(translation(&pt, limit - 2), None);
    assert_eq!(translation(&pt, limit - (1 << 10)), Some((0x200, Perm::RW)));
    assert_eq!(translation(&pt, limit - (1 << 19) + 5), Some((0x4_0005, Perm::RW)));
    assert_eq!(raw(&pt, ROOT + 8 * 511) & 0xfff, 0x601);

    // Beyond the span nothing translates, and unmap succeeds doing nothing.
    let before = snapshot(&pt);
    assert_eq!(pt.lookup(limit), None);
    assert_eq!(pt.lookup(u64::MAX), None);
    assert!(matches!(
        hw_walk(&pt, DEV, limit, Perm::NONE),
        Err(Fault::IovaAboveSpan { mode: 4, .. })
    ));
    assert_eq!(pt.unmap(limit, 0), Ok(()));
    assert_eq!(pt.unmap(limit, 18), Ok(()));
    assert_eq!(pt.unmap(u64::MAX << 18, 18), Ok(()));
    assert_eq!(snapshot(&pt), before);
}

#[test]
fn test_bad_arguments_change_nothing() {
    let (mut pt, _) = with_device();
    pt.map(0x200, 0x400, 9, Perm::RW).unwrap();
    let before = snapshot(&pt);
    let mfn_limit = 1u64 << 40;
    let bad_maps: [((u64, u64, u32, Perm), PtError); 14] = [
        ((0, 0, 1, Perm::RW), PtError::UnsupportedOrder { order: 1 }),
        ((0, 0, 27, Perm::RW), PtError::UnsupportedOrder { order: 27 }),
        ((0, 0, u32::MAX, Perm::NONE), PtError::UnsupportedOrder { order: u32::MAX }),
        ((0, 0, 0, Perm::NONE), PtError::NoPermission),
        ((1, 1, 9, Perm::NONE), PtError::NoPermission),
        ((0x201, 0x400, 9, Perm::RW), PtError::Misaligned { dfn: 0x201, mfn: 0x400, order: 9 }),
        ((0x200, 0x401, 9, Perm::R), PtError::Misaligned { dfn: 0x200, mfn: 0x401, order: 9 }),
        ((0x200, 0x200, 18, Perm::W), PtError::Misaligned { dfn: 0x200, mfn: 0x200, order: 18 }),
        (
            (u64::MAX, u64::MAX, 9, Perm::RW),
            PtError::Misaligned { dfn: u64::MAX, mfn: u64::MAX, order: 9 },
        ),
        ((0, mfn_limit, 0, Perm::RW), PtError::MfnTooLarge { mfn: mfn_limit, order: 0 }),
        (
            (0, mfn_limit - 512, 18, Perm::RW),
            PtError::Misaligned { dfn: 0, mfn: mfn_limit - 512, order: 18 },
        ),
        (
            (0, u64::MAX << 18, 18, Perm::RW),
            PtError::MfnTooLarge { mfn: u64::MAX << 18, order: 18 },
        ),
        // MfnTooLarge is an argument error: it comes before OutOfRange.
        ((1 << 36, mfn_limit, 0, Perm::RW), PtError::MfnTooLarge { mfn: mfn_limit, order: 0 }),
        ((u64::MAX, u64::MAX, 0, Perm::RW), PtError::MfnTooLarge { mfn: u64::MAX, order: 0 }),
    ];
    for ((dfn, mfn, order, perm), error) in bad_maps {
        assert_eq!(pt.map(dfn, mfn, order, perm), Err(error), "map {dfn:#x} {mfn:#x} {order}");
        assert_eq!(error.class(), crate::ErrorClass::InvalidArgument);
    }
    let bad_unmaps = [
        ((0, 3), PtError::UnsupportedOrder { order: 3 }),
        ((0x200, u32::MAX), PtError::UnsupportedOrder { order: u32::MAX }),
        ((0x201, 9), PtError::Misaligned { dfn: 0x201, mfn: 0, order: 9 }),
        ((0x200, 18), PtError::Misaligned { dfn: 0x200, mfn: 0, order: 18 }),
        ((u64::MAX, 9), PtError::Misaligned { dfn: u64::MAX, mfn: 0, order: 9 }),
    ];
    for ((dfn, order), error) in bad_unmaps {
        assert_eq!(pt.unmap(dfn, order), Err(error), "unmap {dfn:#x} {order}");
    }
    assert_eq!(snapshot(&pt), before);
    assert_eq!(pt.iommu().frames().allocations(), 3);
    // The largest legal frames are accepted.
    pt.map(0, mfn_limit - 1, 0, Perm::RW).unwrap();
    pt.map(0x4_0000, mfn_limit - (1 << 18), 18, Perm::RW).unwrap();
    assert_eq!(translation(&pt, 0x7_ffff), Some((mfn_limit - 1, Perm::RW)));
}

#[test]
fn test_alloc_failure_changes_nothing() {
    // (setup, operation, tables the operation allocates)
    type Op = fn(&mut Pt) -> Result<(), PtError>;
    let cases: [(Op, Op, u64); 5] = [
        (|_| Ok(()), |pt| pt.map(0x8_0123_4567, 0x99, 0, Perm::RW), 3),
        (|_| Ok(()), |pt| pt.map(0x4_0200, 0x200, 9, Perm::RW), 2),
        (|pt| pt.map(0x4_0000, 0x4_0000, 18, Perm::R), |pt| pt.map(0x4_0203, 0x9, 0, Perm::W), 2),
        (|pt| pt.map(0x4_0000, 0x4_0000, 18, Perm::R), |pt| pt.unmap(0x4_0203, 0), 2),
        (|pt| pt.map(0x200, 0x400, 9, Perm::W), |pt| pt.unmap(0x3ff, 0), 1),
    ];
    for (case, (setup, op, allocs)) in cases.into_iter().enumerate() {
        for nth in 1..=allocs {
            let (mut pt, _) = with_device();
            setup(&mut pt).unwrap();
            let before = snapshot(&pt);
            let model = hw_model(&pt);
            pt.iommu_mut().frames_mut().fail_nth_allocation(nth);
            assert_eq!(op(&mut pt), Err(PtError::NoMemory), "case {case}, allocation {nth}");
            assert_eq!(snapshot(&pt), before, "case {case}, allocation {nth}");
            assert_eq!(hw_model(&pt), model);
            assert_eq!(reachable_tables(&pt), live_tables(&pt).len());
            // The same operation then succeeds with exactly `allocs` allocations.
            let start = pt.iommu().frames().allocations();
            op(&mut pt).unwrap();
            assert_eq!(pt.iommu().frames().allocations() - start, allocs, "case {case}");
        }
    }
}

#[test]
fn test_map_range_builds_each_table_it_crosses() {
    let (mut pt, cursor) = with_device();
    pt.map_pages(0x1fe, 0x1000, 0, 4, Perm::RW).unwrap();
    let (l3, l2, l1a, l1b) = (ROOT + 0x1000, ROOT + 0x2000, ROOT + 0x3000, ROOT + 0x4000);
    assert_eq!(live_tables(&pt), [ROOT, l3, l2, l1a, l1b].map(|t| t >> 12).to_vec());
    assert_eq!(raw(&pt, l2), pde(l1a, 1));
    assert_eq!(raw(&pt, l2 + 8), pde(l1b, 1));
    assert_eq!(raw(&pt, l1a + 8 * 0x1fe), pte(0x1000, Perm::RW));
    assert_eq!(raw(&pt, l1a + 8 * 0x1ff), pte(0x1001, Perm::RW));
    assert_eq!(raw(&pt, l1b), pte(0x1002, Perm::RW));
    assert_eq!(raw(&pt, l1b + 8), pte(0x1003, Perm::RW));
    assert_eq!((translation(&pt, 0x1fd), translation(&pt, 0x202)), (None, None));
    assert_eq!(commands_since(&pt, cursor), vec![], "nothing replaced");
    // Replacing them: one invalidation of the block covering the range.
    pt.map_pages(0x1fe, 0x2000, 0, 4, Perm::R).unwrap();
    assert_eq!(
        commands_since(&pt, cursor),
        vec![InvalidateIommuPages { domain: DOMAIN, dfn: 0, order: 10 }, CompletionWait]
    );
    assert_eq!(translation(&pt, 0x200), Some((0x2002, Perm::R)));
    // 1 GiB pages across a level-3 table boundary.
    pt.map_pages((1 << 27) - (1 << 18), 0, 18, 2, Perm::W).unwrap();
    assert_eq!(leaf_level_of(&pt, 1 << 27), 3);
    assert_eq!(translation(&pt, (1 << 27) + 5), Some(((1 << 18) + 5, Perm::W)));
}

#[test]
fn test_unmap_range_splits_both_ends_and_frees_what_empties() {
    let (mut pt, cursor) = with_device();
    pt.map_pages(0x200, 0x800, 9, 3, Perm::R).unwrap();
    pt.unmap_pages(0x3ff, 0, 0x202).unwrap();
    assert_eq!(
        commands_since(&pt, cursor),
        vec![InvalidateIommuPages { domain: DOMAIN, dfn: 0, order: 11 }, CompletionWait]
    );
    for (dfn, expected, level) in [
        (0x200, Some((0x800, Perm::R)), 1),
        (0x3fe, Some((0x9fe, Perm::R)), 1),
        (0x601, Some((0xc01, Perm::R)), 1),
        (0x7ff, Some((0xdff, Perm::R)), 1),
    ] {
        assert_eq!(translation(&pt, dfn), expected, "dfn {dfn:#x}");
        assert_eq!(leaf_level_of(&pt, dfn), level);
    }
    for dfn in [0x3ff, 0x400, 0x5ff, 0x600] {
        assert_eq!(translation(&pt, dfn), None, "dfn {dfn:#x}");
    }
    assert_eq!(live_tables(&pt).len(), 5, "root, L3, L2 and one split L1 per end");
    // Unmapping what is left of both ends empties every table below the root.
    pt.unmap_pages(0x200, 9, 3).unwrap();
    assert_eq!(live_tables(&pt), vec![ROOT >> 12]);
}

#[test]
fn test_range_failure_keeps_the_pages_before_the_table_it_could_not_build() {
    let (mut pt, _) = with_device();
    pt.map(0, 0x500, 0, Perm::RW).unwrap();
    pt.iommu_mut().frames_mut().fail_nth_allocation(2);
    assert_eq!(
        pt.map_pages(0x3fe, 0x1000, 0, 4, Perm::RW),
        Err(PagesError { error: PtError::NoMemory, done: 2 })
    );
    assert_eq!(translation(&pt, 0x3ff), Some((0x1001, Perm::RW)));
    assert_eq!(translation(&pt, 0x400), None);
    assert_eq!(live_tables(&pt).len(), 5);
    assert_eq!(reachable_tables(&pt), 5);
    // Failing in the first table: nothing done, nothing changed.
    let (mut pt, _) = with_device();
    let before = snapshot(&pt);
    pt.iommu_mut().frames_mut().fail_nth_allocation(3);
    assert_eq!(
        pt.map_pages(0x1fe, 0x1000, 0, 4, Perm::RW),
        Err(PagesError { error: PtError::NoMemory, done: 0 })
    );
    assert_eq!(snapshot(&pt), before);
    // An unmap range whose far end cannot be split keeps what it cleared.
    let (mut pt, _) = with_device();
    pt.map_pages(0x200, 0x800, 9, 2, Perm::R).unwrap();
    pt.iommu_mut().frames_mut().fail_nth_allocation(1);
    assert_eq!(
        pt.unmap_pages(0x200, 0, 0x201),
        Err(PagesError { error: PtError::NoMemory, done: 0x200 })
    );
    assert_eq!((translation(&pt, 0x3ff), translation(&pt, 0x400)), (None, Some((0xa00, Perm::R))));
}

#[test]
fn test_range_arguments() {
    let (mut pt, _) = with_device();
    let err = |error| Err(PagesError { error, done: 0 });
    assert_eq!(pt.map_pages(0, 0, 0, 0, Perm::RW), err(PtError::EmptyRange));
    assert_eq!(pt.unmap_pages(0, 0, 0), err(PtError::EmptyRange));
    assert_eq!(pt.map_pages(0, 0, 3, 2, Perm::RW), err(PtError::UnsupportedOrder { order: 3 }));
    assert_eq!(
        pt.map_pages((1 << 36) - 1, 0, 0, 2, Perm::RW),
        err(PtError::OutOfRange { dfn: (1 << 36) - 1, max_levels: 4 })
    );
    assert_eq!(
        pt.map_pages(0, (1 << 40) - 1, 0, 2, Perm::RW),
        err(PtError::MfnTooLarge { mfn: (1 << 40) - 1, order: 0 })
    );
    assert_eq!(
        pt.map_pages(0, 0, 18, u64::MAX, Perm::RW),
        err(PtError::MfnTooLarge { mfn: 0, order: 18 })
    );
    // Beyond the span there is nothing to unmap.
    assert_eq!(pt.unmap_pages((1 << 36) - 1, 0, u64::MAX), Ok(()));
    assert_eq!(pt.page_orders(), crate::table::PageOrders::BASE);
}

#[test]
fn test_assign_programs_dte_and_deassign_blocks_it() {
    let mut pt = fixed();
    pt.map(0x10, 0x100, 0, Perm::RW).unwrap();
    let dte = DEVICE_TABLE_SPA + 32 * u64::from(DEV);
    assert!(matches!(hw_walk(&pt, DEV, 0x10, Perm::R), Err(Fault::DtePermission { .. })));

    let cursor = pt.iommu().commands().len();
    pt.assign(DEV).unwrap();
    assert_eq!(raw(&pt, dte), 0x6000_0000_4000_0803, "V, TV, mode 4, root, IR, IW");
    assert_eq!(raw(&pt, dte + 8), u64::from(DOMAIN));
    assert_eq!(
        commands_since(&pt, cursor),
        vec![InvalidateDevtabEntry { dev: DEV }, CompletionWait]
    );
    assert_eq!(translation(&pt, 0x10), Some((0x100, Perm::RW)));
    assert_eq!(pt.assign(DEV), Err(PtError::AlreadyAssigned { dev: DEV }));
    assert_eq!(pt.assign(128), Err(PtError::NoSuchDevice { dev: 128 }));
    assert_eq!(pt.assign(u16::MAX), Err(PtError::NoSuchDevice { dev: u16::MAX }));

    // A second device sees the same translations.
    pt.assign(127).unwrap();
    assert_eq!(hw_walk(&pt, 127, 0x10, Perm::RW).unwrap().spa, 0x10_0000);

    let cursor = pt.iommu().commands().len();
    pt.deassign(DEV).unwrap();
    assert_eq!(raw(&pt, dte), 3, "blocked: V, TV, mode 0, no permission");
    assert_eq!(
        commands_since(&pt, cursor),
        vec![InvalidateDevtabEntry { dev: DEV }, CompletionWait]
    );
    assert!(matches!(hw_walk(&pt, DEV, 0x10, Perm::R), Err(Fault::DtePermission { .. })));
    assert_eq!(hw_walk(&pt, 127, 0x10, Perm::R).unwrap().spa, 0x10_0000);
    assert_eq!(pt.deassign(DEV), Err(PtError::NotAssigned { dev: DEV }));
    assert_eq!(pt.deassign(5), Err(PtError::NotAssigned { dev: 5 }));
    assert_eq!(pt.deassign(128), Err(PtError::NoSuchDevice { dev: 128 }));
    pt.assign(DEV).unwrap();
    assert_eq!(translation(&pt, 0x10), Some((0x100, Perm::RW)));
}

#[test]
fn test_teardown_frees_everything() {
    let (mut pt, _) = with_device();
    pt.assign(9).unwrap();
    pt.map(0x10, 0x100, 0, Perm::RW).unwrap();
    pt.map(0x4_0000, 0x4_0000, 18, Perm::R).unwrap();
    pt.map(0x8_0000_0200, 0x800, 9, Perm::W).unwrap();
    let cursor = pt.iommu().commands().len();
    let tables = live_tables(&pt);
    assert_eq!(tables.len(), 6, "root; L3, L2, L1 for dfn 0x10; L3, L2 for L4 index 256");

    assert_eq!(pt.teardown(), Ok(()));
    assert_eq!(live_tables(&pt), vec![]);
    for pfn in tables {
        assert_eq!(pt.iommu().frames().state(pfn), Some(FrameState::Freed));
    }
    assert_eq!((pt.levels(), pt.root(), pt.max_levels()), (0, None, 4));
    assert_eq!(
        commands_since(&pt, cursor),
        vec![
            InvalidateDevtabEntry { dev: DEV },
            InvalidateDevtabEntry { dev: 9 },
            InvalidateIommuPages { domain: DOMAIN, dfn: 0, order: ALL_PAGES_ORDER },
            CompletionWait,
        ]
    );
    for dev in [DEV, 9] {
        assert!(matches!(hw_walk(&pt, dev, 0x10, Perm::R), Err(Fault::DtePermission { .. })));
    }

    let cursor = pt.iommu().commands().len();
    assert_eq!(pt.map(0x10, 0x100, 0, Perm::RW), Err(PtError::TornDown));
    assert_eq!(pt.map(1, 1, 1, Perm::NONE), Err(PtError::TornDown));
    assert_eq!(pt.unmap(0x10, 0), Err(PtError::TornDown));
    assert_eq!(pt.notify_dfn(0), Err(PtError::TornDown));
    assert_eq!(pt.assign(DEV), Err(PtError::TornDown));
    assert_eq!(pt.assign(1), Err(PtError::TornDown));
    assert_eq!(pt.deassign(DEV), Err(PtError::TornDown));
    assert_eq!(pt.teardown(), Err(PtError::TornDown));
    assert_eq!(pt.lookup(0x10), None);
    assert_eq!(commands_since(&pt, cursor), vec![]);
    assert_eq!(pt.iommu().frames().live_tables(DOMAIN).count(), 0);
}

#[test]
fn test_no_panic_on_extreme_arguments() {
    let (mut pt, _) = with_device();
    for dfn in [0, 1, 1 << 36, u64::MAX, u64::MAX << 9, u64::MAX << 18] {
        for order in [0, 9, 18, 19, 36, 63, 64, 65, u32::MAX] {
            let _ = pt.map(dfn, u64::MAX << 18, order, Perm::RW);
            let _ = pt.map(dfn, 0, order, Perm::R);
            let _ = pt.unmap(dfn, order);
            let _ = pt.notify_dfn(dfn);
            let _ = pt.lookup(dfn);
        }
    }
    for dev in [0, 127, 128, u16::MAX] {
        let _ = pt.assign(dev);
        let _ = pt.deassign(dev);
    }
    assert_eq!(reachable_tables(&pt), live_tables(&pt).len());
}

#[test]
fn test_garbage_table_memory_never_panics() {
    let mut rng = Rng(0xdead_beef_cafe_f00d);
    for round in 0..20 {
        let (mut pt, _) = with_device();
        pt.map(0x4_0000, 0x4_0000, 18, Perm::RW).unwrap();
        pt.map(0x10, 0x100, 0, Perm::RW).unwrap();
        let tables = live_tables(&pt);
        for _ in 0..16 {
            let pfn = tables[rng.below(tables.len() as u64) as usize];
            let spa = (pfn << 12) + 8 * rng.below(4);
            let garbage = if round % 2 == 0 { rng.next() } else { rng.next() | 1 };
            pt.iommu_mut().write_entry(spa, garbage).unwrap();
        }
        for dfn in [0, 0x10, 0x4_0000, 0x4_0203, 0x8_0000, 0x200] {
            let _ = pt.lookup(dfn);
            let _ = pt.map(dfn, 0x1000, 0, Perm::R);
            let _ = pt.unmap(dfn, 0);
            let _ = pt.unmap(dfn & !0x1ff, 9);
        }
        let _ = pt.teardown();
    }
}

/// A small deterministic generator (xorshift64*), so the test needs no dependency.
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

#[test]
fn test_random_operations_match_the_model_and_free_all_tables() {
    // DFNs in two gigabytes of two different L4 slots, so every level splits and empties.
    let regions = [0u64, 0x80_0000_0000 >> 12];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut pt, _) = with_device();
    let mut model = Model::new();
    for step in 0..400 {
        let order = [0, 0, 0, 9, 9, 18][rng.below(6) as usize];
        let region = regions[rng.below(2) as usize];
        let dfn = region + ((rng.below(1 << 19) >> order) << order);
        // Ranges of several pages, some across tables, now and then.
        let count = [1, 1, 1, 1, 2, 3, 513][rng.below(7) as usize] >> (order / 9 * 4);
        let count = count.max(1);
        if rng.below(3) == 0 {
            pt.unmap_pages(dfn, order, count).unwrap();
            model.unmap_range(dfn, count << order);
        } else {
            let mfn = (rng.below(1 << 30) >> order) << order;
            let perm = [Perm::R, Perm::W, Perm::RW][rng.below(3) as usize];
            pt.map_pages(dfn, mfn, order, count, perm).unwrap();
            model.map_range(dfn, count << order, mfn, perm);
        }
        for _ in 0..8 {
            let probe = region + rng.below(1 << 19);
            assert_eq!(translation(&pt, probe), model.translate(probe), "step {step}");
        }
        if step % 50 == 49 {
            assert_eq!(model.first_difference(&hw_model(&pt)), None, "step {step}");
            assert_eq!(reachable_tables(&pt), live_tables(&pt).len(), "step {step}");
        }
    }
    assert_eq!(model.first_difference(&hw_model(&pt)), None);
    for region in regions {
        // Ranges may reach past the region's two gigabytes.
        pt.unmap_pages(region, 18, 3).unwrap();
    }
    assert_eq!(live_tables(&pt), vec![ROOT >> 12]);
    pt.teardown().unwrap();
    assert_eq!(live_tables(&pt), vec![]);
}
