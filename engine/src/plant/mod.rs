//! Planted bugs: real bug patterns (`shared/reference/bug-patterns.md`) planted into the
//! built-in tables at run time, to prove that each check of the suite can fire. The production
//! tables contain none of them; a planted bug is either
//!
//! - a **variant** of a table: each table is generic over its named decision points
//!   ([`tables::dynamic::Seams`](crate::tables::dynamic::Seams),
//!   [`tables::fixed::Seams`](crate::tables::fixed::Seams)), whose defaults are the correct
//!   choices; a bug is a type that makes one choice differently (`dynamic.rs`, `fixed.rs`
//!   here) and keeps any state it needs in itself; or
//! - a **wrapper** at the [`PageTable`] boundary, which changes what an operation does around
//!   the real one (`boundary.rs`, on the `Wrapper` of `wrapper.rs`); it fits a table of any
//!   implementation, a plug-in's too ([`Plant::wrap`]).
//!
//! The catalogue (`catalogue.rs`, the [`PlantedBug`] enum) states every bug once: id,
//! implementation, summary, the check its scenario must fire, that scenario, and how it is
//! planted. To add a bug: a seam (if the table lacks the decision point) and a variant, or a
//! wrapper; one catalogue entry; and a `# catches:` header line in the scenario that catches
//! it ([`crate::repro::expectation`]). Step-level bugs (a store split in two, two stores in
//! the wrong order) are seams of the tables' step code in the same way; only a concurrent run
//! shows them, so their scenarios are concurrent ones ([`PlantedBug::concurrent`]).
//!
//! The bug code is compiled only with the `planted-bugs` feature; without it
//! [`Plant::select`] refuses every bug and [`Plant::build`] is the registry's constructor.

mod catalogue;

#[cfg(feature = "planted-bugs")]
mod boundary;
#[cfg(feature = "planted-bugs")]
mod dynamic;
#[cfg(feature = "planted-bugs")]
mod fixed;
#[cfg(feature = "planted-bugs")]
mod wrapper;

pub use catalogue::PlantedBug;

use crate::table::{PageTable, PtError};
use crate::tables::{BuiltIn, TableConfig};
use std::fmt;
use std::str::FromStr;
use thiserror::Error;

/// How a planted bug gets into a table.
#[cfg(feature = "planted-bugs")]
#[derive(Clone, Copy)]
enum Mechanism {
    /// The bug's implementation, built as a variant (replaces the registry's constructor).
    Variant(crate::tables::Build),
    /// A wrapper around a table of any implementation.
    Wrapper(fn(Box<dyn PageTable>) -> Box<dyn PageTable>),
}

impl fmt::Display for PlantedBug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// The ids of every planted bug, comma-separated.
fn known_ids() -> String {
    PlantedBug::ALL.map(PlantedBug::id).join(", ")
}

/// Why a planted bug cannot be had.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum PlantError {
    #[error("unknown planted bug `{0}` (known: {known})", known = known_ids())]
    Unknown(String),
    #[error("planted bug {0} requested, but ptdiff was built without the `planted-bugs` feature")]
    NotCompiled(PlantedBug),
    #[error("planted bug {0} is a variant of the `{impl}` table; only wrappers fit other tables", impl = .0.implementation())]
    NotAWrapper(PlantedBug),
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

/// Which planted bug (at most one) the runner plants.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Plant(Option<PlantedBug>);

impl Plant {
    /// No planted bug: the tables as designed.
    pub const NONE: Plant = Plant(None);

    /// Plants `bug`; fails when the build lacks the `planted-bugs` feature.
    pub fn select(bug: PlantedBug) -> Result<Plant, PlantError> {
        if cfg!(feature = "planted-bugs") {
            Ok(Plant(Some(bug)))
        } else {
            Err(PlantError::NotCompiled(bug))
        }
    }

    /// The planted bug, if any.
    pub fn bug(self) -> Option<PlantedBug> {
        self.0
    }

    /// Creates the built-in table `table` with the bug planted when it is the bug's
    /// implementation, else exactly as the registry does.
    pub fn build(
        self,
        table: &BuiltIn,
        config: TableConfig,
    ) -> Result<Box<dyn PageTable>, PtError> {
        #[cfg(feature = "planted-bugs")]
        if let Some(bug) = self.0.filter(|bug| bug.implementation() == table.name) {
            return match bug.mechanism() {
                Mechanism::Variant(build) => build(config),
                Mechanism::Wrapper(wrap) => Ok(wrap((table.build)(config)?)),
            };
        }
        (table.build)(config)
    }

    /// Plants the bug around `table`, of any implementation (a plug-in's too): works for a
    /// bug planted as a wrapper, and for [`Plant::NONE`] (`table` unchanged).
    pub fn wrap(self, table: Box<dyn PageTable>) -> Result<Box<dyn PageTable>, PlantError> {
        match self.0 {
            None => Ok(table),
            #[cfg(feature = "planted-bugs")]
            Some(bug) => match bug.mechanism() {
                Mechanism::Wrapper(wrap) => Ok(wrap(table)),
                Mechanism::Variant(_) => Err(PlantError::NotAWrapper(bug)),
            },
            #[cfg(not(feature = "planted-bugs"))]
            Some(bug) => Err(PlantError::NotCompiled(bug)),
        }
    }
}

#[cfg(test)]
mod tests;
