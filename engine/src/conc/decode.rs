//! The one decoder from fuzz bytes to a [`ConcScenario`]: the same bytes always mean the same
//! scenario, decoding never fails, and every result passes [`ConcScenario::validate`].
//!
//! # The bytes
//!
//! The input is a **front**, read forwards, and a **trailer** of fixed-size records, read from
//! the end. Bytes missing from either read as 0.
//!
//! Front:
//! 1. the config, as the sequential decoder reads it ([`crate::scenario::decode`]);
//! 2. a threads byte `h`: the thread count from `h % 8` ([`THREAD_COUNTS`]), shadow walks off
//!    when `(h >> 3) % 16` is [`SHADOW_OFF`]; bit 7 is free;
//! 3. three op-count bytes, one per possible thread ([`OP_COUNTS`] of the byte modulo 16), read
//!    even for absent threads, so a change of the thread count moves nothing;
//! 4. each thread's ops in turn: an op byte (its row among the ops a thread may run, by
//!    [`THREAD_ROWS`]), the operands as the sequential decoder reads them (a `missed` flag read
//!    is dropped), then a site byte biased by the op's kind (`assign` from `pci`, `notify` from
//!    `notify-site`, `map` from `p2m`, `rogue` rarely). A range that would take the threads'
//!    entries beyond [`MAX_THREAD_ENTRIES`] is cut to the pages that fit (at least one). Bytes
//!    missing read as 0
//!    (an op `map 0x0 0x0 0 rw`);
//! 5. the setup: the sequential decoder's leading-`assign 0` byte, a length byte `n` (`n % 8`
//!    below 192, `n - 192` from 192: up to 63 ops), then up to that many ops read as the
//!    sequential decoder reads them (the same op table, operand biases and `repeat`s), within
//!    [`MAX_SETUP_RUNS`] runs and [`MAX_SETUP_ENTRIES`] entries (an op that would write more
//!    ends the setup, a `repeat` is cut to what is left); the setup ends early when the front
//!    does.
//!
//! The threads come before the setup so that a longer setup never takes bytes from them, and a
//! mutation of the setup moves none of their ops.
//!
//! Trailer, from the end: a header byte (walks from its low 3 bits, [`WALK_COUNTS`];
//! preemptions from bits 3 to 6, [`PREEMPT_COUNTS`]; bit 7 free), before it the preemptions'
//! records, [`PREEMPT_RECORD`] bytes each, and before those the walks' records,
//! [`WALK_RECORD`] bytes each, both in order. A preemption is `task, op, access, target`; a walk
//! is `task, op, access, dev, dfn (9 bytes), access`. Each record is resolved against the
//! decoded threads (indices modulo their counts), so mutating a record moves one switch point,
//! and mutating the front's ops or setup moves none (only the thread and op counts, which the
//! records are resolved against, can).
//!
//! Record biases: anchors are mostly on threads, their access numbers mostly 1 to 40
//! ([`access_number`]); walks are unanchored 1 time in 8, their DFNs drawn as the sequential
//! decoder draws them (level edges, and the DFNs of the threads and setup); preemptions mostly
//! switch to another thread. A preemption with no other task to switch to, or at the anchor of
//! an earlier one, is left out.
//!
//! The layout is a corpus format: changing it changes what saved concurrent inputs mean.

use crate::conc::scenario::{
    Anchor, ConcScenario, Preempt, TaskRef, ThreadOp, WalkSpec, MAX_THREADS,
};
use crate::conc::site::Site;
use crate::scenario::decode::{Budget, Decoder, Next};
use crate::scenario::op_table::{by_keyword, OpSpec};
use crate::scenario::{Config, Op};

/// Most operations the setup runs, each repetition of a `repeat` counted.
///
/// The setup only builds the state the threads race on (every concurrent seed does it in at
/// most 2 ops, and each of the 8 concurrent planted bugs needs at most one: a mapping, a
/// superpage); it runs through the sequential runner with every per-op check, which is the
/// `differential` target's work, done there on scenarios of up to 1,024 ops. A long setup
/// only slows the concurrent target: before this bound, grown corpora held setups of 63 ops
/// and `repeat`s writing 65,000 entries, 4 to 5 ms an input against about 0.1 ms for the rest.
pub const MAX_SETUP_RUNS: usize = 32;
/// Most table entries the setup writes ([`crate::scenario::repeat::run_entries`]): a full
/// leaf table (512), so a thread can still race on a table that is full or about to empty.
pub const MAX_SETUP_ENTRIES: u64 = 512;
/// Most table entries the threads' ops write together ([`Op::entries`]); a range that would
/// go beyond is cut to the pages that fit, at least one (which may pass the bound by that
/// page's entries, at most 256).
///
/// The threads run "a short program of operations" (issue 13): 512 entries is a range across
/// a whole leaf table, or from the end of one into the next, long enough for a walk or a
/// preemption to land inside it (anchors reach access 552). Every store into a reachable slot
/// is followed by shadow walks through every device, so a thread's cost is linear in what it
/// writes: ranges of 4,096 pages took 12 ms an input.
pub const MAX_THREAD_ENTRIES: u64 = 512;

/// Thread counts, by the threads byte modulo 8.
pub const THREAD_COUNTS: [u8; 8] = [1, 2, 2, 2, 2, 3, 3, 2];
/// `(threads byte >> 3) % 16` that turns shadow walks off.
pub const SHADOW_OFF: u8 = 0xf;
/// A thread's op count, by its byte modulo 16.
pub const OP_COUNTS: [u8; 16] = [1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 4, 4, 5, 6, 7, 8];
/// Walk counts, by the header byte modulo 8.
pub const WALK_COUNTS: [u8; 8] = [0, 0, 0, 1, 1, 2, 3, 4];
/// Preemption counts, by `(header >> 3) % 16`.
pub const PREEMPT_COUNTS: [u8; 16] = [0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 4, 5, 6, 7, 8];
/// Bytes of one preemption record.
pub const PREEMPT_RECORD: usize = 4;
/// Bytes of one walk record.
pub const WALK_RECORD: usize = 14;
/// The walk record's bytes of DFN, read as the sequential decoder reads a DFN (at most 9).
const DFN_BYTES: usize = 9;

/// The ops a thread may run and how many of the 64 op-byte codes each takes, in code order.
pub const THREAD_ROWS: [(&str, u8); 7] = [
    ("map", 20),
    ("unmap", 12),
    ("notify", 12),
    ("assign", 8),
    ("deassign", 4),
    ("translate", 4),
    ("dma", 4),
];

/// Task byte of a walk record, modulo 16: a thread below this, an earlier walk below
/// [`WALK_UNANCHORED`], else no anchor.
pub const WALK_ON_WALK: u8 = 12;
/// See [`WALK_ON_WALK`].
pub const WALK_UNANCHORED: u8 = 14;
/// Task byte of a preemption record, modulo 16: a thread below this, else a walk.
pub const PREEMPT_ON_WALK: u8 = 14;
/// Target byte of a preemption record, modulo 8: another thread below this, else a walk.
pub const TARGET_WALK: u8 = 6;

/// Decodes `data` into a valid concurrent scenario.
pub fn decode(data: &[u8]) -> ConcScenario {
    let trailer = Trailer::split(data);
    let mut d = Decoder::new(trailer.front);
    let config = d.config();
    let header = d.byte();
    let count = THREAD_COUNTS[usize::from(header % 8)];
    let shadow_walks = (header >> 3) % 16 != SHADOW_OFF;
    let op_counts = [d.byte(), d.byte(), d.byte()].map(|b| OP_COUNTS[usize::from(b % 16)]);
    let mut entries = 0;
    let threads: Vec<Vec<ThreadOp>> = op_counts[..usize::from(count)]
        .iter()
        .map(|&ops| (0..ops).map(|_| thread_op(&mut d, &config, &mut entries)).collect())
        .collect();
    let mut setup = Vec::new();
    let mut budget = Budget::new(MAX_SETUP_RUNS, MAX_SETUP_ENTRIES);
    d.leading_assign(&mut setup, &mut budget);
    let last = setup.len() + setup_length(d.byte());
    while setup.len() < last && !d.is_empty() && budget.runs < MAX_SETUP_RUNS {
        match d.budgeted_op(&config, setup.len(), &mut budget) {
            Next::Op(op) => setup.push(op),
            Next::Skip => continue,
            Next::Stop => break,
        }
    }
    let mut s = ConcScenario {
        config,
        setup,
        threads,
        walks: Vec::new(),
        preempts: Vec::new(),
        shadow_walks,
    };
    for record in trailer.walks() {
        let walk = walk(&s, record, d.used());
        s.walks.push(walk);
    }
    for record in trailer.preempts() {
        if let Some(p) = preempt(&s, record) {
            if s.preempts.iter().all(|q| q.at != p.at) {
                s.preempts.push(p);
            }
        }
    }
    s
}

/// The setup ops after the leading `assign 0`, by the length byte.
pub fn setup_length(byte: u8) -> usize {
    usize::from(if byte < 192 { byte % 8 } else { byte - 192 })
}

/// An anchor's access number by its byte: 1 to 40 (240 bytes in 256), else 72 to 552 in steps
/// of 32 (accesses deep inside a long op such as a split).
pub fn access_number(byte: u8) -> u32 {
    match byte {
        0..=239 => 1 + u32::from(byte % 40),
        _ => 40 + 32 * u32::from(byte - 239),
    }
}

/// The row of the thread op byte `byte`.
pub fn thread_row(byte: u8) -> &'static OpSpec {
    let mut code = byte % 64;
    for (keyword, codes) in THREAD_ROWS {
        if code < codes {
            return by_keyword(keyword).unwrap_or(&crate::scenario::op_table::OPS[0]);
        }
        code -= codes;
    }
    &crate::scenario::op_table::OPS[0]
}

/// The sites an op's site byte picks from, modulo 16, by the op's kind.
pub fn site_bias(op: &Op) -> &'static [Site; 16] {
    use Site::{NotifySite as N, P2m as P, Pci as C, Rogue as R};
    match op {
        // Notify, assign and deassign need the devices lock held by their caller; a site that
        // does not hold it breaks the caller protocol, which the lock rules blame on the call
        // site. Until those rules run in the fuzz target, random inputs call them from
        // compliant sites only (a text scenario may still use `rogue`).
        Op::Notify { .. } => &[N; 16],
        Op::Assign { .. } | Op::Deassign { .. } => {
            &[C, C, C, C, C, C, C, C, C, C, C, C, C, C, N, N]
        }
        _ => &[P, P, P, P, P, P, P, P, P, P, P, P, P, N, C, R],
    }
}

/// One thread op: op byte, operands, site byte; `entries` counts the scenario's entries.
fn thread_op(d: &mut Decoder<'_>, config: &Config, entries: &mut u64) -> ThreadOp {
    let row = thread_row(d.byte());
    let mut op = d.operands(row, config);
    if let Op::Map { missed, .. } = &mut op {
        *missed = false;
    }
    let left = MAX_THREAD_ENTRIES.saturating_sub(*entries);
    if op.entries() > left {
        if let Op::Map { count, order, .. } | Op::Unmap { count, order, .. } = &mut op {
            *count = (left >> (*order % 9)).max(1);
        }
    }
    *entries = entries.saturating_add(op.entries());
    let site = site_bias(&op)[usize::from(d.byte() % 16)];
    ThreadOp { site, op }
}

/// The anchor of task byte-chosen `task` at the op and access bytes.
fn anchor_on(s: &ConcScenario, task: TaskRef, op: u8, access: u8) -> Anchor {
    let op = match task {
        TaskRef::Thread(t) => {
            let ops = s.threads.get(usize::from(t)).map_or(1, Vec::len).max(1);
            usize::from(op) % ops
        }
        TaskRef::Walk(_) => 0,
    };
    Anchor { task, op: op as u16, access: access_number(access) }
}

/// Thread `(byte >> 4)` modulo the thread count.
fn thread_of(s: &ConcScenario, byte: u8) -> TaskRef {
    TaskRef::Thread((byte >> 4) % s.threads.len().clamp(1, MAX_THREADS) as u8)
}

/// The walk of a record, the `s.walks.len()`-th; `used` are the DFNs drawn so far.
fn walk(s: &ConcScenario, record: [u8; WALK_RECORD], used: &[u64]) -> WalkSpec {
    let index = s.walks.len() as u8;
    let [task, op, access, dev, ..] = record;
    let task = match task % 16 {
        WALK_UNANCHORED.. => None,
        WALK_ON_WALK.. if index > 0 => Some(TaskRef::Walk((task >> 4) % index)),
        _ => Some(thread_of(s, task)),
    };
    let dfn_bytes = &record[4..4 + DFN_BYTES];
    let dfn = Decoder::remembering(dfn_bytes, used.to_vec()).dfn(0, s.config.all_page_sizes);
    let perm = Decoder::new(&record[4 + DFN_BYTES..]).perm();
    WalkSpec {
        at: task.map(|t| anchor_on(s, t, op, access)),
        dev: u16::from(dev % s.config.devices.max(1)),
        dfn,
        access: if perm.is_empty() { ptdiff_reference::Perm::R } else { perm },
    }
}

/// The preemption of a record, or `None` when there is no other task to switch to.
fn preempt(s: &ConcScenario, record: [u8; PREEMPT_RECORD]) -> Option<Preempt> {
    let [task, op, access, target] = record;
    let walks = s.walks.len() as u8;
    let task = match task % 16 {
        PREEMPT_ON_WALK.. if walks > 0 => TaskRef::Walk((task >> 4) % walks),
        _ => thread_of(s, task),
    };
    let at = anchor_on(s, task, op, access);
    let (threads, walks) = other_tasks(s, task);
    let pick =
        |tasks: &[TaskRef]| tasks.get(usize::from(target >> 3) % tasks.len().max(1)).copied();
    let to = match target % 8 {
        TARGET_WALK.. => pick(&walks).or_else(|| pick(&threads)),
        _ => pick(&threads).or_else(|| pick(&walks)),
    }?;
    Some(Preempt { at, to })
}

/// The threads and the walks of `s` other than `task`, in order.
pub fn other_tasks(s: &ConcScenario, task: TaskRef) -> (Vec<TaskRef>, Vec<TaskRef>) {
    let threads = (0..s.threads.len() as u8).map(TaskRef::Thread).filter(|&t| t != task);
    let walks = (0..s.walks.len() as u8).map(TaskRef::Walk).filter(|&w| w != task);
    (threads.collect(), walks.collect())
}

/// An input split into its front and its trailer records.
struct Trailer<'a> {
    front: &'a [u8],
    /// The walk records then the preemption records, zero-padded in front when the input is
    /// short.
    records: Vec<u8>,
    walks: usize,
}

impl<'a> Trailer<'a> {
    fn split(data: &'a [u8]) -> Trailer<'a> {
        let (header, rest) = data.split_last().map_or((0, data), |(h, rest)| (*h, rest));
        let walks = usize::from(WALK_COUNTS[usize::from(header % 8)]);
        let preempts = usize::from(PREEMPT_COUNTS[usize::from((header >> 3) % 16)]);
        let len = walks * WALK_RECORD + preempts * PREEMPT_RECORD;
        let start = rest.len().saturating_sub(len);
        let mut records = vec![0; len - (rest.len() - start)];
        records.extend_from_slice(&rest[start..]);
        Trailer { front: &rest[..start], records, walks }
    }

    fn walks(&self) -> impl Iterator<Item = [u8; WALK_RECORD]> + '_ {
        let bytes = &self.records[..self.walks * WALK_RECORD];
        bytes.chunks_exact(WALK_RECORD).map(|c| c.try_into().unwrap_or([0; WALK_RECORD]))
    }

    fn preempts(&self) -> impl Iterator<Item = [u8; PREEMPT_RECORD]> + '_ {
        let bytes = &self.records[self.walks * WALK_RECORD..];
        bytes.chunks_exact(PREEMPT_RECORD).map(|c| c.try_into().unwrap_or([0; PREEMPT_RECORD]))
    }
}

#[cfg(test)]
mod tests;
