//! The abstract translation model: what must be mapped after a sequence of successful map and
//! unmap operations (DESIGN.md section 4), as DFN ranges, independent of any table layout.
//!
//! `map` replaces whatever the range held; `unmap` removes the range and keeps everything
//! outside it, splitting extents that straddle its ends. Extents are kept coalesced, so two
//! models (or a model and an enumeration) that translate identically compare equal.

use crate::enumerate::Leaf;
use crate::perm::Perm;
use std::collections::BTreeMap;

/// A run of DFNs `[dfn, dfn + frames)` mapping to `[mfn, mfn + frames)` with `perm`.
///
/// In a [`Model`], `frames >= 1`, `dfn + frames <= u64::MAX` and `mfn + frames <= u64::MAX`
/// (so DFN and MFN `u64::MAX` are never mapped; no real DFN or MFN comes near: IOVAs and SPAs
/// have at most 64 and 52 bits, so DFNs and MFNs at most 52 and 40).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Extent {
    /// First DFN of the run.
    pub dfn: u64,
    /// Number of 4 KiB frames in the run.
    pub frames: u64,
    /// MFN that `dfn` translates to; `dfn + i` translates to `mfn + i`.
    pub mfn: u64,
    /// Permissions of every frame in the run.
    pub perm: Perm,
}

/// The first DFN where two translation maps differ, with what each side gives there
/// (`None` = not mapped).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModelDifference {
    /// The lowest DFN where the two sides translate differently.
    pub dfn: u64,
    /// What the expected side (`self` of [`Model::first_difference`]) gives for `dfn`.
    pub expected: Option<(u64, Perm)>,
    /// What the other side gives for `dfn`.
    pub got: Option<(u64, Perm)>,
}

/// DFN → (MFN, permissions), stored as non-overlapping, maximally coalesced extents.
///
/// Maximal coalescing (no two extents where one ends at the DFN the other starts, the MFNs
/// continue and the permissions are equal) makes the representation canonical: two models are
/// `==` exactly when they translate every DFN identically.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Model {
    /// Keyed by first DFN.
    extents: BTreeMap<u64, Extent>,
}

impl Model {
    /// An empty model: nothing translates.
    pub fn new() -> Model {
        Model::default()
    }

    /// After this, every DFN in `[dfn, dfn + 2^order)` translates to `mfn + offset` with `perm`,
    /// and everything outside the range is unchanged.
    ///
    /// Nothing wraps: the range is clipped at DFN `u64::MAX` (exclusive, see [`Extent`]), so
    /// any `order` (even 64 and above) is accepted; DFNs of the range whose MFN would reach
    /// `u64::MAX` are left unmapped (the range is still cleared). Alignment of `dfn` and `mfn`
    /// to the order is the caller's business and not required here. O(log n + k) for k
    /// replaced extents.
    pub fn map(&mut self, dfn: u64, mfn: u64, order: u32, perm: Perm) {
        self.map_frames(dfn, pow2_saturating(order), mfn, perm);
    }

    /// After this, nothing in `[dfn, dfn + 2^order)` translates (clipped like [`Model::map`]);
    /// the rest is unchanged, extents straddling the range's ends are split and keep their
    /// permissions. Unmapping what is not mapped is a no-op.
    pub fn unmap(&mut self, dfn: u64, order: u32) {
        self.cut(dfn, dfn.saturating_add(pow2_saturating(order)));
    }

    /// Forgets every mapping (domain teardown).
    pub fn clear(&mut self) {
        self.extents.clear();
    }

    /// What `dfn` translates to, in O(log n).
    pub fn translate(&self, dfn: u64) -> Option<(u64, Perm)> {
        let (_, e) = self.extents.range(..=dfn).next_back()?;
        let offset = dfn - e.dfn;
        (offset < e.frames).then(|| (e.mfn + offset, e.perm))
    }

    /// The extents in DFN order.
    pub fn extents(&self) -> impl Iterator<Item = &Extent> + '_ {
        self.extents.values()
    }

    /// True when nothing translates.
    pub fn is_empty(&self) -> bool {
        self.extents.is_empty()
    }

    /// The model that translates exactly like `leaves` (from [`crate::enumerate`]). Leaves
    /// whose IOVA or SPA is not 4 KiB aligned translate frame by frame in the same way, so only
    /// 4 KiB granularity is kept.
    ///
    /// Each leaf becomes DFNs `[iova >> 12, + 2^(slot_log2 - 12))` mapping to MFN `spa >> 12`
    /// onwards with the leaf's permissions (also when they are [`Perm::NONE`]: such a leaf
    /// translates, it just grants nothing). A sub-frame byte offset of the IOVA or SPA is
    /// dropped (valid AMD-Vi leaves have none: slots and page bases are 4 KiB aligned), a slot
    /// below 4 KiB counts as one frame, and ranges are clipped as in [`Model::map`]. Leaves are
    /// applied in order, a later one replacing an earlier one where they overlap (enumerated
    /// leaves never overlap). O(n log n).
    pub fn from_leaves(leaves: &[Leaf]) -> Model {
        let mut model = Model::new();
        for leaf in leaves {
            let frames = pow2_saturating(leaf.slot_log2.saturating_sub(12));
            model.map_frames(leaf.iova >> 12, frames, leaf.spa >> 12, leaf.perm);
        }
        model
    }

    /// The lowest DFN where `self` (expected) and `other` (got) differ, or `None` when they
    /// translate identically. O(n + m) in the number of extents.
    pub fn first_difference(&self, other: &Model) -> Option<ModelDifference> {
        let mut expected = self.extents.values().peekable();
        let mut got = other.extents.values().peekable();
        let mut dfn = 0u64;
        loop {
            // Drop extents that end at or before `dfn`.
            while expected.next_if(|e| e.dfn + e.frames <= dfn).is_some() {}
            while got.next_if(|e| e.dfn + e.frames <= dfn).is_some() {}
            let (a, b) = (expected.peek().copied(), got.peek().copied());
            if a.is_none() && b.is_none() {
                return None;
            }
            let at = |e: Option<&Extent>| {
                e.filter(|e| e.dfn <= dfn).map(|e| (e.mfn + (dfn - e.dfn), e.perm))
            };
            let (va, vb) = (at(a), at(b));
            if va != vb {
                return Some(ModelDifference { dfn, expected: va, got: vb });
            }
            // Both sides are constant-shaped (unmapped, or one extent each, MFNs advancing in
            // step) until the next extent boundary after `dfn`: equal there means equal until
            // then.
            let boundary = |e: Option<&Extent>| {
                e.map(|e| if e.dfn > dfn { e.dfn } else { e.dfn + e.frames }).unwrap_or(u64::MAX)
            };
            let next = boundary(a).min(boundary(b));
            if next <= dfn {
                // Unreachable for a well-formed model (every boundary is above `dfn`).
                return None;
            }
            dfn = next;
        }
    }

    /// Maps `[dfn, dfn + frames)` to `mfn` onwards, clipping as [`Model::map`] documents.
    fn map_frames(&mut self, dfn: u64, frames: u64, mfn: u64, perm: Perm) {
        let end = dfn.saturating_add(frames);
        self.cut(dfn, end);
        let frames = (end - dfn).min(u64::MAX - mfn);
        if frames > 0 {
            self.insert_coalesced(Extent { dfn, frames, mfn, perm });
        }
    }

    /// Removes `[start, end)` (`end` exclusive), splitting extents that straddle either end.
    fn cut(&mut self, start: u64, end: u64) {
        if start >= end {
            return;
        }
        if let Some((&k, &e)) = self.extents.range(..start).next_back() {
            let e_end = k + e.frames;
            if e_end > start {
                self.extents.insert(k, Extent { frames: start - k, ..e });
                if e_end > end {
                    // `e` covers the whole range: keep its tail too, and nothing else overlaps.
                    self.extents.insert(end, tail(e, end));
                    return;
                }
            }
        }
        let inside: Vec<u64> = self.extents.range(start..end).map(|(&k, _)| k).collect();
        for k in inside {
            if let Some(e) = self.extents.remove(&k) {
                if e.dfn + e.frames > end {
                    self.extents.insert(end, tail(e, end));
                }
            }
        }
    }

    /// Inserts `e` into a gap, merging it with the extents it continues on either side.
    fn insert_coalesced(&mut self, mut e: Extent) {
        if let Some((&k, &p)) = self.extents.range(..e.dfn).next_back() {
            if continues(&p, &e) {
                self.extents.remove(&k);
                e = Extent { dfn: p.dfn, frames: p.frames + e.frames, mfn: p.mfn, perm: p.perm };
            }
        }
        let end = e.dfn + e.frames;
        if let Some(&n) = self.extents.get(&end) {
            if continues(&e, &n) {
                self.extents.remove(&end);
                e.frames += n.frames;
            }
        }
        self.extents.insert(e.dfn, e);
    }
}

/// True when `b` starts where `a` ends, in DFN and MFN, with the same permissions.
fn continues(a: &Extent, b: &Extent) -> bool {
    a.dfn + a.frames == b.dfn && a.mfn + a.frames == b.mfn && a.perm == b.perm
}

/// The part of `e` from DFN `at` (inside `e`) on.
fn tail(e: Extent, at: u64) -> Extent {
    let skip = at - e.dfn;
    Extent { dfn: at, frames: e.frames - skip, mfn: e.mfn + skip, perm: e.perm }
}

/// `2^order` frames, saturating at `u64::MAX` for `order >= 64`.
fn pow2_saturating(order: u32) -> u64 {
    1u64.checked_shl(order).unwrap_or(u64::MAX)
}
