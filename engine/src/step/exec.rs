//! A small deterministic executor: tasks polled one step at a time on one thread, a policy
//! choosing which runs next, blocking on locks, deadlock and step-budget detection. Standard
//! library only; no threads, no clocks.

use super::access::LockClass;
use super::cx::{Cx, TaskId};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

/// A task's work: a future that runs its operations over the `Cx` it borrows.
pub type TaskFuture<'a> = Pin<Box<dyn Future<Output = ()> + 'a>>;

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every task finished.
    Done,
    /// Unfinished tasks remain and none can run: each waits for a lock, listed with the task
    /// holding it.
    Deadlock { waiting: Vec<(TaskId, LockClass, Option<TaskId>)> },
    /// A task's operation took more steps than its budget.
    StepBudget { task: TaskId },
    /// The whole run took more than its step budget.
    RunBudget { steps: u64 },
}

/// Chooses the task that makes the next step.
pub trait Policy {
    /// `current` made the last step (or `None` at the start); `runnable` is sorted and not
    /// empty. Returns one of `runnable`.
    fn next(&mut self, cx: &Cx<'_>, current: Option<TaskId>, runnable: &[TaskId]) -> TaskId;
}

/// The sequential policy: keep running the current task until it finishes or blocks, then the
/// lowest-numbered runnable task. With it a run equals running the tasks one after another.
#[derive(Clone, Copy, Debug, Default)]
pub struct RunToCompletion;

impl Policy for RunToCompletion {
    fn next(&mut self, _: &Cx<'_>, current: Option<TaskId>, runnable: &[TaskId]) -> TaskId {
        match current {
            Some(t) if runnable.contains(&t) => t,
            _ => runnable[0],
        }
    }
}

/// Switches to the next runnable task (in task order, wrapping) after every step.
#[derive(Clone, Copy, Debug, Default)]
pub struct SwitchEveryStep;

impl Policy for SwitchEveryStep {
    fn next(&mut self, _: &Cx<'_>, current: Option<TaskId>, runnable: &[TaskId]) -> TaskId {
        match current {
            Some(t) => runnable.iter().copied().find(|&r| r > t).unwrap_or(runnable[0]),
            None => runnable[0],
        }
    }
}

/// A no-op waker: tasks are polled by the executor's policy, never woken.
struct NoWake;

impl Wake for NoWake {
    fn wake(self: Arc<Self>) {}
}

thread_local! {
    static WAKER: Waker = Waker::from(Arc::new(NoWake));
}

/// Polls `future` once with a waker that does nothing.
pub fn poll_once<F: Future + ?Sized>(future: Pin<&mut F>) -> Poll<F::Output> {
    WAKER.with(|waker| future.poll(&mut Context::from_waker(waker)))
}

/// Runs `tasks` over `cx` (which must know as many tasks) under `policy`, at most `max_steps`
/// polls in all.
pub fn run(
    cx: &Cx<'_>,
    tasks: Vec<TaskFuture<'_>>,
    policy: &mut dyn Policy,
    max_steps: u64,
) -> Outcome {
    let mut tasks: Vec<Option<TaskFuture<'_>>> = tasks.into_iter().map(Some).collect();
    let mut current = None;
    let mut runnable = Vec::with_capacity(tasks.len());
    let mut polls = 0u64;
    loop {
        runnable.clear();
        runnable.extend((0..tasks.len()).filter(|&t| tasks[t].is_some() && cx.runnable(t)));
        if runnable.is_empty() {
            let waiting: Vec<(TaskId, LockClass, Option<TaskId>)> = (0..tasks.len())
                .filter(|&t| tasks[t].is_some())
                .filter_map(|t| cx.position(t).blocked_on.map(|l| (t, l, cx.holder(l))))
                .collect();
            return if waiting.is_empty() { Outcome::Done } else { Outcome::Deadlock { waiting } };
        }
        if polls >= max_steps {
            return Outcome::RunBudget { steps: polls };
        }
        polls += 1;
        let task = policy.next(cx, current, &runnable);
        current = Some(task);
        cx.set_current(task);
        let Some(future) = tasks.get_mut(task).and_then(Option::as_mut) else { continue };
        if poll_once(future.as_mut()).is_ready() {
            tasks[task] = None;
        }
        if let Some(task) = cx.over_budget() {
            return Outcome::StepBudget { task };
        }
    }
}
