//! The step-level proof that no state of the fixed table hides outside `Cx`: every kind of
//! operation runs as task 0 of a preemptible run, switching at every step to a second task
//! that only reads (the top, root entries, a DTE, the device list), and ends exactly as the
//! sequential run of the same operation from the same state: same result, same number of
//! steps, same shared state (memory, frame ledger, commands, top, devices).

use super::super::Fixed;
use crate::step::exec::{self, poll_once, run, SwitchEveryStep, TaskFuture};
use crate::step::{Cx, PagesFuture, Shared, StepTable, DEFAULT_STEP_BUDGET};
use crate::substrate::device_table::dte_spa;
use crate::substrate::iommu::Iommu;
use crate::table::{PagesError, Perm, PtError};
use std::cell::Cell;
use std::task::Poll;

const DOMAIN: u16 = 7;
const DEV: u16 = 3;

/// What an operation returns.
type OpResult = Result<(), PagesError>;

/// One operation of the table, as task 0 runs it.
#[derive(Clone, Copy, Debug)]
enum Op {
    Create,
    Map {
        dfn: u64,
        mfn: u64,
        order: u32,
        count: u64,
        perm: Perm,
    },
    Unmap {
        dfn: u64,
        order: u32,
        count: u64,
    },
    /// `map`: one page, without a range.
    MapPage {
        dfn: u64,
        mfn: u64,
        order: u32,
        perm: Perm,
    },
    /// `unmap`: one page, without a range.
    UnmapPage {
        dfn: u64,
        order: u32,
    },
    Notify(u64),
    Assign(u16),
    Deassign(u16),
    Teardown,
}

impl Op {
    fn start<'a, 's: 'a>(self, t: &'a Fixed, cx: &'a Cx<'s>) -> PagesFuture<'a> {
        let op = match self {
            Op::Map { dfn, mfn, order, count, perm } => {
                return t.map_pages(cx, dfn, mfn, order, count, perm)
            }
            Op::Unmap { dfn, order, count } => return t.unmap_pages(cx, dfn, order, count),
            Op::MapPage { dfn, mfn, order, perm } => t.map(cx, dfn, mfn, order, perm),
            Op::UnmapPage { dfn, order } => t.unmap(cx, dfn, order),
            Op::Create => t.create(cx),
            Op::Notify(dfn) => t.notify_dfn(cx, dfn),
            Op::Assign(dev) => t.assign(cx, dev),
            Op::Deassign(dev) => t.deassign(cx, dev),
            Op::Teardown => t.teardown(cx),
        };
        Box::pin(async move { op.await.map_err(PagesError::from) })
    }
}

/// `op` on `shared` alone, without yielding: its result and its steps.
fn sequential(table: &Fixed, shared: &mut Shared, op: Op) -> (OpResult, u32) {
    let cx = Cx::sequential(shared);
    cx.begin_op(0);
    let mut future = op.start(table, &cx);
    let Poll::Ready(result) = poll_once(future.as_mut()) else {
        panic!("{op:?} did not complete in one poll");
    };
    (result, cx.position(0).access)
}

/// `op` on `shared` as task 0 of a preemptible run switching at every step to a reader: its
/// result, its steps and the reader's steps.
fn interleaved(table: &Fixed, shared: &mut Shared, op: Op) -> (OpResult, u32, u32) {
    let cx = Cx::new(shared, 2, true, DEFAULT_STEP_BUDGET);
    let result = Cell::new(None);
    let done = Cell::new(false);
    let outcome = {
        let (cx, result, done) = (&cx, &result, &done);
        let tasks: Vec<TaskFuture<'_>> = vec![
            Box::pin(async move {
                cx.begin_op(0);
                result.set(Some(op.start(table, cx).await));
                done.set(true);
            }),
            Box::pin(async move {
                cx.begin_op(1);
                while !done.get() {
                    if let Some(top) = cx.top().await {
                        for i in 0..3 {
                            let _ = cx.read(top.root + 8 * i).await;
                        }
                    }
                    let _ = cx.read(dte_spa(DEV).unwrap_or(0)).await;
                    let _ = cx.devices().await;
                }
            }),
        ];
        run(cx, tasks, &mut SwitchEveryStep, 1 << 22)
    };
    assert_eq!(outcome, exec::Outcome::Done, "{op:?}");
    let result = result.take().unwrap_or_else(|| panic!("{op:?} did not finish"));
    (result, cx.position(0).access, cx.position(1).access)
}

/// Runs `op` both ways from `shared`, checks they agree, and moves `shared` on to the
/// state after it; returns the result and the steps of the operation.
fn both_ways(table: &Fixed, shared: &mut Shared, op: Op) -> (OpResult, u32) {
    let mut mixed = shared.clone();
    let (result, steps) = sequential(table, shared, op);
    let (mixed_result, mixed_steps, reader_steps) = interleaved(table, &mut mixed, op);
    assert_eq!(mixed_result, result, "{op:?}: result");
    assert_eq!(mixed_steps, steps, "{op:?}: steps");
    // The reader really ran between the operation's steps.
    assert!(reader_steps + 1 >= steps, "{op:?}: {reader_steps} reader steps for {steps}");
    // Everything shared, down to the frame ledger and the memory's store count.
    assert_eq!(format!("{mixed:?}"), format!("{shared:?}"), "{op:?}: shared state");
    (result, steps)
}

#[test]
fn every_operation_interleaved_with_a_reader_ends_as_its_sequential_run() {
    let table = Fixed { domain: DOMAIN, seams: super::super::Correct };
    let mut shared = Shared::new(Iommu::new());
    let map = |dfn, mfn, order, count, perm| Op::Map { dfn, mfn, order, count, perm };
    let unmap = |dfn, order, count| Op::Unmap { dfn, order, count };
    let rw = Perm::RW;
    let err = |error| Err(PagesError { error, done: 0 });
    // (allocation to fail, operation, result, steps). Steps: a fresh 4 KiB map is lock, top,
    // per level a read and an allocation, the leaf, three PDEs, unlock; a split writes 512
    // pieces; emptiness checks and frees of tables above level 1 read 512 entries each.
    let script: Vec<(Option<u64>, Op, OpResult, u32)> = vec![
        (None, Op::Create, Ok(()), 2),
        (None, Op::Assign(DEV), Ok(()), 9),
        (None, Op::Assign(DEV), err(PtError::AlreadyAssigned { dev: DEV }), 2),
        (None, map(0x812_3567, 0xab_cdef, 0, 1, rw), Ok(()), 14),
        (None, map(0x400, 0x8_0000, 9, 1, Perm::R), Ok(()), 11),
        (None, map(0x405, 0x1234, 0, 1, rw), Ok(()), 524),
        (None, map(0x1fe, 0x1000, 0, 4, rw), Ok(()), 19),
        (None, map(0x1fe, 0x2000, 0, 4, Perm::R), Ok(()), 17),
        (None, map(0x8_0000, 0x100_0000, 18, 1, Perm::W), Ok(()), 6),
        (None, map(0x8_0203, 0x77, 0, 1, rw), Ok(()), 1038),
        (
            Some(3),
            map(0x3f_fffe, 0x3000, 0, 4, rw),
            Err(PagesError { error: PtError::NoMemory, done: 2 }),
            16,
        ),
        (None, map(0, 0, 3, 1, rw), err(PtError::UnsupportedOrder { order: 3 }), 3),
        (None, Op::Notify(0x1234), Ok(()), 3),
        (None, Op::Notify(1 << 36), err(PtError::OutOfRange { dfn: 1 << 36, max_levels: 4 }), 3),
        (None, unmap(0x405, 0, 1), Ok(()), 13),
        (None, unmap(0x1fe, 0, 4), Ok(()), 1049),
        (None, unmap(0x8_0000, 18, 1), Ok(()), 523),
        (None, map(0x600, 0x4_0000, 9, 1, Perm::R), Ok(()), 7),
        (Some(1), unmap(0x7ff, 0, 1), err(PtError::NoMemory), 7),
        (None, unmap(0x600, 0, 0x201), Ok(()), 14),
        (None, Op::MapPage { dfn: 0x10, mfn: 0x100, order: 0, perm: rw }, Ok(()), 10),
        (None, Op::UnmapPage { dfn: 0x10, order: 0 }, Ok(()), 528),
        (None, Op::Assign(5), Ok(()), 9),
        (None, Op::Deassign(DEV), Ok(()), 9),
        (None, Op::Deassign(DEV), err(PtError::NotAssigned { dev: DEV }), 2),
        (None, Op::Teardown, Ok(()), 3094),
        (None, map(0x10, 0x100, 0, 1, rw), err(PtError::TornDown), 3),
        (None, Op::Teardown, err(PtError::TornDown), 3),
    ];
    for (fail, op, expected, expected_steps) in script {
        if let Some(nth) = fail {
            shared.iommu.frames_mut().fail_nth_allocation(nth);
        }
        assert_eq!(both_ways(&table, &mut shared, op), (expected, expected_steps), "{op:?}");
    }
    assert_eq!(shared.top, None);
    assert!(shared.devices.is_empty());
    assert_eq!(shared.iommu.frames().live_tables(DOMAIN).count(), 0);
}
