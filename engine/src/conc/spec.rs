//! The deterministic sequential specification of one implementation's abstract state, for the
//! linearizability frontier ([`super::linear`]): what the sequential runner knows at a
//! quiescent point (model, height, devices, teardown) and how each operation changes it and
//! what it must return, through the same [`expect`] rules the runner applies.
//!
//! A [`Spec`] shares its model ([`Rc`]) with the states derived from it and keeps its own map
//! and unmap changes apart (a patch): deriving a state, comparing two and reading one DFN
//! cost O(the changes since the last [`Spec::settle`]), never a copy of the model.

mod patch;

use crate::check::device_set::DeviceSet;
use crate::check::expect;
use crate::check::Subject;
use crate::scenario::Op;
use crate::table::{ErrorClass, PageOrders, Perm};
use patch::Patch;
use ptdiff_reference::{Fault, Model, Translation, TranslationKind};
use std::borrow::Cow;
use std::fmt;
use std::rc::Rc;

/// Who reads a translation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reader {
    /// A device's DMA, walked by the hardware walker: blocked unless the device is assigned.
    Device(u16),
    /// The implementation's own `lookup`: the model, whatever the devices.
    Lookup,
}

impl From<u16> for Reader {
    fn from(dev: u16) -> Reader {
        Reader::Device(dev)
    }
}

impl fmt::Display for Reader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reader::Device(dev) => write!(f, "device {dev}"),
            Reader::Lookup => f.write_str("lookup"),
        }
    }
}

/// What a read of one DFN gives. [`Spec::observe`] says [`Observed::Blocked`],
/// [`Observed::Unmapped`] or [`Observed::Mapped`]; what a walk saw ([`Observed::of_walk`])
/// may also be [`Observed::Faulted`] or [`Observed::Untranslated`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Observed {
    /// The device is not assigned, or the domain is torn down.
    Blocked,
    /// Nothing is mapped at the DFN (seen: a table leaf granting nothing, or a lookup finding
    /// nothing).
    Unmapped,
    /// The DFN translates to `mfn` with exactly `perm`.
    Mapped { mfn: u64, perm: Perm },
    /// Seen: the walk faulted, so the device is blocked or the DFN unmapped (DMA cannot tell
    /// which).
    Faulted,
    /// Seen: the walk passed the access without a table (DTE not valid, TV = 0 pass-through,
    /// mode 0); no specification allows it.
    Untranslated { spa: u64, perm: Perm, kind: TranslationKind },
}

impl Observed {
    /// What an oracle walk of `dfn << 12` with [`Perm::NONE`] as the access saw.
    pub fn of_walk(result: &Result<Translation, Fault>) -> Observed {
        match *result {
            Err(_) => Observed::Faulted,
            Ok(t) => match t.kind {
                TranslationKind::Table { .. } if t.perm.is_empty() => Observed::Unmapped,
                TranslationKind::Table { .. } => {
                    Observed::Mapped { mfn: t.spa >> 12, perm: t.perm }
                }
                kind => Observed::Untranslated { spa: t.spa, perm: t.perm, kind },
            },
        }
    }

    /// What an implementation's `lookup` gave.
    pub fn of_lookup(found: Option<(u64, Perm)>) -> Observed {
        match found {
            Some((mfn, perm)) => Observed::Mapped { mfn, perm },
            None => Observed::Unmapped,
        }
    }

    /// True when a read that saw `self` agrees with a specification that says `expected`.
    /// Where the specification grants nothing (blocked or unmapped), anything that grants
    /// nothing agrees (a fault, a leaf granting nothing: DMA cannot tell them apart); a mapping
    /// agrees only with the same frame and exactly the same permissions.
    pub fn agrees_with(self, expected: Observed) -> bool {
        match expected {
            Observed::Blocked | Observed::Unmapped => self.grants_nothing(),
            Observed::Mapped { .. } => self == expected,
            Observed::Faulted | Observed::Untranslated { .. } => false,
        }
    }

    /// A fault, an unmapped or blocked answer, or an untranslated pass-through that grants no
    /// permission at all (how a blocking DTE, mode 0 with IR = IW = 0, answers a walk that asks
    /// for nothing): no access goes through.
    fn grants_nothing(self) -> bool {
        match self {
            Observed::Blocked | Observed::Unmapped | Observed::Faulted => true,
            Observed::Untranslated { perm, .. } => perm.is_empty(),
            Observed::Mapped { .. } => false,
        }
    }
}

impl fmt::Display for Observed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Observed::Blocked => f.write_str("blocked"),
            Observed::Unmapped => f.write_str("unmapped"),
            Observed::Mapped { mfn, perm } => write!(f, "mfn {mfn:#x} {perm}"),
            Observed::Faulted => f.write_str("a fault"),
            Observed::Untranslated { spa, perm, kind } => {
                write!(f, "untranslated spa {spa:#x} {perm} ({kind:?})")
            }
        }
    }
}

/// One implementation's abstract state.
///
/// Equality is exact for settled states ([`Spec::settle`]); two unsettled states over the same
/// settled model compare equal when they changed the same DFNs to the same translations.
#[derive(Clone, Debug)]
pub struct Spec {
    base: Rc<Model>,
    patch: Patch,
    /// Current height (0 once torn down, as [`crate::PageTable::levels`]).
    pub levels: u8,
    /// The implementation's [`crate::PageTable::max_levels`].
    pub max_levels: u8,
    /// The implementation's [`crate::PageTable::page_orders`].
    pub orders: PageOrders,
    /// Devices assigned.
    pub assigned: DeviceSet,
    /// A teardown succeeded.
    pub torn_down: bool,
    /// Whether a map beyond the height grows the table first (`growth=in-map`) rather than
    /// failing with `BeyondHeight`.
    pub grows_in_map: bool,
}

impl PartialEq for Spec {
    fn eq(&self, other: &Spec) -> bool {
        (self.levels, self.max_levels, self.orders, self.assigned, self.torn_down)
            == (other.levels, other.max_levels, other.orders, other.assigned, other.torn_down)
            && self.grows_in_map == other.grows_in_map
            && self.patch == other.patch
            && (Rc::ptr_eq(&self.base, &other.base) || self.base == other.base)
    }
}

impl Eq for Spec {}

impl Spec {
    /// The state of `model` on a table `levels` high that grows to `max_levels` and maps
    /// `orders`, with `assigned` devices, torn down or not.
    pub fn new(
        model: Model,
        levels: u8,
        max_levels: u8,
        orders: PageOrders,
        assigned: DeviceSet,
        torn_down: bool,
    ) -> Spec {
        Spec {
            base: Rc::new(model),
            patch: Patch::default(),
            levels,
            max_levels,
            orders,
            assigned,
            torn_down,
            grows_in_map: false,
        }
    }

    /// What the sequential runner knows of `subject` (at a quiescent point); copies its model.
    pub fn of(subject: &Subject) -> Spec {
        let table = &subject.table;
        Spec::new(
            Model::clone(&subject.model),
            table.levels(),
            table.max_levels(),
            table.page_orders(),
            subject.assigned,
            subject.torn_down,
        )
    }

    /// The result class `op` must have in this state, and the state after it, as the
    /// sequential runner decides them: map ([`expect::map`]; with no notify before it: the
    /// caller decides that), unmap ([`expect::unmap`]), notify ([`expect::notify`], growing to
    /// [`expect::levels_after_notify`]), assign, deassign, teardown; every operation of a torn
    /// down domain is [`ErrorClass::TornDown`] and changes nothing. A range maps or unmaps
    /// all its pages. Reads and markers (`translate`, `dma`, `fail`, `repeat`) change nothing
    /// and are `Ok`.
    pub fn apply(&self, op: &Op) -> (Result<(), ErrorClass>, Spec) {
        let mut next = self.clone();
        let expected = next.step(op);
        (expected, next)
    }

    /// [`Spec::apply`] in place.
    pub fn step(&mut self, op: &Op) -> Result<(), ErrorClass> {
        let changes = !matches!(
            op,
            Op::Translate { .. } | Op::Dma { .. } | Op::FailAlloc { .. } | Op::Repeat { .. }
        );
        if self.torn_down && changes {
            return Err(ErrorClass::TornDown);
        }
        let frames = |order, count| expect::range_frames(order, count).unwrap_or(u64::MAX);
        match *op {
            Op::Map { dfn, mfn, order, perm, count, .. } => {
                let (orders, max) = (self.orders, self.max_levels);
                let levels = if self.grows_in_map { max } else { self.levels };
                let expected = expect::map(dfn, mfn, order, count, perm, orders, levels, max);
                if expected.is_ok() {
                    self.patch.map(dfn, frames(order, count), mfn, perm);
                    if let Some(last) = expect::range_last(dfn, order, count) {
                        self.levels = expect::levels_after_notify(self.levels, last);
                    }
                }
                expected
            }
            Op::Unmap { dfn, order, count } => {
                let expected = expect::unmap(dfn, order, count, self.orders);
                if expected.is_ok() {
                    self.patch.unmap(dfn, frames(order, count));
                }
                expected
            }
            Op::Notify { dfn } => {
                let expected = expect::notify(dfn, self.max_levels);
                if expected.is_ok() {
                    self.levels = expect::levels_after_notify(self.levels, dfn);
                }
                expected
            }
            Op::Assign { dev } if self.assigned.contains(dev) => Err(ErrorClass::Device),
            Op::Assign { dev } => {
                self.assigned.insert(dev);
                Ok(())
            }
            Op::Deassign { dev } if !self.assigned.contains(dev) => Err(ErrorClass::Device),
            Op::Deassign { dev } => {
                self.assigned.remove(dev);
                Ok(())
            }
            Op::Teardown => {
                self.base = Rc::new(Model::new());
                self.patch = Patch::default();
                self.assigned = DeviceSet::EMPTY;
                self.levels = 0;
                self.torn_down = true;
                Ok(())
            }
            Op::Translate { .. } | Op::Dma { .. } | Op::FailAlloc { .. } | Op::Repeat { .. } => {
                Ok(())
            }
        }
    }

    /// What `dfn` translates to.
    pub fn translate(&self, dfn: u64) -> Option<(u64, Perm)> {
        self.patch.translate(dfn).unwrap_or_else(|| self.base.translate(dfn))
    }

    /// What `reader` must see at `dfn` in this state.
    pub fn observe(&self, reader: impl Into<Reader>, dfn: u64) -> Observed {
        if let Reader::Device(dev) = reader.into() {
            if self.torn_down || !self.assigned.contains(dev) {
                return Observed::Blocked;
            }
        }
        Observed::of_lookup(self.translate(dfn))
    }

    /// The model: borrowed when settled, else a copy with the changes applied.
    pub fn model(&self) -> Cow<'_, Model> {
        if self.patch.is_empty() {
            return Cow::Borrowed(&self.base);
        }
        let mut model = Model::clone(&self.base);
        self.patch.apply_to(&mut model);
        Cow::Owned(model)
    }

    /// The model, copied only when another state still shares it.
    pub fn into_model(self) -> Model {
        let mut model = Rc::try_unwrap(self.base).unwrap_or_else(|shared| Model::clone(&shared));
        self.patch.apply_to(&mut model);
        model
    }

    /// Applies the changes to the model, copying it first only when another state shares it.
    pub fn settle(&mut self) {
        if !self.patch.is_empty() {
            self.patch.apply_to(Rc::make_mut(&mut self.base));
            self.patch = Patch::default();
        }
    }

    /// The DFN ranges `[start, end)` changed since the model was last settled, in increasing
    /// order: the only DFNs where two states derived from one settled state can differ.
    pub fn changed_ranges(&self) -> &[(u64, u64)] {
        self.patch.written()
    }

    /// True when the changes are in the model ([`Spec::settle`]).
    pub fn is_settled(&self) -> bool {
        self.patch.is_empty()
    }
}

#[cfg(test)]
mod tests;
