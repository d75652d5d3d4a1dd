//! The step substrate on a toy one-level table: a sequential run is the plain result, every
//! access is a step, the budget stops a looping operation, locks block and a lock cycle is a
//! deadlock, and an interleaved run of independent operations ends as the sequential one.

use super::exec::{run, Outcome, RunToCompletion, SwitchEveryStep, TaskFuture};
use super::*;
use crate::substrate::iommu::Iommu;
use crate::table::{PageTable, PagesError, Perm, PtError};

/// A one-level table: DFNs 0..512, leaves only, under the domain lock. `spin` makes `notify`
/// read the root forever (a table that loops); `lock_twice` makes `assign` take the domain
/// lock twice.
#[derive(Debug, Default)]
struct Toy {
    spin: bool,
    lock_twice: bool,
}

const PR: u64 = 1;
const RW: u64 = 3 << 61;

impl StepTable for Toy {
    fn name(&self) -> &str {
        "toy"
    }
    fn domain_id(&self) -> u16 {
        1
    }
    fn max_levels(&self) -> u8 {
        1
    }
    fn create<'a, 's: 'a>(&'a self, cx: &'a Cx<'s>) -> OpFuture<'a> {
        Box::pin(async move {
            let root = cx.alloc_table(1).await?;
            cx.set_top(Some(Top { root, levels: 1 })).await;
            Ok(())
        })
    }
    fn map<'a, 's: 'a>(
        &'a self,
        cx: &'a Cx<'s>,
        dfn: u64,
        mfn: u64,
        _: u32,
        _: Perm,
    ) -> OpFuture<'a> {
        Box::pin(async move {
            cx.lock(LockClass::Domain).await;
            let top = cx.top().await.ok_or(PtError::TornDown)?;
            cx.write(top.root + 8 * (dfn % 512), (mfn << 12) | RW | PR).await?;
            cx.unlock(LockClass::Domain).await?;
            Ok(())
        })
    }
    fn unmap<'a, 's: 'a>(&'a self, cx: &'a Cx<'s>, dfn: u64, _: u32) -> OpFuture<'a> {
        Box::pin(async move {
            let top = cx.top().await.ok_or(PtError::TornDown)?;
            cx.write(top.root + 8 * (dfn % 512), 0).await?;
            Ok(())
        })
    }
    fn map_pages<'a, 's: 'a>(
        &'a self,
        cx: &'a Cx<'s>,
        dfn: u64,
        mfn: u64,
        order: u32,
        count: u64,
        perm: Perm,
    ) -> PagesFuture<'a> {
        Box::pin(async move {
            for done in 0..count {
                let map = self.map(cx, dfn + done, mfn + done, order, perm);
                map.await.map_err(|error| PagesError { error, done })?;
            }
            Ok(())
        })
    }
    fn unmap_pages<'a, 's: 'a>(
        &'a self,
        cx: &'a Cx<'s>,
        dfn: u64,
        order: u32,
        count: u64,
    ) -> PagesFuture<'a> {
        Box::pin(async move {
            for done in 0..count {
                let unmap = self.unmap(cx, dfn + done, order);
                unmap.await.map_err(|error| PagesError { error, done })?;
            }
            Ok(())
        })
    }
    fn notify_dfn<'a, 's: 'a>(&'a self, cx: &'a Cx<'s>, _: u64) -> OpFuture<'a> {
        Box::pin(async move {
            if self.spin {
                loop {
                    let _ = cx.top().await;
                }
            }
            Ok(())
        })
    }
    fn assign<'a, 's: 'a>(&'a self, cx: &'a Cx<'s>, dev: u16) -> OpFuture<'a> {
        Box::pin(async move {
            cx.lock(LockClass::Domain).await;
            if self.lock_twice {
                cx.lock(LockClass::Domain).await;
            }
            cx.set_device(dev, true).await;
            cx.unlock(LockClass::Domain).await?;
            Ok(())
        })
    }
    fn deassign<'a, 's: 'a>(&'a self, cx: &'a Cx<'s>, dev: u16) -> OpFuture<'a> {
        Box::pin(async move {
            cx.set_device(dev, false).await;
            Ok(())
        })
    }
    fn teardown<'a, 's: 'a>(&'a self, cx: &'a Cx<'s>) -> OpFuture<'a> {
        Box::pin(async move {
            if let Some(top) = cx.top().await {
                cx.free_table(top.root).await?;
            }
            cx.set_top(None).await;
            Ok(())
        })
    }
    fn lookup(&self, shared: &Shared, dfn: u64) -> Option<(u64, Perm)> {
        let root = shared.top?.root;
        let pte = shared.iommu.read_entry(root + 8 * (dfn % 512)).ok()?;
        (pte & PR != 0).then_some(((pte >> 12) & ((1 << 40) - 1), Perm::RW))
    }
}

#[test]
fn sequential_adapter_runs_operations_as_a_page_table() {
    let mut t = Sequential::new(Toy::default(), Iommu::new()).unwrap();
    assert_eq!((t.levels(), t.name()), (1, "toy"));
    let root = t.root().unwrap();
    t.map(5, 0x77, 0, Perm::RW).unwrap();
    assert_eq!(t.lookup(5), Some((0x77, Perm::RW)));
    assert_eq!(t.iommu().read_entry(root + 40), Ok((0x77 << 12) | RW | PR));
    // Ranges and page orders reach the table's own range operations.
    assert_eq!(t.page_orders(), crate::table::PageOrders::BASE);
    t.map_pages(6, 0x80, 0, 2, Perm::RW).unwrap();
    assert_eq!((t.lookup(6), t.lookup(7)), (Some((0x80, Perm::RW)), Some((0x81, Perm::RW))));
    t.unmap_pages(5, 0, 2).unwrap();
    assert_eq!((t.lookup(5), t.lookup(6), t.lookup(7)), (None, None, Some((0x81, Perm::RW))));
    t.assign(3).unwrap();
    assert!(t.shared().devices.contains(3));
    t.teardown().unwrap();
    assert_eq!((t.levels(), t.root()), (0, None));
    assert_eq!(t.map(5, 1, 0, Perm::RW), Err(PtError::TornDown));
}

#[test]
fn an_operation_that_loops_is_stopped_by_the_step_budget() {
    let mut t =
        Sequential::with_budget(Toy { spin: true, ..Toy::default() }, Iommu::new(), 1000).unwrap();
    // The budget: 1,000 plus 1,024 for the one live table; the step after it is refused.
    assert_eq!(t.notify_dfn(1), Err(PtError::StepBudget { steps: 1000 + 1024 + 1 }));
    // The next operation has a budget of its own.
    assert_eq!(t.map(1, 2, 0, Perm::RW), Ok(()));
}

#[test]
fn taking_a_held_lock_again_is_a_deadlock() {
    let mut t = Sequential::new(Toy { lock_twice: true, ..Toy::default() }, Iommu::new()).unwrap();
    assert_eq!(t.assign(0), Err(PtError::Deadlock { lock: "domain" }));
}

/// Runs `ops` of (task, dfn) maps as tasks of one table under `policy`; returns the outcome,
/// the memory's leaves and the total steps.
fn run_maps(ops: &[(usize, u64)], policy: &mut dyn exec::Policy) -> (Outcome, Vec<u64>, u64) {
    let table = Toy::default();
    let mut shared = Shared::new(Iommu::new());
    {
        let cx = Cx::sequential(&mut shared);
        let mut create = table.create(&cx);
        assert!(exec::poll_once(create.as_mut()).is_ready());
    }
    let tasks = ops.iter().map(|&(t, _)| t).max().map_or(0, |t| t + 1);
    let cx = Cx::new(&mut shared, tasks, true, DEFAULT_STEP_BUDGET);
    let futures: Vec<TaskFuture<'_>> = (0..tasks)
        .map(|task| {
            let mine: Vec<u64> = ops.iter().filter(|o| o.0 == task).map(|o| o.1).collect();
            let (cx, table) = (&cx, &table);
            Box::pin(async move {
                for dfn in mine {
                    cx.begin_op(task);
                    let _ = table.map(cx, dfn, dfn + 0x100, 0, Perm::RW).await;
                }
            }) as TaskFuture<'_>
        })
        .collect();
    let outcome = run(&cx, futures, policy, 10_000);
    let steps = cx.total_steps();
    let root = cx.with_shared(|s| s.top.unwrap().root);
    let leaves =
        cx.with_shared(|s| (0..512).map(|i| s.iommu.read_entry(root + 8 * i).unwrap()).collect());
    (outcome, leaves, steps)
}

#[test]
fn interleaved_independent_operations_end_as_the_sequential_run() {
    let ops = [(0, 1), (1, 2), (0, 3), (1, 4), (2, 5)];
    let (seq, seq_leaves, seq_steps) = run_maps(&ops, &mut RunToCompletion);
    let (mixed, mixed_leaves, mixed_steps) = run_maps(&ops, &mut SwitchEveryStep);
    assert_eq!((seq, mixed), (Outcome::Done, Outcome::Done));
    assert_eq!(seq_leaves, mixed_leaves);
    // 5 maps of 4 steps each; the interleaved run also retries blocked lock steps.
    assert_eq!(seq_steps, 20);
    assert_eq!(mixed_steps, 20);
    assert_eq!(seq_leaves[3], (0x103 << 12) | RW | PR);
}

#[test]
fn locks_block_another_task_until_released() {
    let table = Toy::default();
    let mut shared = Shared::new(Iommu::new());
    let cx = Cx::new(&mut shared, 2, true, DEFAULT_STEP_BUDGET);
    let (c, t) = (&cx, &table);
    let tasks: Vec<TaskFuture<'_>> = vec![
        Box::pin(async move {
            c.begin_op(0);
            c.lock(LockClass::Domain).await;
            c.lock(LockClass::Devices).await;
        }),
        Box::pin(async move {
            c.begin_op(1);
            let _ = t.name();
            c.lock(LockClass::Devices).await;
            c.lock(LockClass::Domain).await;
        }),
    ];
    // Switching at every step: t0 takes Domain, t1 takes Devices, then each waits for the
    // other's lock.
    let outcome = run(&cx, tasks, &mut SwitchEveryStep, 100);
    assert_eq!(
        outcome,
        Outcome::Deadlock {
            waiting: vec![(0, LockClass::Devices, Some(1)), (1, LockClass::Domain, Some(0))]
        }
    );
}

/// Records every access it sees, with its task.
#[derive(Default)]
struct Seen(Vec<(TaskId, Access)>);

impl StepObserver for Seen {
    fn after(&mut self, task: TaskId, access: &Access, _: LockSet, _: &Shared) {
        self.0.push((task, *access));
    }
}

/// A run of 3 stores from `table + 8`, then a run of 4 loads from `table`.
async fn store_then_load(
    cx: &Cx<'_>,
    table: u64,
) -> Result<[u64; 4], crate::substrate::iommu::IommuError> {
    cx.write_each(table + 8, 3, |i| 10 + i).await?;
    let mut loaded = [0; 4];
    cx.read_into(table, &mut loaded).await?;
    Ok(loaded)
}

#[test]
fn runs_of_loads_and_stores_take_one_step_per_qword() {
    let mut shared = Shared::new(Iommu::new());
    let table = shared.iommu.alloc_table(1).unwrap();
    let expected: Vec<(TaskId, Access)> = (0..3)
        .map(|i| Access::Store { spa: table + 8 + 8 * i, value: 10 + i })
        .chain((0..4).map(|i| Access::Load { spa: table + 8 * i }))
        .map(|a| (0, a))
        .collect();
    // Unobserved (the steps are taken at once) and observed (one by one): the same steps.
    for observed in [false, true] {
        let mut seen = Seen::default();
        let cx = Cx::sequential(&mut shared);
        if observed {
            cx.observe(&mut seen);
        }
        cx.begin_op(0);
        let mut op = Box::pin(store_then_load(&cx, table));
        assert_eq!(exec::poll_once(op.as_mut()), std::task::Poll::Ready(Ok([0, 10, 11, 12])));
        drop(op);
        assert_eq!((cx.total_steps(), cx.position(0).access), (7, 7));
        drop(cx);
        assert_eq!(seen.0, if observed { expected.clone() } else { vec![] });
    }
}

#[test]
fn a_run_of_stores_stops_at_the_step_budget_as_single_stores_do() {
    let outcomes: Vec<(Vec<u64>, u32, Option<TaskId>)> = [true, false]
        .into_iter()
        .map(|run| {
            let mut shared = Shared::new(Iommu::new());
            let table = shared.iommu.alloc_table(1).unwrap();
            let cx = Cx::new(&mut shared, 1, false, 5);
            cx.begin_op(0);
            let mut op: TaskFuture<'_> = if run {
                Box::pin(async { cx.write_each(table, 8, |i| i + 1).await.unwrap() })
            } else {
                Box::pin(async {
                    for i in 0..8 {
                        cx.write(table + 8 * i, i + 1).await.unwrap();
                    }
                })
            };
            assert!(exec::poll_once(op.as_mut()).is_pending());
            drop(op);
            let (access, over) = (cx.position(0).access, cx.over_budget());
            let memory = cx.with_shared(|s| {
                (0..8).map(|i| s.iommu.read_entry(table + 8 * i).unwrap()).collect()
            });
            (memory, access, over)
        })
        .collect();
    // The sixth store is announced and stopped; the first five took effect.
    assert_eq!(outcomes[0], (vec![1, 2, 3, 4, 5, 0, 0, 0], 6, Some(0)));
    assert_eq!(outcomes[0], outcomes[1]);
}

#[test]
fn a_run_yields_at_every_qword_in_a_preemptible_run() {
    let mut shared = Shared::new(Iommu::new());
    let table = shared.iommu.alloc_table(1).unwrap();
    let mut seen = Seen::default();
    let cx = Cx::new(&mut shared, 2, true, DEFAULT_STEP_BUDGET);
    cx.observe(&mut seen);
    let c = &cx;
    let tasks: Vec<TaskFuture<'_>> = vec![
        Box::pin(async move {
            c.begin_op(0);
            c.write_each(table, 3, |i| i + 1).await.unwrap();
        }),
        Box::pin(async move {
            c.begin_op(1);
            let mut loaded = [0; 3];
            c.read_into(table + 8, &mut loaded[..2]).await.unwrap();
        }),
    ];
    assert_eq!(run(&cx, tasks, &mut SwitchEveryStep, 100), Outcome::Done);
    drop(cx);
    assert_eq!(
        seen.0,
        [
            (0, Access::Store { spa: table, value: 1 }),
            (1, Access::Load { spa: table + 8 }),
            (0, Access::Store { spa: table + 8, value: 2 }),
            (1, Access::Load { spa: table + 16 }),
            (0, Access::Store { spa: table + 16, value: 3 }),
        ]
    );
}
