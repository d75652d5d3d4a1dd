//! `Cx`, the step substrate: every access an implementation makes to shared state goes through
//! one of its methods (each a future to await) and is one **step**.
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
//!
//! Cost: a run that never yields and that nobody observes (a sequential run) takes each step
//! at once, counting it, without the yield machinery; [`Cx::read_into`] and [`Cx::write_each`]
//! take a run of qword steps in one loop. Both are exactly what stepping would do there (no
//! step could yield or be seen one by one, and the budget is checked first), so the count of
//! steps, the budget and the accesses are the same.

use super::access::{Access, LockClass};
pub use super::access::{LockSet, TaskId};
use super::lockdep::{LockRules, LockViolation, LockingProfile, OpContext, OpLabel};
use super::shared::{Shared, Top};
pub use super::task_position::TaskPosition;
use super::task_position::TaskPositions;
use crate::substrate::commands::Command;
use crate::substrate::device_set::DeviceSet;
use crate::substrate::device_table::{dte_spa, DteSetting};
use crate::substrate::iommu::IommuError;
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Steps one operation may take before it is reported as `step-budget` (a table looping
/// forever is caught, not hung).
pub const DEFAULT_STEP_BUDGET: u64 = 1 << 20;

/// Sees every access after it took effect, with the task that made it and the locks it held:
/// where the concurrent oracle hooks in (shadow walks, lock rules).
pub trait StepObserver {
    /// `task` performed `access` holding `held`; `shared` is the state right after it.
    fn after(&mut self, task: TaskId, access: &Access, held: LockSet, shared: &Shared);
}

/// The scheduling state of a run, kept by `Cx`.
#[derive(Debug)]
struct Sched {
    current: TaskId,
    tasks: TaskPositions,
    holders: [Option<TaskId>; 3],
    preemptible: bool,
    budget: u64,
    /// The task that exceeded its operation's budget.
    over_budget: Option<TaskId>,
    /// The access the current task announced last (in a quiet run, whose steps are taken at
    /// once without being announced, the last one announced before).
    announced: Option<Access>,
    total: u64,
}

/// The step substrate of one run: the domain's [`Shared`] state, the tasks' positions and
/// locks, and the observer.
pub struct Cx<'s> {
    shared: RefCell<&'s mut Shared>,
    sched: RefCell<Sched>,
    observer: RefCell<Option<&'s mut dyn StepObserver>>,
    /// Whether an observer is set (checked at every step without borrowing it).
    observing: Cell<bool>,
    /// Whether steps can be taken at once: the run never yields and nobody observes.
    quiet: Cell<bool>,
    /// The lock rules checked at every step, if installed ([`Cx::check_locks`]).
    rules: RefCell<Option<LockRules>>,
    /// Whether lock rules are installed (checked at every step without borrowing them).
    checking: Cell<bool>,
}

impl<'s> Cx<'s> {
    /// A run of `tasks` tasks over `shared`, with `budget` steps per operation; `preemptible`
    /// runs yield at every step.
    pub fn new(shared: &'s mut Shared, tasks: usize, preemptible: bool, budget: u64) -> Cx<'s> {
        Cx {
            shared: RefCell::new(shared),
            sched: RefCell::new(Sched {
                current: 0,
                tasks: TaskPositions::new(tasks),
                holders: [None; 3],
                preemptible,
                budget,
                over_budget: None,
                announced: None,
                total: 0,
            }),
            observer: RefCell::new(None),
            observing: Cell::new(false),
            quiet: Cell::new(!preemptible),
            rules: RefCell::new(None),
            checking: Cell::new(false),
        }
    }

    /// A sequential run: one task, no yielding, the default budget.
    pub fn sequential(shared: &'s mut Shared) -> Cx<'s> {
        Cx::new(shared, 1, false, DEFAULT_STEP_BUDGET)
    }

    /// Sends every access, after it took effect, to `observer`.
    pub fn observe(&self, observer: &'s mut dyn StepObserver) {
        *self.observer.borrow_mut() = Some(observer);
        self.observing.set(true);
        self.quiet.set(false);
    }

    /// Checks every access of the run's CPU operations against the lock rules of `profile`
    /// ([`LockRules`]); a task is judged while it is inside an operation
    /// ([`Cx::enter_op`] .. [`Cx::leave_op`]).
    pub fn check_locks(&self, profile: LockingProfile) {
        let tasks = self.sched.borrow().tasks.len();
        *self.rules.borrow_mut() = Some(LockRules::new(profile, tasks));
        self.checking.set(true);
        self.quiet.set(false);
    }

    /// `task` starts operation `op` (number `index` of its program, called from `site`) with
    /// its caller's locks held: the entry contract is checked.
    pub fn enter_op(&self, task: TaskId, index: usize, op: OpLabel, site: &'static str) {
        if self.checking.get() {
            let held = self.position(task).held;
            if let Some(rules) = self.rules.borrow_mut().as_mut() {
                rules.enter(task, OpContext { index, op, site }, held);
            }
        }
    }

    /// `task`'s operation returned; its caller held `caller` when it called.
    pub fn leave_op(&self, task: TaskId, caller: LockSet) {
        if self.checking.get() {
            let held = self.position(task).held;
            if let Some(rules) = self.rules.borrow_mut().as_mut() {
                rules.leave(task, held, caller);
            }
        }
    }

    /// The first lock rule broken in the run, if rules are checked.
    pub fn lock_violation(&self) -> Option<LockViolation> {
        self.rules.borrow().as_ref().and_then(|r| r.violation().cloned())
    }

    // ----- for the executor and the adapter -----

    /// Makes `task` the one whose steps follow.
    pub fn set_current(&self, task: TaskId) {
        let mut s = self.sched.borrow_mut();
        s.current = task;
        s.announced = None;
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
    fn observed(&self, access: &Access) {
        if self.observing.get() || self.checking.get() {
            self.notify_observer(access);
        }
    }

    /// The lock rules, then the observer, see `access`.
    #[inline(never)]
    fn notify_observer(&self, access: &Access) {
        let (task, held) = {
            let s = self.sched.borrow();
            (s.current, s.tasks.get(s.current).map_or(LockSet::EMPTY, |t| t.held))
        };
        if let Some(rules) = self.rules.borrow_mut().as_mut() {
            rules.access(task, access, held);
        }
        if let Some(observer) = self.observer.borrow_mut().as_mut() {
            observer.after(task, access, held, &self.shared.borrow());
        }
    }

    /// Loads the qword at `spa`.
    pub fn read(&self, spa: u64) -> impl Future<Output = Result<u64, IommuError>> + use<'_, 's> {
        self.access(Access::Load { spa }, move |shared| shared.iommu.read_entry(spa))
    }

    /// Loads `out.len()` consecutive qwords from `spa` in ONE step (a wide read, as hardware
    /// reads a DTE); the first unreadable qword's error.
    pub async fn read_wide(&self, spa: u64, out: &mut [u64]) -> Result<(), IommuError> {
        let access = Access::LoadWide { spa, qwords: out.len().min(255) as u8 };
        self.step(access).await;
        let result = {
            let shared = self.shared.borrow();
            out.iter_mut().enumerate().try_for_each(|(i, q)| {
                *q = shared.iommu.read_entry(spa + 8 * i as u64)?;
                Ok(())
            })
        };
        self.observed(&access);
        result
    }

    /// Stores `value` at `spa` (one 64-bit store).
    pub fn write(
        &self,
        spa: u64,
        value: u64,
    ) -> impl Future<Output = Result<(), IommuError>> + use<'_, 's> {
        self.access(Access::Store { spa, value }, move |shared| {
            shared.iommu.write_entry(spa, value)
        })
    }

    /// The step of `access`, then `act` on the shared state, then the observer.
    #[inline(always)]
    fn access<R, F: FnOnce(&mut Shared) -> R + Unpin>(
        &self,
        access: Access,
        act: F,
    ) -> Act<'_, 's, F> {
        Act { step: Step { cx: self, access, announced: false }, quiet: false, act: Some(act) }
    }

    /// Loads the `out.len()` consecutive qwords from `spa` into `out`, in address order, each
    /// load a step of its own: the same steps as that many [`Cx::read`]s, at less cost per
    /// load. Stops at the first load that fails.
    pub async fn read_into(&self, spa: u64, out: &mut [u64]) -> Result<(), IommuError> {
        if self.quiet(out.len()) {
            let (mut taken, mut result) = (0, Ok(()));
            {
                let shared = self.shared.borrow();
                for (slot, at) in out.iter_mut().zip((spa..).step_by(8)) {
                    taken += 1;
                    match shared.iommu.read_entry(at) {
                        Ok(value) => *slot = value,
                        Err(error) => {
                            result = Err(error);
                            break;
                        }
                    }
                }
            }
            self.count_quiet(taken);
            return result;
        }
        for (slot, at) in out.iter_mut().zip((spa..).step_by(8)) {
            *slot = self.read(at).await?;
        }
        Ok(())
    }

    /// Stores `value(i)` at `spa + 8 i` for `i` in `0..count`, in that order, each store a step
    /// of its own: the same steps as that many [`Cx::write`]s, at less cost per store. Stops
    /// at the first store that fails.
    pub async fn write_each(
        &self,
        spa: u64,
        count: u64,
        mut value: impl FnMut(u64) -> u64,
    ) -> Result<(), IommuError> {
        if self.quiet(usize::try_from(count).unwrap_or(usize::MAX)) {
            let (mut taken, mut result) = (0, Ok(()));
            {
                let mut shared = self.shared.borrow_mut();
                for i in 0..count {
                    taken += 1;
                    result = shared.iommu.write_entry(spa + 8 * i, value(i));
                    if result.is_err() {
                        break;
                    }
                }
            }
            self.count_quiet(taken);
            return result;
        }
        for i in 0..count {
            self.write(spa + 8 * i, value(i)).await?;
        }
        Ok(())
    }

    /// Takes the current task's next step at once, without yielding or announcing it, when
    /// that is the same as stepping: in a run that never yields and that nobody observes,
    /// within the operation's budget. Returns false, having counted nothing, when the access
    /// must go through [`Step`]. (A lock step uses [`Cx::take_quiet_lock`].)
    #[inline]
    fn take_quiet(&self) -> bool {
        if !self.quiet.get() {
            return false;
        }
        let mut s = self.sched.borrow_mut();
        let (current, budget) = (s.current, s.budget);
        if s.over_budget.is_some() {
            return false;
        }
        let Some(task) = s.tasks.get_mut(current) else { return false };
        if u64::from(task.access) >= budget.min(u64::from(u32::MAX)) {
            return false;
        }
        task.access += 1;
        s.total += 1;
        true
    }

    /// [`Cx::take_quiet`] for acquiring `class`, which then takes it; false (the step may
    /// block) while any task holds it.
    fn take_quiet_lock(&self, class: LockClass) -> bool {
        if self.holder(class).is_some() || !self.take_quiet() {
            return false;
        }
        let mut s = self.sched.borrow_mut();
        let current = s.current;
        s.holders[class.index()] = Some(current);
        if let Some(t) = s.tasks.get_mut(current) {
            t.blocked_on = None;
            t.held = t.held.with(class);
        }
        true
    }

    /// True when the next `steps` steps of the current task can be taken at once: the run
    /// never yields (not preemptible), nobody observes, and they stay within the operation's
    /// budget. Then none of them could switch tasks or be seen one by one, so performing the
    /// accesses in a loop and counting them ([`Cx::count_quiet`]) is the same as stepping.
    fn quiet(&self, steps: usize) -> bool {
        if !self.quiet.get() {
            return false;
        }
        let s = self.sched.borrow();
        let Some(task) = s.tasks.get(s.current) else { return false };
        s.over_budget.is_none()
            && u64::from(task.access).saturating_add(steps as u64)
                <= s.budget.min(u64::from(u32::MAX))
    }

    /// Counts `taken` steps taken at once after [`Cx::quiet`] allowed them.
    fn count_quiet(&self, taken: u64) {
        if taken == 0 {
            return;
        }
        let mut s = self.sched.borrow_mut();
        s.total += taken;
        let current = s.current;
        if let Some(task) = s.tasks.get_mut(current) {
            task.access += taken as u32;
        }
    }

    /// Stores `new` at `spa` if it holds `old`; returns what it held.
    pub fn cmpxchg(
        &self,
        spa: u64,
        old: u64,
        new: u64,
    ) -> impl Future<Output = Result<u64, IommuError>> + use<'_, 's> {
        self.access(Access::Cas { spa, new }, move |shared| {
            shared.iommu.read_entry(spa).and_then(|current| {
                if current == old {
                    shared.iommu.write_entry(spa, new)?;
                }
                Ok(current)
            })
        })
    }

    /// Allocates a zeroed table frame for `domain`; returns its SPA.
    pub fn alloc_table(
        &self,
        domain: u16,
    ) -> impl Future<Output = Result<u64, IommuError>> + use<'_, 's> {
        self.access(Access::Alloc, move |shared| shared.iommu.alloc_table(domain))
    }

    /// Frees (and poisons) the table frame at `spa`.
    pub fn free_table(
        &self,
        spa: u64,
    ) -> impl Future<Output = Result<(), IommuError>> + use<'_, 's> {
        self.access(Access::Free { spa }, move |shared| shared.iommu.free_table(spa))
    }

    /// Issues an IOMMU command.
    pub fn issue(&self, command: Command) -> impl Future<Output = ()> + use<'_, 's> {
        self.access(Access::Issue { command }, move |shared| shared.iommu.issue(command))
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
    pub fn top(&self) -> impl Future<Output = Option<Top>> + use<'_, 's> {
        self.access(Access::ReadTop, |shared| shared.top)
    }

    /// Writes the top cell.
    pub fn set_top(&self, top: Option<Top>) -> impl Future<Output = ()> + use<'_, 's> {
        self.access(Access::WriteTop, move |shared| shared.top = top)
    }

    /// Reads spare cell `cell` (0 when there is no such cell).
    pub fn cell(&self, cell: u8) -> impl Future<Output = u64> + use<'_, 's> {
        self.access(Access::ReadCell { cell }, move |shared| {
            shared.cells.get(usize::from(cell)).copied().unwrap_or(0)
        })
    }

    /// Writes spare cell `cell` (ignored when there is no such cell).
    pub fn set_cell(&self, cell: u8, value: u64) -> impl Future<Output = ()> + use<'_, 's> {
        self.access(Access::WriteCell { cell }, move |shared| {
            if let Some(slot) = shared.cells.get_mut(usize::from(cell)) {
                *slot = value;
            }
        })
    }

    /// Reads the domain's device list.
    pub fn devices(&self) -> impl Future<Output = DeviceSet> + use<'_, 's> {
        self.access(Access::ReadDevices, |shared| shared.devices)
    }

    /// Adds `dev` to the domain's device list (`joined`) or removes it.
    pub fn set_device(&self, dev: u16, joined: bool) -> impl Future<Output = ()> + use<'_, 's> {
        self.access(Access::WriteDevices, move |shared| {
            if joined {
                shared.devices.insert(dev);
            } else {
                shared.devices.remove(dev);
            }
        })
    }

    /// Acquires `class`, waiting while another task holds it.
    pub async fn lock(&self, class: LockClass) {
        let access = Access::Lock { class };
        if !self.take_quiet_lock(class) {
            self.step(access).await;
        }
        self.observed(&access);
    }

    /// Releases `class`; an error when the task does not hold it.
    pub async fn unlock(&self, class: LockClass) -> Result<(), IommuError> {
        let access = Access::Unlock { class };
        if !self.take_quiet() {
            self.step(access).await;
        }
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
        self.observed(&access);
        if held {
            Ok(())
        } else {
            if self.checking.get() {
                let (task, now) = {
                    let s = self.sched.borrow();
                    (s.current, s.tasks.get(s.current).map_or(LockSet::EMPTY, |t| t.held))
                };
                if let Some(rules) = self.rules.borrow_mut().as_mut() {
                    rules.unlock_not_held(task, class, now);
                }
            }
            Err(IommuError::LockNotHeld { lock: class.name() })
        }
    }

    /// The locks the current task holds (not a step: like `lockdep_assert_held`).
    pub fn held(&self) -> LockSet {
        let s = self.sched.borrow();
        s.tasks.get(s.current).map_or(LockSet::EMPTY, |t| t.held)
    }
}

/// The future of one access: its step (taken at once when quiet), then its action.
struct Act<'c, 's, F> {
    step: Step<'c, 's>,
    quiet: bool,
    act: Option<F>,
}

impl<R, F: FnOnce(&mut Shared) -> R + Unpin> Future for Act<'_, '_, F> {
    type Output = R;

    #[inline(always)]
    fn poll(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<R> {
        let this = &mut *self;
        let cx = this.step.cx;
        if !this.quiet {
            if !this.step.announced && cx.take_quiet() {
                this.quiet = true;
            } else if Pin::new(&mut this.step).poll(context).is_pending() {
                return Poll::Pending;
            }
        }
        let Some(act) = this.act.take() else { return Poll::Pending };
        let result = act(&mut cx.shared.borrow_mut());
        cx.observed(&this.step.access);
        Poll::Ready(result)
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
            s.announced = Some(access);
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
