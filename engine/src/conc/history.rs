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
#[derive(Debug, Default)]
pub struct History {
    events: RefCell<Vec<Event>>,
}

impl History {
    /// Appends `event`.
    pub fn push(&self, event: Event) {
        self.events.borrow_mut().push(event);
    }

    /// The DFN ranges `(first, last)` of the operations invoked and not returned.
    pub fn in_flight(&self) -> Vec<(u64, u64)> {
        let events = self.events.borrow();
        let mut open: Vec<(TaskId, usize, (u64, u64))> = Vec::new();
        for e in events.iter() {
            match e {
                Event::Invoke { task, op, what } => {
                    if let Some(range) = dfn_range(what) {
                        open.push((*task, *op, range));
                    }
                }
                Event::Return { task, op, .. } => open.retain(|o| (o.0, o.1) != (*task, *op)),
                _ => {}
            }
        }
        open.into_iter().map(|o| o.2).collect()
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
