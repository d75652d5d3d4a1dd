//! Planted bugs of the `dynamic` table, each a variant: one of its [`Seams`] chosen wrongly.
//! A variant that remembers something keeps it behind a [`Mutex`]: the planted bug's own
//! memory, not the table's (the table holds only configuration; its shared state is the
//! step substrate's).

use super::Mechanism;
use crate::substrate::device_set::DeviceSet;
use crate::table::{Perm, PtError};
use crate::tables::dynamic::{Dynamic, InMapGrowth, Seams};
use crate::tables::TableConfig;
use std::sync::{Mutex, PoisonError};

/// The catalogue's mechanism for the variant `V` of the dynamic table.
pub(super) fn variant<V: Seams + Default + 'static>() -> Mechanism {
    Mechanism::Variant(|config: TableConfig| {
        Ok(Box::new(Dynamic::with_seams(config.into(), config.placement, V::default())?.boxed()))
    })
}

/// D1 XEN-XSA311-GROW-DTE: growth retargets the devices as they were at the first growth;
/// devices assigned since keep their old root and mode.
#[derive(Debug, Default)]
pub(super) struct StaleDeviceList {
    /// The device list seen at the first growth.
    first_growth: Mutex<Option<DeviceSet>>,
}

impl Seams for StaleDeviceList {
    fn growth_devices(&self, assigned: DeviceSet) -> DeviceSet {
        let mut first = self.first_growth.lock().unwrap_or_else(PoisonError::into_inner);
        *first.get_or_insert(assigned)
    }
}

/// D4 LNX-AMD-GROW-NO-RECHECK (Linux 46ac18c347b0): notify grows one level without
/// re-checking whether the DFN is already covered; at the maximum height the growth WARNs and
/// fails, so a legal notify fails.
#[derive(Debug, Default)]
pub(super) struct GrowNoRecheck;

impl Seams for GrowNoRecheck {
    fn growth_target(&self, levels: u8, needed: u8, max_levels: u8) -> Result<u8, PtError> {
        if levels >= max_levels {
            return Err(PtError::NoMemory);
        }
        Ok(needed.max(levels + 1))
    }
}

/// D7 LNX-AMD-GROW-LOOP-FOREVER (Linux 5b8a9a047b6c, the bug it fixed): growth runs in
/// rounds until the table is as high as needed, re-reading the top after each; a round
/// refuses to build the last level (its maximum-height check one level low), making no
/// progress, so a notify that needs the maximum height loops forever.
#[derive(Debug, Default)]
pub(super) struct GrowLoop;

impl Seams for GrowLoop {
    fn growth_round(&self, _: u8, target: u8, max_levels: u8) -> u8 {
        target.min(max_levels.saturating_sub(1))
    }
}

/// D1 XEN-XSA311-GROW-DTE (the leak): the levels a failed growth built are dropped without
/// being freed.
#[derive(Debug, Default)]
pub(super) struct GrowLeak;

impl Seams for GrowLeak {
    fn free_unfinished_growth(&self) -> bool {
        false
    }
}

/// SPLIT-RW (the bug Xen b8238afd07 fixed): the pieces of a shattered superpage get
/// read/write.
#[derive(Debug, Default)]
pub(super) struct SplitGrantsRw;

impl Seams for SplitGrantsRw {
    fn piece_perm(&self, _: Perm) -> Perm {
        Perm::RW
    }
}

/// T2 class (XSA-386): deassign blocks the DTE in memory, but the IOMMU's cached copy is never
/// invalidated, so the device keeps walking the domain's tables.
#[derive(Debug, Default)]
pub(super) struct StaleDteCache;

impl Seams for StaleDteCache {
    fn invalidate_blocked_dte(&self) -> bool {
        false
    }
}

/// NL7-SHORT: an NL = 7 page is written with one replica too few, so the last slot of the
/// page keeps what it held (Linux `PAGE_SIZE_PTE_COUNT` off by one).
#[derive(Debug, Default)]
pub(super) struct ReplicaShort;

impl Seams for ReplicaShort {
    fn replicas_written(&self, replicas: u64) -> u64 {
        replicas - 1
    }
}

/// F2-RANGE: a range operation invalidates only its first page instead of the
/// block covering everything it changed (one page's flush left from a loop of single-page
/// operations).
#[derive(Debug, Default)]
pub(super) struct FlushFirstPage;

impl Seams for FlushFirstPage {
    fn invalidated(&self, _: (u64, u32), first_page: (u64, u32)) -> (u64, u32) {
        first_page
    }
}

/// NL7-PARTIAL (Linux "iommu/amd: Unmap all L7 PTEs when downgrading page-sizes", the bug it
/// fixed; bug-patterns.md L1): changing part of an NL = 7 page rewrites only the replica on the
/// walk path; the sibling replicas keep describing the whole old page, which hardware may
/// cache from any of them.
#[derive(Debug, Default)]
pub(super) struct PartialSplit;

impl Seams for PartialSplit {
    fn split_whole_page(&self) -> bool {
        false
    }
}

/// S1 XEN-SPLIT-BLANK-FIRST (Xen 2a758376f9, the bug it fixed; bug-patterns.md S1): shattering
/// a superpage links the new, empty table into the live parent first and fills its 512
/// entries afterwards, so the walker finds holes inside a superpage nobody unmapped.
#[derive(Debug, Default)]
pub(super) struct BlankFirstSplit;

impl Seams for BlankFirstSplit {
    fn fill_before_link(&self) -> bool {
        false
    }
}

/// DTE qword 0, by field (amd-vi.md 1): V and TV (bits 0, 1), IR and IW (bits 61, 62).
const DTE_ENABLE: u64 = 0b11 | (0b11 << 61);
/// DTE qword 0: the root table's address, bits 51:12.
const DTE_ROOT: u64 = 0x000f_ffff_ffff_f000;
/// DTE qword 0: the paging mode, bits 11:9.
const DTE_MODE: u64 = 0b111 << 9;

/// A2 XEN-XSA347-DTE-ORDER (Xen 0514a3a25f, the bug it fixed; bug-patterns.md A2): DTE qword
/// 0 is written field by field, the enable bits (V, TV, IR, IW) first, then the root, then the
/// mode. Retargeting a device at a grown table, the walker sees the new root with the old
/// mode; assigning a blocked device, it sees translation enabled with mode 0 (untranslated
/// access) before the root and mode arrive.
#[derive(Debug, Default)]
pub(super) struct DteFieldwise;

impl Seams for DteFieldwise {
    fn dte_word0_fields(&self) -> &'static [u64] {
        &[DTE_ENABLE, DTE_ROOT, DTE_MODE]
    }
}

/// D6 LNX-AMD-PUBLISH-BEFORE-DTE (Linux 19c6978fba68, the bug it fixed; bug-patterns.md D6):
/// growth publishes the new top, and lets go of the domain lock, before it rewrites the DTEs.
/// Another CPU can then map a DFN only the new root reaches and return, while a device's DTE
/// still holds the old root and mode: its DMA to that mapped DFN faults.
#[derive(Debug, Default)]
pub(super) struct PublishFirst;

impl Seams for PublishFirst {
    fn top_before_dtes(&self) -> bool {
        true
    }
}

/// SEED-GROW-IN-MAP (Xen 2011-2019, the lock bug Jan Beulich's 2019 series reworked): growing
/// in map with Xen's device locking. Map grows holding only the mapping lock, walks the
/// device list and rewrites DTEs that belong to the devices lock, while assign (under the
/// devices lock alone) may be between reading the top and writing its DTE.
#[derive(Debug, Default)]
pub(super) struct GrowInMapXenLocks;

impl Seams for GrowInMapXenLocks {
    fn xen_device_locks(&self) -> bool {
        true
    }
}

/// D3 GROW-UNLOCKED: growing in map, the need is tested and the table grown before the
/// domain lock is taken: two growers can each publish a chain built on the same old root, and
/// the first one's level (with what was mapped through it) is lost.
#[derive(Debug, Default)]
pub(super) struct GrowUnlocked;

impl Seams for GrowUnlocked {
    fn in_map_growth(&self) -> InMapGrowth {
        InMapGrowth::NoLock
    }
}

/// D4 RECHECK-OUTSIDE (Linux before "iommu/amd: Fix race in increase_address_space()",
/// 2019): while the need for growth, tested with no lock, holds, the table grows one level
/// under the domain lock without testing again, so two racing maps grow it twice (too tall,
/// or a legal map fails at the maximum height).
#[derive(Debug, Default)]
pub(super) struct RecheckOutside;

impl Seams for RecheckOutside {
    fn in_map_growth(&self) -> InMapGrowth {
        InMapGrowth::TestOutsideLock
    }
}

/// D5 TOP-TWO-CELLS (the class Linux's generic_pt conversion names: AMD "stores the top level
/// and top pointer in different memory"): root and height kept in two cells written in two
/// steps, and unmap reads them before taking the lock: between a grower's two stores it walks
/// the new root with the old height.
#[derive(Debug, Default)]
pub(super) struct TopTwoCells;

impl Seams for TopTwoCells {
    fn top_in_two_cells(&self) -> bool {
        true
    }

    fn unmap_reads_top_unlocked(&self) -> bool {
        true
    }
}
