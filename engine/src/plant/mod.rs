//! Planted bugs: real bug patterns (`shared/reference/bug-patterns.md`) compiled into the
//! implementations behind the `planted-bugs` feature and selected at run time, to prove that
//! each check of the suite can fire.
//!
//! Without the feature, [`Plant::is`] is a constant `false` and the bug code is removed by the
//! compiler; [`Plant::select`] then refuses every bug.

use std::fmt;
use std::str::FromStr;
use thiserror::Error;

/// One planted bug. The doc of each variant says where it lives and what it breaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PlantedBug {
    /// D1 (XSA-311): `dynamic` growth rewrites the DTEs of the devices that were assigned when
    /// the domain first grew (a stale device list); devices assigned later keep the old root
    /// and mode.
    D1StaleDeviceList,
    /// D4 (Linux 46ac18c347b0): `dynamic` notify grows one level without re-checking whether
    /// the DFN is already covered: tables get taller than needed and a legal notify at the
    /// maximum height fails.
    D4GrowNoRecheck,
    /// R2 (XSA-445): `fixed` builds 4 levels but programs DTEs with mode 3, so the walk stops
    /// one level early and translates to table frames.
    R2QuarantineLevels,
    /// S5 (Linux dce043c07ca1): `fixed`, when installing a superpage, also clears the next
    /// entry of the same table: a neighbouring mapping silently disappears.
    S5SuperpageOverclear,
    /// T2 (XSA-386): `fixed` deassign returns before blocking the DTE, so a deassigned device
    /// still reaches the domain's memory, and after teardown walks freed tables.
    T2DeassignKeepsDte,
    /// Xen b8238afd07 (the bug it fixed): `dynamic` shattering a superpage gives the smaller
    /// pages read/write instead of the superpage's permissions.
    SplitGrantsRw,
    /// Xen ad591454f0 (the bug it fixed): `dynamic` unmap beyond the current height grows the
    /// table instead of being a no-op.
    UnmapGrows,
    /// F2 (Xen ba9b5a09da): `fixed` unmap clears the PTE but issues no INVALIDATE_IOMMU_PAGES,
    /// so the IOTLB keeps translating the unmapped page.
    F2UnmapNoFlush,
    /// T2 class (XSA-386, stale DTE): `dynamic` deassign blocks the DTE in memory but never
    /// invalidates the IOMMU's cached copy, so the device keeps its old root.
    T2StaleDteCache,
    /// D1 (XSA-311, the leak): `dynamic` growth that fails part-way frees none of the tables
    /// it allocated for the new levels.
    D1GrowLeak,
}

impl PlantedBug {
    /// Every planted bug.
    pub const ALL: [PlantedBug; 10] = [
        PlantedBug::D1StaleDeviceList,
        PlantedBug::D4GrowNoRecheck,
        PlantedBug::R2QuarantineLevels,
        PlantedBug::S5SuperpageOverclear,
        PlantedBug::T2DeassignKeepsDte,
        PlantedBug::SplitGrantsRw,
        PlantedBug::UnmapGrows,
        PlantedBug::F2UnmapNoFlush,
        PlantedBug::T2StaleDteCache,
        PlantedBug::D1GrowLeak,
    ];

    /// The short name used on the command line and in `PTDIFF_PLANT`.
    pub fn id(self) -> &'static str {
        match self {
            PlantedBug::D1StaleDeviceList => "D1",
            PlantedBug::D4GrowNoRecheck => "D4",
            PlantedBug::R2QuarantineLevels => "R2",
            PlantedBug::S5SuperpageOverclear => "S5",
            PlantedBug::T2DeassignKeepsDte => "T2",
            PlantedBug::SplitGrantsRw => "SPLIT-RW",
            PlantedBug::UnmapGrows => "UNMAP-GROW",
            PlantedBug::F2UnmapNoFlush => "F2",
            PlantedBug::T2StaleDteCache => "T2-CACHE",
            PlantedBug::D1GrowLeak => "D1-LEAK",
        }
    }

    /// What the bug breaks, in one line.
    pub fn summary(self) -> &'static str {
        match self {
            PlantedBug::D1StaleDeviceList => {
                "growth skips DTEs of devices assigned after the first growth"
            }
            PlantedBug::D4GrowNoRecheck => {
                "notify grows even when the DFN is covered; fails at max height"
            }
            PlantedBug::R2QuarantineLevels => {
                "DTE mode 3 over a 4-level table (walk ends one level early)"
            }
            PlantedBug::S5SuperpageOverclear => "installing a superpage also clears the next entry",
            PlantedBug::T2DeassignKeepsDte => {
                "deassign leaves the DTE pointing at the domain's tables"
            }
            PlantedBug::SplitGrantsRw => "shattering a superpage grants read/write to the pieces",
            PlantedBug::UnmapGrows => "unmap beyond the height grows the table",
            PlantedBug::F2UnmapNoFlush => "unmap issues no IOTLB invalidation",
            PlantedBug::T2StaleDteCache => "deassign does not invalidate the cached DTE",
            PlantedBug::D1GrowLeak => "a growth that fails part-way leaks its new tables",
        }
    }

    /// The implementation the bug is planted in.
    pub fn implementation(self) -> &'static str {
        match self {
            PlantedBug::D1StaleDeviceList
            | PlantedBug::D4GrowNoRecheck
            | PlantedBug::SplitGrantsRw
            | PlantedBug::UnmapGrows
            | PlantedBug::T2StaleDteCache
            | PlantedBug::D1GrowLeak => "dynamic",
            PlantedBug::R2QuarantineLevels
            | PlantedBug::S5SuperpageOverclear
            | PlantedBug::T2DeassignKeepsDte
            | PlantedBug::F2UnmapNoFlush => "fixed",
        }
    }
}

impl fmt::Display for PlantedBug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// A planted-bug name that is unknown, or a bug requested in a build without `planted-bugs`.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum PlantError {
    #[error("unknown planted bug `{0}` (known: D1, D4, R2, S5, T2, SPLIT-RW, UNMAP-GROW, F2, T2-CACHE, D1-LEAK)")]
    Unknown(String),
    #[error("planted bug {0} requested, but ptdiff was built without the `planted-bugs` feature")]
    NotCompiled(PlantedBug),
}

impl FromStr for PlantedBug {
    type Err = PlantError;

    /// Parses an id as printed by [`PlantedBug::id`], case-insensitively.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PlantedBug::ALL
            .into_iter()
            .find(|b| b.id().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| PlantError::Unknown(s.to_string()))
    }
}

/// Which planted bug (at most one) is active in an implementation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Plant(Option<PlantedBug>);

impl Plant {
    /// No planted bug: the implementations as intended.
    pub const NONE: Plant = Plant(None);

    /// Activates `bug`; fails when the build lacks the `planted-bugs` feature.
    pub fn select(bug: PlantedBug) -> Result<Plant, PlantError> {
        if cfg!(feature = "planted-bugs") {
            Ok(Plant(Some(bug)))
        } else {
            Err(PlantError::NotCompiled(bug))
        }
    }

    /// The active bug, if any.
    pub fn bug(self) -> Option<PlantedBug> {
        self.0
    }

    /// True when `bug` is active. Always false without the `planted-bugs` feature.
    #[inline(always)]
    pub fn is(self, bug: PlantedBug) -> bool {
        cfg!(feature = "planted-bugs") && self.0 == Some(bug)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip() {
        for bug in PlantedBug::ALL {
            assert_eq!(bug.id().to_lowercase().parse::<PlantedBug>(), Ok(bug));
        }
        assert_eq!("X9".parse::<PlantedBug>(), Err(PlantError::Unknown("X9".into())));
    }

    #[test]
    fn selection_depends_on_the_feature() {
        let selected = Plant::select(PlantedBug::D1StaleDeviceList);
        if cfg!(feature = "planted-bugs") {
            assert!(selected.unwrap().is(PlantedBug::D1StaleDeviceList));
        } else {
            assert_eq!(selected, Err(PlantError::NotCompiled(PlantedBug::D1StaleDeviceList)));
        }
        assert!(!Plant::NONE.is(PlantedBug::D1StaleDeviceList));
    }
}
