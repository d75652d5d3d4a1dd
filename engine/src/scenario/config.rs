//! The domain set-up a scenario runs under, and [`CONFIG_KEYS`]: the one table of its keys in
//! the text format's `config` line (key, kind of value, getter and setter; defaults come from
//! [`Config::default`]). The text parser, printer and fuzz dictionary read the table; the op
//! table's gates name its switches.
//!
//! To add a key: a field of [`Config`] (with its default), then a row appended to
//! [`CONFIG_KEYS`] with `always_printed: false`, so every scenario printed before keeps its
//! form (the key is printed only when it differs from its default).

use crate::scenario::{ScenarioError, MAX_DEVICES};
use crate::substrate::frames::Placement;
use crate::tables::{Growth, GROWTH_WORDS};

/// How the domain under test is set up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Config {
    /// Height of the dynamic table at creation, 1..=6.
    pub initial_levels: u8,
    /// Height the dynamic table may grow to, 4..=6 (4 + HATS); also the oracle's hardware
    /// maximum mode.
    pub max_levels: u8,
    /// Devices in the system, 1..=[`MAX_DEVICES`]; none is assigned at the start.
    pub devices: u8,
    /// Whether maps may use orders other than 0 (superpages: 9, 18, ...).
    pub superpages: bool,
    /// Whether maps may skip their notification (`missed`).
    pub missed_notifications: bool,
    /// Where every table's frames are placed in the 52-bit physical address space
    /// (`tables=`; see [`Placement`]).
    pub tables: TablePlacement,
    /// The seed of `tables=spread` (`table_seed=`); 0 with any other placement.
    pub table_seed: u64,
    /// Whether maps and unmaps may cover several pages (`count`).
    pub ranges: bool,
    /// Whether a table that can write every page size AMD-Vi v1 encodes (NL = 7 leaves) does
    /// so ([`crate::table::PageOrders::ALL`]); off, every table maps 4 KiB, 2 MiB and 1 GiB
    /// pages only.
    pub all_page_sizes: bool,
    /// Where a table that grows does so (`growth=notify`, the default, or `growth=in-map`):
    /// with in-map growth a map beyond the height grows the table, the runner makes no
    /// notification before maps, and a missed notification is no failure.
    pub growth: Growth,
}

/// The `tables=` key: a [`Placement`] without its seed, which is `table_seed=`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum TablePlacement {
    /// Consecutive frames from 1 GiB up: no table address has a bit of 51:32 set.
    #[default]
    Low,
    /// Consecutive frames down from the top of the 52-bit physical address space.
    High,
    /// Frames scattered over the whole physical address space by `table_seed`.
    Spread,
    /// Frames setting each of address bits 51:30 in turn, then bit patterns, then high.
    Adversarial,
}

impl TablePlacement {
    /// Every placement, in the order of [`TABLE_PLACEMENT_WORDS`].
    pub const ALL: [TablePlacement; 4] = [
        TablePlacement::Low,
        TablePlacement::High,
        TablePlacement::Spread,
        TablePlacement::Adversarial,
    ];
}

/// The words of `tables=`, in the order of [`TablePlacement::ALL`].
pub const TABLE_PLACEMENT_WORDS: &[&str] = &["low", "high", "spread", "adversarial"];

impl Default for Config {
    /// Xen HVM 2019: two levels, growing to four; two devices; superpages; no missed
    /// notifications; single pages of 4 KiB, 2 MiB and 1 GiB.
    fn default() -> Self {
        Config {
            initial_levels: 2,
            max_levels: 4,
            devices: 2,
            superpages: true,
            missed_notifications: false,
            tables: TablePlacement::Low,
            table_seed: 0,
            ranges: false,
            all_page_sizes: false,
            growth: Growth::Notify,
        }
    }
}

impl Config {
    /// Where the tables' frames come from: `tables=` with `table_seed=`.
    pub fn placement(&self) -> Placement {
        match self.tables {
            TablePlacement::Low => Placement::Low,
            TablePlacement::High => Placement::High,
            TablePlacement::Spread => Placement::Spread { seed: self.table_seed },
            TablePlacement::Adversarial => Placement::Adversarial,
        }
    }

    /// Checks the ranges documented on each field.
    pub fn validate(&self) -> Result<(), ScenarioError> {
        if !(1..=6).contains(&self.initial_levels) {
            return Err(ScenarioError::InitialLevels(self.initial_levels));
        }
        if !(4..=6).contains(&self.max_levels) {
            return Err(ScenarioError::MaxLevels(self.max_levels));
        }
        if self.initial_levels > self.max_levels {
            return Err(ScenarioError::InitialAboveMax {
                initial: self.initial_levels,
                max: self.max_levels,
            });
        }
        if !(1..=MAX_DEVICES).contains(&self.devices) {
            return Err(ScenarioError::Devices(self.devices));
        }
        if self.table_seed != 0 && self.tables != TablePlacement::Spread {
            return Err(ScenarioError::TableSeed(self.table_seed));
        }
        Ok(())
    }
}

/// What a config key's value is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigKind {
    /// A number from 0 to `max`; `what` names it in errors ("a level").
    Number { what: &'static str, max: u64 },
    /// `on` or `off` (also `true`/`false`, `yes`/`no`); 1 or 0 through `get` and `set`.
    Switch,
    /// One of `words`; its index in `words` through `get` and `set`.
    Choice { words: &'static [&'static str] },
}

/// One key of the `config` line.
#[derive(Clone, Copy, Debug)]
pub struct ConfigKey {
    pub key: &'static str,
    pub kind: ConfigKind,
    /// Printed in every canonical config line (the keys of the first format). Keys added later
    /// are printed only when they differ from their default.
    pub always_printed: bool,
    /// The key's value in `config` (switches as 0 or 1).
    pub get: fn(&Config) -> u64,
    /// Sets the key's value, already checked against its kind (saturating otherwise).
    pub set: fn(&mut Config, u64),
}

const LEVEL: ConfigKind = ConfigKind::Number { what: "a level", max: u8::MAX as u64 };

/// A number already checked against its key's `max`, saturating otherwise.
fn small(value: u64) -> u8 {
    u8::try_from(value).unwrap_or(u8::MAX)
}

/// The choice numbered `value` of `all` (not empty), the last one for any larger number.
fn choice<T: Copy>(all: &[T], value: u64) -> T {
    let last = all.len() - 1;
    all[usize::try_from(value).unwrap_or(last).min(last)]
}

/// Every key of the `config` line, in printing order. Append-only.
pub const CONFIG_KEYS: &[ConfigKey] = &[
    ConfigKey {
        key: "initial_levels",
        kind: LEVEL,
        always_printed: true,
        get: |c| c.initial_levels.into(),
        set: |c, v| c.initial_levels = small(v),
    },
    ConfigKey {
        key: "max_levels",
        kind: LEVEL,
        always_printed: true,
        get: |c| c.max_levels.into(),
        set: |c, v| c.max_levels = small(v),
    },
    ConfigKey {
        key: "devices",
        kind: ConfigKind::Number { what: "a device count", max: u8::MAX as u64 },
        always_printed: true,
        get: |c| c.devices.into(),
        set: |c, v| c.devices = small(v),
    },
    ConfigKey {
        key: "superpages",
        kind: ConfigKind::Switch,
        always_printed: true,
        get: |c| c.superpages.into(),
        set: |c, v| c.superpages = v != 0,
    },
    ConfigKey {
        key: "missed_notifications",
        kind: ConfigKind::Switch,
        always_printed: true,
        get: |c| c.missed_notifications.into(),
        set: |c, v| c.missed_notifications = v != 0,
    },
    ConfigKey {
        key: "tables",
        kind: ConfigKind::Choice { words: TABLE_PLACEMENT_WORDS },
        always_printed: false,
        get: |c| c.tables as u64,
        set: |c, v| c.tables = choice(&TablePlacement::ALL, v),
    },
    ConfigKey {
        key: "table_seed",
        kind: ConfigKind::Number { what: "a seed", max: u64::MAX },
        always_printed: false,
        get: |c| c.table_seed,
        set: |c, v| c.table_seed = v,
    },
    ConfigKey {
        key: "ranges",
        kind: ConfigKind::Switch,
        always_printed: false,
        get: |c| c.ranges.into(),
        set: |c, v| c.ranges = v != 0,
    },
    ConfigKey {
        key: "all_page_sizes",
        kind: ConfigKind::Switch,
        always_printed: false,
        get: |c| c.all_page_sizes.into(),
        set: |c, v| c.all_page_sizes = v != 0,
    },
    ConfigKey {
        key: "growth",
        kind: ConfigKind::Choice { words: GROWTH_WORDS },
        always_printed: false,
        get: |c| c.growth as u64,
        set: |c, v| c.growth = choice(&Growth::ALL, v),
    },
];

/// The row of `key`, if it is one.
pub fn config_key(key: &str) -> Option<&'static ConfigKey> {
    CONFIG_KEYS.iter().find(|k| k.key == key)
}

/// The index in [`CONFIG_KEYS`] of the switch `key`; a compile error when used in a constant
/// and `key` is not a switch.
pub(crate) const fn switch_index(key: &str) -> usize {
    let mut i = 0;
    while i < CONFIG_KEYS.len() {
        if str_eq(CONFIG_KEYS[i].key, key) {
            assert!(matches!(CONFIG_KEYS[i].kind, ConfigKind::Switch), "not a switch");
            return i;
        }
        i += 1;
    }
    panic!("no such config key")
}

/// String equality usable in constants.
pub(crate) const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config_is_valid() {
        assert_eq!(Config::default().validate(), Ok(()));
    }

    #[test]
    fn every_key_sets_what_it_gets() {
        let mut c = Config::default();
        for (n, key) in CONFIG_KEYS.iter().enumerate() {
            let value = match key.kind {
                ConfigKind::Number { .. } => 3 + n as u64,
                ConfigKind::Switch => 1 - (key.get)(&Config::default()),
                ConfigKind::Choice { words } => words.len() as u64 - 2,
            };
            (key.set)(&mut c, value);
            assert_eq!((key.get)(&c), value, "{}", key.key);
        }
        assert_eq!(
            c,
            Config {
                initial_levels: 3,
                max_levels: 4,
                devices: 5,
                superpages: false,
                missed_notifications: true,
                tables: TablePlacement::Spread,
                table_seed: 9,
                ranges: true,
                all_page_sizes: true,
                growth: Growth::Notify,
            }
        );
        assert_eq!(c.placement(), Placement::Spread { seed: 9 });
        assert_eq!(TablePlacement::ALL.len(), TABLE_PLACEMENT_WORDS.len());
    }

    #[test]
    fn a_table_seed_needs_the_spread_placement() {
        let seeded = Config { table_seed: 5, ..Config::default() };
        assert_eq!(seeded.validate(), Err(ScenarioError::TableSeed(5)));
        let spread = Config { tables: TablePlacement::Spread, ..seeded };
        assert_eq!(spread.validate(), Ok(()));
        assert_eq!(Config::default().placement(), Placement::Low);
        let high = Config { tables: TablePlacement::High, ..Config::default() };
        assert_eq!(high.placement(), Placement::High);
    }

    #[test]
    fn keys_are_unique_and_found() {
        for (i, key) in CONFIG_KEYS.iter().enumerate() {
            assert!(CONFIG_KEYS[..i].iter().all(|k| k.key != key.key), "{}", key.key);
            assert_eq!(config_key(key.key).map(|k| k.key), Some(key.key));
        }
        assert!(config_key("colour").is_none());
        assert_eq!(config_key("tables").map(|k| k.always_printed), Some(false));
        assert_eq!(switch_index("missed_notifications"), 4);
        assert!(str_eq("map", "map") && !str_eq("map", "mat") && !str_eq("map", "maps"));
    }
}
