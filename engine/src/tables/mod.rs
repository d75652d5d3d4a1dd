//! The built-in page-table implementations under test, one folder each, sharing no table code
//! (only the substrate), and their registry by name ([`BUILT_IN`]), from which the runner
//! creates the tables it compares. A third built-in table is one more line in [`BUILT_IN`].

pub mod dynamic;
pub mod fixed;

use crate::substrate::frames::Placement;
use crate::table::{PageTable, PtError};
use dynamic::{Dynamic, DynamicConfig};
use fixed::Fixed;

/// Where a table that grows does so (`growth=` in the scenario config).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Growth {
    /// Only when told, by `notify_dfn` (Xen 2019, Jan Beulich's hook): a map beyond the
    /// height fails with [`PtError::BeyondHeight`].
    #[default]
    Notify,
    /// Inside map, under the domain lock, as Linux's `increase_address_space` (2020): a map
    /// beyond the height grows the table first (notify still grows too).
    InMap,
}

impl Growth {
    /// Every mode, in the order of [`GROWTH_WORDS`].
    pub const ALL: [Growth; 2] = [Growth::Notify, Growth::InMap];
}

/// The words of `growth=`, in the order of [`Growth::ALL`].
pub const GROWTH_WORDS: &[&str] = &["notify", "in-map"];

/// What the runner knows when it creates a table: the scenario's heights, the domain and where
/// table frames are placed. Each table takes what applies to it (the fixed table only the
/// domain and the placement).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TableConfig {
    /// Levels at creation, for a table that grows.
    pub initial_levels: u8,
    /// Highest height a growing table may reach.
    pub max_levels: u8,
    /// Domain ID written into DTEs.
    pub domain: u16,
    /// Where the table's [`crate::Iommu`] places fresh table frames.
    pub placement: Placement,
    /// Whether a table that can map every page size AMD-Vi v1 encodes does
    /// ([`crate::table::PageOrders::ALL`]); off, tables map 4 KiB, 2 MiB and 1 GiB pages.
    pub all_page_sizes: bool,
    /// Where a table that grows does so.
    pub growth: Growth,
}

impl From<TableConfig> for DynamicConfig {
    fn from(c: TableConfig) -> DynamicConfig {
        DynamicConfig {
            initial_levels: c.initial_levels,
            max_levels: c.max_levels,
            domain: c.domain,
            all_page_sizes: c.all_page_sizes,
            growth: c.growth,
        }
    }
}

/// Creates a fresh table (nothing mapped, nothing assigned), or says why it cannot.
pub type Build = fn(TableConfig) -> Result<Box<dyn PageTable>, PtError>;

/// One built-in table.
#[derive(Clone, Copy, Debug)]
pub struct BuiltIn {
    /// The name the table reports ([`PageTable::name`]) and findings carry.
    pub name: &'static str,
    /// What it models, in one line.
    pub description: &'static str,
    /// Its constructor.
    pub build: Build,
}

/// Every built-in table, in the order the runner applies each operation to them.
pub const BUILT_IN: &[BuiltIn] = &[
    BuiltIn {
        name: "dynamic",
        description: "Xen 2011-2019: starts low and grows on notify_dfn, 1 to 6 levels; every page size (NL = 7) with all_page_sizes",
        build: |c| {
            Ok(Box::new(Dynamic::with_seams(c.into(), c.placement, dynamic::Correct)?.boxed()))
        },
    },
    BuiltIn {
        name: "fixed",
        description: "Xen 4.13: always 4 levels, superpages split, emptied tables freed",
        build: |c| Ok(Box::new(Fixed::with_seams(c.domain, c.placement, fixed::Correct)?.boxed())),
    },
];

/// The built-in table called `name`.
pub fn built_in(name: &str) -> Option<&'static BuiltIn> {
    BUILT_IN.iter().find(|t| t.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: TableConfig = TableConfig {
        initial_levels: 2,
        max_levels: 5,
        domain: 9,
        placement: Placement::Low,
        all_page_sizes: false,
        growth: Growth::Notify,
    };

    #[test]
    fn every_built_in_table_builds_fresh_under_its_name() {
        let names: Vec<&str> = BUILT_IN.iter().map(|t| t.name).collect();
        assert_eq!(names, ["dynamic", "fixed"]);
        for table in BUILT_IN {
            let t = (table.build)(CONFIG).unwrap();
            assert_eq!((t.name(), t.domain_id()), (table.name, 9));
            assert_eq!(t.iommu().frames().live_tables(9).count(), 1, "{}: one root", table.name);
            assert!(t.iommu().commands().is_empty());
            assert!(!table.description.is_empty());
        }
        let heights = |name| built_in(name).map(|t| (t.build)(CONFIG).unwrap().levels());
        assert_eq!((heights("dynamic"), heights("fixed")), (Some(2), Some(4)));
        assert!(built_in("other").is_none());
    }

    #[test]
    fn a_bad_config_is_an_error_of_the_table_it_concerns() {
        let bad = TableConfig {
            initial_levels: 5,
            max_levels: 4,
            domain: 1,
            placement: Placement::Low,
            all_page_sizes: false,
            growth: Growth::Notify,
        };
        let built: Vec<_> = BUILT_IN.iter().map(|t| (t.build)(bad).err()).collect();
        assert_eq!(built, [Some(PtError::BadHeight { initial_levels: 5, max_levels: 4 }), None]);
    }

    #[test]
    fn every_built_in_table_places_its_frames_as_configured() {
        for table in BUILT_IN {
            let high = TableConfig { placement: Placement::High, ..CONFIG };
            let t = (table.build)(high).unwrap();
            let root = t.root().unwrap();
            assert_eq!(root, ((1 << 40) - 1) << 12, "{}: the root is the top frame", table.name);
            let low = (table.build)(CONFIG).unwrap().root();
            assert_eq!(low, Some(0x4000_0000), "{}: the first frame of the pool", table.name);
        }
    }
}
