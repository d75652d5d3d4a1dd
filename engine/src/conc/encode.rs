//! The inverse of [`crate::conc::decode`]: bytes that decode back to a given concurrent
//! scenario, so concurrent seeds are written as readable `corpus/scenarios/conc-*.scn` files
//! and compiled to bytes (`ptdiff seeds`). Values go through the decoders' raw choices, ops
//! through their rows' first codes, sites and counts through the first byte that selects them.

use crate::conc::decode::{
    decode, other_tasks, site_bias, MAX_SETUP_ENTRIES, MAX_SETUP_RUNS, MAX_THREAD_ENTRIES,
    OP_COUNTS, PREEMPT_COUNTS, PREEMPT_ON_WALK, SHADOW_OFF, TARGET_WALK, THREAD_COUNTS,
    THREAD_ROWS, WALK_COUNTS, WALK_ON_WALK, WALK_UNANCHORED,
};
use crate::conc::scenario::{Anchor, ConcError, ConcScenario, TaskRef, MAX_THREADS};
use crate::scenario::encode::{
    perm_byte, push_config, push_op, push_operands, EncodeError as OpEncodeError, DFN_RAW,
};
use crate::scenario::repeat::{run_entries, run_length};
use crate::scenario::Op;
use thiserror::Error;

/// A concurrent scenario the decoder cannot produce.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum EncodeError {
    #[error("not a valid concurrent scenario: {0}")]
    Invalid(ConcError),
    #[error("config: {0}")]
    Config(OpEncodeError),
    /// Setup op `index` (0-based).
    #[error("setup: {source}")]
    Setup { source: OpEncodeError },
    #[error("op t{thread}.{index}: {source}")]
    ThreadOp { thread: usize, index: usize, source: OpEncodeError },
    /// A site the decoder never gives that op (a caller breaking the protocol).
    #[error("op t{thread}.{index}: a fuzz input never calls `{op}` from {site}")]
    Site { thread: usize, index: usize, site: crate::conc::Site, op: crate::scenario::Op },
    #[error("{0} setup ops; a fuzz input has at most 63 after a leading `assign 0`")]
    SetupOps(usize),
    #[error(
        "the setup runs {runs} ops writing {entries} entries; a fuzz input's setup runs at \
         most {MAX_SETUP_RUNS} writing at most {MAX_SETUP_ENTRIES}"
    )]
    SetupRuns { runs: u64, entries: u64 },
    #[error("the threads write {0} entries; a fuzz input's at most {MAX_THREAD_ENTRIES}")]
    Entries(u64),
    #[error("anchor {0}: a fuzz input has access numbers 1 to 40 and 72 to 552 in steps of 32")]
    Access(Anchor),
    #[error("the bytes decode to a different scenario (an encoder bug):\n{0}")]
    RoundTrip(String),
}

/// Bytes that [`decode`] turns into exactly `s`. The result is checked by decoding it.
pub fn encode(s: &ConcScenario) -> Result<Vec<u8>, EncodeError> {
    s.validate().map_err(EncodeError::Invalid)?;
    let c = &s.config;
    let mut out = Vec::new();
    push_config(&mut out, c).map_err(EncodeError::Config)?;
    let shadow = if s.shadow_walks { 0 } else { SHADOW_OFF << 3 };
    out.push(first_index(&THREAD_COUNTS, s.threads.len() as u8) | shadow);
    for t in 0..MAX_THREADS {
        out.push(s.threads.get(t).map_or(0, |ops| first_index(&OP_COUNTS, ops.len() as u8)));
    }
    let mut entries = 0u64;
    for (thread, ops) in s.threads.iter().enumerate() {
        for (index, t) in ops.iter().enumerate() {
            out.push(thread_code(t.op.keyword()));
            push_operands(&mut out, index, &t.op, c).map_err(|source| EncodeError::ThreadOp {
                thread,
                index,
                source,
            })?;
            let bias = site_bias(&t.op);
            if !bias.contains(&t.site) {
                return Err(EncodeError::Site { thread, index, site: t.site, op: t.op });
            }
            out.push(first_index(bias, t.site));
            entries += t.op.entries();
            // The decoder cuts a range beyond the budget to the pages that fit, at least one.
            let cut = matches!(t.op, Op::Map { count: 2.., .. } | Op::Unmap { count: 2.., .. });
            if entries > MAX_THREAD_ENTRIES && cut {
                return Err(EncodeError::Entries(entries));
            }
        }
    }
    let assigns = matches!(s.setup.first(), Some(Op::Assign { dev: 0 }));
    let rest = s.setup.len() - usize::from(assigns);
    let length = match rest {
        0..=7 => rest as u8,
        8..=63 => 192 + rest as u8,
        _ => return Err(EncodeError::SetupOps(s.setup.len())),
    };
    let runs = run_length(&s.setup);
    let entries = run_entries(&s.setup);
    if runs > MAX_SETUP_RUNS as u64 || entries > MAX_SETUP_ENTRIES {
        return Err(EncodeError::SetupRuns { runs, entries });
    }
    out.extend_from_slice(&[u8::from(assigns), length]);
    for (index, op) in s.setup.iter().enumerate().skip(usize::from(assigns)) {
        push_op(&mut out, index, op, c).map_err(|source| EncodeError::Setup { source })?;
    }
    for walk in &s.walks {
        let (task, op, access) = match walk.at {
            None => (WALK_UNANCHORED, 0, 0),
            Some(a) => (task_byte(a.task, WALK_ON_WALK), a.op as u8, access_byte(a)?),
        };
        out.extend_from_slice(&[task, op, access, walk.dev as u8, DFN_RAW]);
        out.extend_from_slice(&walk.dfn.to_le_bytes());
        out.push(perm_byte(walk.access));
    }
    for p in &s.preempts {
        let (threads, walks) = other_tasks(s, p.at.task);
        let target = match p.to {
            TaskRef::Thread(_) => first_index(&threads, p.to) << 3,
            TaskRef::Walk(_) => first_index(&walks, p.to) << 3 | TARGET_WALK,
        };
        let task = task_byte(p.at.task, PREEMPT_ON_WALK);
        out.extend_from_slice(&[task, p.at.op as u8, access_byte(p.at)?, target]);
    }
    let walks = first_index(&WALK_COUNTS, s.walks.len() as u8);
    out.push(walks | first_index(&PREEMPT_COUNTS, s.preempts.len() as u8) << 3);
    let decoded = decode(&out);
    if decoded != *s {
        return Err(EncodeError::RoundTrip(decoded.to_string()));
    }
    Ok(out)
}

/// The first index of `value` in `table` (0 when absent: the round trip then fails).
fn first_index<T: PartialEq>(table: &[T], value: T) -> u8 {
    table.iter().position(|t| *t == value).unwrap_or(0) as u8
}

/// The first thread op code of the row keyworded `keyword`.
fn thread_code(keyword: &str) -> u8 {
    let mut code = 0;
    for (row, codes) in THREAD_ROWS {
        if row == keyword {
            break;
        }
        code += codes;
    }
    code
}

/// A record's task byte: thread `t` as `t << 4`, walk `w` as `w << 4 | on_walk`.
fn task_byte(task: TaskRef, on_walk: u8) -> u8 {
    match task {
        TaskRef::Thread(t) => t << 4,
        TaskRef::Walk(w) => w << 4 | on_walk,
    }
}

/// The byte [`crate::conc::decode::access_number`] reads as the anchor's access.
fn access_byte(a: Anchor) -> Result<u8, EncodeError> {
    match a.access {
        1..=40 => Ok(a.access as u8 - 1),
        n if (72..=552).contains(&n) && (n - 40) % 32 == 0 => Ok(239 + ((n - 40) / 32) as u8),
        _ => Err(EncodeError::Access(a)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conc::text::parse;

    #[test]
    fn encodes_the_story_of_section_6a() {
        let s = parse(
            "assign 0\nthread 0 pci assign 1\nthread 1 notify-site notify 0x40000\n\
             thread 1 p2m map 0x40000 0x11 0 rw\npreempt t0.0#1 -> t1\n",
        )
        .unwrap();
        let bytes = encode(&s).unwrap();
        assert_eq!(decode(&bytes), s);
        // Config (2 bytes), threads byte, three counts.
        assert_eq!(&bytes[2..6], &[1, 0, 3, 0]);
        // ... the threads' ops, then the setup: the leading assign and no more op.
        assert_eq!(&bytes[bytes.len() - 7..bytes.len() - 5], &[1, 0]);
        // The preempt record and the header (no walk: 0; one preempt: 1 << 3).
        assert_eq!(&bytes[bytes.len() - 5..], &[0, 0, 0, 0, 1 << 3]);
    }

    #[test]
    fn encodes_every_anchor_kind_and_target() {
        let s = parse(
            "config devices=4 ranges=on\nassign 1\nmap 0 0 0 r 3\nrepeat 2\n\
             thread 0 pci assign 2\nthread 0 rogue unmap 0 0 2\n\
             thread 1 notify-site notify 0x1ff\nthread 2 notify-site dma 3 0x200 w\n\
             walk dev 3 dfn 0xffffffffffffffff rw\nwalk t2.0#40 dev 0 dfn 0x1 r\n\
             walk w1.0#552 dev 0 dfn 0x2 w\npreempt t0.1#72 -> w2\npreempt w2.0#1 -> t1\n\
             preempt t1.0#3 -> t0\npreempt w0.0#2 -> w1\nshadow off\n",
        )
        .unwrap();
        assert_eq!(decode(&encode(&s).unwrap()), s);
    }

    #[test]
    fn refuses_what_the_decoder_cannot_produce() {
        let mut s =
            parse("thread 0 notify-site notify 0\npreempt t0.0#41 -> w0\nwalk dev 0 dfn 0 r\n")
                .unwrap();
        assert_eq!(
            encode(&s).map_err(|e| e.to_string()),
            Err("anchor t0.0#41: a fuzz input has access numbers 1 to 40 and 72 to 552 in \
                 steps of 32"
                .to_string())
        );
        s.preempts.clear();
        s.threads[0][0].site = crate::conc::Site::P2m;
        assert_eq!(
            encode(&s).map_err(|e| e.to_string()),
            Err("op t0.0: a fuzz input never calls `notify 0x0` from p2m".to_string())
        );
        s.threads[0][0].site = crate::conc::Site::NotifySite;
        s.config.devices = 5;
        assert_eq!(encode(&s), Err(EncodeError::Config(OpEncodeError::TooManyDevices(5))));
        s.config.devices = 2;
        s.setup = vec![crate::scenario::Op::Notify { dfn: 0 }; 64];
        assert_eq!(encode(&s), Err(EncodeError::SetupOps(64)));
        s.setup = vec![
            crate::scenario::Op::Notify { dfn: 0 },
            crate::scenario::Op::Repeat { count: 600 },
        ];
        assert_eq!(encode(&s), Err(EncodeError::SetupRuns { runs: 601, entries: 601 }));
        s.setup = vec![crate::scenario::Op::FailAlloc { nth: 5 }];
        assert_eq!(
            encode(&s).map_err(|e| e.to_string()),
            Err("setup: op 1: `fail 5`; a fuzz input fails allocations 1 to 4".to_string())
        );
        s.setup.clear();
        let first = s.threads[0][0];
        s.threads[0].push(first);
        s.threads[0][1].op =
            crate::scenario::Op::Dma { dev: 1, dfn: 0, access: ptdiff_reference::Perm::R };
        assert_eq!(decode(&encode(&s).unwrap()), s);
        s.threads.push(vec![]);
        assert!(matches!(encode(&s), Err(EncodeError::Invalid(ConcError::ThreadOps { .. }))));
    }
}
