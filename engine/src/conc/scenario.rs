//! The concurrent scenario: a sequential setup, then up to three CPU threads, hardware walks
//! and anchored preemptions (`../shared/CONCURRENCY.md` section 5.3), and its validation.
//!
//! An [`Anchor`] names a point of one task's own program: `t0.1#5` is "thread 0, in its op 1
//! (0-based), about to make its 5th shared access (1-based)". Anchors are relative to their own
//! task, so moving one moves one switch point and leaves the others alone.

use crate::conc::site::Site;
use crate::scenario::repeat::run_entries;
use crate::scenario::{Config, InvalidOp, Op, Scenario, ScenarioError, MAX_RUN_ENTRIES};
use ptdiff_reference::Perm;
use std::fmt;
use thiserror::Error;

/// Most CPU threads.
pub const MAX_THREADS: usize = 3;
/// Most operations of one thread.
pub const MAX_THREAD_OPS: usize = 8;
/// Most hardware walks.
pub const MAX_WALKS: usize = 4;
/// Most preemptions.
pub const MAX_PREEMPTS: usize = 8;
/// Most setup operations.
pub const MAX_SETUP_OPS: usize = 64;
/// The keywords of the operations only the setup may hold.
pub const SETUP_ONLY: [&str; 3] = ["fail", "repeat", "teardown"];

/// One operation of a thread and the site that calls it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ThreadOp {
    pub site: Site,
    pub op: Op,
}

/// A task: CPU thread `t0..t2` or hardware walk `w0..w3` (the walk of the `i`-th `walk` line).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TaskRef {
    Thread(u8),
    Walk(u8),
}

/// A point in one task's program: in its op `op` (0-based; a walk has only op 0), about to make
/// its `access`-th shared access (1-based) of that op.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Anchor {
    pub task: TaskRef,
    pub op: u16,
    pub access: u32,
}

/// When the anchor is reached, task `to` runs (until it finishes or blocks).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Preempt {
    pub at: Anchor,
    pub to: TaskRef,
}

/// A hardware walk of device `dev` at `dfn` needing `access`: a task reading one entry per
/// step. It becomes runnable at its anchor, or, without one, when no other task can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WalkSpec {
    pub at: Option<Anchor>,
    pub dev: u16,
    pub dfn: u64,
    pub access: Perm,
}

/// A concurrent scenario: `setup` runs sequentially with every check, then the threads, the
/// walks and the preemptions make the concurrent phase.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ConcScenario {
    pub config: Config,
    pub setup: Vec<Op>,
    /// Thread `t` is `threads[t]`, its ops in program order.
    pub threads: Vec<Vec<ThreadOp>>,
    /// Walk `w` is `walks[w]`.
    pub walks: Vec<WalkSpec>,
    pub preempts: Vec<Preempt>,
    /// Whether the oracle walks after every store into a reachable slot (text: `shadow off`
    /// turns them off).
    pub shadow_walks: bool,
}

/// Why a concurrent scenario is not well-formed.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ConcError {
    #[error("{0}")]
    Config(ScenarioError),
    #[error("setup: {0}")]
    Setup(ScenarioError),
    #[error("{0} setup ops, at most {MAX_SETUP_OPS} allowed")]
    TooManySetupOps(usize),
    #[error("{0} threads; a concurrent scenario has 1 to {MAX_THREADS}")]
    Threads(usize),
    #[error("thread t{thread} has {count} ops; a thread has 1 to {MAX_THREAD_OPS}")]
    ThreadOps { thread: usize, count: usize },
    /// Op `index` (0-based, as anchors count) of thread `thread`.
    #[error("op t{thread}.{index}: {problem}")]
    ThreadOp { thread: usize, index: usize, problem: ThreadOpError },
    #[error("{0} walks, at most {MAX_WALKS} allowed")]
    TooManyWalks(usize),
    #[error("{0} preempts, at most {MAX_PREEMPTS} allowed")]
    TooManyPreempts(usize),
    #[error("walk w{index}: {problem}")]
    Walk { index: usize, problem: WalkError },
    /// Preempt `index` (0-based, in file order).
    #[error("preempt {preempt}: {problem}")]
    Preempt { index: usize, preempt: Preempt, problem: PreemptError },
    #[error("setup and threads may write {0} table entries, at most {MAX_RUN_ENTRIES} allowed")]
    TooManyRunEntries(u64),
}

/// Why an op cannot be a thread's.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ThreadOpError {
    #[error(transparent)]
    Invalid(InvalidOp),
    #[error("`{0}` belongs to the setup, not to a thread")]
    SetupOnly(&'static str),
    #[error(
        "a `missed` map belongs to the setup: in a thread the site's own ops say whether it \
         notified"
    )]
    Missed,
}

/// Why a walk is not well-formed.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum WalkError {
    #[error(transparent)]
    Invalid(InvalidOp),
    #[error("anchor {anchor}: {problem}")]
    Anchor { anchor: Anchor, problem: AnchorError },
}

/// Why a preemption is not well-formed.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum PreemptError {
    #[error("anchor {0}: {1}")]
    Anchor(Anchor, AnchorError),
    #[error("there is no task {0}")]
    NoSuchTarget(TaskRef),
    #[error("{0} cannot preempt itself")]
    ItselfAsTarget(TaskRef),
    /// Preempt `first` (0-based) has the same anchor: a switch point switches to one task.
    #[error("preempt {} has the same anchor", .first + 1)]
    SameAnchor { first: usize },
}

/// Why an anchor names no point of a program.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum AnchorError {
    #[error("there is no task {0}")]
    NoSuchTask(TaskRef),
    #[error("{task} has {ops} op(s), no op {op}")]
    NoSuchOp { task: TaskRef, op: u16, ops: usize },
    #[error("accesses are counted from 1, found 0")]
    AccessZero,
    /// A walk anchored on itself or a later walk (which could never start).
    #[error("a walk is anchored on a thread or an earlier walk, not on {0}")]
    NotEarlier(TaskRef),
}

impl ConcScenario {
    /// A scenario of `threads` only, with `config`, no setup, walk or preemption, shadow walks
    /// on.
    pub fn of_threads(config: Config, threads: Vec<Vec<ThreadOp>>) -> ConcScenario {
        ConcScenario {
            config,
            setup: Vec::new(),
            threads,
            walks: Vec::new(),
            preempts: Vec::new(),
            shadow_walks: true,
        }
    }

    /// The number of ops of `task` (a walk has one), or `None` when there is no such task.
    pub fn ops_of(&self, task: TaskRef) -> Option<usize> {
        match task {
            TaskRef::Thread(t) => self.threads.get(usize::from(t)).map(Vec::len),
            TaskRef::Walk(w) => self.walks.get(usize::from(w)).map(|_| 1),
        }
    }

    /// Checks the config, the setup, the threads, the walks and the preemptions (see the
    /// limits above and each error).
    pub fn validate(&self) -> Result<(), ConcError> {
        self.config.validate().map_err(ConcError::Config)?;
        if self.setup.len() > MAX_SETUP_OPS {
            return Err(ConcError::TooManySetupOps(self.setup.len()));
        }
        let setup = Scenario { config: self.config, ops: self.setup.clone() };
        setup.validate().map_err(ConcError::Setup)?;
        if !(1..=MAX_THREADS).contains(&self.threads.len()) {
            return Err(ConcError::Threads(self.threads.len()));
        }
        for (thread, ops) in self.threads.iter().enumerate() {
            if !(1..=MAX_THREAD_OPS).contains(&ops.len()) {
                return Err(ConcError::ThreadOps { thread, count: ops.len() });
            }
            for (index, op) in ops.iter().enumerate() {
                thread_op_problem(&setup, &op.op).map_or(Ok(()), |problem| {
                    Err(ConcError::ThreadOp { thread, index, problem })
                })?;
            }
        }
        if self.walks.len() > MAX_WALKS {
            return Err(ConcError::TooManyWalks(self.walks.len()));
        }
        for (index, walk) in self.walks.iter().enumerate() {
            self.walk_problem(index, walk)
                .map_or(Ok(()), |problem| Err(ConcError::Walk { index, problem }))?;
        }
        if self.preempts.len() > MAX_PREEMPTS {
            return Err(ConcError::TooManyPreempts(self.preempts.len()));
        }
        for (index, &preempt) in self.preempts.iter().enumerate() {
            self.preempt_problem(index, preempt)
                .map_or(Ok(()), |problem| Err(ConcError::Preempt { index, preempt, problem }))?;
        }
        let thread_entries: u64 = self.threads.iter().flatten().map(|t| t.op.entries()).sum();
        let entries = run_entries(&self.setup).saturating_add(thread_entries);
        if entries > MAX_RUN_ENTRIES {
            return Err(ConcError::TooManyRunEntries(entries));
        }
        Ok(())
    }

    fn walk_problem(&self, index: usize, walk: &WalkSpec) -> Option<WalkError> {
        if let Some(anchor) = walk.at {
            let problem = match anchor.task {
                TaskRef::Walk(w) if usize::from(w) >= index => {
                    Some(AnchorError::NotEarlier(anchor.task))
                }
                _ => self.anchor_problem(anchor),
            };
            if let Some(problem) = problem {
                return Some(WalkError::Anchor { anchor, problem });
            }
        }
        if walk.dev >= u16::from(self.config.devices) {
            let devices = self.config.devices;
            return Some(WalkError::Invalid(InvalidOp::NoSuchDevice { dev: walk.dev, devices }));
        }
        walk.access.is_empty().then_some(WalkError::Invalid(InvalidOp::NoAccess))
    }

    fn preempt_problem(&self, index: usize, p: Preempt) -> Option<PreemptError> {
        if let Some(problem) = self.anchor_problem(p.at) {
            return Some(PreemptError::Anchor(p.at, problem));
        }
        if self.ops_of(p.to).is_none() {
            return Some(PreemptError::NoSuchTarget(p.to));
        }
        if p.to == p.at.task {
            return Some(PreemptError::ItselfAsTarget(p.to));
        }
        let first = self.preempts.iter().take(index).position(|q| q.at == p.at)?;
        Some(PreemptError::SameAnchor { first })
    }

    /// Why `anchor` names no point of a task's program, if it does not.
    pub fn anchor_problem(&self, anchor: Anchor) -> Option<AnchorError> {
        let Some(ops) = self.ops_of(anchor.task) else {
            return Some(AnchorError::NoSuchTask(anchor.task));
        };
        if usize::from(anchor.op) >= ops {
            return Some(AnchorError::NoSuchOp { task: anchor.task, op: anchor.op, ops });
        }
        (anchor.access == 0).then_some(AnchorError::AccessZero)
    }
}

/// Why `op` cannot run in a thread of a scenario set up as `setup`, if it cannot.
pub fn thread_op_problem(setup: &Scenario, op: &Op) -> Option<ThreadOpError> {
    match op {
        _ if SETUP_ONLY.contains(&op.keyword()) => Some(ThreadOpError::SetupOnly(op.keyword())),
        Op::Map { missed: true, .. } => Some(ThreadOpError::Missed),
        _ => match setup.validate_op(0, op) {
            Err(ScenarioError::Op { problem, .. }) => Some(ThreadOpError::Invalid(problem)),
            _ => None,
        },
    }
}

impl fmt::Display for TaskRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskRef::Thread(t) => write!(f, "t{t}"),
            TaskRef::Walk(w) => write!(f, "w{w}"),
        }
    }
}

impl fmt::Display for Anchor {
    /// `t0.1#5`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}#{}", self.task, self.op, self.access)
    }
}

impl fmt::Display for Preempt {
    /// `t0.1#5 -> t2`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} -> {}", self.at, self.to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(dfn: u64) -> Op {
        Op::Map { dfn, mfn: 0x11, order: 0, perm: Perm::RW, missed: false, count: 1 }
    }

    /// Section 6a of the design: assign racing a growing map.
    fn story() -> ConcScenario {
        ConcScenario {
            config: Config::default(),
            setup: vec![Op::Assign { dev: 0 }],
            threads: vec![
                vec![ThreadOp { site: Site::Pci, op: Op::Assign { dev: 1 } }],
                vec![
                    ThreadOp { site: Site::NotifySite, op: Op::Notify { dfn: 0x40000 } },
                    ThreadOp { site: Site::P2m, op: map(0x40000) },
                ],
            ],
            walks: vec![WalkSpec {
                at: Some(Anchor { task: TaskRef::Thread(1), op: 1, access: 9 }),
                dev: 1,
                dfn: 0x40000,
                access: Perm::RW,
            }],
            preempts: vec![Preempt {
                at: Anchor { task: TaskRef::Thread(0), op: 0, access: 2 },
                to: TaskRef::Thread(1),
            }],
            shadow_walks: true,
        }
    }

    #[test]
    fn the_story_is_valid_and_displays_its_anchors() {
        let s = story();
        assert_eq!(s.validate(), Ok(()));
        assert_eq!(s.preempts[0].to_string(), "t0.0#2 -> t1");
        assert_eq!(s.ops_of(TaskRef::Thread(1)), Some(2));
        assert_eq!(s.ops_of(TaskRef::Walk(0)), Some(1));
        assert_eq!(s.ops_of(TaskRef::Walk(1)), None);
    }

    /// `story()` changed by `change` fails validation with `message`.
    fn fails(change: impl FnOnce(&mut ConcScenario), message: &str) {
        let mut s = story();
        change(&mut s);
        assert_eq!(s.validate().map_err(|e| e.to_string()), Err(message.to_string()));
    }

    #[test]
    fn limits_are_enforced() {
        fails(|s| s.config.devices = 0, "devices must be 1..=8, got 0");
        fails(|s| s.setup = vec![Op::Notify { dfn: 0 }; 65], "65 setup ops, at most 64 allowed");
        fails(
            |s| s.setup.push(Op::Assign { dev: 2 }),
            "setup: op 2: device 2 is not below `devices` = 2",
        );
        fails(|s| s.threads.clear(), "0 threads; a concurrent scenario has 1 to 3");
        fails(|s| s.threads.push(vec![]), "thread t2 has 0 ops; a thread has 1 to 8");
        fails(
            |s| s.threads[0] = vec![ThreadOp { site: Site::Pci, op: Op::Notify { dfn: 0 } }; 9],
            "thread t0 has 9 ops; a thread has 1 to 8",
        );
        fails(|s| s.walks = vec![s.walks[0]; 5], "5 walks, at most 4 allowed");
        let p = |access| Preempt {
            at: Anchor { task: TaskRef::Thread(0), op: 0, access },
            to: TaskRef::Thread(1),
        };
        fails(|s| s.preempts = (1..=9).map(p).collect(), "9 preempts, at most 8 allowed");
        fails(
            |s| {
                s.config.ranges = true;
                s.setup.push(Op::Map {
                    dfn: 0,
                    mfn: 0,
                    order: 8,
                    perm: Perm::R,
                    missed: false,
                    count: 512,
                });
                s.threads[0][0].op = Op::Unmap { dfn: 0, order: 8, count: 512 };
                s.preempts.clear();
            },
            "setup and threads may write 262147 table entries, at most 262144 allowed",
        );
    }

    #[test]
    fn thread_ops_are_checked() {
        let set = |op| move |s: &mut ConcScenario| s.threads[1][0].op = op;
        fails(
            set(Op::FailAlloc { nth: 1 }),
            "op t1.0: `fail` belongs to the setup, not to a thread",
        );
        fails(
            set(Op::Repeat { count: 1 }),
            "op t1.0: `repeat` belongs to the setup, not to a thread",
        );
        fails(set(Op::Teardown), "op t1.0: `teardown` belongs to the setup, not to a thread");
        let missed = Op::Map { dfn: 0, mfn: 0, order: 0, perm: Perm::R, missed: true, count: 1 };
        fails(
            |s| {
                s.config.missed_notifications = true;
                s.threads[1][0].op = missed;
            },
            "op t1.0: a `missed` map belongs to the setup: in a thread the site's own ops say \
             whether it notified",
        );
        fails(
            set(Op::Translate { dev: 3, dfn: 0 }),
            "op t1.0: device 3 is not below `devices` = 2",
        );
    }

    #[test]
    fn walks_are_checked() {
        fails(|s| s.walks[0].dev = 2, "walk w0: device 2 is not below `devices` = 2");
        fails(|s| s.walks[0].access = Perm::NONE, "walk w0: an access must read, write or both");
        let at = |task, op, access| Some(Anchor { task, op, access });
        fails(
            |s| s.walks[0].at = at(TaskRef::Thread(1), 2, 1),
            "walk w0: anchor t1.2#1: t1 has 2 op(s), no op 2",
        );
        fails(
            |s| s.walks[0].at = at(TaskRef::Thread(2), 0, 1),
            "walk w0: anchor t2.0#1: there is no task t2",
        );
        fails(
            |s| s.walks[0].at = at(TaskRef::Thread(0), 0, 0),
            "walk w0: anchor t0.0#0: accesses are counted from 1, found 0",
        );
        fails(
            |s| s.walks[0].at = at(TaskRef::Walk(0), 0, 1),
            "walk w0: anchor w0.0#1: a walk is anchored on a thread or an earlier walk, not on w0",
        );
        let mut s = story();
        s.walks.push(WalkSpec { at: at(TaskRef::Walk(0), 0, 3), ..s.walks[0] });
        s.walks.push(WalkSpec { at: None, ..s.walks[0] });
        assert_eq!(s.validate(), Ok(()));
        s.walks[1].at = at(TaskRef::Walk(0), 1, 3);
        assert_eq!(
            s.validate().map_err(|e| e.to_string()),
            Err("walk w1: anchor w0.1#3: w0 has 1 op(s), no op 1".to_string())
        );
    }

    #[test]
    fn preempts_are_checked() {
        fails(
            |s| s.preempts[0].to = TaskRef::Thread(0),
            "preempt t0.0#2 -> t0: t0 cannot preempt itself",
        );
        fails(|s| s.preempts[0].to = TaskRef::Walk(1), "preempt t0.0#2 -> w1: there is no task w1");
        fails(
            |s| s.preempts[0].at.op = 1,
            "preempt t0.1#2 -> t1: anchor t0.1#2: t0 has 1 op(s), no op 1",
        );
        fails(
            |s| s.preempts.push(Preempt { to: TaskRef::Walk(0), ..s.preempts[0] }),
            "preempt t0.0#2 -> w0: preempt 1 has the same anchor",
        );
        let mut s = story();
        s.preempts.push(Preempt {
            at: Anchor { task: TaskRef::Walk(0), op: 0, access: 3 },
            to: TaskRef::Thread(0),
        });
        assert_eq!(s.validate(), Ok(()), "an anchor on a walk preempts the walk");
    }
}
