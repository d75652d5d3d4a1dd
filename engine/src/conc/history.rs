//! The history of a concurrent run, in the order things happened: operations invoked and
//! returned, and every observation of the translations (a shadow walk after a store, a walk
//! after an operation returned, a scheduled hardware walk). The linearizability oracle replays
//! it; reports print it.

use crate::scenario::Op;
use crate::step::{Access, TaskId};
use crate::table::PtError;
use ptdiff_reference::{Fault, Translation};
use std::cell::RefCell;

/// Why a walk was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cause {
    /// A zero-duration walk right after `task` made `access` (a store into a reachable slot or
    /// a DTE).
    Shadow { task: TaskId, access: Access },
    /// A walk right after `task`'s op `op` returned, at a DFN of its range.
    AfterReturn { task: TaskId, op: usize },
    /// Scheduled hardware walk `walk` (its reads spread over steps).
    Walk { walk: usize },
}

/// One event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// `task` invoked its op number `op` (0-based in its program).
    Invoke { task: TaskId, op: usize, what: Op },
    /// `task`'s op `op` returned `result`.
    Return { task: TaskId, op: usize, result: Result<(), PtError> },
    /// Scheduled walk `walk` started (its first read is after this).
    WalkStart { walk: usize },
    /// Device `dev`'s access to `dfn` walked in memory gave `result`.
    Read { dev: u16, dfn: u64, result: Result<Translation, Fault>, cause: Cause },
}

/// The event log, shared by the tasks and the observer of one run.
///
/// Invariant: `open` lists, in invocation order, the operations with a DFN range that `events`
/// invokes and does not return, so asking what is in flight costs what is in flight, not the
/// length of the history (a shadow walk asks after every store).
#[derive(Debug, Default)]
pub struct History {
    events: RefCell<Vec<Event>>,
    open: RefCell<Vec<Open>>,
}

/// An operation in flight: its task, its index in the task's program, its DFN range.
type Open = (TaskId, usize, (u64, u64));

impl History {
    /// Appends `event`.
    pub fn push(&self, event: Event) {
        match &event {
            Event::Invoke { task, op, what } => {
                if let Some(range) = dfn_range(what) {
                    self.open.borrow_mut().push((*task, *op, range));
                }
            }
            Event::Return { task, op, .. } => {
                self.open.borrow_mut().retain(|o| (o.0, o.1) != (*task, *op));
            }
            _ => {}
        }
        self.events.borrow_mut().push(event);
    }

    /// The DFN ranges `(first, last)` of the operations invoked and not returned, in
    /// invocation order.
    pub fn in_flight(&self) -> Vec<(u64, u64)> {
        self.open.borrow().iter().map(|o| o.2).collect()
    }

    /// Calls `f` with each DFN range `(first, last)` of [`History::in_flight`], allocating
    /// nothing.
    pub fn for_each_in_flight(&self, mut f: impl FnMut((u64, u64))) {
        for o in self.open.borrow().iter() {
            f(o.2);
        }
    }

    /// The events so far.
    pub fn into_events(self) -> Vec<Event> {
        self.events.into_inner()
    }

    /// Number of events so far.
    pub fn len(&self) -> usize {
        self.events.borrow().len()
    }

    /// True when nothing happened yet.
    pub fn is_empty(&self) -> bool {
        self.events.borrow().is_empty()
    }
}

/// The DFNs an operation concerns, `(first, last)`.
pub fn dfn_range(op: &Op) -> Option<(u64, u64)> {
    match *op {
        Op::Map { dfn, order, count, .. } | Op::Unmap { dfn, order, count } => {
            let last = crate::check::expect::range_last(dfn, order, count).unwrap_or(u64::MAX);
            Some((dfn, last))
        }
        Op::Notify { dfn } | Op::Translate { dfn, .. } | Op::Dma { dfn, .. } => Some((dfn, dfn)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::Perm;

    fn map(dfn: u64, count: u64) -> Op {
        Op::Map { dfn, mfn: 0, order: 0, perm: Perm::RW, missed: false, count }
    }

    #[test]
    fn in_flight_lists_the_ranges_invoked_and_not_returned_in_invocation_order() {
        let h = History::default();
        h.push(Event::Invoke { task: 0, op: 0, what: map(0x10, 4) });
        h.push(Event::Invoke { task: 1, op: 0, what: Op::Assign { dev: 1 } });
        h.push(Event::Invoke { task: 2, op: 0, what: Op::Notify { dfn: 0x40 } });
        assert_eq!(h.in_flight(), vec![(0x10, 0x13), (0x40, 0x40)]);
        h.push(Event::Return { task: 0, op: 0, result: Ok(()) });
        h.push(Event::Invoke { task: 0, op: 1, what: map(0x20, 1) });
        let mut seen = Vec::new();
        h.for_each_in_flight(|r| seen.push(r));
        assert_eq!(seen, vec![(0x40, 0x40), (0x20, 0x20)]);
        h.push(Event::Return { task: 2, op: 0, result: Ok(()) });
        h.push(Event::Return { task: 0, op: 1, result: Ok(()) });
        assert_eq!(h.in_flight(), Vec::<(u64, u64)>::new());
        assert_eq!(h.len(), 7);
    }
}
