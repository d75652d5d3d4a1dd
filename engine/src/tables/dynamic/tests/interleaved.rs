//! The step-level proof that no state of the dynamic table hides outside `Cx`: each kind of
//! operation runs as task 0 of a preemptible run that switches at every step to a second task
//! which only reads (the top, the first entries of the root, a DTE, the device list), and ends
//! exactly as the sequential run of the same operation from the same state: the same result,
//! the same number of steps, the same shared state (memory and its store count, frame ledger,
//! commands, DTE journal, top, cells, devices).

use super::super::{Correct, Dynamic, DynamicConfig};
use crate::step::exec::{poll_once, run, Outcome, SwitchEveryStep, TaskFuture};
use crate::step::{Cx, PagesFuture, Shared, StepTable, DEFAULT_STEP_BUDGET};
use crate::substrate::device_set::DeviceSet;
use crate::substrate::device_table::dte_spa;
use crate::substrate::iommu::Iommu;
use crate::table::{PagesError, Perm, PtError};
use std::cell::Cell;
use std::task::Poll;

const DOMAIN: u16 = 7;
/// The device the reader watches.
const DEV: u16 = 3;

type OpResult = Result<(), PagesError>;

/// One operation, as task 0 runs it.
#[derive(Clone, Copy, Debug)]
enum Op {
    Create,
    Map { dfn: u64, mfn: u64, order: u32, count: u64, perm: Perm },
    Unmap { dfn: u64, order: u32, count: u64 },
    Notify(u64),
    Assign(u16),
    Deassign(u16),
    Teardown,
}

impl Op {
    fn start<'a, 's: 'a>(self, t: &'a Dynamic, cx: &'a Cx<'s>) -> PagesFuture<'a> {
        let op = match self {
            Op::Map { dfn, mfn, order, count, perm } => {
                return t.map_pages(cx, dfn, mfn, order, count, perm);
            }
            Op::Unmap { dfn, order, count } => return t.unmap_pages(cx, dfn, order, count),
            Op::Create => t.create(cx),
            Op::Notify(dfn) => t.notify_dfn(cx, dfn),
            Op::Assign(dev) => t.assign(cx, dev),
            Op::Deassign(dev) => t.deassign(cx, dev),
            Op::Teardown => t.teardown(cx),
        };
        Box::pin(async move { op.await.map_err(PagesError::from) })
    }
}

/// `op` from `shared`, alone and never yielding: its result and steps.
fn sequential(table: &Dynamic, shared: &mut Shared, op: Op) -> (OpResult, u32) {
    let cx = Cx::sequential(shared);
    cx.begin_op(0);
    let mut future = op.start(table, &cx);
    let Poll::Ready(result) = poll_once(future.as_mut()) else {
        panic!("{op:?} did not complete in one poll");
    };
    (result, cx.position(0).access)
}

/// `op` from `shared` as task 0 of a preemptible run switching at every step to a reader:
/// its result, its steps and the reader's steps.
fn interleaved(table: &Dynamic, shared: &mut Shared, op: Op) -> (OpResult, u32, u32) {
    let cx = Cx::new(shared, 2, true, DEFAULT_STEP_BUDGET);
    let (result, done) = (Cell::new(None), Cell::new(false));
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
                        for i in 0..2 {
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
    assert_eq!(outcome, Outcome::Done, "{op:?}");
    let result = result.take().unwrap_or_else(|| panic!("{op:?} did not finish"));
    (result, cx.position(0).access, cx.position(1).access)
}

/// Runs `op` both ways from `shared`, checks that they agree, and moves `shared` to the state
/// after it; returns the result and the operation's steps.
fn both_ways(table: &Dynamic, shared: &mut Shared, op: Op) -> (OpResult, u32) {
    let mut mixed = shared.clone();
    let (result, steps) = sequential(table, shared, op);
    let (mixed_result, mixed_steps, reader_steps) = interleaved(table, &mut mixed, op);
    assert_eq!(mixed_result, result, "{op:?}: result");
    assert_eq!(mixed_steps, steps, "{op:?}: steps");
    // The reader ran between every two steps of the operation.
    assert!(reader_steps + 1 >= steps, "{op:?}: {reader_steps} reader steps for {steps}");
    assert_eq!(format!("{mixed:?}"), format!("{shared:?}"), "{op:?}: shared state");
    (result, steps)
}

#[test]
fn every_operation_interleaved_with_a_reader_ends_as_its_sequential_run() {
    let config = DynamicConfig {
        initial_levels: 2,
        max_levels: 5,
        domain: DOMAIN,
        all_page_sizes: true,
        growth: Default::default(),
    };
    let table = Dynamic::with_config(config, Correct).unwrap();
    let mut shared = Shared::new(Iommu::new());
    let map = |dfn, mfn, order, count, perm| Op::Map { dfn, mfn, order, count, perm };
    let unmap = |dfn, order, count| Op::Unmap { dfn, order, count };
    let (rw, r) = (Perm::RW, Perm::R);
    let err = |error| Err(PagesError { error, done: 0 });
    // (allocation to fail, operation, result, steps). Steps: a map or unmap is the lock, the
    // top, a load per level walked, its stores, a flush (2 commands) when a present entry
    // changed, the unlock; a table linked costs an allocation and a store, a shattered
    // superpage 512 stores more, an NL = 7 page one load and one store per replica; a growth
    // is an allocation and a store per level, the device list, 5 per device, a wait, the top,
    // a flush and the top read back; teardown loads 512 entries per table above L1.
    let script: Vec<(Option<u64>, Op, OpResult, u32)> = vec![
        (None, Op::Create, Ok(()), 2),
        (None, Op::Assign(DEV), Ok(()), 9),
        (None, Op::Assign(DEV), err(PtError::AlreadyAssigned { dev: DEV }), 2),
        (None, map(0x1, 0x100, 0, 1, rw), Ok(()), 8),
        (
            None,
            map(0x4_0000, 0x100, 0, 1, rw),
            err(PtError::BeyondHeight { dfn: 0x4_0000, levels: 2 }),
            3,
        ),
        (None, Op::Notify(0x4_0000), Ok(()), 16),
        (None, Op::Notify(0x12), Ok(()), 3),
        (None, Op::Notify(1 << 45), err(PtError::OutOfRange { dfn: 1 << 45, max_levels: 5 }), 3),
        (None, map(0x4_0200, 0x8_0000, 9, 1, r), Ok(()), 8),
        (None, map(0x4_0203, 0x77, 0, 1, rw), Ok(()), 523),
        (None, map(0x4_0400, 0x8_0200, 9, 1, rw), Ok(()), 6),
        (None, unmap(0x4_0401, 0, 1), Ok(()), 523),
        (None, map(0x80, 0x1000, 3, 1, rw), Ok(()), 21),
        (None, map(0x83, 0x2000, 0, 1, r), Ok(()), 18),
        (None, map(0x1fe, 0x3000, 0, 4, rw), Ok(()), 16),
        (
            Some(1),
            map(0x3fe, 0x4000, 0, 4, rw),
            Err(PagesError { error: PtError::NoMemory, done: 2 }),
            11,
        ),
        (None, unmap(0x1fe, 0, 4), Ok(()), 16),
        (None, unmap(0x4_0000, 9, 2), Ok(()), 10),
        (None, unmap(1 << 30, 0, 1), Ok(()), 3),
        (None, Op::Assign(5), Ok(()), 9),
        (Some(2), Op::Notify(1 << 36), err(PtError::NoMemory), 7),
        (None, Op::Notify(1 << 36), Ok(()), 23),
        (None, Op::Deassign(DEV), Ok(()), 9),
        (None, Op::Deassign(DEV), err(PtError::NotAssigned { dev: DEV }), 2),
        (None, Op::Teardown, Ok(()), 2580),
        (None, map(0x10, 0x100, 0, 1, rw), err(PtError::TornDown), 3),
        (None, Op::Teardown, err(PtError::TornDown), 1),
    ];
    for (fail, op, expected, expected_steps) in script {
        if let Some(nth) = fail {
            shared.iommu.frames_mut().fail_nth_allocation(nth);
        }
        assert_eq!(both_ways(&table, &mut shared, op), (expected, expected_steps), "{op:?}");
        assert!(!shared.iommu.frames_mut().cancel_failure(), "{op:?}: the failure was not met");
    }
    assert_eq!((shared.top, shared.devices), (None, DeviceSet::EMPTY));
    assert_eq!(shared.iommu.frames().live_tables(DOMAIN).count(), 0);
}
