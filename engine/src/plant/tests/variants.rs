//! Each planted bug, built through the catalogue, does exactly what its doc says, next to the
//! correct table doing the right thing on the same operations.

use super::super::{Plant, PlantError, PlantedBug};
use crate::substrate::commands::Command;
use crate::substrate::device_table::DEVICE_TABLE_SPA;
use crate::substrate::frames::{FrameState, Placement, MAX_PFN, POISON_ENTRY};
use crate::table::{PageTable, Perm, PtError};
use crate::tables::{built_in, TableConfig};
use ptdiff_reference::{
    walk, Caches, Fault, Invalidation, Translation, TranslationKind, WalkConfig,
};

const DOMAIN: u16 = 7;
/// SPA of a fresh table's root: the first frame of the table pool.
const ROOT: u64 = 0x4000_0000;

/// The `implementation` table with `plant`, `initial_levels` high (where that applies).
fn build(plant: Plant, implementation: &str, initial_levels: u8) -> Box<dyn PageTable> {
    let config = TableConfig {
        initial_levels,
        max_levels: 4,
        domain: DOMAIN,
        placement: crate::substrate::frames::Placement::Low,
        all_page_sizes: false,
        growth: Default::default(),
    };
    plant.build(built_in(implementation).unwrap(), config).unwrap()
}

/// `bug`'s table, planted.
fn planted(bug: PlantedBug, initial_levels: u8) -> Box<dyn PageTable> {
    build(Plant::select(bug).unwrap(), bug.implementation(), initial_levels)
}

/// The oracle's walk of `dfn` through `dev`'s DTE.
fn hw_walk(t: &dyn PageTable, dev: u16, dfn: u64, access: Perm) -> Result<Translation, Fault> {
    let cfg = WalkConfig { max_levels: t.max_levels(), ..Default::default() };
    walk(t.iommu().memory(), &cfg, &t.iommu().device_table(), dev, dfn << 12, access)
}

/// What `dev` translates `dfn` to through the table, per the oracle, as (mfn, perm).
fn hw(t: &dyn PageTable, dev: u16, dfn: u64) -> Option<(u64, Perm)> {
    let tr = hw_walk(t, dev, dfn, Perm::NONE).ok()?;
    matches!(tr.kind, TranslationKind::Table { .. }).then_some((tr.spa >> 12, tr.perm))
}

/// The table's lookup, checked to agree with device `dev`'s hardware walk.
fn translation(t: &dyn PageTable, dev: u16, dfn: u64) -> Option<(u64, Perm)> {
    let hardware = hw(t, dev, dfn);
    assert_eq!(t.lookup(dfn), hardware, "lookup and hardware walk disagree at {dfn:#x}");
    hardware
}

fn dte_mode_and_root(t: &dyn PageTable, dev: u16) -> (u8, u64) {
    let dte = t.iommu().device_table().read(t.iommu().memory(), dev).unwrap();
    (dte.mode(), dte.root())
}

fn raw(t: &dyn PageTable, spa: u64) -> u64 {
    t.iommu().read_entry(spa).unwrap()
}

fn live_tables(t: &dyn PageTable) -> usize {
    t.iommu().frames().live_tables(DOMAIN).count()
}

fn commands_since(t: &dyn PageTable, cursor: usize) -> Vec<Command> {
    t.iommu().commands().since(cursor).to_vec()
}

#[test]
fn every_bug_is_planted_in_its_implementation_only() {
    for bug in PlantedBug::ALL {
        let plant = Plant::select(bug).unwrap();
        for table in crate::tables::BUILT_IN {
            let t = build(plant, table.name, 2);
            assert_eq!(t.name(), table.name, "{bug} keeps the table's name");
        }
    }
}

#[test]
fn d1_growth_skips_devices_assigned_after_the_first_growth() {
    let run = |mut t: Box<dyn PageTable>| {
        t.assign(1).unwrap();
        t.notify_dfn(1 << 18).unwrap(); // first growth: device 1 only
        t.assign(2).unwrap();
        t.notify_dfn(1 << 27).unwrap();
        t.map(1 << 27, 0x10, 0, Perm::RW).unwrap();
        let t = t.as_ref();
        (dte_mode_and_root(t, 2), t.root().unwrap(), hw(t, 1, 1 << 27), hw(t, 2, 1 << 27))
    };
    let (dte, root, dev1, dev2) = run(build(Plant::NONE, "dynamic", 2));
    assert_eq!((dte, dev1, dev2), ((4, root), Some((0x10, Perm::RW)), Some((0x10, Perm::RW))));
    let (dte, root, dev1, dev2) = run(planted(PlantedBug::D1StaleDeviceList, 2));
    assert_eq!(dte.0, 3, "device 2 keeps the 3-level mode");
    assert_ne!(dte.1, root);
    assert_eq!((dev1, dev2), (Some((0x10, Perm::RW)), None));
}

#[test]
fn d4_notify_grows_without_rechecking() {
    let mut t = planted(PlantedBug::D4GrowNoRecheck, 2);
    t.notify_dfn(0).unwrap();
    assert_eq!(t.levels(), 3, "grew although DFN 0 was covered");
    t.notify_dfn(1 << 27).unwrap(); // needs 4: grows as needed
    assert_eq!(t.levels(), 4);
    assert_eq!(t.notify_dfn(5), Err(PtError::NoMemory), "a legal notify fails at the top");
    let mut t = build(Plant::NONE, "dynamic", 2);
    t.notify_dfn(0).unwrap();
    assert_eq!(t.levels(), 2);
}

#[test]
fn d1_leak_a_failed_growth_keeps_its_new_levels() {
    let run = |mut t: Box<dyn PageTable>| {
        t.iommu_mut().frames_mut().fail_nth_allocation(3);
        assert_eq!(t.notify_dfn(1 << 27), Err(PtError::NoMemory));
        (t.levels(), live_tables(t.as_ref()))
    };
    assert_eq!(run(build(Plant::NONE, "dynamic", 1)), (1, 1));
    assert_eq!(run(planted(PlantedBug::D1GrowLeak, 1)), (1, 3), "two new levels leaked");
}

#[test]
fn split_rw_shattering_grants_read_write() {
    let run = |mut t: Box<dyn PageTable>| {
        t.assign(0).unwrap();
        t.map(1 << 9, 1 << 9, 9, Perm::R).unwrap();
        t.unmap(1 << 9, 0).unwrap();
        (t.lookup((1 << 9) + 1), hw(t.as_ref(), 0, (1 << 9) + 1))
    };
    let kept = Some(((1 << 9) + 1, Perm::R));
    assert_eq!(run(build(Plant::NONE, "dynamic", 2)), (kept, kept));
    let widened = Some(((1 << 9) + 1, Perm::RW));
    assert_eq!(run(planted(PlantedBug::SplitGrantsRw, 2)), (widened, widened));
}

#[test]
fn unmap_grow_unmap_beyond_the_height_grows() {
    let mut t = planted(PlantedBug::UnmapGrows, 2);
    t.assign(0).unwrap();
    t.unmap(1 << 27, 0).unwrap();
    assert_eq!(t.levels(), 4);
    assert_eq!(dte_mode_and_root(t.as_ref(), 0), (4, t.root().unwrap()));
    assert_eq!(t.unmap(1 << 36, 0), Ok(()), "beyond the maximum height: no growth");
    assert_eq!(
        t.unmap((1 << 27) + 1, 9),
        Err(PtError::Misaligned { dfn: (1 << 27) + 1, mfn: 0, order: 9 })
    );
    let mut t = build(Plant::NONE, "dynamic", 2);
    t.unmap(1 << 27, 0).unwrap();
    assert_eq!(t.levels(), 2);
}

#[test]
fn t2_cache_deassign_leaves_the_cached_dte() {
    let run = |mut t: Box<dyn PageTable>| {
        t.assign(3).unwrap();
        let cursor = t.iommu().commands().len();
        t.deassign(3).unwrap();
        (dte_mode_and_root(t.as_ref(), 3), commands_since(t.as_ref(), cursor))
    };
    let invalidated = vec![Command::InvalidateDevtabEntry { dev: 3 }, Command::CompletionWait];
    assert_eq!(run(build(Plant::NONE, "dynamic", 2)), ((0, 0), invalidated));
    assert_eq!(
        run(planted(PlantedBug::T2StaleDteCache, 2)),
        ((0, 0), vec![Command::CompletionWait])
    );
}

#[test]
fn r2_programs_mode_3_over_4_levels() {
    let mut pt = planted(PlantedBug::R2QuarantineLevels, 4);
    pt.assign(3).unwrap();
    pt.map(0x10, 0x100, 0, Perm::RW).unwrap();
    assert_eq!(pt.levels(), 4);
    let dte = raw(pt.as_ref(), DEVICE_TABLE_SPA + 32 * 3);
    assert_eq!((dte >> 9) & 7, 3, "DTE mode 3");
    assert_eq!(pt.lookup(0x10), Some((0x100, Perm::RW)), "the table itself is right");
    // The walk reads the level-4 root as a level-3 table: its PDE with NL = 3 is not below
    // the level, and DFNs above 2^27 are outside the 3-level span.
    assert!(matches!(
        hw_walk(pt.as_ref(), 3, 0x10, Perm::NONE),
        Err(Fault::InvalidNextLevel { level: 3, next_level: 3, .. })
    ));
    pt.map(1 << 27, 0x200, 0, Perm::RW).unwrap();
    assert!(matches!(
        hw_walk(pt.as_ref(), 3, 1 << 27, Perm::NONE),
        Err(Fault::IovaAboveSpan { mode: 3, .. })
    ));
}

#[test]
fn s5_superpage_clears_its_neighbour() {
    let mut pt = planted(PlantedBug::S5SuperpageOverclear, 4);
    pt.assign(3).unwrap();
    pt.map(0x400, 0x77, 0, Perm::RW).unwrap(); // L2 index 2
    let cursor = pt.iommu().commands().len();
    pt.map(0x200, 0x8_0000, 9, Perm::RW).unwrap(); // L2 index 1
    assert_eq!(translation(pt.as_ref(), 3, 0x200), Some((0x8_0000, Perm::RW)));
    assert_eq!(translation(pt.as_ref(), 3, 0x400), None, "the neighbour disappeared");
    assert_eq!(live_tables(pt.as_ref()), 3, "and its L1 table was freed");
    assert_eq!(commands_since(pt.as_ref(), cursor), vec![], "without any invalidation");

    // Splitting a gigapage to install a 2 MiB leaf loses the next 2 MiB piece too.
    pt.map(0x4_0000, 0x4_0000, 18, Perm::R).unwrap();
    pt.map(0x4_0200, 0x100_0000, 9, Perm::RW).unwrap();
    assert_eq!(translation(pt.as_ref(), 3, 0x4_0000), Some((0x4_0000, Perm::R)));
    assert_eq!(translation(pt.as_ref(), 3, 0x4_0400), None);
    assert_eq!(translation(pt.as_ref(), 3, 0x4_0600), Some((0x4_0600, Perm::R)));
    // A 4 KiB map clears nothing.
    pt.map(0x10, 0x20, 0, Perm::R).unwrap();
    pt.map(0xf, 0x21, 0, Perm::R).unwrap();
    assert_eq!(translation(pt.as_ref(), 3, 0x10), Some((0x20, Perm::R)));
}

#[test]
fn s5_is_a_wrapper_that_fits_another_table() {
    // A plug-in's table stands in here as the dynamic one: the same bug, planted around it.
    let plant = Plant::select(PlantedBug::S5SuperpageOverclear).unwrap();
    let mut t = plant.wrap(build(Plant::NONE, "dynamic", 3)).unwrap();
    t.assign(0).unwrap();
    t.map(0x400, 0x77, 0, Perm::RW).unwrap();
    t.map(0x200, 0x8_0000, 9, Perm::RW).unwrap();
    assert_eq!(t.name(), "dynamic");
    assert_eq!(translation(t.as_ref(), 0, 0x200), Some((0x8_0000, Perm::RW)));
    assert_eq!(translation(t.as_ref(), 0, 0x400), None, "the neighbour disappeared");
    let variant = Plant::select(PlantedBug::D1StaleDeviceList).unwrap();
    let refused = variant.wrap(build(Plant::NONE, "fixed", 4)).err();
    assert_eq!(refused, Some(PlantError::NotAWrapper(PlantedBug::D1StaleDeviceList)));
}

#[test]
fn t2_deassigned_device_keeps_reaching_memory() {
    let mut pt = planted(PlantedBug::T2DeassignKeepsDte, 4);
    pt.assign(3).unwrap();
    pt.map(0x10, 0x100, 0, Perm::RW).unwrap();
    let cursor = pt.iommu().commands().len();
    assert_eq!(pt.deassign(3), Ok(()));
    assert_eq!(pt.deassign(3), Err(PtError::NotAssigned { dev: 3 }), "forgotten");
    assert_eq!(commands_since(pt.as_ref(), cursor), vec![]);
    assert_eq!(hw_walk(pt.as_ref(), 3, 0x10, Perm::RW).unwrap().spa, 0x10_0000);

    // After teardown the stale DTE still points at the root, now freed and poisoned: the walk
    // reads the poison as a leaf and the device reaches memory (use after free).
    pt.teardown().unwrap();
    let dte = raw(pt.as_ref(), DEVICE_TABLE_SPA + 32 * 3);
    assert_eq!(dte & 0x000f_ffff_ffff_f000, ROOT);
    assert_eq!(pt.iommu().frames().state(ROOT >> 12), Some(FrameState::Freed));
    assert_eq!(raw(pt.as_ref(), ROOT), POISON_ENTRY);
    let t = hw_walk(pt.as_ref(), 3, 0x10, Perm::RW).unwrap();
    assert_eq!(t.kind, TranslationKind::Table { leaf_level: 4 });
}

#[test]
fn f2_unmap_skips_the_invalidation() {
    let run = |mut t: Box<dyn PageTable>| {
        t.map(0x10, 0x100, 0, Perm::RW).unwrap();
        let cursor = t.iommu().commands().len();
        t.unmap(0x10, 0).unwrap();
        let unmapped = commands_since(t.as_ref(), cursor);
        let cursor = t.iommu().commands().len();
        t.map(0x20, 0x200, 0, Perm::RW).unwrap();
        t.map(0x20, 0x201, 0, Perm::R).unwrap();
        (t.lookup(0x10), unmapped, commands_since(t.as_ref(), cursor).len())
    };
    let flush = vec![
        Command::InvalidateIommuPages { domain: DOMAIN, dfn: 0x10, order: 0 },
        Command::CompletionWait,
    ];
    assert_eq!(run(build(Plant::NONE, "fixed", 4)), (None, flush, 2));
    assert_eq!(run(planted(PlantedBug::F2UnmapNoFlush, 4)), (None, vec![], 2), "maps still flush");
}

#[test]
fn flush_last_invalidates_all_but_the_last_page_of_a_superpage() {
    let run = |mut t: Box<dyn PageTable>| {
        t.assign(0).unwrap();
        t.map(0x200, 0x1000, 9, Perm::RW).unwrap();
        t.map(0x400, 0x2000, 0, Perm::RW).unwrap();
        // The device caches the superpage; then it is unmapped.
        let mut caches = Caches::new();
        let devtab = t.iommu().device_table();
        let cached = caches.dma(
            t.iommu().memory(),
            &WalkConfig::default(),
            &devtab,
            0,
            0x3ff << 12,
            Perm::R,
        );
        assert_eq!(cached.map(|c| c.page_size_log2), Ok(21));
        let cursor = t.iommu().commands().len();
        t.unmap(0x200, 9).unwrap();
        let superpage = commands_since(t.as_ref(), cursor);
        for command in &superpage {
            caches.command(match *command {
                Command::InvalidateIommuPages { domain, dfn, order } => {
                    Invalidation::IommuPages { domain, iova: dfn << 12, size_log2: order + 12 }
                }
                Command::CompletionWait => Invalidation::CompletionWait,
                Command::InvalidateDevtabEntry { dev } => Invalidation::DevtabEntry { dev },
            });
        }
        let cursor = t.iommu().commands().len();
        t.unmap(0x400, 0).unwrap();
        let page = commands_since(t.as_ref(), cursor);
        (translation(t.as_ref(), 0, 0x3ff), caches.pages().count(), superpage, page)
    };
    let flush = |dfn, order| Command::InvalidateIommuPages { domain: DOMAIN, dfn, order };
    let page = vec![flush(0x400, 0), Command::CompletionWait];
    let correct = run(build(Plant::NONE, "dynamic", 3));
    assert_eq!(correct, (None, 0, vec![flush(0x200, 9), Command::CompletionWait], page.clone()));
    let (translates, cached, superpage, small) = run(planted(PlantedBug::FlushAllButLast, 3));
    assert_eq!((translates, small), (None, page), "unmapped; other unmaps are the table's own");
    assert_eq!(cached, 0, "the cache model dropped the superpage: the first block overlaps it");
    let blocks: Vec<Command> = [(0x200, 8), (0x300, 7), (0x380, 6), (0x3c0, 5), (0x3e0, 4)]
        .into_iter()
        .chain([(0x3f0, 3), (0x3f8, 2), (0x3fc, 1), (0x3fe, 0)])
        .map(|(dfn, order)| flush(dfn, order))
        .chain([Command::CompletionWait])
        .collect();
    assert_eq!(superpage, blocks, "0x3ff, the last page, is never invalidated");
}

#[test]
fn pde32_drops_address_bits_51_32_of_the_pdes_on_its_walks() {
    let plant = Plant::select(PlantedBug::Pde32).unwrap();
    let fixed = built_in("fixed").unwrap();
    let config = |placement| TableConfig {
        initial_levels: 4,
        max_levels: 4,
        domain: DOMAIN,
        placement,
        all_page_sizes: false,
        growth: Default::default(),
    };
    let mut low = plant.build(fixed, config(Placement::Low)).unwrap();
    low.assign(0).unwrap();
    low.map(0x10, 0x100, 0, Perm::RW).unwrap();
    assert_eq!(translation(low.as_ref(), 0, 0x10), Some((0x100, Perm::RW)), "harmless low");

    let mut high = plant.build(fixed, config(Placement::High)).unwrap();
    high.assign(0).unwrap();
    high.map(0x10, 0x100, 0, Perm::RW).unwrap();
    let root = high.root().unwrap();
    assert_eq!(root, MAX_PFN << 12, "the root's DTE keeps its address whole");
    assert_eq!(dte_mode_and_root(high.as_ref(), 0), (4, root));
    // The root's PDE to the level-3 table (the next frame down) lost bits 51:32.
    let level3 = (MAX_PFN - 1) << 12;
    assert_eq!(raw(high.as_ref(), root) & 0x000f_ffff_ffff_f000, level3 & 0xffff_f000);
    assert_eq!(
        hw_walk(high.as_ref(), 0, 0x10, Perm::R),
        Err(Fault::TableReadFailed { level: 3, spa: level3 & 0xffff_f000 })
    );
}

#[test]
fn range_stop_installs_only_the_first_table_of_a_range() {
    let run = |mut t: Box<dyn PageTable>| {
        t.assign(0).unwrap();
        let result = t.map_pages(0x1fe, 0x1000, 0, 4, Perm::RW);
        (result, hw(t.as_ref(), 0, 0x1ff), hw(t.as_ref(), 0, 0x200))
    };
    let (ok, first) = (Ok(()), Some((0x1001, Perm::RW)));
    assert_eq!(run(build(Plant::NONE, "fixed", 4)), (ok, first, Some((0x1002, Perm::RW))));
    assert_eq!(run(planted(PlantedBug::RangeStopsAtTable, 4)), (ok, first, None));
}

#[test]
fn nl7_short_leaves_the_last_replica_out() {
    let run = |plant: Plant| {
        let config = TableConfig {
            initial_levels: 2,
            max_levels: 4,
            domain: DOMAIN,
            placement: Placement::Low,
            all_page_sizes: true,
            growth: Default::default(),
        };
        let mut t = plant.build(built_in("dynamic").unwrap(), config).unwrap();
        t.assign(0).unwrap();
        t.map(0x8, 0x108, 3, Perm::RW).unwrap();
        (hw(t.as_ref(), 0, 0xe), hw(t.as_ref(), 0, 0xf))
    };
    let seventh = Some((0x10e, Perm::RW));
    assert_eq!(run(Plant::NONE), (seventh, Some((0x10f, Perm::RW))));
    assert_eq!(run(Plant::select(PlantedBug::Nl7ReplicaShort).unwrap()), (seventh, None));
}

#[test]
fn range_flush_first_invalidates_only_the_first_page() {
    let run = |mut t: Box<dyn PageTable>| {
        t.map_pages(0x100, 0x1000, 0, 4, Perm::RW).unwrap();
        let cursor = t.iommu().commands().len();
        t.unmap_pages(0x100, 0, 4).unwrap();
        commands_since(t.as_ref(), cursor)
    };
    let flush = |order| {
        vec![
            Command::InvalidateIommuPages { domain: DOMAIN, dfn: 0x100, order },
            Command::CompletionWait,
        ]
    };
    assert_eq!(run(build(Plant::NONE, "dynamic", 2)), flush(2));
    assert_eq!(run(planted(PlantedBug::RangeFlushFirstPage, 2)), flush(0));
}

#[test]
fn range_done_hides_the_pages_a_failed_range_mapped() {
    let run = |mut t: Box<dyn PageTable>| {
        t.map(0, 0x500, 0, Perm::RW).unwrap();
        t.iommu_mut().frames_mut().fail_nth_allocation(2);
        let result = t.map_pages(0x3fe, 0x1000, 0, 4, Perm::RW).map_err(|e| e.done);
        (result, t.lookup(0x3ff), live_tables(t.as_ref()))
    };
    let mapped = Some((0x1001, Perm::RW));
    assert_eq!(run(build(Plant::NONE, "fixed", 4)), (Err(2), mapped, 5));
    assert_eq!(run(planted(PlantedBug::RangeHidesProgress, 4)), (Err(0), mapped, 5));
}

#[test]
fn nl7_partial_leaves_the_other_replicas_of_a_changed_page() {
    let run = |plant: Plant| {
        let config = TableConfig {
            initial_levels: 2,
            max_levels: 4,
            domain: DOMAIN,
            placement: Placement::Low,
            all_page_sizes: true,
            growth: Default::default(),
        };
        let mut t = plant.build(built_in("dynamic").unwrap(), config).unwrap();
        t.assign(0).unwrap();
        t.map(0x8, 0x108, 3, Perm::RW).unwrap();
        t.unmap(0xc, 0).unwrap();
        let page_size = |dfn| hw_walk(t.as_ref(), 0, dfn, Perm::NONE).unwrap().page_size_log2;
        (hw(t.as_ref(), 0, 0xc), hw(t.as_ref(), 0, 0xd), page_size(0xd))
    };
    let (hole, next) = (None, Some((0x10d, Perm::RW)));
    assert_eq!(run(Plant::NONE), (hole, next, 12));
    // The same translations, but 0xd still reads as part of the whole 32 KiB page.
    assert_eq!(run(Plant::select(PlantedBug::Nl7PartialSplit).unwrap()), (hole, next, 15));
}

#[test]
fn a1_torn_pte_stores_the_low_half_first() {
    use crate::tables::fixed::Seams;
    let torn = super::super::fixed::TornEntry;
    let (pr, ir, iw) = (1u64, 1u64 << 61, 1u64 << 62);
    let old = (0x10 << 12) | pr | ir | iw;
    let new = (0x20 << 12) | pr | ir;
    // The new address and present bit, with the old permissions: a write the new entry denies.
    assert_eq!(torn.first_store(old, new), Some((0x20 << 12) | pr | ir | iw));
    // A high half above 4 GiB is torn too: the old bits 51:32 with the new bits 31:12.
    let high = (0x1_0000_0020 << 12) | pr | ir;
    assert_eq!(torn.first_store(old, high), Some((0x20 << 12) | pr | ir | iw));
    // Equal high halves, or equal low halves: one store is all it takes.
    assert_eq!(torn.first_store(old, (0x20 << 12) | pr | ir | iw), None);
    assert_eq!(torn.first_store(old, (0x10 << 12) | pr | ir), None);
    assert_eq!(crate::tables::fixed::Correct.first_store(old, new), None);
}
