//! Map and unmap changes kept apart from the model they apply to, so that a [`super::Spec`]
//! shares its model with every other specification state of a frontier and an operation copies
//! only its own changes.

use ptdiff_reference::{Model, Perm};

/// Changes to a model: the DFNs written, and what they translate to now.
///
/// Invariant: `written` holds half-open ranges `[start, end)`, `start < end`, in increasing
/// order, neither overlapping nor touching; `now` translates nothing outside them. Two patches
/// that wrote the same DFNs with the same final translations are equal, whatever the order of
/// their changes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Patch {
    written: Vec<(u64, u64)>,
    now: Model,
}

impl Patch {
    /// True when nothing was written.
    pub(super) fn is_empty(&self) -> bool {
        self.written.is_empty()
    }

    /// The written ranges `[start, end)`, in increasing order.
    pub(super) fn written(&self) -> &[(u64, u64)] {
        &self.written
    }

    /// [`Model::map_range`] on top of the changes so far.
    pub(super) fn map(&mut self, dfn: u64, frames: u64, mfn: u64, perm: Perm) {
        if self.write(dfn, frames) {
            self.now.map_range(dfn, frames, mfn, perm);
        }
    }

    /// [`Model::unmap_range`] on top of the changes so far.
    pub(super) fn unmap(&mut self, dfn: u64, frames: u64) {
        if self.write(dfn, frames) {
            self.now.unmap_range(dfn, frames);
        }
    }

    /// What `dfn` translates to when the patch wrote it (`Some`, holding `None` for unmapped);
    /// `None` when the model below decides.
    pub(super) fn translate(&self, dfn: u64) -> Option<Option<(u64, Perm)>> {
        let after = self.written.partition_point(|&(start, _)| start <= dfn);
        let (_, end) = *self.written.get(after.checked_sub(1)?)?;
        (dfn < end).then(|| self.now.translate(dfn))
    }

    /// Applies the changes to `model`, in O((k + 1) log n) for k written ranges and extents.
    pub(super) fn apply_to(&self, model: &mut Model) {
        for &(start, end) in &self.written {
            model.unmap_range(start, end - start);
        }
        for e in self.now.extents() {
            model.map_range(e.dfn, e.frames, e.mfn, e.perm);
        }
    }

    /// Adds `[dfn, dfn + frames)` (clipped at DFN `u64::MAX`, as the model clips) to the
    /// written ranges; false when it is empty.
    fn write(&mut self, dfn: u64, frames: u64) -> bool {
        let (mut start, mut end) = (dfn, dfn.saturating_add(frames));
        if start >= end {
            return false;
        }
        // Ranges that overlap or touch `[start, end)` merge with it.
        let first = self.written.partition_point(|&(_, e)| e < start);
        let last = self.written.partition_point(|&(s, _)| s <= end);
        if first < last {
            start = start.min(self.written[first].0);
            end = end.max(self.written[last - 1].1);
        }
        self.written.splice(first..last, [(start, end)]);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(changes: &[(u64, u64, Option<u64>)]) -> Model {
        let mut m = Model::new();
        for &(dfn, frames, mfn) in changes {
            match mfn {
                Some(mfn) => m.map_range(dfn, frames, mfn, Perm::RW),
                None => m.unmap_range(dfn, frames),
            }
        }
        m
    }

    #[test]
    fn a_patch_applies_like_the_model_it_stands_for() {
        let base = model(&[(0, 64, Some(0x1000)), (100, 4, Some(0x2000))]);
        let changes = [(8, 8, None), (30, 20, Some(0x3000)), (16, 2, Some(0x10)), (101, 1, None)];
        let mut patch = Patch::default();
        for &(dfn, frames, mfn) in &changes {
            match mfn {
                Some(mfn) => patch.map(dfn, frames, mfn, Perm::RW),
                None => patch.unmap(dfn, frames),
            }
        }
        // [8, 18) merged from two touching writes; [30, 50); [101, 102).
        assert_eq!(patch.written, vec![(8, 18), (30, 50), (101, 102)]);
        let mut direct = base.clone();
        for &(dfn, frames, mfn) in &changes {
            match mfn {
                Some(mfn) => direct.map_range(dfn, frames, mfn, Perm::RW),
                None => direct.unmap_range(dfn, frames),
            }
        }
        let mut patched = base.clone();
        patch.apply_to(&mut patched);
        assert_eq!(patched, direct);
        for dfn in 0..120 {
            let through = patch.translate(dfn).unwrap_or_else(|| base.translate(dfn));
            assert_eq!(through, direct.translate(dfn), "dfn {dfn}");
        }
        assert_eq!(patch.translate(7), None);
        assert_eq!(patch.translate(9), Some(None));
        assert_eq!(patch.translate(17), Some(Some((0x11, Perm::RW))));
        assert_eq!(patch.translate(18), None);
    }

    #[test]
    fn commuting_changes_give_equal_patches_and_empty_ones_write_nothing() {
        let (mut a, mut b) = (Patch::default(), Patch::default());
        a.map(5, 1, 7, Perm::R);
        a.unmap(200, 3);
        b.unmap(200, 3);
        b.map(5, 1, 7, Perm::R);
        assert_eq!(a, b);
        a.map(9, 0, 1, Perm::R);
        a.unmap(u64::MAX, 5);
        assert_eq!(a, b);
        // A range over the overlapping ones merges them all.
        a.unmap(0, 1000);
        assert_eq!(a.written, vec![(0, 1000)]);
        assert!(!a.is_empty() && Patch::default().is_empty());
    }
}
