//! Where each task of a run is: its operation, its access, the lock it waits for and the
//! locks it holds. A sequential operation's single task is kept inline, so driving one
//! allocates nothing; a concurrent run's tasks are on the heap.

use super::access::{LockClass, LockSet};

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

/// The positions of a run's tasks, indexed by task.
///
/// Invariant: `One` holds the position of a run of exactly one task, `Many` one per task of a
/// run of two or more.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TaskPositions {
    One(TaskPosition),
    Many(Vec<TaskPosition>),
}

impl TaskPositions {
    /// `tasks` tasks (at least one) at their start.
    pub fn new(tasks: usize) -> TaskPositions {
        match tasks {
            0 | 1 => TaskPositions::One(TaskPosition::default()),
            n => TaskPositions::Many(vec![TaskPosition::default(); n]),
        }
    }

    /// The number of tasks.
    pub fn len(&self) -> usize {
        match self {
            TaskPositions::One(_) => 1,
            TaskPositions::Many(tasks) => tasks.len(),
        }
    }

    /// Always false: a run has at least one task.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Task `task`'s position.
    pub fn get(&self, task: usize) -> Option<&TaskPosition> {
        match self {
            TaskPositions::One(t) => (task == 0).then_some(t),
            TaskPositions::Many(tasks) => tasks.get(task),
        }
    }

    /// Task `task`'s position, to change.
    pub fn get_mut(&mut self, task: usize) -> Option<&mut TaskPosition> {
        match self {
            TaskPositions::One(t) => (task == 0).then_some(t),
            TaskPositions::Many(tasks) => tasks.get_mut(task),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_task_inline_and_many_on_the_heap_index_alike() {
        for n in [0, 1, 3] {
            let mut tasks = TaskPositions::new(n);
            assert_eq!(tasks.len(), n.max(1));
            assert!(!tasks.is_empty());
            let last = n.max(1) - 1;
            tasks.get_mut(last).unwrap().access = 7;
            assert_eq!(tasks.get(last).map(|t| t.access), Some(7));
            assert_eq!(tasks.get(0).map(|t| t.op), Some(0));
            assert_eq!(tasks.get(n.max(1)), None);
            assert!(tasks.get_mut(n.max(1)).is_none());
        }
        assert!(matches!(TaskPositions::new(1), TaskPositions::One(_)));
        assert!(matches!(TaskPositions::new(2), TaskPositions::Many(ref v) if v.len() == 2));
    }
}
