//! `Cx`, the step substrate: every access an implementation makes to shared state goes through
//! one of its `async` methods and is one **step**.
//!
//! A step first announces its access and, when the run is preemptible, yields once
//! (`Poll::Pending`): the executor decides, *before* the access takes effect, whether another
//! task runs first. When the task is resumed the access is performed and observed, and the
//! code runs on to its next step. So one poll of a task performs exactly one access. No
//! `RefCell` borrow is held across an await.
//!
//! In a sequential run (not preemptible) a step does not yield: an operation completes in one
//! poll, and only its steps are counted. In both modes a step beyond the operation's budget
//! never completes (the executor or the adapter reports `step-budget`), and a lock held by
//! another task, or by the task itself, blocks the step (the executor reports a deadlock when
//! nothing can run).

use super::access::{Access, LockClass};
use super::shared::{Shared, Top, CELLS};
use crate::substrate::commands::Command;
use crate::substrate::device_set::DeviceSet;
use crate::substrate::device_table::{dte_spa, DteSetting};
use crate::substrate::iommu::IommuError;
use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A task of the executor (task 0 in a sequential run).
pub type TaskId = usize;

/// Steps one operation may take before it is reported as `step-budget` (a table looping
/// forever is caught, not hung).
pub const DEFAULT_STEP_BUDGET: u64 = 1 << 20;

/// A set of lock classes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct LockSet(u8);

impl LockSet {
    /// No lock.
    pub const EMPTY: LockSet = LockSet(0);

    /// True when `class` is in the set.
    pub fn contains(self, class: LockClass) -> bool {
        self.0 & (1 << class.index()) != 0
    }

    /// The set with `class` added.
    pub fn with(self, class: LockClass) -> LockSet {
        LockSet(self.0 | (1 << class.index()))
    }

    /// The set without `class`.
    pub fn without(self, class: LockClass) -> LockSet {
        LockSet(self.0 & !(1 << class.index()))
    }

    /// The classes in the set, in the declared order.
    pub fn iter(self) -> impl Iterator<Item = LockClass> {
        LockClass::ALL.into_iter().filter(move |&c| self.contains(c))
    }

    /// True when no lock is in the set.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// Sees every access after it took effect, with the task that made it and the locks it held:
/// where the concurrent oracle hooks in (shadow walks, lock rules).
pub trait StepObserver {
    /// `task` performed `access` holding `held`; `shared` is the state right after it.
    fn after(&mut self, task: TaskId, access: &Access, held: LockSet, shared: &Shared);
}

/// What the executor knows of one task's position.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TaskPosition {
    /// Operations the task has started (the current one is `op - 1`).
    pub op: u32,
    /// Accesses announced in the current operation (the pending one is `access - 1`).
    pub access: u32,
    /// The lock the task waits for, if blocked.
    pub blocked_on: Option<LockClass>,
    /// Locks the task holds.
    pub held: LockSet,
}

/// The scheduling state of a run, kept by `Cx`.
#[derive(Debug)]
struct Sched {
    current: TaskId,
    tasks: Vec<TaskPosition>,
    holders: [Option<TaskId>; 3],
    preemptible: bool,
    budget: u64,
    /// The task that exceeded its operation's budget.
    over_budget: Option<TaskId>,
    total: u64,
}

/// The step substrate of one run: the domain's [`Shared`] state, the tasks' positions and
/// locks, and the observer.
pub struct Cx<'s> {
    shared: RefCell<&'s mut Shared>,
    sched: RefCell<Sched>,
    observer: RefCell<Option<&'s mut dyn StepObserver>>,
}

impl<'s> Cx<'s> {
    /// A run of `tasks` tasks over `shared`, with `budget` steps per operation; `preemptible`
    /// runs yield at every step.
    pub fn new(shared: &'s mut Shared, tasks: usize, preemptible: bool, budget: u64) -> Cx<'s> {
        Cx {
            shared: RefCell::new(shared),
            sched: RefCell::new(Sched {
                current: 0,
                tasks: vec![TaskPosition::default(); tasks.max(1)],
                holders: [None; 3],
                preemptible,
                budget,
                over_budget: None,
                total: 0,
            }),
            observer: RefCell::new(None),
        }
    }

    /// A sequential run: one task, no yielding, the default budget.
    pub fn sequential(shared: &'s mut Shared) -> Cx<'s> {
        Cx::new(shared, 1, false, DEFAULT_STEP_BUDGET)
    }

    /// Sends every access, after it took effect, to `observer`.
    pub fn observe(&self, observer: &'s mut dyn StepObserver) {
        *self.observer.borrow_mut() = Some(observer);
    }

    // ----- for the executor and the adapter -----

    /// Makes `task` the one whose steps follow.
    pub fn set_current(&self, task: TaskId) {
        self.sched.borrow_mut().current = task;
    }

    /// `task` starts its next operation.
    pub fn begin_op(&self, task: TaskId) {
        if let Some(t) = self.sched.borrow_mut().tasks.get_mut(task) {
            t.op += 1;
            t.access = 0;
        }
    }

    /// Where `task` is.
    pub fn position(&self, task: TaskId) -> TaskPosition {
        self.sched.borrow().tasks.get(task).copied().unwrap_or_default()
    }

    /// True when `task` may run: not waiting for a lock another task (or itself) holds.
    pub fn runnable(&self, task: TaskId) -> bool {
        let s = self.sched.borrow();
        match s.tasks.get(task).and_then(|t| t.blocked_on) {
            Some(class) => s.holders[class.index()].is_none(),
            None => true,
        }
    }

    /// The task that exceeded its operation's step budget, if any.
    pub fn over_budget(&self) -> Option<TaskId> {
        self.sched.borrow().over_budget
    }

    /// Steps taken in the whole run.
    pub fn total_steps(&self) -> u64 {
        self.sched.borrow().total
    }

    /// Who holds `class`.
    pub fn holder(&self, class: LockClass) -> Option<TaskId> {
        self.sched.borrow().holders[class.index()]
    }

    /// Reads the shared state (between steps only).
    pub fn with_shared<R>(&self, f: impl FnOnce(&Shared) -> R) -> R {
        f(&self.shared.borrow())
    }

    // ----- steps -----

    fn step(&self, access: Access) -> Step<'_, 's> {
        Step { cx: self, access, announced: false }
    }

    /// After an access took effect: the observer sees it.
    #[inline(always)]
    fn observed(&self, access: Access) {
        if self.observer.borrow().is_none() {
            return;
        }
        self.observe_access(access);
    }

    /// [`Cx::observed`] with an observer.
    #[cold]
    fn observe_access(&self, access: Access) {
        let (task, held) = {
            let s = self.sched.borrow();
            (s.current, s.tasks.get(s.current).map_or(LockSet::EMPTY, |t| t.held))
        };
        if let Some(observer) = self.observer.borrow_mut().as_mut() {
            observer.after(task, &access, held, &self.shared.borrow());
        }
    }

    /// Loads the qword at `spa`.
    pub fn read(&self, spa: u64) -> Load<'_, 's> {
        Load { step: self.step(Access::Load { spa }), spa }
    }

    /// Stores `value` at `spa` (one 64-bit store).
    pub fn write(&self, spa: u64, value: u64) -> Store<'_, 's> {
        Store { step: self.step(Access::Store { spa, value }), spa, value }
    }

    /// Stores `new` at `spa` if it holds `old`; returns what it held.
    pub async fn cmpxchg(&self, spa: u64, old: u64, new: u64) -> Result<u64, IommuError> {
        let access = Access::Cas { spa, new };
        self.step(access).await;
        let result = {
            let mut shared = self.shared.borrow_mut();
            shared.iommu.read_entry(spa).and_then(|current| {
                if current == old {
                    shared.iommu.write_entry(spa, new)?;
                }
                Ok(current)
            })
        };
        self.observed(access);
        result
    }

    /// Allocates a zeroed table frame for `domain`; returns its SPA.
    pub async fn alloc_table(&self, domain: u16) -> Result<u64, IommuError> {
        self.step(Access::Alloc).await;
        let spa = self.shared.borrow_mut().iommu.alloc_table(domain);
        self.observed(Access::Alloc);
        spa
    }

    /// Frees (and poisons) the table frame at `spa`.
    pub async fn free_table(&self, spa: u64) -> Result<(), IommuError> {
        let access = Access::Free { spa };
        self.step(access).await;
        let done = self.shared.borrow_mut().iommu.free_table(spa);
        self.observed(access);
        done
    }

    /// Issues an IOMMU command.
    pub async fn issue(&self, command: Command) {
        let access = Access::Issue { command };
        self.step(access).await;
        self.shared.borrow_mut().iommu.issue(command);
        self.observed(access);
    }

    /// Programs device `dev`'s DTE: qwords 3 to 1, then qword 0 (V, TV, mode, root) last,
    /// each a store of its own. Does not invalidate.
    pub async fn set_dte(&self, dev: u16, setting: DteSetting) -> Result<(), IommuError> {
        let spa = dte_spa(dev).ok_or(IommuError::NoSuchDevice { dev })?;
        let q = setting.encode();
        for i in (0..4).rev() {
            self.write(spa + 8 * i as u64, q[i]).await?;
        }
        Ok(())
    }

    /// Reads the top cell.
    pub async fn top(&self) -> Option<Top> {
        self.step(Access::ReadTop).await;
        let top = self.shared.borrow().top;
        self.observed(Access::ReadTop);
        top
    }

    /// Writes the top cell.
    pub async fn set_top(&self, top: Option<Top>) {
        self.step(Access::WriteTop).await;
        self.shared.borrow_mut().top = top;
        self.observed(Access::WriteTop);
    }

    /// Reads spare cell `cell` (0 when there is no such cell).
    pub async fn cell(&self, cell: u8) -> u64 {
        let access = Access::ReadCell { cell };
        self.step(access).await;
        let value = self.shared.borrow().cells.get(usize::from(cell)).copied().unwrap_or(0);
        self.observed(access);
        value
    }

    /// Writes spare cell `cell` (ignored when there is no such cell).
    pub async fn set_cell(&self, cell: u8, value: u64) {
        let access = Access::WriteCell { cell };
        self.step(access).await;
        if usize::from(cell) < CELLS {
            self.shared.borrow_mut().cells[usize::from(cell)] = value;
        }
        self.observed(access);
    }

    /// Reads the domain's device list.
    pub async fn devices(&self) -> DeviceSet {
        self.step(Access::ReadDevices).await;
        let devices = self.shared.borrow().devices;
        self.observed(Access::ReadDevices);
        devices
    }

    /// Adds `dev` to the domain's device list (`joined`) or removes it.
    pub async fn set_device(&self, dev: u16, joined: bool) {
        self.step(Access::WriteDevices).await;
        {
            let mut shared = self.shared.borrow_mut();
            if joined {
                shared.devices.insert(dev);
            } else {
                shared.devices.remove(dev);
            }
        }
        self.observed(Access::WriteDevices);
    }

    /// Acquires `class`, waiting while another task holds it.
    pub async fn lock(&self, class: LockClass) {
        let access = Access::Lock { class };
        self.step(access).await;
        self.observed(access);
    }

    /// Releases `class`; an error when the task does not hold it.
    pub async fn unlock(&self, class: LockClass) -> Result<(), IommuError> {
        let access = Access::Unlock { class };
        self.step(access).await;
        let held = {
            let mut s = self.sched.borrow_mut();
            let current = s.current;
            let held = s.holders[class.index()] == Some(current);
            if held {
                s.holders[class.index()] = None;
                if let Some(t) = s.tasks.get_mut(current) {
                    t.held = t.held.without(class);
                }
            }
            held
        };
        self.observed(access);
        if held {
            Ok(())
        } else {
            Err(IommuError::LockNotHeld { lock: class.name() })
        }
    }

    /// The locks the current task holds (not a step: like `lockdep_assert_held`).
    pub fn held(&self) -> LockSet {
        let s = self.sched.borrow();
        s.tasks.get(s.current).map_or(LockSet::EMPTY, |t| t.held)
    }
}

/// The future of one step: announces the access, yields when the run is preemptible, then
/// lets the access happen (after acquiring the lock, for a lock step).
struct Step<'c, 's> {
    cx: &'c Cx<'s>,
    access: Access,
    announced: bool,
}

impl Future for Step<'_, '_> {
    type Output = ();

    #[inline(always)]
    fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        let access = self.access;
        let mut s = self.cx.sched.borrow_mut();
        let current = s.current;
        if !self.announced {
            self.announced = true;
            s.total += 1;
            let budget = s.budget;
            let Some(task) = s.tasks.get_mut(current) else { return Poll::Pending };
            task.access += 1;
            if u64::from(task.access) > budget {
                s.over_budget.get_or_insert(current);
                return Poll::Pending;
            }
            if s.preemptible {
                return Poll::Pending;
            }
        }
        if s.over_budget == Some(current) {
            return Poll::Pending;
        }
        if let Access::Lock { class } = access {
            match s.holders[class.index()] {
                None => {
                    s.holders[class.index()] = Some(current);
                    if let Some(t) = s.tasks.get_mut(current) {
                        t.blocked_on = None;
                        t.held = t.held.with(class);
                    }
                }
                Some(_) => {
                    if let Some(t) = s.tasks.get_mut(current) {
                        t.blocked_on = Some(class);
                    }
                    return Poll::Pending;
                }
            }
        }
        Poll::Ready(())
    }
}

/// The future of [`Cx::read`]: a step, then the load. Written out (not an `async fn`) so that
/// it inlines into the table's code: loads and stores are most of a table's steps.
pub struct Load<'c, 's> {
    step: Step<'c, 's>,
    spa: u64,
}

impl Future for Load<'_, '_> {
    type Output = Result<u64, IommuError>;

    #[inline(always)]
    fn poll(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Self::Output> {
        if Pin::new(&mut self.step).poll(context).is_pending() {
            return Poll::Pending;
        }
        let (cx, spa) = (self.step.cx, self.spa);
        let value = cx.shared.borrow().iommu.read_entry(spa);
        cx.observed(Access::Load { spa });
        Poll::Ready(value)
    }
}

/// The future of [`Cx::write`]: a step, then the store (see [`Load`]).
pub struct Store<'c, 's> {
    step: Step<'c, 's>,
    spa: u64,
    value: u64,
}

impl Future for Store<'_, '_> {
    type Output = Result<(), IommuError>;

    #[inline(always)]
    fn poll(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Self::Output> {
        if Pin::new(&mut self.step).poll(context).is_pending() {
            return Poll::Pending;
        }
        let (cx, spa, value) = (self.step.cx, self.spa, self.value);
        let done = cx.shared.borrow_mut().iommu.write_entry(spa, value);
        cx.observed(Access::Store { spa, value });
        Poll::Ready(done)
    }
}
