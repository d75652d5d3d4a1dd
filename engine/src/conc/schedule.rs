//! The schedule of a concurrent run: anchored preemptions (`../shared/CONCURRENCY.md` 5.3).
//!
//! An anchor names a point in one task's own program — "task t, in its op j, about to make its
//! k-th access" — so moving one anchor moves one switch point and leaves the others alone.
//! Between anchors the current task keeps running (preemption bounding); when it finishes or
//! blocks, the lowest-numbered runnable task runs. With no anchor the run is the sequential
//! one. A *start* anchor wakes a dormant task (a hardware walk) at its point; a dormant task
//! whose anchor is never reached runs once nothing else can.

use crate::step::exec::Policy;
use crate::step::{Cx, TaskId};

/// A point in a task's program: its op `op` (0-based), about to make its `access`-th access
/// (1-based).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Point {
    pub task: TaskId,
    pub op: u32,
    pub access: u32,
}

/// At `at`, run `to`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Switch {
    pub at: Point,
    pub to: TaskId,
}

/// One decision of a run: at `at` (the point of the task that made the last step, or at the
/// start the chosen task's), the executor ran `ran`, which stood at `ran_at`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    pub at: Point,
    pub ran: TaskId,
    /// Where `ran` stood: about to make that access (access 0: about to start its op).
    pub ran_at: Point,
    /// When the task at `at` could go on: the other runnable tasks a preemption at `at` could
    /// run (bit `t` for task `t`). 0 when it could not (it had finished or blocked, or the run
    /// was starting), so that the choice cost no preemption, or when no other task could run.
    pub others: u32,
}

impl Step {
    /// The tasks a preemption at this step could switch to, in task order.
    pub fn targets(&self) -> impl Iterator<Item = TaskId> {
        let others = self.others;
        (0..32).filter(move |t| others & (1 << t) != 0)
    }
}

/// The anchored-preemption policy.
///
/// Invariant: `fired[i]` tells whether `switches[i]` took effect; `dormant[t]` is true for a
/// task that waits for its start anchor; `trace` lists every decision made, in order.
#[derive(Clone, Debug, Default)]
pub struct Anchored {
    switches: Vec<Switch>,
    fired: Vec<bool>,
    dormant: Vec<bool>,
    /// Every point a task was at when the policy chose, and whom it ran (for reports and
    /// for enumerating schedules).
    pub trace: Vec<Step>,
    /// The switches that took effect, in order.
    pub taken: Vec<Switch>,
}

impl Anchored {
    /// A policy over `tasks` tasks with `switches`; the tasks in `dormant` start only when a
    /// switch names them (or when nothing else can run).
    pub fn new(tasks: usize, switches: Vec<Switch>, dormant: &[TaskId]) -> Anchored {
        let mut d = vec![false; tasks];
        for &t in dormant {
            if let Some(slot) = d.get_mut(t) {
                *slot = true;
            }
        }
        Anchored { fired: vec![false; switches.len()], switches, dormant: d, ..Anchored::default() }
    }

    fn point(cx: &Cx<'_>, task: TaskId) -> Point {
        let p = cx.position(task);
        Point { task, op: p.op.saturating_sub(1), access: p.access }
    }
}

impl Policy for Anchored {
    fn next(&mut self, cx: &Cx<'_>, current: Option<TaskId>, runnable: &[TaskId]) -> TaskId {
        let awake = |t: &TaskId, dormant: &[bool]| !dormant.get(*t).copied().unwrap_or(false);
        if let Some(cur) = current {
            let at = Anchored::point(cx, cur);
            let goes_on = runnable.contains(&cur) && awake(&cur, &self.dormant);
            let others = if goes_on {
                runnable.iter().filter(|&&t| t != cur && t < 32).fold(0, |m, &t| m | 1 << t)
            } else {
                0
            };
            let hit = (0..self.switches.len()).find(|&i| {
                !self.fired[i]
                    && self.switches[i].at == at
                    && runnable.contains(&self.switches[i].to)
            });
            if let Some(i) = hit {
                self.fired[i] = true;
                let to = self.switches[i].to;
                if let Some(d) = self.dormant.get_mut(to) {
                    *d = false;
                }
                self.taken.push(self.switches[i]);
                self.trace.push(Step { at, ran: to, ran_at: Anchored::point(cx, to), others });
                return to;
            }
            if goes_on {
                self.trace.push(Step { at, ran: cur, ran_at: at, others });
                return cur;
            }
        }
        let chosen =
            runnable.iter().copied().find(|t| awake(t, &self.dormant)).unwrap_or(runnable[0]);
        if let Some(d) = self.dormant.get_mut(chosen) {
            *d = false;
        }
        let ran_at = Anchored::point(cx, chosen);
        let at = current.map_or(ran_at, |cur| Anchored::point(cx, cur));
        self.trace.push(Step { at, ran: chosen, ran_at, others: 0 });
        chosen
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::step::exec::{run, Outcome, TaskFuture};
    use crate::step::{Shared, DEFAULT_STEP_BUDGET};
    use crate::substrate::iommu::Iommu;
    use std::cell::RefCell;

    /// Tasks that each write their id into a log at every step (three steps per op, two ops).
    fn run_logged(switches: Vec<Switch>, dormant: &[TaskId]) -> (Vec<TaskId>, Anchored) {
        let mut shared = Shared::new(Iommu::new());
        let cx = Cx::new(&mut shared, 3, true, DEFAULT_STEP_BUDGET);
        let log = RefCell::new(Vec::new());
        let tasks: Vec<TaskFuture<'_>> = (0..3)
            .map(|task| {
                let (cx, log) = (&cx, &log);
                Box::pin(async move {
                    for _ in 0..2 {
                        cx.begin_op(task);
                        for _ in 0..3 {
                            let _ = cx.top().await;
                            log.borrow_mut().push(task);
                        }
                    }
                }) as TaskFuture<'_>
            })
            .collect();
        let mut policy = Anchored::new(3, switches, dormant);
        assert_eq!(run(&cx, tasks, &mut policy, 1000), Outcome::Done);
        drop(cx);
        (log.into_inner(), policy)
    }

    #[test]
    fn without_anchors_tasks_run_one_after_another() {
        let (log, policy) = run_logged(vec![], &[]);
        assert_eq!(log, [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2]);
        assert!(policy.taken.is_empty());
    }

    #[test]
    fn an_anchor_switches_at_its_point_and_nowhere_else() {
        // Task 0, op 1, about to make its 2nd access: run task 2 (to completion), then task 0
        // resumes (the lowest runnable), then task 1.
        let at = Point { task: 0, op: 1, access: 2 };
        let (log, policy) = run_logged(vec![Switch { at, to: 2 }], &[]);
        assert_eq!(log, [0, 0, 0, 0, 2, 2, 2, 2, 2, 2, 0, 0, 1, 1, 1, 1, 1, 1]);
        assert_eq!(policy.taken, vec![Switch { at, to: 2 }]);
    }

    #[test]
    fn a_dormant_task_starts_at_its_anchor_or_last() {
        let at = Point { task: 0, op: 0, access: 3 };
        let (log, _) = run_logged(vec![Switch { at, to: 2 }], &[2]);
        assert_eq!(log, [0, 0, 2, 2, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1]);
        // Never woken: it runs once nothing else can.
        let (log, _) = run_logged(vec![], &[1]);
        assert_eq!(log, [0, 0, 0, 0, 0, 0, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1]);
    }

    #[test]
    fn the_trace_lists_every_point_a_preemption_could_take() {
        let (_, policy) = run_logged(vec![], &[]);
        let p = |task, op, access| Point { task, op, access };
        let choices: Vec<(Point, Vec<TaskId>)> = policy
            .trace
            .iter()
            .filter(|s| s.others != 0)
            .map(|s| (s.at, s.targets().collect()))
            .collect();
        let mut expected = Vec::new();
        for (task, others) in [(0, vec![1, 2]), (1, vec![2])] {
            for op in 0..2 {
                for access in 1..=3 {
                    expected.push((p(task, op, access), others.clone()));
                }
            }
        }
        assert_eq!(choices, expected, "task 2 runs last: nothing to preempt it for");
        // 3 starts, 6 announced accesses per task, each a decision.
        assert_eq!(policy.trace.len(), 21);
        let switch = policy.trace.iter().find(|s| s.ran == 1).unwrap();
        assert_eq!((switch.at, switch.ran_at, switch.others), (p(0, 1, 3), p(1, 0, 0), 0));
        // A preemption is a choice too; the task switched to is at its own point.
        let at = p(0, 0, 2);
        let (_, policy) = run_logged(vec![Switch { at, to: 1 }], &[]);
        let taken = policy.trace.iter().find(|s| s.at == at).unwrap();
        assert_eq!((taken.ran, taken.ran_at, taken.others), (1, p(1, 0, 0), 0b110));
    }
}
