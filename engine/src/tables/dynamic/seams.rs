//! The table's named decision points ("seams"), each a method whose default is the table's own
//! choice. [`Correct`] takes every default; it is a zero-sized type whose methods inline to the
//! constants they return, so [`Dynamic`](super::Dynamic) pays nothing for having seams.
//!
//! Another type implementing [`Seams`] makes a *variant* of the table: the same algorithm with
//! one choice made differently, for showing which check notices the difference. Seams take
//! `&self` (the table holds only configuration); a variant that needs memory of its own keeps
//! it in itself, behind a lock, never in the table or its shared state.

use crate::substrate::device_set::DeviceSet;
use crate::table::{Perm, PtError};
use std::fmt::Debug;

/// The decision points of the dynamic table, in the order an operation meets them.
pub trait Seams: Debug + Sync {
    /// The height a notify grows a `levels`-level table to, for a DFN that needs `needed`
    /// levels (`needed <= max_levels`). A height not above `levels` means no growth; an error
    /// fails the notify, which then changes nothing. Default: `needed`.
    #[inline]
    fn growth_target(&self, levels: u8, needed: u8, max_levels: u8) -> Result<u8, PtError> {
        let _ = (levels, max_levels);
        Ok(needed)
    }

    /// The height one round of growth builds a `levels`-level table up to, on its way to
    /// `target` (`levels < target <= max_levels`); a height not above `levels` builds
    /// nothing. Growth repeats rounds, re-reading the top after each, until the table is
    /// `target` high. Default: `target` (one round).
    #[inline]
    fn growth_round(&self, levels: u8, target: u8, max_levels: u8) -> u8 {
        let _ = (levels, max_levels);
        target
    }

    /// Whether a growth whose allocation failed part-way frees the levels it already built.
    /// Default: yes.
    #[inline]
    fn free_unfinished_growth(&self) -> bool {
        true
    }

    /// The devices whose DTEs a growth retargets at the new root, given the devices assigned
    /// now. Default: all of them.
    #[inline]
    fn growth_devices(&self, assigned: DeviceSet) -> DeviceSet {
        assigned
    }

    /// The permissions the pieces of a shattered superpage of permissions `perm` get.
    /// Default: `perm`.
    #[inline]
    fn piece_perm(&self, perm: Perm) -> Perm {
        perm
    }

    /// Whether changing one entry of an NL = 7 page first rewrites every replica of the page
    /// as its own default-size piece (else only the entry about to change). Default: yes.
    #[inline]
    fn split_whole_page(&self) -> bool {
        true
    }

    /// How many of the `replicas` entries of an NL = 7 page a map writes. Default: all.
    #[inline]
    fn replicas_written(&self, replicas: u64) -> u64 {
        replicas
    }

    /// The `(dfn, order)` block a map or unmap invalidates, given the block `covering`
    /// everything it changed and the range's `first_page`. Default: `covering`.
    #[inline]
    fn invalidated(&self, covering: (u64, u32), first_page: (u64, u32)) -> (u64, u32) {
        let _ = first_page;
        covering
    }

    /// Whether deassign invalidates the IOMMU's cached copy of the DTE it blocks.
    /// Default: yes.
    #[inline]
    fn invalidate_blocked_dte(&self) -> bool {
        true
    }

    /// Whether a table that takes the place of a superpage (a shatter) is filled with the
    /// superpage's pieces before the PDE linking it is stored; else it is linked first and
    /// filled while live. Default: yes (filled, then linked).
    #[inline]
    fn fill_before_link(&self) -> bool {
        true
    }

    /// The fields of DTE qword 0 (masks of its bits: V, TV, mode, root, IR, IW) that a DTE
    /// write stores one at a time, in this order: qword 0 is loaded, then each field gets a
    /// store of the whole qword with that field's new bits, and a last store writes what is
    /// left. Default: none (qword 0 is one store, after qwords 3 to 1).
    #[inline]
    fn dte_word0_fields(&self) -> &'static [u64] {
        &[]
    }

    /// Whether growth publishes the new top before it retargets the devices' DTEs, releasing
    /// the `Domain` lock while it rewrites them (its caller still holding `Devices`) and
    /// taking it again after. Default: no (DTEs first, then the top, all under the lock).
    #[inline]
    fn top_before_dtes(&self) -> bool {
        false
    }

    /// Growing in map: how a map beyond the height grows. Default:
    /// [`InMapGrowth::UnderLock`].
    #[inline]
    fn in_map_growth(&self) -> InMapGrowth {
        InMapGrowth::UnderLock
    }

    /// Growing in map: whether the table keeps Xen's device locking (assign and deassign
    /// under the caller's devices lock alone, the device list and DTEs the devices lock's,
    /// profile [`crate::step::LockingProfile::XEN_GROW_IN_MAP`]) rather than Linux's (the
    /// domain lock too). Default: no.
    #[inline]
    fn xen_device_locks(&self) -> bool {
        false
    }

    /// Whether the top is kept in two spare cells, root then height, each read and written in
    /// a step of its own (else the one top cell). Default: no.
    #[inline]
    fn top_in_two_cells(&self) -> bool {
        false
    }

    /// Whether unmap reads the top before it takes the domain lock. Default: no.
    #[inline]
    fn unmap_reads_top_unlocked(&self) -> bool {
        false
    }
}

/// How a map that needs a taller table grows it, growing in map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InMapGrowth {
    /// The need is tested on the top read under the domain lock, and growth covers it.
    UnderLock,
    /// The need is tested, and the table grown, before the domain lock is taken.
    NoLock,
    /// While the need, tested with no lock, holds, the table grows one level under the domain
    /// lock, without testing again under it.
    TestOutsideLock,
}

/// Every decision as the table was designed: what [`Dynamic`](super::Dynamic) uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Correct;

impl Seams for Correct {}
