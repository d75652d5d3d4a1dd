//! The catalogue of planted bugs: one entry per bug, stated once. The CLI's `plants` listing,
//! the README's planted-bug table (a test keeps them equal), `engine/tests/planted.rs` and
//! `cargo xtask bench-planted` all read it.
//!
//! An entry names the bug (its [`PlantedBug`] variant and doc), its short id, the built-in
//! table the runner plants it in, a one-line summary, the check its scenario must fire, that
//! scenario (a file of `corpus/scenarios/`, whose `# catches:` header says the same), and how
//! it is planted (a [`Mechanism`](super::Mechanism), compiled only with `planted-bugs`).

use crate::check::finding::Check;

/// Declares [`PlantedBug`] and its catalogue from one list of entries.
macro_rules! catalogue {
    ($(
        $(#[doc = $doc:literal])*
        $bug:ident {
            id: $id:literal,
            implementation: $implementation:literal,
            check: $check:ident,
            scenario: $scenario:literal,
            summary: $summary:literal,
            planted: $mechanism:expr $(,)?
        }
    ),* $(,)?) => {
        /// One planted bug. The doc of each variant says where it comes from and what it breaks.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum PlantedBug {
            $( $(#[doc = $doc])* $bug, )*
        }

        impl PlantedBug {
            /// Every planted bug, in catalogue order.
            pub const ALL: [PlantedBug; [$(stringify!($bug)),*].len()] = [$(PlantedBug::$bug),*];

            /// The short name used on the command line, in `PTDIFF_PLANT` and in headers.
            pub fn id(self) -> &'static str {
                match self { $( PlantedBug::$bug => $id, )* }
            }

            /// The built-in table the bug is planted in.
            pub fn implementation(self) -> &'static str {
                match self { $( PlantedBug::$bug => $implementation, )* }
            }

            /// What the bug breaks, in one line.
            pub fn summary(self) -> &'static str {
                match self { $( PlantedBug::$bug => $summary, )* }
            }

            /// The check the bug's scenario must fire.
            pub fn check(self) -> Check {
                match self { $( PlantedBug::$bug => Check::$check, )* }
            }

            /// The file of `corpus/scenarios/` written to catch the bug.
            pub fn scenario(self) -> &'static str {
                match self { $( PlantedBug::$bug => $scenario, )* }
            }

            /// True when only a concurrent run can show the bug: its scenario is a
            /// concurrent one (`conc-*.scn`, [`crate::conc`]), and the concurrent runner and
            /// fuzz target find it, not the sequential ones.
            pub fn concurrent(self) -> bool {
                self.scenario().starts_with("conc-")
            }

            /// How the bug is planted.
            #[cfg(feature = "planted-bugs")]
            pub(super) fn mechanism(self) -> super::Mechanism {
                match self { $( PlantedBug::$bug => $mechanism, )* }
            }
        }
    };
}

catalogue! {
    /// D1 (XSA-311): `dynamic` growth rewrites the DTEs of the devices that were assigned when
    /// the domain first grew (a stale device list); devices assigned later keep the old root
    /// and mode.
    D1StaleDeviceList {
        id: "D1",
        implementation: "dynamic",
        check: Dte,
        scenario: "growth_several_devices.scn",
        summary: "growth skips DTEs of devices assigned after the first growth",
        planted: super::dynamic::variant::<super::dynamic::StaleDeviceList>(),
    },
    /// D4 (Linux 46ac18c347b0): `dynamic` notify grows one level without re-checking whether
    /// the DFN is already covered: tables get taller than needed and a legal notify at the
    /// maximum height fails.
    D4GrowNoRecheck {
        id: "D4",
        implementation: "dynamic",
        check: Height,
        scenario: "growth_through_notify.scn",
        summary: "notify grows even when the DFN is covered; fails at max height",
        planted: super::dynamic::variant::<super::dynamic::GrowNoRecheck>(),
    },
    /// D7 (Linux 5b8a9a047b6c, the bug it fixed): `dynamic` growth loops until the table is
    /// as high as needed, and a round never builds the last level: a notify that needs the
    /// maximum height re-reads the top forever. The step budget stops it.
    D7GrowLoopForever {
        id: "D7",
        implementation: "dynamic",
        check: StepBudget,
        scenario: "growth_to_max_height.scn",
        summary: "growth never builds the last level and loops forever",
        planted: super::dynamic::variant::<super::dynamic::GrowLoop>(),
    },
    /// R2 (XSA-445): `fixed` builds 4 levels but programs DTEs with mode 3, so the walk stops
    /// one level early and translates to table frames.
    R2QuarantineLevels {
        id: "R2",
        implementation: "fixed",
        check: Dte,
        scenario: "growth_through_notify.scn",
        summary: "DTE mode 3 over a 4-level table (walk ends one level early)",
        planted: super::fixed::variant::<super::fixed::ModeOneShort>(),
    },
    /// S5 (Linux dce043c07ca1): installing a superpage also clears the next entry of the same
    /// table, as if the cleared range were rounded up: a neighbouring mapping silently
    /// disappears. Planted in `fixed` as a wrapper, so it applies to any table.
    S5SuperpageOverclear {
        id: "S5",
        implementation: "fixed",
        check: Translation,
        scenario: "neighbour_superpages.scn",
        summary: "installing a superpage also clears the next entry",
        planted: super::boundary::wrapper::<super::boundary::Overclear>(),
    },
    /// T2 (XSA-386): `fixed` deassign returns before blocking the DTE, so a deassigned device
    /// still reaches the domain's memory, and after teardown walks freed tables.
    T2DeassignKeepsDte {
        id: "T2",
        implementation: "fixed",
        check: UnassignedAccess,
        scenario: "deassign_blocks.scn",
        summary: "deassign leaves the DTE pointing at the domain's tables",
        planted: super::fixed::variant::<super::fixed::DeassignKeepsDte>(),
    },
    /// Xen b8238afd07 (the bug it fixed): `dynamic` shattering a superpage gives the smaller
    /// pages read/write instead of the superpage's permissions.
    SplitGrantsRw {
        id: "SPLIT-RW",
        implementation: "dynamic",
        check: Translation,
        scenario: "superpage_split.scn",
        summary: "shattering a superpage grants read/write to the pieces",
        planted: super::dynamic::variant::<super::dynamic::SplitGrantsRw>(),
    },
    /// Xen ad591454f0 (the bug it fixed): unmap beyond the current height grows the table
    /// instead of being a no-op. Planted in `dynamic` as a wrapper, so it applies to any table.
    UnmapGrows {
        id: "UNMAP-GROW",
        implementation: "dynamic",
        check: Height,
        scenario: "unmap_beyond_height.scn",
        summary: "unmap beyond the height grows the table",
        planted: super::boundary::wrapper::<super::boundary::UnmapGrows>(),
    },
    /// F2 (Xen ba9b5a09da): `fixed` unmap clears the PTE but issues no
    /// INVALIDATE_IOMMU_PAGES, so the IOTLB keeps translating the unmapped page.
    F2UnmapNoFlush {
        id: "F2",
        implementation: "fixed",
        check: StaleIotlb,
        scenario: "iotlb_flush.scn",
        summary: "unmap issues no IOTLB invalidation",
        planted: super::fixed::variant::<super::fixed::UnmapNoFlush>(),
    },
    /// T2 class (XSA-386, stale DTE): `dynamic` deassign blocks the DTE in memory but never
    /// invalidates the IOMMU's cached copy, so the device keeps its old root.
    T2StaleDteCache {
        id: "T2-CACHE",
        implementation: "dynamic",
        check: StaleDte,
        scenario: "stale_dte.scn",
        summary: "deassign does not invalidate the cached DTE",
        planted: super::dynamic::variant::<super::dynamic::StaleDteCache>(),
    },
    /// D1 (XSA-311, the leak): `dynamic` growth that fails part-way frees none of the tables
    /// it allocated for the new levels.
    D1GrowLeak {
        id: "D1-LEAK",
        implementation: "dynamic",
        check: FailureNotClean,
        scenario: "alloc_failure.scn",
        summary: "a growth that fails part-way leaks its new tables",
        planted: super::dynamic::variant::<super::dynamic::GrowLeak>(),
    },
    /// A range flush one page short (its page count off by one): `dynamic` unmapping a whole
    /// superpage invalidates all its pages but the last. AMD's cache model, which drops every
    /// cached page an invalidation overlaps, cannot see it; the portable flush rule does.
    /// Planted as a wrapper, so it applies to any table.
    FlushAllButLast {
        id: "FLUSH-LAST",
        implementation: "dynamic",
        check: Flush,
        scenario: "flush_superpage_last_page.scn",
        summary: "unmapping a superpage flushes all its pages but the last",
        planted: super::boundary::wrapper::<super::boundary::FlushAllButLast>(),
    },
    /// A table address kept in 32 bits: `fixed` PDEs lose address bits 51:32, harmless while
    /// every table is below 4 GiB (the default placement), fatal above. Planted as a wrapper,
    /// so it applies to any table.
    Pde32 {
        id: "PDE-32",
        implementation: "fixed",
        check: Ledger,
        scenario: "high_tables.scn",
        summary: "PDEs keep only address bits 31:12 of their table",
        planted: super::boundary::wrapper::<super::boundary::Pde32>(),
    },
    /// RANGE-STOP: `fixed` installs a range only up to the end of the first table of its
    /// leaf level and reports success: the pages beyond the table boundary stay unmapped (or
    /// mapped as before).
    RangeStopsAtTable {
        id: "RANGE-STOP",
        implementation: "fixed",
        check: Translation,
        scenario: "range_across_tables.scn",
        summary: "a range stops at the first table boundary",
        planted: super::fixed::variant::<super::fixed::StopsAtTable>(),
    },
    /// NL7-SHORT: `dynamic` writes an NL = 7 page with one replica too few; the page's last
    /// slot keeps its old entry.
    Nl7ReplicaShort {
        id: "NL7-SHORT",
        implementation: "dynamic",
        check: Translation,
        scenario: "page_sizes.scn",
        summary: "an NL = 7 page is written with one replica too few",
        planted: super::dynamic::variant::<super::dynamic::ReplicaShort>(),
    },
    /// NL7-PARTIAL (Linux, the bug "iommu/amd: Unmap all L7 PTEs when downgrading
    /// page-sizes" fixed): `dynamic` changes one entry of an NL = 7 page without splitting the
    /// others, whose stale size lets the IOTLB cache the old page over the changed part.
    Nl7PartialSplit {
        id: "NL7-PARTIAL",
        implementation: "dynamic",
        check: StaleIotlb,
        scenario: "page_sizes.scn",
        summary: "changing part of an NL = 7 page leaves its other replicas",
        planted: super::dynamic::variant::<super::dynamic::PartialSplit>(),
    },
    /// F2-RANGE: `dynamic` invalidates only the first page of a range, so the IOTLB
    /// keeps the old translations of the pages after it.
    RangeFlushFirstPage {
        id: "F2-RANGE",
        implementation: "dynamic",
        check: StaleIotlb,
        scenario: "range_flush.scn",
        summary: "a range flush covers only its first page",
        planted: super::dynamic::variant::<super::dynamic::FlushFirstPage>(),
    },
    /// RANGE-DONE: a range map that fails part-way reports no page done, though it mapped
    /// some and allocated their tables. Planted in `fixed` as a wrapper, so it applies to any
    /// table.
    RangeHidesProgress {
        id: "RANGE-DONE",
        implementation: "fixed",
        check: FailureNotClean,
        scenario: "range_failure.scn",
        summary: "a range that fails part-way reports no page done",
        planted: super::boundary::wrapper::<super::boundary::HidesProgress>(),
    },
    /// A1 (XSA-347, Xen 3b055121c5): `fixed` writes each 64-bit entry as two 32-bit halves,
    /// low half (present bit, address bits 31:12) first: a hardware walk between the two
    /// stores sees the new address with the old permissions. Concurrent: only a walk between
    /// two stores shows it (a shadow walk).
    A1TornPte {
        id: "A1-TORN-PTE",
        implementation: "fixed",
        check: Linearizability,
        scenario: "conc-torn-pte.scn",
        summary: "an entry is written as two 32-bit halves, address first",
        planted: super::fixed::variant::<super::fixed::TornEntry>(),
    },
    /// A2 (XSA-347, Xen 0514a3a25f): `dynamic` writes DTE qword 0 field by field, enable bits,
    /// then root, then mode: a hardware walk between the stores walks the new root with the
    /// old mode (after growth) or passes untranslated (on assign). Concurrent: only a walk
    /// between two stores shows it (a shadow walk).
    A2DteFieldwise {
        id: "A2-DTE-FIELDWISE",
        implementation: "dynamic",
        check: Linearizability,
        scenario: "conc-dte-fieldwise.scn",
        summary: "DTE qword 0 is written field by field: enable bits, root, mode",
        planted: super::dynamic::variant::<super::dynamic::DteFieldwise>(),
    },
    /// S1 (Xen 2a758376f9): `dynamic` shattering a superpage links the empty table first and
    /// fills it after: a hardware walk in between finds a hole inside the superpage.
    /// Concurrent: only a walk between two stores shows it (a shadow walk).
    S1BlankFirst {
        id: "S1-BLANK-FIRST",
        implementation: "dynamic",
        check: Linearizability,
        scenario: "conc-split-blank-first.scn",
        summary: "a split links the empty table first, then fills it",
        planted: super::dynamic::variant::<super::dynamic::BlankFirstSplit>(),
    },
    /// D6 (Linux 19c6978fba68): `dynamic` growth publishes the new top and releases the
    /// domain lock before it rewrites the DTEs: a map of a DFN only the new root reaches, from
    /// another CPU, returns while a device's DTE still has the old root and mode. Concurrent:
    /// only that interleaving shows it.
    D6PublishFirst {
        id: "D6-PUBLISH-FIRST",
        implementation: "dynamic",
        check: Linearizability,
        scenario: "conc-publish-first.scn",
        summary: "growth publishes the top and unlocks before rewriting the DTEs",
        planted: super::dynamic::variant::<super::dynamic::PublishFirst>(),
    },
    /// SEED-GROW-IN-MAP (Xen 2011-2019; Jan Beulich, "AMD/IOMMU: re-work mode updating",
    /// 2019): `dynamic` growing in map with Xen's locks: map grows holding only the mapping
    /// lock while a device is assigned under the devices lock alone. The lock rules see it on
    /// any schedule; without them, a stale DTE after one preemption inside assign.
    SeedGrowInMap {
        id: "SEED-GROW-IN-MAP",
        implementation: "dynamic",
        check: LockRule,
        scenario: "conc-seed-grow-in-map.scn",
        summary: "map grows holding only the mapping lock while a device is assigned",
        planted: super::dynamic::variant::<super::dynamic::GrowInMapXenLocks>(),
    },
    /// D3: `dynamic` growing in map tests and grows before taking the domain lock; two
    /// growers lose a level.
    D3GrowUnlocked {
        id: "D3-GROW-UNLOCKED",
        implementation: "dynamic",
        check: LockRule,
        scenario: "conc-d3-grow-unlocked.scn",
        summary: "growth in map takes no lock",
        planted: super::dynamic::variant::<super::dynamic::GrowUnlocked>(),
    },
    /// D4 (Linux "iommu/amd: Fix race in increase_address_space()", the race it fixed): `dynamic` growing in map tests the need
    /// before the lock and grows one level under it without testing again. It breaks no lock
    /// rule: only an interleaving shows it.
    D4RecheckOutside {
        id: "D4-RECHECK-OUTSIDE",
        implementation: "dynamic",
        check: Linearizability,
        scenario: "conc-d4-recheck-outside.scn",
        summary: "the needs-growth test is made outside the lock",
        planted: super::dynamic::variant::<super::dynamic::RecheckOutside>(),
    },
    /// D5: `dynamic` keeps root and height in two cells written in two steps, and unmap reads
    /// them without the lock.
    D5TopTwoCells {
        id: "D5-TOP-TWO-CELLS",
        implementation: "dynamic",
        check: LockRule,
        scenario: "conc-d5-top-two-cells.scn",
        summary: "root and height stored in two steps, read lock-free",
        planted: super::dynamic::variant::<super::dynamic::TopTwoCells>(),
    },
}
