//! The dynamic-height table: Xen's AMD-Vi I/O page table of 2011-2019
//! (`update_paging_mode`), driven by the never-merged 2019 `notify_dfn` hook
//! (amd-vi.md 4.3, 4.5; DESIGN.md 4).
//!
//! The table starts at [`DynamicConfig::initial_levels`] and grows by adding levels on top,
//! but only when told that a fresh DFN is about to be mapped
//! ([`notify_dfn`](crate::table::PageTable::notify_dfn)); a map never grows it and fails with
//! [`PtError::BeyondHeight`] instead (the "non-working guest" outcome of a missed
//! notification). Growth builds the whole chain of new roots first, each holding only
//! entry 0 = PDE to the previous root, frees that chain if an allocation fails (the XSA-311
//! leak), and then publishes the new root: every assigned device's DTE first, then the
//! domain's own root and height (one cell), then a flush of every page.
//!
//! Map and unmap take ranges of pages natively: one descent from the root over every table
//! the range touches (`range`), Xen-style (`iommu_pde_from_dfn`): map allocates missing
//! tables, both shatter a superpage met on the way into a full table of the next size
//! (filled before it is linked, keeping the superpage's permissions), and one flush covers
//! what changed. A failed allocation part-way puts back every table linked for the page it
//! could not complete, so a failing single-page operation changes no translation and leaks
//! nothing, and a failing range keeps exactly the pages it completed. Unmap never frees a
//! table that merely became empty (Xen 4.13); only a subtree replaced or fully unmapped as a
//! whole is freed.
//!
//! With [`DynamicConfig::all_page_sizes`] the table maps every page size AMD-Vi v1 encodes
//! ([`PageOrders::ALL`]), as Linux's AMD v1 table does: a page larger than the entries of its
//! level (and smaller than the next level's) is written as NL = 7 replicas, every replica
//! identical; before any replica changes, the whole page is split into default-size pieces.
//!
//! Decisions where the contract is silent:
//! - The leaf level of a map is `min(order / 9 + 1, levels)`: a mapping as large as the whole
//!   table is written as the 512 leaves of the root, since no entry may map a root's span.
//! - Shattering (and splitting an NL = 7 page) invalidates the whole page, not only the
//!   operation's range, so a cache model that drops only translations a command fully covers
//!   stays correct.
//! - Freed subtrees are freed after the flush that follows the write unlinking them (Xen's
//!   deferred free); a failed operation that rolls back links issues one flush too.
//! - Unmap of a range reaching beyond the current table clears what the table spans; a range
//!   starting beyond the current height is a no-op.
//! - Teardown blocks every DTE, flushes all pages of the domain, then frees the tables.
//!
//! Operations are step machines ([`crate::step::StepTable`], `../shared/CONCURRENCY.md`
//! 5.2): every access to state shared between operations — table memory, frames, commands,
//! DTEs, the top (root and height, one [`crate::step::Shared::top`] cell) and the domain's
//! device list — is a step through [`crate::step::Cx`]; [`Dynamic`] itself holds only its
//! configuration and seams. Locking protocol: map, unmap and notify take the `Domain` lock
//! for their whole work (released on every path, errors included); assign and deassign are
//! called with the `Devices` lock held by their caller and take none, reading the top in one
//! step; teardown, run when no other operation of the domain can, takes none. `lookup` reads
//! the shared state directly. The locking profile is Xen 2019's
//! ([`crate::step::LockingProfile::XEN_NOTIFY`]).
//!
//! With [`DynamicConfig::growth`] = [`Growth::InMap`] the table also grows inside map, as
//! Linux's `increase_address_space` does (its correct version): a map beyond the height tests
//! the need on the top read under the `Domain` lock, grows as notify does (DTEs rewritten
//! before the top, one cell, is published), then maps; a failure after growing keeps the
//! growth. Assign and deassign then take the `Domain` lock too (Linux's attach holds it), and
//! the profile is Linux 2020's ([`crate::step::LockingProfile::LINUX_IN_MAP`]).
//!
//! The page table users call is the sequential adapter over it: [`Dynamic::new`] and
//! [`Dynamic::with_seams`] return a [`Sequential<Dynamic>`](Sequential), a
//! [`PageTable`](crate::table::PageTable) whose operations each run to completion, within the
//! step budget. [`Dynamic::with_config`] gives the step table alone, for executors that
//! interleave it with other tasks.
//!
//! Files: `entry` (the entry format), `geometry` (spans and indices), `growth`, `devices`,
//! `range` (the descent of map and unmap: link, shatter, split, undo), `leaves` (free, flush),
//! `step_table` (the [`StepTable`](crate::step::StepTable) impl), [`Seams`] (the table's named
//! decision points).

mod devices;
mod entry;
mod geometry;
mod growth;
mod leaves;
mod range;
mod seams;
mod step_table;
#[cfg(test)]
mod tests;
mod top;

pub use seams::{Correct, InMapGrowth, Seams};

use crate::step::{Sequential, Top};
use crate::substrate::frames::Placement;
use crate::substrate::iommu::Iommu;
use crate::table::{PageOrders, PtError};
use crate::tables::Growth;
use geometry::{LEVELS, MAX_LEVELS};

/// Heights and domain of a [`Dynamic`] table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DynamicConfig {
    /// Levels at creation, 1..=6 (Xen HVM used 2, Linux uses 3).
    pub initial_levels: u8,
    /// Highest height growth may reach, 4..=6 (4 + HATS).
    pub max_levels: u8,
    /// Domain ID written into DTEs.
    pub domain: u16,
    /// Whether the table maps every page size AMD-Vi v1 encodes ([`PageOrders::ALL`], with
    /// NL = 7 leaves) rather than 4 KiB, 2 MiB and 1 GiB ([`PageOrders::BASE`]).
    pub all_page_sizes: bool,
    /// Where the table grows: on notify only (Xen 2019), or inside map too (Linux
    /// `increase_address_space`).
    pub growth: Growth,
}

/// A page table that starts low and grows on notification, as a step table: its
/// configuration and decision points only (the top and the device list are shared state).
///
/// `S` names the table's decision points ([`Seams`]); the default, [`Correct`], is the table
/// as designed, and the only one [`Dynamic::new`] builds.
#[derive(Debug)]
pub struct Dynamic<S: Seams = Correct> {
    config: DynamicConfig,
    seams: S,
}

impl Dynamic {
    /// Creates the domain with an empty root of `config.initial_levels` levels, its frames
    /// placed low: the page table, run by the sequential adapter.
    ///
    /// Errors: [`PtError::BadHeight`] unless `1 <= initial_levels <= max_levels` and
    /// `4 <= max_levels <= 6`; [`PtError::NoMemory`] if the root cannot be allocated.
    pub fn new(config: DynamicConfig) -> Result<Sequential<Dynamic>, PtError> {
        Dynamic::with_seams(config, Placement::Low, Correct)
    }
}

impl<S: Seams> Dynamic<S> {
    /// The step table for `config` with the decision points of `seams`; its domain's root is
    /// built by [`StepTable::create`](crate::step::StepTable::create).
    ///
    /// Errors: [`PtError::BadHeight`] as for [`Dynamic::new`].
    pub fn with_config(config: DynamicConfig, seams: S) -> Result<Dynamic<S>, PtError> {
        let DynamicConfig { initial_levels, max_levels, .. } = config;
        if !LEVELS.contains(&initial_levels)
            || !MAX_LEVELS.contains(&max_levels)
            || initial_levels > max_levels
        {
            return Err(PtError::BadHeight { initial_levels, max_levels });
        }
        Ok(Dynamic { config, seams })
    }

    /// Like [`Dynamic::new`], placing table frames by `placement`, with the decision points
    /// of `seams`.
    pub fn with_seams(
        config: DynamicConfig,
        placement: Placement,
        seams: S,
    ) -> Result<Sequential<Dynamic<S>>, PtError> {
        let table = Dynamic::with_config(config, seams)?;
        Sequential::new(table, Iommu::with_placement(placement))
    }

    fn domain(&self) -> u16 {
        self.config.domain
    }

    /// The orders map and unmap accept.
    fn orders(&self) -> PageOrders {
        if self.config.all_page_sizes {
            PageOrders::ALL
        } else {
            PageOrders::BASE
        }
    }
}
