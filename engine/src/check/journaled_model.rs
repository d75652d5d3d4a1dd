//! The runner's model of one implementation, with a journal of what each operation replaced:
//! the `flush` check compares those translations with the model after the operation, in
//! O(what the operation touched), instead of comparing whole models.

use crate::table::Perm;
use ptdiff_reference::{Extent, Model};
use std::ops::Deref;

/// A [`Model`] whose changes are journaled.
///
/// Invariant: `replaced` holds, for every `map`, `unmap` and `clear` since
/// [`JournaledModel::start_journal`], the translations its range held just before it, as
/// extents cut to the range, in call order. Reading goes through [`Deref`]; there is no
/// `DerefMut`, so every change is journaled.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JournaledModel {
    model: Model,
    replaced: Vec<Extent>,
    /// Changes so far (every `map`, `unmap`, `clear`): an unchanged generation means an
    /// unchanged model.
    generation: u64,
}

impl JournaledModel {
    /// An empty model with an empty journal.
    pub fn new() -> JournaledModel {
        JournaledModel::default()
    }

    /// Forgets the journal: what the next operation replaces is journaled from here.
    pub fn start_journal(&mut self) {
        self.replaced.clear();
    }

    /// The translations replaced since [`JournaledModel::start_journal`] (see the invariant).
    pub fn replaced(&self) -> &[Extent] {
        &self.replaced
    }

    /// Counts every change so far: equal generations mean an equal model.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// [`Model::map`], journaled.
    pub fn map(&mut self, dfn: u64, mfn: u64, order: u32, perm: Perm) {
        self.journal(dfn, order);
        self.model.map(dfn, mfn, order, perm);
    }

    /// [`Model::unmap`], journaled.
    pub fn unmap(&mut self, dfn: u64, order: u32) {
        self.journal(dfn, order);
        self.model.unmap(dfn, order);
    }

    /// [`Model::map_range`], journaled.
    pub fn map_range(&mut self, dfn: u64, frames: u64, mfn: u64, perm: Perm) {
        self.journal_frames(dfn, frames);
        self.model.map_range(dfn, frames, mfn, perm);
    }

    /// [`Model::unmap_range`], journaled.
    pub fn unmap_range(&mut self, dfn: u64, frames: u64) {
        self.journal_frames(dfn, frames);
        self.model.unmap_range(dfn, frames);
    }

    /// Replaces the whole model by `model`, not journaled: for a harness that states what the
    /// model is after operations it judged itself (a concurrent phase).
    pub fn replace(&mut self, model: Model) {
        self.generation += 1;
        self.model = model;
    }

    /// [`Model::clear`], journaled: O(n), for teardown.
    pub fn clear(&mut self) {
        self.generation += 1;
        self.replaced.extend(self.model.extents().copied());
        self.model.clear();
    }

    fn journal(&mut self, dfn: u64, order: u32) {
        self.journal_frames(dfn, 1u64.checked_shl(order).unwrap_or(u64::MAX));
    }

    fn journal_frames(&mut self, dfn: u64, frames: u64) {
        self.generation += 1;
        self.replaced.extend(self.model.extents_in(dfn, frames));
    }
}

impl Deref for JournaledModel {
    type Target = Model;

    fn deref(&self) -> &Model {
        &self.model
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ext(dfn: u64, frames: u64, mfn: u64, perm: Perm) -> Extent {
        Extent { dfn, frames, mfn, perm }
    }

    #[test]
    fn journals_what_each_change_replaced() {
        let mut m = JournaledModel::new();
        m.map(0x200, 0x1000, 9, Perm::RW);
        assert_eq!(m.replaced(), &[], "nothing was mapped there");
        m.start_journal();
        m.map(0x300, 0x5000, 0, Perm::R);
        m.unmap(0x3fe, 1);
        assert_eq!(
            m.replaced(),
            &[ext(0x300, 1, 0x1100, Perm::RW), ext(0x3fe, 2, 0x11fe, Perm::RW)]
        );
        assert_eq!(m.translate(0x300), Some((0x5000, Perm::R)));
        m.start_journal();
        m.clear();
        assert_eq!(m.replaced().len(), 3);
        assert!(m.is_empty());
        m.start_journal();
        m.unmap(0, 64);
        assert_eq!(m.replaced(), &[]);
    }
}
