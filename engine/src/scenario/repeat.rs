//! `repeat count`: the previous operation that is not a `repeat`, run `count` more times, the
//! `i`-th time (from 1) with every DFN and MFN operand moved on by `i * 2^order` frames (order
//! 0 for an operation without one; an order of 64 or more moves nothing). A short line of
//! text, or a few fuzz bytes, fills a whole table:
//!
//! ```text
//! map 0x40000 0x1000 0 rw   # dfn 0x40000 -> mfn 0x1000
//! repeat 511                # dfns 0x40001..=0x401ff -> mfns 0x1001..=0x11ff
//! unmap 0x40000 9           # empties it again
//! dma 0 0x40000 r
//! repeat 3                  # dma 0 0x40001 r, ..., dma 0 0x40003 r
//! ```
//!
//! The runner runs each repetition as an operation of its own (its own probes and checks;
//! findings name the repetition's operation at the `repeat` line's index).

use crate::scenario::op_table::OperandKind;
use crate::scenario::Op;

impl Op {
    /// The `i`-th repetition of this operation (the operation itself for `i` = 0).
    pub fn repetition(&self, i: u64) -> Op {
        let (spec, mut values) = self.operands();
        let order = spec
            .operands
            .iter()
            .position(|o| o.kind == OperandKind::Order)
            .map_or(0, |slot| values.get(slot));
        let count = spec
            .operands
            .iter()
            .position(|o| o.kind == OperandKind::Count)
            .map_or(1, |slot| values.get(slot));
        let stride = u32::try_from(order)
            .ok()
            .and_then(|o| 1u64.checked_shl(o))
            .and_then(|page| page.checked_mul(count))
            .unwrap_or(0);
        for (slot, operand) in spec.operands.iter().enumerate() {
            if matches!(operand.kind, OperandKind::Dfn | OperandKind::Mfn) {
                values.set(slot, values.get(slot).wrapping_add(i.wrapping_mul(stride)));
            }
        }
        (spec.build)(&values)
    }
}

/// The operations `ops` run, in order, each with the index of its line in `ops`: every op but
/// `repeat` as itself, every `repeat` as its repetitions.
pub fn expand(ops: &[Op]) -> impl Iterator<Item = (usize, Op)> + '_ {
    let mut base: Option<Op> = None;
    ops.iter().enumerate().flat_map(move |(index, op)| {
        let repetitions = match *op {
            Op::Repeat { count } => base.map(|b| (b, 1..=u64::from(count))),
            other => {
                base = Some(other);
                Some((other, 0..=0))
            }
        };
        repetitions
            .into_iter()
            .flat_map(move |(b, range)| range.map(move |i| (index, b.repetition(i))))
    })
}

/// How many operations `ops` run ([`expand`] yields as many): one per op, `count` per
/// `repeat` after the first op that is not one.
pub fn run_length(ops: &[Op]) -> u64 {
    let mut based = false;
    ops.iter()
        .map(|op| match *op {
            Op::Repeat { count } if based => u64::from(count),
            Op::Repeat { .. } => 0,
            _ => {
                based = true;
                1
            }
        })
        .sum()
}

/// The table entries the operations `ops` may write, each repetition counted: a map or unmap
/// of `count` pages of order `o` writes up to `count * 2^(o mod 9)` entries (NL = 7 replicas),
/// any other operation counts as one. A bound on the work a scenario makes the tables and the
/// final sweep do.
pub fn run_entries(ops: &[Op]) -> u64 {
    let mut base: Option<u64> = None;
    ops.iter()
        .map(|op| match *op {
            Op::Repeat { count } => base.map_or(0, |b| b.saturating_mul(u64::from(count))),
            other => {
                let entries = other.entries();
                base = Some(entries);
                entries
            }
        })
        .fold(0u64, u64::saturating_add)
}

impl Op {
    /// The table entries this operation may write (see [`run_entries`]).
    pub fn entries(&self) -> u64 {
        match *self {
            Op::Map { order, count, .. } | Op::Unmap { order, count, .. } => {
                count.saturating_mul(1 << (order % 9))
            }
            _ => 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ptdiff_reference::Perm;

    #[test]
    fn repetitions_move_dfns_and_mfns_by_the_order() {
        let map =
            Op::Map { dfn: 0x200, mfn: 0x1000, order: 9, perm: Perm::R, missed: true, count: 1 };
        assert_eq!(
            map.repetition(3),
            Op::Map { dfn: 0x800, mfn: 0x1600, order: 9, perm: Perm::R, missed: true, count: 1 }
        );
        assert_eq!(
            run_entries(&[
                Op::Notify { dfn: 0 },
                Op::Unmap { dfn: 0, order: 3, count: 5 },
                Op::Repeat { count: 2 },
            ]),
            1 + 40 + 80
        );
        // A range of 3 pages moves on by 3 pages.
        let range = Op::Unmap { dfn: 0x10, order: 0, count: 3 };
        assert_eq!(range.repetition(2), Op::Unmap { dfn: 0x16, order: 0, count: 3 });
        assert_eq!(map.repetition(0), map);
        assert_eq!(
            Op::Unmap { dfn: 5, order: 0, count: 1 }.repetition(2),
            Op::Unmap { dfn: 7, order: 0, count: 1 }
        );
        assert_eq!(
            Op::Dma { dev: 1, dfn: u64::MAX, access: Perm::W }.repetition(1),
            Op::Dma { dev: 1, dfn: 0, access: Perm::W }
        );
        assert_eq!(
            Op::Unmap { dfn: 5, order: 64, count: 1 }.repetition(9),
            Op::Unmap { dfn: 5, order: 64, count: 1 }
        );
        assert_eq!(Op::Assign { dev: 1 }.repetition(4), Op::Assign { dev: 1 });
    }

    #[test]
    fn expand_runs_the_previous_op_that_is_not_a_repeat() {
        let ops = [
            Op::Repeat { count: 2 },
            Op::Notify { dfn: 0x10 },
            Op::Repeat { count: 2 },
            Op::Repeat { count: 1 },
            Op::Teardown,
        ];
        let run: Vec<(usize, Op)> = expand(&ops).collect();
        assert_eq!(
            run,
            vec![
                (1, Op::Notify { dfn: 0x10 }),
                (2, Op::Notify { dfn: 0x11 }),
                (2, Op::Notify { dfn: 0x12 }),
                (3, Op::Notify { dfn: 0x11 }),
                (4, Op::Teardown),
            ]
        );
        assert_eq!(run_length(&ops), 5);
        assert_eq!(run_length(&ops[..1]), 0, "a repeat with nothing before it runs nothing");
    }
}
