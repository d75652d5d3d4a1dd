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
    /// to the order is the caller's business and not required here. O((k + 1) log n) for k
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

    /// After this, every DFN in `[dfn, dfn + frames)` translates to `mfn + offset` with `perm`
    /// and everything outside is unchanged: consecutive pages in one call (`count` pages of
    /// `2^order` frames are `count << order` frames). Clipped as [`Model::map`] documents;
    /// `frames` 0 changes nothing. O((k + 1) log n) for k replaced extents.
    pub fn map_range(&mut self, dfn: u64, frames: u64, mfn: u64, perm: Perm) {
        self.map_frames(dfn, frames, mfn, perm);
    }

    /// After this, nothing in `[dfn, dfn + frames)` translates (clipped at DFN `u64::MAX`); the
    /// rest is unchanged, extents straddling either end are split and keep their permissions.
    pub fn unmap_range(&mut self, dfn: u64, frames: u64) {
        self.cut(dfn, dfn.saturating_add(frames));
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

    /// The first DFN of `[dfn, dfn + frames)` that does not translate to `mfn + (its offset)`
    /// with at least `perm`, or `None` when the whole range does. Used to decide whether a
    /// cached translation still matches what is mapped. O((k + 1) log n) for k extents.
    pub fn first_ungranted(&self, dfn: u64, frames: u64, mfn: u64, perm: Perm) -> Option<u64> {
        let end = dfn.saturating_add(frames);
        let mut at = dfn;
        while at < end {
            let Some((_, e)) = self.extents.range(..=at).next_back() else { return Some(at) };
            let offset = at - e.dfn;
            if offset >= e.frames
                || e.mfn + offset != mfn.wrapping_add(at - dfn)
                || !e.perm.allows(perm)
            {
                return Some(at);
            }
            at = e.dfn.saturating_add(e.frames).min(end);
        }
        None
    }

    /// The extents in DFN order.
    pub fn extents(&self) -> impl Iterator<Item = &Extent> + '_ {
        self.extents.values()
    }

    /// The parts of the extents inside `[dfn, dfn + frames)` (clipped at DFN `u64::MAX` like
    /// [`Model::map`]), each cut to the range, in DFN order: what the range translates to.
    /// O(log n + k) for k extents.
    pub fn extents_in(&self, dfn: u64, frames: u64) -> impl Iterator<Item = Extent> + '_ {
        let end = dfn.saturating_add(frames);
        let straddling = self.extents.range(..dfn).next_back().map(|(_, e)| *e);
        let straddling = straddling.filter(|e| e.dfn + e.frames > dfn).map(|e| tail(e, dfn));
        let inside = self.extents.range(dfn..end.max(dfn)).map(|(_, e)| *e);
        straddling
            .into_iter()
            .chain(inside)
            .map(move |e| Extent { frames: e.frames.min(end.saturating_sub(e.dfn)), ..e })
            .filter(|e| e.frames > 0)
    }

    /// True when nothing translates.
    pub fn is_empty(&self) -> bool {
        self.extents.is_empty()
    }

    /// The model that translates exactly like `leaves` (from [`crate::enumerate()`]). Leaves
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
            let (dfn, end) = leaf_range(leaf);
            model.map_frames(dfn, end - dfn, leaf.spa >> 12, leaf.perm);
        }
        model
    }

    /// The lowest DFN where `self` (expected) and `other` (got) differ, or `None` when they
    /// translate identically. O(n + m) in the number of extents.
    pub fn first_difference(&self, other: &Model) -> Option<ModelDifference> {
        first_difference_of(self.extents.values().copied(), other.extents.values().copied())
    }

    /// `self.first_difference(&Model::from_leaves(leaves))`, without building the model: for
    /// leaves in order (as [`crate::enumerate()`] returns them), one linear pass over the model's
    /// extents and the leaves that allocates nothing. O(n + m) for n extents and m leaves.
    ///
    /// "In order" means each leaf's DFN range (as [`Model::from_leaves`] computes it) starts
    /// at or after the end of the previous one: sorted, non-overlapping. Leaves not in
    /// order (never produced by the enumerator) are still answered exactly, by building the
    /// model from them.
    pub fn first_difference_from_leaves(&self, leaves: &[Leaf]) -> Option<ModelDifference> {
        if !leaves_in_order(leaves) {
            return self.first_difference(&Model::from_leaves(leaves));
        }
        first_difference_of(self.extents.values().copied(), leaves.iter().filter_map(leaf_extent))
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

/// The lowest DFN where two translation maps differ, each given as its extents in DFN order,
/// non-overlapping, each non-empty with `dfn + frames` and `mfn + frames` not overflowing
/// (not necessarily coalesced). O(n + m).
fn first_difference_of(
    expected: impl Iterator<Item = Extent>,
    got: impl Iterator<Item = Extent>,
) -> Option<ModelDifference> {
    let mut expected = expected.peekable();
    let mut got = got.peekable();
    let mut dfn = 0u64;
    loop {
        // Drop extents that end at or before `dfn`.
        while expected.next_if(|e| e.dfn + e.frames <= dfn).is_some() {}
        while got.next_if(|e| e.dfn + e.frames <= dfn).is_some() {}
        let (a, b) = (expected.peek().copied(), got.peek().copied());
        if a.is_none() && b.is_none() {
            return None;
        }
        let at =
            |e: Option<Extent>| e.filter(|e| e.dfn <= dfn).map(|e| (e.mfn + (dfn - e.dfn), e.perm));
        let (va, vb) = (at(a), at(b));
        if va != vb {
            return Some(ModelDifference { dfn, expected: va, got: vb });
        }
        // Both sides are constant-shaped (unmapped, or one extent each, MFNs advancing in
        // step) until the next extent boundary after `dfn`: equal there means equal until then.
        let boundary = |e: Option<Extent>| {
            e.map(|e| if e.dfn > dfn { e.dfn } else { e.dfn + e.frames }).unwrap_or(u64::MAX)
        };
        let next = boundary(a).min(boundary(b));
        if next <= dfn {
            // Unreachable for well-formed inputs (every boundary is above `dfn`).
            return None;
        }
        dfn = next;
    }
}

/// The DFNs `[dfn, end)` a leaf replaces in [`Model::from_leaves`]: its slot in 4 KiB frames
/// (at least one), clipped at DFN `u64::MAX`.
fn leaf_range(leaf: &Leaf) -> (u64, u64) {
    let dfn = leaf.iova >> 12;
    (dfn, dfn.saturating_add(pow2_saturating(leaf.slot_log2.saturating_sub(12))))
}

/// The extent a leaf maps in [`Model::from_leaves`] (its range, clipped so that MFNs do not
/// reach `u64::MAX`), or `None` when nothing of it can be mapped.
fn leaf_extent(leaf: &Leaf) -> Option<Extent> {
    let (dfn, end) = leaf_range(leaf);
    let mfn = leaf.spa >> 12;
    let frames = (end - dfn).min(u64::MAX - mfn);
    (frames > 0).then_some(Extent { dfn, frames, mfn, perm: leaf.perm })
}

/// True when every leaf's range starts at or after the end of the previous one, so that
/// applying the leaves in order never replaces part of an earlier one. (Ranges are never
/// empty: a DFN is at most 52 bits.)
fn leaves_in_order(leaves: &[Leaf]) -> bool {
    let mut covered_until = 0u64;
    for leaf in leaves {
        let (dfn, end) = leaf_range(leaf);
        if dfn < covered_until {
            return false;
        }
        covered_until = end;
    }
    true
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

#[cfg(test)]
mod tests {
    use super::*;

    const RW: Perm = Perm::RW;
    const R: Perm = Perm::R;
    const W: Perm = Perm::W;

    fn ext(dfn: u64, frames: u64, mfn: u64, perm: Perm) -> Extent {
        Extent { dfn, frames, mfn, perm }
    }

    fn extents(m: &Model) -> Vec<Extent> {
        m.extents().copied().collect()
    }

    /// The representation invariants: ordered, keyed by dfn, non-empty, no overflow,
    /// non-overlapping and maximally coalesced.
    fn check_invariants(m: &Model) {
        let mut prev: Option<Extent> = None;
        for (&k, e) in &m.extents {
            assert_eq!(k, e.dfn);
            assert!(e.frames >= 1, "{e:?}");
            assert!(e.dfn.checked_add(e.frames).is_some(), "{e:?}");
            assert!(e.mfn.checked_add(e.frames).is_some(), "{e:?}");
            if let Some(p) = prev {
                assert!(p.dfn + p.frames <= e.dfn, "overlap {p:?} {e:?}");
                assert!(!continues(&p, e), "not coalesced {p:?} {e:?}");
            }
            prev = Some(*e);
        }
    }

    #[test]
    fn empty_model_translates_nothing() {
        let m = Model::new();
        assert!(m.is_empty());
        assert_eq!(m.translate(0), None);
        assert_eq!(m.translate(u64::MAX), None);
        assert_eq!(m.first_difference(&Model::new()), None);
    }

    #[test]
    fn map_order_9_translates_every_frame() {
        let mut m = Model::new();
        m.map(0x200, 0x8_0000, 9, RW);
        assert_eq!(extents(&m), vec![ext(0x200, 512, 0x8_0000, RW)]);
        assert_eq!(m.translate(0x1ff), None);
        assert_eq!(m.translate(0x200), Some((0x8_0000, RW)));
        assert_eq!(m.translate(0x2ab), Some((0x8_00ab, RW)));
        assert_eq!(m.translate(0x3ff), Some((0x8_01ff, RW)));
        assert_eq!(m.translate(0x400), None);
    }

    #[test]
    fn map_replaces_overlapped_part() {
        let mut m = Model::new();
        m.map(0, 0x1000, 9, RW);
        m.map(0x10, 0x5000, 2, R);
        check_invariants(&m);
        assert_eq!(
            extents(&m),
            vec![ext(0, 0x10, 0x1000, RW), ext(0x10, 4, 0x5000, R), ext(0x14, 0x1ec, 0x1014, RW)]
        );
        assert_eq!(m.translate(0x13), Some((0x5003, R)));
        assert_eq!(m.translate(0x14), Some((0x1014, RW)));
    }

    #[test]
    fn map_over_several_extents_and_gaps() {
        let mut m = Model::new();
        m.map(0, 0x100, 0, R);
        m.map(2, 0x200, 0, W);
        m.map(5, 0x300, 1, RW); // 5, 6
        m.map(1, 0x900, 3, R); // 1..9 replaces all but dfn 0
        check_invariants(&m);
        assert_eq!(extents(&m), vec![ext(0, 1, 0x100, R), ext(1, 8, 0x900, R)]);
    }

    #[test]
    fn adjacent_continuing_maps_coalesce() {
        let mut m = Model::new();
        m.map(0x10, 0x110, 0, RW);
        m.map(0x12, 0x112, 1, RW);
        m.map(0x11, 0x111, 0, RW); // fills the gap: one extent
        check_invariants(&m);
        assert_eq!(extents(&m), vec![ext(0x10, 4, 0x110, RW)]);
        // Same DFN adjacency but MFN not continuing, or other perm: no merge.
        m.map(0x14, 0x200, 0, RW);
        m.map(0x0f, 0x10f, 0, R);
        check_invariants(&m);
        assert_eq!(
            extents(&m),
            vec![ext(0x0f, 1, 0x10f, R), ext(0x10, 4, 0x110, RW), ext(0x14, 1, 0x200, RW)]
        );
    }

    #[test]
    fn remap_identical_inside_extent_keeps_one_extent() {
        let mut m = Model::new();
        m.map(0, 0x1000, 9, RW);
        m.map(0x40, 0x1040, 3, RW);
        assert_eq!(extents(&m), vec![ext(0, 512, 0x1000, RW)]);
    }

    #[test]
    fn unmap_splits_superpage_keeping_perms() {
        let mut m = Model::new();
        m.map(0x200, 0x4000, 9, R);
        m.unmap(0x280, 4);
        check_invariants(&m);
        assert_eq!(extents(&m), vec![ext(0x200, 0x80, 0x4000, R), ext(0x290, 0x170, 0x4090, R)]);
        assert_eq!(m.translate(0x27f), Some((0x407f, R)));
        assert_eq!(m.translate(0x280), None);
        assert_eq!(m.translate(0x28f), None);
        assert_eq!(m.translate(0x290), Some((0x4090, R)));
        // Remapping the hole with the continuing MFNs coalesces back to one extent.
        m.map(0x280, 0x4080, 4, R);
        assert_eq!(extents(&m), vec![ext(0x200, 512, 0x4000, R)]);
    }

    #[test]
    fn unmap_across_extents_trims_both_ends() {
        let mut m = Model::new();
        m.map(0, 0x100, 4, RW); // 0..16
        m.map(16, 0x900, 4, R); // 16..32
        m.map(32, 0xa00, 4, W); // 32..48
        m.unmap(8, 5); // 8..40
        check_invariants(&m);
        assert_eq!(extents(&m), vec![ext(0, 8, 0x100, RW), ext(40, 8, 0xa08, W)]);
    }

    #[test]
    fn unmap_of_unmapped_is_noop() {
        let mut m = Model::new();
        m.map(0x1000, 0x1, 0, RW);
        let before = m.clone();
        m.unmap(0, 9);
        m.unmap(0x1001, 20);
        assert_eq!(m, before);
        m.unmap(0x1000, 0);
        assert!(m.is_empty());
    }

    #[test]
    fn ranges_are_consecutive_pages() {
        let mut m = Model::new();
        // Three 8-frame pages from dfn 0x1f8: one extent across the 512-frame boundary.
        m.map_range(0x1f8, 3 << 3, 0x800, RW);
        assert_eq!(extents(&m), vec![ext(0x1f8, 24, 0x800, RW)]);
        let mut pages = Model::new();
        for i in 0..3 {
            pages.map(0x1f8 + (i << 3), 0x800 + (i << 3), 3, RW);
        }
        assert_eq!(m, pages);
        // Unmapping frames 0x1fc..0x204 splits the extent at both ends and keeps the rest.
        m.unmap_range(0x1fc, 8);
        assert_eq!(extents(&m), vec![ext(0x1f8, 4, 0x800, RW), ext(0x204, 12, 0x80c, RW)]);
        check_invariants(&m);
        // Nothing changes for an empty range; ranges are clipped at u64::MAX.
        m.map_range(0x1000, 0, 7, R);
        m.unmap_range(0x1f8, 0);
        assert_eq!(m.extents().count(), 2);
        m.map_range(u64::MAX - 1, 4, 0, W);
        assert_eq!(m.translate(u64::MAX - 1), Some((0, W)));
        m.unmap_range(0, u64::MAX);
        assert_eq!(extents(&m), vec![]);
    }

    #[test]
    fn clear_forgets_everything() {
        let mut m = Model::new();
        m.map(3, 4, 2, RW);
        m.clear();
        assert!(m.is_empty());
        assert_eq!(m, Model::new());
    }

    #[test]
    fn huge_orders_clip_at_u64_max() {
        let mut m = Model::new();
        m.map(0, 0, 63, RW);
        assert_eq!(extents(&m), vec![ext(0, 1 << 63, 0, RW)]);
        // Order 64 and above: everything up to (not including) DFN u64::MAX.
        m.map(0, 0, 64, R);
        assert_eq!(extents(&m), vec![ext(0, u64::MAX, 0, R)]);
        m.map(0, 0, 200, W);
        assert_eq!(extents(&m), vec![ext(0, u64::MAX, 0, W)]);
        assert_eq!(m.translate(u64::MAX - 1), Some((u64::MAX - 1, W)));
        assert_eq!(m.translate(u64::MAX), None);
        check_invariants(&m);
        // Unmapping with an order beyond 64 removes everything from dfn on.
        m.unmap(0x10, 99);
        assert_eq!(extents(&m), vec![ext(0, 0x10, 0, W)]);
    }

    #[test]
    fn range_passing_2_pow_64_is_clipped() {
        let mut m = Model::new();
        m.map(u64::MAX - 3, 0x10, 9, RW);
        assert_eq!(extents(&m), vec![ext(u64::MAX - 3, 3, 0x10, RW)]);
        // DFN u64::MAX itself is never mapped.
        m.map(u64::MAX, 7, 0, RW);
        assert_eq!(m.translate(u64::MAX), None);
        assert_eq!(extents(&m).len(), 1);
        check_invariants(&m);
    }

    #[test]
    fn mfn_passing_u64_max_is_clipped_and_range_still_cleared() {
        let mut m = Model::new();
        m.map(0, 0x100, 4, RW); // 0..16
        m.map(0, u64::MAX - 2, 4, R); // only dfn 0, 1 representable
        check_invariants(&m);
        assert_eq!(extents(&m), vec![ext(0, 2, u64::MAX - 2, R)]);
        assert_eq!(m.translate(1), Some((u64::MAX - 1, R)));
        assert_eq!(m.translate(2), None);
        m.map(5, u64::MAX, 0, RW);
        assert_eq!(m.translate(5), None);
    }

    #[test]
    fn first_difference_reports_lowest_dfn() {
        let mut a = Model::new();
        a.map(0x100, 0x1000, 9, RW);
        let mut b = a.clone();
        assert_eq!(a.first_difference(&b), None);
        // Different MFN in the middle.
        b.map(0x180, 0x9999, 0, RW);
        assert_eq!(
            a.first_difference(&b),
            Some(ModelDifference {
                dfn: 0x180,
                expected: Some((0x1080, RW)),
                got: Some((0x9999, RW))
            })
        );
        // Perm difference earlier wins.
        b.map(0x120, 0x1020, 0, R);
        assert_eq!(
            a.first_difference(&b),
            Some(ModelDifference {
                dfn: 0x120,
                expected: Some((0x1020, RW)),
                got: Some((0x1020, R))
            })
        );
        // Missing on the got side, before everything else.
        b.unmap(0x100, 0);
        assert_eq!(
            a.first_difference(&b),
            Some(ModelDifference { dfn: 0x100, expected: Some((0x1000, RW)), got: None })
        );
        // Extra mapping on the got side, below all extents.
        b.map(0x5, 0x5, 0, W);
        assert_eq!(
            a.first_difference(&b),
            Some(ModelDifference { dfn: 0x5, expected: None, got: Some((0x5, W)) })
        );
        // Reversed roles.
        assert_eq!(
            b.first_difference(&a),
            Some(ModelDifference { dfn: 0x5, expected: Some((0x5, W)), got: None })
        );
    }

    #[test]
    fn first_difference_past_the_end_of_one_side() {
        let mut a = Model::new();
        a.map(0, 0x10, 2, RW);
        let mut b = a.clone();
        b.map(0x1_0000_0000, 0x20, 0, RW);
        assert_eq!(
            a.first_difference(&b),
            Some(ModelDifference { dfn: 0x1_0000_0000, expected: None, got: Some((0x20, RW)) })
        );
        // A longer extent on one side: differs at the first frame the other lacks.
        let mut c = Model::new();
        c.map(0, 0x10, 3, RW);
        assert_eq!(
            a.first_difference(&c),
            Some(ModelDifference { dfn: 4, expected: None, got: Some((0x14, RW)) })
        );
    }

    #[test]
    fn first_difference_ignores_extent_boundaries() {
        // Equal translations built differently are equal models, and have no difference.
        let mut a = Model::new();
        a.map(0, 0x100, 4, RW);
        let mut b = Model::new();
        for i in (0..16).rev() {
            b.map(i, 0x100 + i, 0, RW);
        }
        assert_eq!(a, b);
        assert_eq!(a.first_difference(&b), None);
    }

    fn leaf(iova: u64, slot_log2: u32, spa: u64, perm: Perm) -> Leaf {
        Leaf { iova, slot_log2, spa, page_size_log2: slot_log2, perm, level: 1 }
    }

    #[test]
    fn from_leaves_coalesces_contiguous_leaves() {
        let leaves: Vec<Leaf> = (0..8)
            .map(|i| leaf(0x4000_0000 + i * 0x1000, 12, 0x9000_0000 + i * 0x1000, RW))
            .collect();
        let m = Model::from_leaves(&leaves);
        assert_eq!(extents(&m), vec![ext(0x4_0000, 8, 0x9_0000, RW)]);
    }

    #[test]
    fn from_leaves_large_slots_and_perm_none() {
        let leaves = [
            leaf(0, 21, 0x20_0000, R),                  // 2 MiB slot
            leaf(0x20_0000, 12, 0x40_0000, Perm::NONE), // 4 KiB, no permissions
            leaf(1 << 39, 39, 1 << 40, RW),             // 512 GiB slot
        ];
        let m = Model::from_leaves(&leaves);
        assert_eq!(
            extents(&m),
            vec![
                ext(0, 512, 0x200, R),
                ext(0x200, 1, 0x400, Perm::NONE),
                ext(1 << 27, 1 << 27, 1 << 28, RW),
            ]
        );
    }

    #[test]
    fn from_leaves_drops_sub_frame_offsets() {
        // Unaligned IOVA and SPA (not produced by a valid tree): only frame granularity kept.
        let m = Model::from_leaves(&[leaf(0x5123, 12, 0x7456, R)]);
        assert_eq!(extents(&m), vec![ext(5, 1, 7, R)]);
        // A slot below 4 KiB counts as one frame; an absurd slot is clipped.
        let m = Model::from_leaves(&[leaf(0x3000, 3, 0x1000, R), leaf(0, 200, 0, W)]);
        assert_eq!(extents(&m), vec![ext(0, u64::MAX, 0, W)]);
    }

    #[test]
    fn from_leaves_round_trip_through_extents() {
        let mut m = Model::new();
        m.map(0, 0x100, 0, RW);
        m.map(0x200, 0x4000, 9, R);
        m.map(0x1000, 0x2000, 3, W);
        let leaves: Vec<Leaf> = m
            .extents()
            .flat_map(|e| {
                (0..e.frames).map(move |i| leaf((e.dfn + i) << 12, 12, (e.mfn + i) << 12, e.perm))
            })
            .collect();
        assert_eq!(leaves.len(), 1 + 512 + 8);
        assert_eq!(Model::from_leaves(&leaves), m);
    }

    /// The project's one deterministic generator (`fastrand`, seeded), for the randomised
    /// comparisons below.
    struct Rng(fastrand::Rng);
    impl Rng {
        fn new(seed: u64) -> Rng {
            Rng(fastrand::Rng::with_seed(seed))
        }
        fn next(&mut self) -> u64 {
            self.0.u64(..)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.0.u64(..n.max(1))
        }
    }

    #[test]
    fn random_ops_match_frame_by_frame_model() {
        // Against the obvious per-DFN reference, over a 256-frame universe.
        const UNIVERSE: u64 = 256;
        let perms = [R, W, RW];
        let mut rng = Rng::new(0x9e37_79b9_7f4a_7c15);
        for _round in 0..200 {
            let mut m = Model::new();
            let mut naive: Vec<Option<(u64, Perm)>> = vec![None; UNIVERSE as usize];
            for _op in 0..40 {
                let order = rng.below(6) as u32;
                let size = 1u64 << order;
                let dfn = rng.below(UNIVERSE / size) * size;
                if rng.below(3) == 0 {
                    m.unmap(dfn, order);
                    for d in dfn..dfn + size {
                        naive[d as usize] = None;
                    }
                } else {
                    // Small MFN space so that accidental continuations (coalescing) happen.
                    let mfn = rng.below(64) * size;
                    let perm = perms[rng.below(3) as usize];
                    m.map(dfn, mfn, order, perm);
                    for i in 0..size {
                        naive[(dfn + i) as usize] = Some((mfn + i, perm));
                    }
                }
                check_invariants(&m);
                for (d, want) in naive.iter().enumerate() {
                    assert_eq!(m.translate(d as u64), *want, "dfn {d}");
                }
                assert_eq!(m.translate(UNIVERSE), None);
                // `extents_in` of a random range gives exactly the range's translations.
                let start = rng.below(UNIVERSE);
                let frames = rng.below(UNIVERSE - start + 1);
                let mut seen = vec![None; frames as usize];
                for e in m.extents_in(start, frames) {
                    for i in 0..e.frames {
                        seen[(e.dfn + i - start) as usize] = Some((e.mfn + i, e.perm));
                    }
                }
                let want: Vec<_> = (start..start + frames).map(|d| naive[d as usize]).collect();
                assert_eq!(seen, want, "extents_in({start}, {frames})");
                // Rebuilding from single frames gives the same canonical model.
                let mut rebuilt = Model::new();
                for (d, want) in naive.iter().enumerate() {
                    if let Some((mfn, perm)) = *want {
                        rebuilt.map(d as u64, mfn, 0, perm);
                    }
                }
                assert_eq!(rebuilt, m);
            }
        }
    }

    #[test]
    fn random_first_difference_matches_scan() {
        const UNIVERSE: u64 = 128;
        let perms = [R, W, RW];
        let mut rng = Rng::new(0x1234_5678_9abc_def1);
        let mut differing = 0;
        for _round in 0..500 {
            let mut a = Model::new();
            for _ in 0..6 {
                let order = rng.below(5) as u32;
                let dfn = rng.below(UNIVERSE >> order) << order;
                a.map(dfn, rng.below(16) << order, order, perms[rng.below(3) as usize]);
            }
            // b: a copy with a few small perturbations (maybe none).
            let mut b = a.clone();
            for _ in 0..rng.below(3) {
                let dfn = rng.below(UNIVERSE);
                match rng.below(3) {
                    0 => b.unmap(dfn, 0),
                    1 => b.map(dfn, rng.below(UNIVERSE), 0, perms[rng.below(3) as usize]),
                    _ => b.map(dfn, rng.below(16), rng.below(3) as u32, RW),
                }
            }
            let scan = (0..UNIVERSE + 8)
                .find(|&d| a.translate(d) != b.translate(d))
                .map(|d| ModelDifference { dfn: d, expected: a.translate(d), got: b.translate(d) });
            assert_eq!(a.first_difference(&b), scan);
            assert_eq!(a == b, scan.is_none());
            differing += usize::from(scan.is_some());
        }
        // The perturbations must actually produce differences most of the time.
        assert!(differing > 250, "{differing}");
    }

    #[test]
    fn extents_in_cuts_the_extents_to_the_range() {
        let mut m = Model::new();
        m.map(0x200, 0x1000, 9, RW);
        m.map(0x400, 0x2000, 0, R);
        m.map(0x410, 0x3000, 4, W);
        let within = |dfn, frames| m.extents_in(dfn, frames).collect::<Vec<_>>();
        assert_eq!(
            within(0x300, 0x101),
            vec![ext(0x300, 0x100, 0x1100, RW), ext(0x400, 1, 0x2000, R)]
        );
        assert_eq!(
            within(0x3ff, 0x12),
            vec![ext(0x3ff, 1, 0x11ff, RW), ext(0x400, 1, 0x2000, R), ext(0x410, 1, 0x3000, W)]
        );
        assert_eq!(within(0x401, 0xf), vec![]);
        assert_eq!(within(0x205, 1), vec![ext(0x205, 1, 0x1005, RW)]);
        assert_eq!(within(0x205, 0), vec![]);
        assert_eq!(within(0, u64::MAX), m.extents().copied().collect::<Vec<_>>());
        assert_eq!(within(0x41f, u64::MAX), vec![ext(0x41f, 1, 0x300f, W)]);
    }

    #[test]
    fn first_ungranted_checks_frames_and_permissions_over_the_range() {
        let mut m = Model::new();
        m.map(0x200, 0x1000, 9, Perm::RW);
        m.map(0x400, 0x1200, 0, Perm::R);
        assert_eq!(m.first_ungranted(0x200, 0x201, 0x1000, Perm::R), None);
        assert_eq!(m.first_ungranted(0x200, 0x201, 0x1000, Perm::W), Some(0x400));
        assert_eq!(m.first_ungranted(0x200, 0x202, 0x1000, Perm::R), Some(0x401));
        assert_eq!(m.first_ungranted(0x201, 1, 0x1000, Perm::R), Some(0x201));
        m.unmap(0x300, 0);
        assert_eq!(m.first_ungranted(0x200, 0x200, 0x1000, Perm::RW), Some(0x300));
        assert_eq!(m.first_ungranted(0x1ff, 2, 0xfff, Perm::NONE), Some(0x1ff));
        assert_eq!(m.first_ungranted(5, 0, 5, Perm::RW), None);
    }

    #[test]
    fn first_difference_from_leaves_examples() {
        let mut m = Model::new();
        m.map(0x200, 0x4000, 9, RW);
        // The same translations as 2 MiB and 4 KiB leaves: no difference.
        assert_eq!(m.first_difference_from_leaves(&[leaf(0x20_0000, 21, 0x400_0000, RW)]), None);
        let small: Vec<Leaf> =
            (0..512).map(|i| leaf((0x200 + i) << 12, 12, (0x4000 + i) << 12, RW)).collect();
        assert_eq!(m.first_difference_from_leaves(&small), None);
        // One 4 KiB leaf missing in the middle, then a wrong permission.
        let mut holes = small.clone();
        holes.remove(0x80);
        assert_eq!(
            m.first_difference_from_leaves(&holes),
            Some(ModelDifference { dfn: 0x280, expected: Some((0x4080, RW)), got: None })
        );
        holes[3].perm = R;
        assert_eq!(
            m.first_difference_from_leaves(&holes),
            Some(ModelDifference {
                dfn: 0x203,
                expected: Some((0x4003, RW)),
                got: Some((0x4003, R))
            })
        );
        // An extra leaf past the model's end; an empty leaf list.
        let mut extra = small;
        extra.push(leaf(0x40_0000, 12, 0x1000, W));
        assert_eq!(
            m.first_difference_from_leaves(&extra),
            Some(ModelDifference { dfn: 0x400, expected: None, got: Some((1, W)) })
        );
        assert_eq!(
            m.first_difference_from_leaves(&[]),
            Some(ModelDifference { dfn: 0x200, expected: Some((0x4000, RW)), got: None })
        );
        assert_eq!(Model::new().first_difference_from_leaves(&[]), None);
    }

    #[test]
    fn leaves_out_of_order_are_detected() {
        assert!(leaves_in_order(&[]));
        assert!(leaves_in_order(&[leaf(0, 12, 0, R), leaf(0x1000, 21, 0, R)]));
        assert!(!leaves_in_order(&[leaf(0x1000, 12, 0, R), leaf(0, 12, 0, R)]));
        // Overlapping: a 2 MiB slot then a 4 KiB slot inside it.
        assert!(!leaves_in_order(&[leaf(0, 21, 0, R), leaf(0x1000, 12, 0, R)]));
        // Two sub-frame slots in one frame overlap in DFN terms.
        assert!(!leaves_in_order(&[leaf(0x3000, 3, 0, R), leaf(0x3008, 3, 0, R)]));
        // A slot clipped at DFN u64::MAX: nothing can follow it.
        assert!(leaves_in_order(&[leaf(0x1000, 200, 0, R)]));
        assert!(!leaves_in_order(&[leaf(0, 200, 0, R), leaf(u64::MAX, 12, 0, R)]));
    }

    /// A random leaf list: usually sorted and disjoint like the enumerator's, built from `m`'s
    /// translations with perturbations or from scratch; sometimes shuffled or overlapping.
    fn random_leaves(rng: &mut Rng, m: &Model) -> Vec<Leaf> {
        let perms = [R, W, RW, Perm::NONE];
        let mut leaves = Vec::new();
        if rng.below(2) == 0 {
            // From the model: each extent as aligned leaves of 4 KiB or 32 KiB slots.
            for e in m.extents() {
                let mut d = e.dfn;
                while d < e.dfn + e.frames {
                    let big = d % 8 == 0 && d + 8 <= e.dfn + e.frames && rng.below(2) == 0;
                    let frames = if big { 8 } else { 1 };
                    let mfn = e.mfn + (d - e.dfn);
                    leaves.push(leaf(d << 12, if big { 15 } else { 12 }, mfn << 12, e.perm));
                    d += frames;
                }
            }
            for _ in 0..rng.below(3) {
                if leaves.is_empty() {
                    break;
                }
                let i = rng.below(leaves.len() as u64) as usize;
                match rng.below(4) {
                    0 => {
                        leaves.remove(i);
                    }
                    1 => leaves[i].spa ^= 1 << (12 + rng.below(4)),
                    2 => leaves[i].perm = perms[rng.below(4) as usize],
                    _ => leaves[i].iova += 0x1000 * rng.below(2),
                }
            }
        } else {
            // From scratch: increasing IOVAs, assorted slot sizes and addresses.
            let mut iova = rng.below(4) << 12;
            for _ in 0..rng.below(12) {
                let slot_log2 = [0, 3, 12, 12, 12, 13, 15, 21][rng.below(8) as usize];
                let spa = match rng.below(8) {
                    0 => u64::MAX - rng.below(3) * 0x1000,
                    1 => rng.next(),
                    _ => rng.below(300) << 12,
                };
                leaves.push(Leaf {
                    iova,
                    slot_log2,
                    spa,
                    page_size_log2: slot_log2,
                    perm: perms[rng.below(4) as usize],
                    level: 1,
                });
                let size = 1u64 << slot_log2.max(12);
                iova = (iova + size).next_multiple_of(size) + (rng.below(3) << 12);
            }
            if rng.below(8) == 0 {
                leaves.push(leaf(!0xfff, 40, 0, RW));
            }
        }
        let n = leaves.len();
        match rng.below(10) {
            0 if n > 1 => leaves.swap(0, n - 1),
            1 => leaves.push(leaf(rng.below(300) << 12, 12 + rng.below(10) as u32, 0x1000, W)),
            _ => {}
        }
        leaves
    }

    #[test]
    fn first_difference_from_leaves_equals_building_the_model() {
        const UNIVERSE: u64 = 256;
        let perms = [R, W, RW];
        let mut rng = Rng::new(0x0ddb_1a5e_5bad_5eed);
        let (mut linear, mut equal, mut differing) = (0, 0, 0);
        for _case in 0..20_000 {
            let mut m = Model::new();
            for _ in 0..rng.below(8) {
                let order = rng.below(6) as u32;
                let dfn = rng.below(UNIVERSE >> order) << order;
                if rng.below(4) == 0 {
                    m.unmap(dfn, order);
                } else {
                    m.map(dfn, rng.below(64) << order, order, perms[rng.below(3) as usize]);
                }
            }
            let leaves = random_leaves(&mut rng, &m);
            let want = m.first_difference(&Model::from_leaves(&leaves));
            assert_eq!(m.first_difference_from_leaves(&leaves), want, "{m:?}\n{leaves:?}");
            linear += usize::from(leaves_in_order(&leaves));
            equal += usize::from(want.is_none());
            differing += usize::from(want.is_some());
        }
        // Both paths and both outcomes are well exercised.
        assert!(linear > 15_000, "{linear}");
        assert!(equal > 3_000 && differing > 10_000, "{equal} {differing}");
    }
}
