//! The interleaving a concurrent phase took, as the scenario names it: which task ran which
//! of its accesses, in order, and every point where a preemption could have run another task
//! (what `ptdiff repro` prints and [`super::explore`] enumerates).
//!
//! It is read off the executor's decisions ([`Anchored::trace`]): one per step, each naming
//! the task that ran and the point it stood at (about to make that access).

use super::scenario::{Anchor, ConcScenario, Preempt, TaskRef};
use super::schedule::{Anchored, Point, Step};
use crate::step::TaskId;
use std::fmt;

/// One implementation's interleaving.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interleaving {
    /// The implementation that ran it.
    pub implementation: String,
    /// The scenario's task behind each executor task (threads first, then walks).
    pub tasks: Vec<TaskRef>,
    /// Every decision of the executor, in order.
    pub steps: Vec<Step>,
    /// The switches that took effect (preemptions and walk starts), in order.
    pub taken: Vec<Preempt>,
}

/// A preemption the run could have taken: at step `step`, instead of letting the task at
/// `preempt.at` go on, run `preempt.to`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Choice {
    pub step: usize,
    pub preempt: Preempt,
}

/// A stretch of the run: `task` made accesses `first..=last` of its op `op` without a switch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    pub task: TaskRef,
    pub op: u32,
    pub first: u32,
    pub last: u32,
    /// The point of another task that could have gone on when this one was run instead (a
    /// preemption or a walk's start).
    pub switched_at: Option<Anchor>,
}

impl Interleaving {
    /// The interleaving `policy` recorded for scenario `s` in `implementation`.
    pub fn of(s: &ConcScenario, implementation: &str, policy: &Anchored) -> Interleaving {
        let threads = (0..s.threads.len()).map(|t| TaskRef::Thread(t as u8));
        let walks = (0..s.walks.len()).map(|w| TaskRef::Walk(w as u8));
        let mut out = Interleaving {
            implementation: implementation.to_string(),
            tasks: threads.chain(walks).collect(),
            steps: policy.trace.clone(),
            taken: Vec::new(),
        };
        out.taken = policy
            .taken
            .iter()
            .map(|sw| Preempt { at: out.anchor(sw.at), to: out.task(sw.to) })
            .collect();
        out
    }

    /// The scenario's task behind executor task `id`.
    pub fn task(&self, id: TaskId) -> TaskRef {
        self.tasks.get(id).copied().unwrap_or(TaskRef::Thread(u8::MAX))
    }

    /// The anchor naming executor point `p`.
    pub fn anchor(&self, p: Point) -> Anchor {
        Anchor {
            task: self.task(p.task),
            op: p.op.min(u32::from(u16::MAX)) as u16,
            access: p.access,
        }
    }

    /// Every preemption this run could have taken, in run order: each point where the task
    /// that made the last step could go on (it had announced an access, `access >= 1`), with
    /// each other task runnable there.
    pub fn choices(&self) -> impl Iterator<Item = Choice> + '_ {
        self.steps.iter().enumerate().filter(|(_, s)| s.at.access >= 1).flat_map(move |(i, s)| {
            s.targets().map(move |to| Choice {
                step: i,
                preempt: Preempt { at: self.anchor(s.at), to: self.task(to) },
            })
        })
    }

    /// The step at which switch `preempt` took effect, if it did.
    pub fn step_of(&self, preempt: Preempt) -> Option<usize> {
        self.steps.iter().position(|s| {
            s.at.access >= 1
                && self.anchor(s.at) == preempt.at
                && self.task(s.ran) == preempt.to
                && s.ran != s.at.task
        })
    }

    /// The run as stretches of accesses without a switch.
    pub fn segments(&self) -> Vec<Segment> {
        let mut out: Vec<Segment> = Vec::new();
        let mut previous: Option<TaskId> = None;
        let mut switched_at = None;
        for s in &self.steps {
            if previous.is_some_and(|p| p != s.ran) && s.others != 0 {
                switched_at = Some(self.anchor(s.at));
            }
            previous = Some(s.ran);
            if s.ran_at.access == 0 {
                continue;
            }
            let (task, op, access) = (self.task(s.ran), s.ran_at.op, s.ran_at.access);
            match out.last_mut() {
                Some(last) if switched_at.is_none() && last.task == task && last.op == op => {
                    last.last = access;
                }
                _ => out.push(Segment {
                    task,
                    op,
                    first: access,
                    last: access,
                    switched_at: switched_at.take(),
                }),
            }
        }
        out
    }
}

impl fmt::Display for Interleaving {
    /// One line per segment, e.g. `t1.0#1..#22  (switched to at t0.0#2)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let accesses = self.steps.iter().filter(|s| s.ran_at.access >= 1).count();
        let taken = match self.taken.len() {
            0 => "no switch taken".to_string(),
            _ => {
                let list: Vec<String> = self.taken.iter().map(ToString::to_string).collect();
                format!("switches taken: {}", list.join(", "))
            }
        };
        writeln!(f, "interleaving in `{}` ({accesses} steps; {taken}):", self.implementation)?;
        for seg in self.segments() {
            let at = format!("{}.{}#{}", seg.task, seg.op, seg.first);
            let range = if seg.last == seg.first { at } else { format!("{at}..#{}", seg.last) };
            match seg.switched_at {
                Some(a) => writeln!(f, "  {range:<20} (switched to at {a})")?,
                None => writeln!(f, "  {range}")?,
            }
        }
        Ok(())
    }
}
