//! The linearizability oracle (`../shared/CONCURRENCY.md` sections 3.4 and 5.5, item 4): the
//! just-in-time linearization frontier of one implementation (Lowe's JIT linearization, or
//! Line-Up's check against a deterministic specification).
//!
//! The history arrives as events in real-time order: operations are invoked and return, reads
//! happen at one moment ([`Frontier::read`]) or over an interval ([`Frontier::invoke_read`] …
//! [`Frontier::ret_read`], linearized at one point of it). The frontier is the set of
//! *configurations* consistent with the history so far: a specification state ([`Spec`]) and,
//! for each operation or read in flight, whether it is already linearized and with which
//! expected result or value. It is kept closed: every configuration's successors by
//! linearizing any open item are in it too, so an item takes effect at any point between its
//! invocation and its return.
//!
//! - A read keeps the configurations whose [`Spec::observe`] the observation agrees with
//!   ([`Observed::agrees_with`]). Keeping only witnesses forbids flicker: once a read has seen
//!   an operation's effect, only configurations where it is linearized remain, so every later
//!   read must see it too.
//! - A return keeps the configurations where the operation is linearized with the class it
//!   returned ([`crate::PtError::class`]).
//! - When nothing remains, the event is a [`LinViolation`]: what was read or returned, the
//!   operations in flight, and what would have been allowed. The frontier is then left as it
//!   was before the event.
//!
//! Size: one configuration per order in which a subset of the operations in flight can have
//! been linearized, at most `1 + p + p(p-1) + … + p!` for `p` operations (16 for 3), fewer
//! when they commute, as equal configurations merge (8 for 3 maps of different DFNs, 13 for
//! 3 maps of one DFN); an armed allocation failure at most doubles an operation's share. Each
//! interval read in flight multiplies that by at most one plus the number of values it can
//! have seen (3 maps in flight and 2 interval reads of their DFNs: 25). States left ambiguous
//! by returned operations that raced (two maps of one DFN, with no read telling which won)
//! survive until the caller settles them at quiescence ([`Frontier::collapse`],
//! [`Frontier::settle`]). Past [`MAX_CONFIGS`] an event fails with
//! [`FrontierError::Overflow`] and changes nothing.
//!
//! Cost: a configuration shares its model with the others ([`Spec`]), so no event copies a
//! model; with nothing in flight a read is one model lookup.

use super::spec::{Observed, Reader, Spec};
use crate::scenario::Op;
use crate::table::{ErrorClass, PtError};
use std::fmt;
use thiserror::Error;

/// Names an operation or an interval read in flight: chosen by the caller, unique among those
/// in flight.
pub type EventId = u32;

/// Most configurations a frontier holds.
pub const MAX_CONFIGS: usize = 1024;

/// An operation in flight, as a violation lists it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PendingOp {
    pub id: EventId,
    pub op: Op,
}

impl fmt::Display for PendingOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{} `{}`", self.id, self.op)
    }
}

/// An event no linearization of the history allows.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum LinViolation {
    /// A read saw a value no configuration allows.
    #[error(
        "{reader} read dfn {dfn:#x} as {observed}, with {} in flight; allowed: {}",
        list(pending),
        list(allowed)
    )]
    Read {
        reader: Reader,
        dfn: u64,
        observed: Observed,
        /// The operations in flight during the read (for an interval read: at its return).
        pending: Vec<PendingOp>,
        /// The values the read could have seen.
        allowed: Vec<Observed>,
    },
    /// An operation returned a result no configuration allows.
    #[error(
        "#{id} `{op}` returned {}, with {} in flight; allowed: {}",
        result(got),
        list(pending),
        list_classes(allowed)
    )]
    Return {
        id: EventId,
        op: Op,
        got: Result<(), PtError>,
        /// The operations in flight, this one included.
        pending: Vec<PendingOp>,
        /// The result classes the operation could have returned.
        allowed: Vec<Result<(), ErrorClass>>,
    },
}

fn list<T: fmt::Display>(items: &[T]) -> String {
    if items.is_empty() {
        return "nothing".to_string();
    }
    items.iter().map(T::to_string).collect::<Vec<_>>().join(", ")
}

fn result(got: &Result<(), PtError>) -> String {
    match got {
        Ok(()) => "ok".to_string(),
        Err(e) => format!("`{e}` ({:?})", e.class()),
    }
}

fn list_classes(allowed: &[Result<(), ErrorClass>]) -> String {
    let each: Vec<String> = allowed
        .iter()
        .map(|r| match r {
            Ok(()) => "ok".to_string(),
            Err(class) => format!("{class:?}"),
        })
        .collect();
    list(&each)
}

/// Why a frontier event was not taken.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum FrontierError {
    /// The history is not linearizable.
    #[error("not linearizable: {0}")]
    Violation(Box<LinViolation>),
    /// An invocation reused the ID of an operation or read still in flight.
    #[error("event {0} is already in flight")]
    InFlight(EventId),
    /// A return named no operation (or, for [`Frontier::ret_read`], no read) in flight.
    #[error("no {kind} {id} is in flight")]
    NotInFlight { id: EventId, kind: &'static str },
    /// [`Frontier::collapse`] or [`Frontier::settle`] with operations or reads in flight.
    #[error("{0} operations or reads are still in flight")]
    NotQuiescent(usize),
    /// [`Frontier::settle`] named no surviving state.
    #[error("state {index} does not exist: {survivors} survive")]
    NoSuchState { index: usize, survivors: usize },
    /// The event would take the frontier past [`MAX_CONFIGS`].
    #[error("the frontier would exceed {MAX_CONFIGS} configurations")]
    Overflow,
}

impl From<LinViolation> for FrontierError {
    fn from(v: LinViolation) -> FrontierError {
        FrontierError::Violation(Box::new(v))
    }
}

/// An operation or interval read in flight.
#[derive(Clone, Copy, Debug)]
enum Item {
    /// `armed`: an allocation failure is armed for it, so where it must succeed it may also
    /// return `NoMemory`, changing nothing.
    Op {
        id: EventId,
        op: Op,
        armed: bool,
    },
    Read {
        id: EventId,
        reader: Reader,
        dfn: u64,
    },
}

impl Item {
    fn id(&self) -> EventId {
        match *self {
            Item::Op { id, .. } | Item::Read { id, .. } => id,
        }
    }
}

/// Where an item in flight stands in one configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mark {
    Open,
    /// Linearized, with the result it must return.
    Done(Result<(), ErrorClass>),
    /// A read linearized, with the value it must have seen.
    Saw(Observed),
}

/// A specification state and, per item in flight (same index), its mark.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Config {
    spec: Spec,
    marks: Vec<Mark>,
}

/// The configurations consistent with one implementation's history (see the module
/// documentation).
///
/// Invariant: `configs` is non-empty, duplicate-free and closed under linearizing any open
/// item; `configs[i].marks[j]` is the mark of `pending[j]`.
#[derive(Clone, Debug)]
pub struct Frontier {
    pending: Vec<Item>,
    configs: Vec<Config>,
    peak: usize,
}

impl Frontier {
    /// The frontier of a quiescent implementation in state `spec`.
    pub fn new(spec: Spec) -> Frontier {
        Frontier { pending: Vec::new(), configs: vec![Config { spec, marks: Vec::new() }], peak: 1 }
    }

    /// Operation `id` (`op`) starts.
    pub fn invoke(&mut self, id: EventId, op: Op) -> Result<(), FrontierError> {
        self.begin(Item::Op { id, op, armed: false })
    }

    /// Operation `id` (`op`) starts with an allocation failure armed: where it must succeed,
    /// it may instead return `NoMemory` having changed nothing (a range that failed part-way
    /// is not modelled).
    pub fn invoke_armed(&mut self, id: EventId, op: Op) -> Result<(), FrontierError> {
        self.begin(Item::Op { id, op, armed: true })
    }

    /// Operation `id` returns `result`.
    pub fn ret(&mut self, id: EventId, result: Result<(), PtError>) -> Result<(), FrontierError> {
        let j = self.position(id, "operation", |item| matches!(item, Item::Op { .. }))?;
        let returned = |mark: &Mark| match (*mark, result) {
            (Mark::Done(Ok(())), Ok(())) => true,
            (Mark::Done(Err(class)), Err(e)) => e.class() == class,
            _ => false,
        };
        if !self.configs.iter().any(|c| returned(&c.marks[j])) {
            let Item::Op { op, .. } = self.pending[j] else {
                return Err(FrontierError::NotInFlight { id, kind: "operation" });
            };
            let mut allowed = Vec::new();
            for c in &self.configs {
                if let Mark::Done(r) = c.marks[j] {
                    push_new(&mut allowed, r);
                }
            }
            let pending = self.pending_ops();
            return Err(LinViolation::Return { id, op, got: result, pending, allowed }.into());
        }
        self.configs.retain(|c| returned(&c.marks[j]));
        self.retire(j);
        Ok(())
    }

    /// `reader` read `dfn` at this moment and saw `observed`.
    pub fn read(
        &mut self,
        reader: impl Into<Reader>,
        dfn: u64,
        observed: Observed,
    ) -> Result<(), FrontierError> {
        let reader = reader.into();
        let agrees = |c: &Config| observed.agrees_with(c.spec.observe(reader, dfn));
        if self.configs.iter().all(&agrees) {
            return Ok(());
        }
        if !self.configs.iter().any(agrees) {
            let mut allowed = Vec::new();
            for c in &self.configs {
                push_new(&mut allowed, c.spec.observe(reader, dfn));
            }
            let pending = self.pending_ops();
            return Err(LinViolation::Read { reader, dfn, observed, pending, allowed }.into());
        }
        let (kept, dropped): (Vec<Config>, Vec<Config>) =
            std::mem::take(&mut self.configs).into_iter().partition(agrees);
        let kept_len = kept.len();
        self.configs = kept;
        // Open items may still take effect after the read.
        self.close().inspect_err(|_| {
            self.configs.truncate(kept_len);
            self.configs.extend(dropped);
        })
    }

    /// Read `id` of `dfn` by `reader` starts; it is linearized at one point before
    /// [`Frontier::ret_read`].
    pub fn invoke_read(
        &mut self,
        id: EventId,
        reader: impl Into<Reader>,
        dfn: u64,
    ) -> Result<(), FrontierError> {
        self.begin(Item::Read { id, reader: reader.into(), dfn })
    }

    /// Read `id` ends, having seen `observed`.
    pub fn ret_read(&mut self, id: EventId, observed: Observed) -> Result<(), FrontierError> {
        let j = self.position(id, "read", |item| matches!(item, Item::Read { .. }))?;
        let saw = |mark: &Mark| matches!(*mark, Mark::Saw(v) if observed.agrees_with(v));
        if !self.configs.iter().any(|c| saw(&c.marks[j])) {
            let Item::Read { reader, dfn, .. } = self.pending[j] else {
                return Err(FrontierError::NotInFlight { id, kind: "read" });
            };
            let mut allowed = Vec::new();
            for c in &self.configs {
                if let Mark::Saw(v) = c.marks[j] {
                    push_new(&mut allowed, v);
                }
            }
            let pending = self.pending_ops();
            return Err(LinViolation::Read { reader, dfn, observed, pending, allowed }.into());
        }
        self.configs.retain(|c| saw(&c.marks[j]));
        self.retire(j);
        Ok(())
    }

    /// True when no operation or read is in flight.
    pub fn is_quiescent(&self) -> bool {
        self.pending.is_empty()
    }

    /// Stops judging every interval read in flight: forgets them, merging the configurations
    /// that differed only in what they saw, and returns their ids. Sound, as judging fewer
    /// reads can only explain more; a caller whose next event would overflow the frontier
    /// ([`FrontierError::Overflow`]) may forget the reads and retry it. Their
    /// [`Frontier::ret_read`] is then not in flight (the caller skips it).
    pub fn forget_reads(&mut self) -> Vec<EventId> {
        let mut forgotten = Vec::new();
        let mut j = 0;
        while j < self.pending.len() {
            match self.pending[j] {
                Item::Read { id, .. } => {
                    forgotten.push(id);
                    self.pending.remove(j);
                    for config in &mut self.configs {
                        config.marks.remove(j);
                    }
                }
                Item::Op { .. } => j += 1,
            }
        }
        dedupe(&mut self.configs);
        forgotten
    }

    /// The operations in flight, in invocation order.
    pub fn pending_ops(&self) -> Vec<PendingOp> {
        self.pending
            .iter()
            .filter_map(|item| match *item {
                Item::Op { id, op, .. } => Some(PendingOp { id, op }),
                Item::Read { .. } => None,
            })
            .collect()
    }

    /// Number of configurations now.
    pub fn len(&self) -> usize {
        self.configs.len()
    }

    /// Always false: a frontier holds at least one configuration.
    pub fn is_empty(&self) -> bool {
        self.configs.is_empty()
    }

    /// The most configurations held at once since [`Frontier::new`].
    pub fn peak(&self) -> usize {
        self.peak
    }

    /// Every configuration's state: at quiescence, the states the implementation may be in.
    pub fn specs(&self) -> impl Iterator<Item = &Spec> + '_ {
        self.configs.iter().map(|c| &c.spec)
    }

    /// At quiescence: merges equal states and returns how many survive; a single survivor is
    /// settled ([`Spec::settle`]). More than one survive when returned operations raced with
    /// no read to tell their order (two maps of one DFN). They are left unsettled, sharing one
    /// model, and differ only inside their [`Spec::changed_ranges`] (the same in each): the
    /// caller checks the implementation against each ([`Frontier::specs`]; comparing
    /// [`Spec::translate`] there first is cheap, [`Spec::model`] copies the model) and keeps
    /// the one it matches ([`Frontier::settle`], which copies nothing).
    pub fn collapse(&mut self) -> Result<usize, FrontierError> {
        if !self.is_quiescent() {
            return Err(FrontierError::NotQuiescent(self.pending.len()));
        }
        dedupe(&mut self.configs);
        if let [config] = self.configs.as_mut_slice() {
            config.spec.settle();
        }
        Ok(self.configs.len())
    }

    /// At quiescence: keeps only surviving state `index` (in [`Frontier::specs`] order),
    /// settled, and returns it.
    pub fn settle(&mut self, index: usize) -> Result<&Spec, FrontierError> {
        if !self.is_quiescent() {
            return Err(FrontierError::NotQuiescent(self.pending.len()));
        }
        let survivors = self.configs.len();
        if index >= survivors {
            return Err(FrontierError::NoSuchState { index, survivors });
        }
        self.configs.swap(0, index);
        self.configs.truncate(1);
        let spec = &mut self.configs[0].spec;
        spec.settle();
        Ok(spec)
    }

    /// The single surviving state at quiescence, settled, for the caller to read or change
    /// (say, to re-synchronise it with the implementation); `None` while items are in flight
    /// or several states survive.
    pub fn spec_mut(&mut self) -> Option<&mut Spec> {
        match self.configs.as_mut_slice() {
            [config] if self.pending.is_empty() => {
                config.spec.settle();
                Some(&mut config.spec)
            }
            _ => None,
        }
    }

    fn begin(&mut self, item: Item) -> Result<(), FrontierError> {
        let id = item.id();
        if self.pending.iter().any(|p| p.id() == id) {
            return Err(FrontierError::InFlight(id));
        }
        let before = self.configs.len();
        self.pending.push(item);
        for config in &mut self.configs {
            config.marks.push(Mark::Open);
        }
        self.close().inspect_err(|_| {
            self.pending.pop();
            self.configs.truncate(before);
            for config in &mut self.configs {
                config.marks.pop();
            }
        })
    }

    /// Index of the item `id` in flight, if it is of the `kind` `is_kind` accepts.
    fn position(
        &self,
        id: EventId,
        kind: &'static str,
        is_kind: impl Fn(&Item) -> bool,
    ) -> Result<usize, FrontierError> {
        self.pending
            .iter()
            .position(|item| item.id() == id && is_kind(item))
            .ok_or(FrontierError::NotInFlight { id, kind })
    }

    /// Forgets item `j` (now linearized in every configuration), merging configurations that
    /// differed only in its mark; at quiescence with one state left, settles it.
    fn retire(&mut self, j: usize) {
        self.pending.remove(j);
        for config in &mut self.configs {
            config.marks.remove(j);
        }
        dedupe(&mut self.configs);
        if let ([config], true) = (self.configs.as_mut_slice(), self.pending.is_empty()) {
            config.spec.settle();
        }
    }

    /// Adds every configuration reachable by linearizing open items, after those there (on
    /// error, the caller drops what was added).
    fn close(&mut self) -> Result<(), FrontierError> {
        let mut i = 0;
        while i < self.configs.len() {
            for j in 0..self.pending.len() {
                if self.configs[i].marks[j] != Mark::Open {
                    continue;
                }
                let (first, second) = linearize(&self.configs[i], j, &self.pending[j]);
                for next in std::iter::once(first).chain(second) {
                    if !self.configs.contains(&next) {
                        if self.configs.len() == MAX_CONFIGS {
                            return Err(FrontierError::Overflow);
                        }
                        self.configs.push(next);
                    }
                }
            }
            i += 1;
        }
        self.peak = self.peak.max(self.configs.len());
        Ok(())
    }
}

/// `config` with item `j` linearized now; an armed operation that must succeed also has the
/// failed alternative.
fn linearize(config: &Config, j: usize, item: &Item) -> (Config, Option<Config>) {
    let mut next = config.clone();
    match *item {
        Item::Op { op, armed, .. } => {
            let expected = next.spec.step(&op);
            next.marks[j] = Mark::Done(expected);
            let failed = (armed && expected.is_ok()).then(|| {
                let mut failed = config.clone();
                failed.marks[j] = Mark::Done(Err(ErrorClass::NoMemory));
                failed
            });
            (next, failed)
        }
        Item::Read { reader, dfn, .. } => {
            next.marks[j] = Mark::Saw(config.spec.observe(reader, dfn));
            (next, None)
        }
    }
}

fn dedupe(configs: &mut Vec<Config>) {
    let mut i = 1;
    while i < configs.len() {
        if configs[..i].contains(&configs[i]) {
            configs.remove(i);
        } else {
            i += 1;
        }
    }
}

fn push_new<T: PartialEq>(values: &mut Vec<T>, value: T) {
    if !values.contains(&value) {
        values.push(value);
    }
}

#[cfg(test)]
mod tests;
