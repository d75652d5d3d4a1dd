//! The reductions a minimizer tries on a concurrent scenario: drop a preemption, a walk, a
//! thread's op, a thread or a setup op, keeping every index consistent.
//!
//! Tasks and ops after a removed one are renumbered, and so are the anchors and targets that
//! name them. What named the removed thing goes with it: a preemption anchored on it or
//! switching to it, and a walk anchored on it (and, in turn, what named that walk). Every
//! reduction of a valid scenario is valid (the setup one says `None` otherwise).

use crate::conc::scenario::{Anchor, ConcScenario, Preempt, TaskRef, WalkSpec};

/// What one reduction removes.
#[derive(Clone, Copy, Debug, Default)]
struct Removal {
    thread: Option<usize>,
    thread_op: Option<(usize, usize)>,
    walk: Option<usize>,
}

impl ConcScenario {
    /// Without preemption `index`; `None` when there is none.
    pub fn without_preempt(&self, index: usize) -> Option<ConcScenario> {
        let mut out = self.clone();
        (index < out.preempts.len()).then(|| out.preempts.remove(index))?;
        Some(out)
    }

    /// Without walk `index`, and what named it; `None` when there is none.
    pub fn without_walk(&self, index: usize) -> Option<ConcScenario> {
        (index < self.walks.len())
            .then(|| self.reduced(Removal { walk: Some(index), ..Removal::default() }))
    }

    /// Without op `index` of thread `thread`, and what named it (the thread's later ops move
    /// down by one); without the thread when it was its only op. `None` when there is no such
    /// op, or it was the only op of the only thread.
    pub fn without_thread_op(&self, thread: usize, index: usize) -> Option<ConcScenario> {
        match self.threads.get(thread)?.len() {
            n if index >= n => None,
            1 => self.without_thread(thread),
            _ => Some(
                self.reduced(Removal { thread_op: Some((thread, index)), ..Removal::default() }),
            ),
        }
    }

    /// Without thread `thread`, and what named it (later threads move down by one); `None`
    /// when there is no such thread or it is the only one.
    pub fn without_thread(&self, thread: usize) -> Option<ConcScenario> {
        (thread < self.threads.len() && self.threads.len() > 1)
            .then(|| self.reduced(Removal { thread: Some(thread), ..Removal::default() }))
    }

    /// Without setup op `index`; `None` when there is none, or when the result is not valid
    /// (a `repeat` after it would repeat a larger op than the limits allow).
    pub fn without_setup_op(&self, index: usize) -> Option<ConcScenario> {
        let mut out = self.clone();
        (index < out.setup.len()).then(|| out.setup.remove(index))?;
        out.validate().is_ok().then_some(out)
    }

    /// Every single reduction of this scenario, smallest steps last: threads, then thread ops,
    /// walks, preemptions and setup ops.
    pub fn reductions(&self) -> impl Iterator<Item = ConcScenario> + '_ {
        let threads = (0..self.threads.len()).filter_map(|t| self.without_thread(t));
        let ops = self
            .threads
            .iter()
            .enumerate()
            .flat_map(|(t, ops)| (0..ops.len()).map(move |i| (t, i)))
            .filter_map(|(t, i)| self.without_thread_op(t, i));
        let walks = (0..self.walks.len()).filter_map(|w| self.without_walk(w));
        let preempts = (0..self.preempts.len()).filter_map(|p| self.without_preempt(p));
        let setup = (0..self.setup.len()).filter_map(|i| self.without_setup_op(i));
        threads.chain(ops).chain(walks).chain(preempts).chain(setup)
    }

    fn reduced(&self, removal: Removal) -> ConcScenario {
        let map = Renumbering::new(self, removal);
        let threads = self
            .threads
            .iter()
            .enumerate()
            .filter(|&(t, _)| removal.thread != Some(t))
            .map(|(t, ops)| {
                let kept =
                    ops.iter().enumerate().filter(|&(i, _)| removal.thread_op != Some((t, i)));
                kept.map(|(_, op)| *op).collect()
            })
            .collect();
        let walks = self
            .walks
            .iter()
            .zip(&map.walks)
            .filter(|(_, new)| new.is_some())
            .map(|(walk, _)| WalkSpec { at: walk.at.and_then(|a| map.anchor(a)), ..*walk })
            .collect();
        let preempts = self
            .preempts
            .iter()
            .filter_map(|p| Some(Preempt { at: map.anchor(p.at)?, to: map.task(p.to)? }))
            .collect();
        ConcScenario { threads, walks, preempts, ..self.clone() }
    }
}

/// Where each task and op of a scenario goes when one thing is removed (`None`: removed).
struct Renumbering {
    removal: Removal,
    /// The new index of each walk.
    walks: Vec<Option<u8>>,
}

impl Renumbering {
    fn new(s: &ConcScenario, removal: Removal) -> Renumbering {
        let mut map = Renumbering { removal, walks: Vec::with_capacity(s.walks.len()) };
        let mut next = 0u8;
        for (w, walk) in s.walks.iter().enumerate() {
            // Anchors name threads or earlier walks, already renumbered.
            let anchored = walk.at.is_none_or(|a| map.anchor(a).is_some());
            let kept = removal.walk != Some(w) && anchored;
            map.walks.push(kept.then(|| {
                next += 1;
                next - 1
            }));
        }
        map
    }

    fn task(&self, task: TaskRef) -> Option<TaskRef> {
        match task {
            TaskRef::Thread(t) => match self.removal.thread.map(|r| usize::from(t).cmp(&r)) {
                Some(std::cmp::Ordering::Equal) => None,
                Some(std::cmp::Ordering::Greater) => Some(TaskRef::Thread(t - 1)),
                _ => Some(task),
            },
            TaskRef::Walk(w) => {
                self.walks.get(usize::from(w)).copied().flatten().map(TaskRef::Walk)
            }
        }
    }

    fn anchor(&self, a: Anchor) -> Option<Anchor> {
        let op = match (a.task, self.removal.thread_op) {
            (TaskRef::Thread(t), Some((rt, ri))) if usize::from(t) == rt => {
                match usize::from(a.op).cmp(&ri) {
                    std::cmp::Ordering::Equal => return None,
                    std::cmp::Ordering::Greater => a.op - 1,
                    std::cmp::Ordering::Less => a.op,
                }
            }
            _ => a.op,
        };
        Some(Anchor { task: self.task(a.task)?, op, ..a })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conc::text::parse;

    const SOURCE: &str = "\
assign 0
thread 0 pci assign 1
thread 0 p2m map 0x10 0x10 0 rw
thread 1 notify-site notify 0x40000
thread 1 p2m map 0x40000 0x11 0 rw
thread 2 p2m unmap 0x10 0
walk t1.1#3 dev 0 dfn 0x40000 r
walk w0.0#2 dev 1 dfn 0x40000 r
walk t2.0#1 dev 1 dfn 0x10 rw
preempt t0.1#4 -> t1
preempt t1.1#1 -> w2
preempt w1.0#1 -> t2
preempt t2.0#2 -> t0
";

    fn story() -> ConcScenario {
        parse(SOURCE).unwrap()
    }

    /// The scenario's walks and preempts as text, one per line.
    fn schedule(s: &ConcScenario) -> String {
        let walks = s.walks.iter().map(|w| {
            let at = w.at.map_or(String::new(), |a| format!("{a} "));
            format!("walk {at}dev {} dfn {:#x} {}", w.dev, w.dfn, w.access)
        });
        let preempts = s.preempts.iter().map(|p| format!("preempt {p}"));
        walks.chain(preempts).collect::<Vec<_>>().join("\n")
    }

    #[test]
    fn dropping_a_preempt_keeps_the_rest() {
        let s = story().without_preempt(1).unwrap();
        assert_eq!(s.preempts.len(), 3);
        assert_eq!(s.preempts[1].to_string(), "w1.0#1 -> t2");
        assert_eq!(story().without_preempt(4), None);
    }

    #[test]
    fn dropping_a_walk_drops_what_names_it_and_renumbers_the_rest() {
        let s = story().without_walk(0).unwrap();
        assert_eq!(s.validate(), Ok(()));
        // w1 was anchored on w0: gone too, with the preempt anchored on it; w2 becomes w0.
        assert_eq!(
            schedule(&s),
            "walk t2.0#1 dev 1 dfn 0x10 rw\npreempt t0.1#4 -> t1\npreempt t1.1#1 -> w0\n\
             preempt t2.0#2 -> t0"
        );
        let s = story().without_walk(2).unwrap();
        assert_eq!(s.walks.len(), 2);
        assert_eq!(
            s.preempts.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["t0.1#4 -> t1", "w1.0#1 -> t2", "t2.0#2 -> t0"]
        );
        assert_eq!(story().without_walk(3), None);
    }

    #[test]
    fn dropping_a_thread_op_moves_later_anchors_down() {
        let s = story().without_thread_op(1, 0).unwrap();
        assert_eq!(s.validate(), Ok(()));
        let ops: Vec<String> =
            s.threads[1].iter().map(|o| format!("{} {}", o.site, o.op)).collect();
        assert_eq!(ops, ["p2m map 0x40000 0x11 0 rw"]);
        assert_eq!(
            schedule(&s),
            "walk t1.0#3 dev 0 dfn 0x40000 r\nwalk w0.0#2 dev 1 dfn 0x40000 r\n\
             walk t2.0#1 dev 1 dfn 0x10 rw\npreempt t0.1#4 -> t1\npreempt t1.0#1 -> w2\n\
             preempt w1.0#1 -> t2\npreempt t2.0#2 -> t0"
        );
        // The op a walk is anchored on: the walk, the walk anchored on it and the preempts
        // naming either go.
        let s = story().without_thread_op(1, 1).unwrap();
        assert_eq!(s.validate(), Ok(()));
        assert_eq!(
            schedule(&s),
            "walk t2.0#1 dev 1 dfn 0x10 rw\npreempt t0.1#4 -> t1\npreempt t2.0#2 -> t0"
        );
        assert_eq!(story().without_thread_op(1, 2), None);
        assert_eq!(story().without_thread_op(3, 0), None);
    }

    #[test]
    fn dropping_a_thread_renumbers_later_threads() {
        let s = story().without_thread(0).unwrap();
        assert_eq!(s.validate(), Ok(()));
        assert_eq!(s.threads.len(), 2);
        assert_eq!(
            schedule(&s),
            "walk t0.1#3 dev 0 dfn 0x40000 r\nwalk w0.0#2 dev 1 dfn 0x40000 r\n\
             walk t1.0#1 dev 1 dfn 0x10 rw\npreempt t0.1#1 -> w2\npreempt w1.0#1 -> t1"
        );
        // The only op of thread 2 is the thread.
        assert_eq!(story().without_thread_op(2, 0), story().without_thread(2));
        let one = story().without_thread(2).unwrap().without_thread(1).unwrap();
        assert_eq!(one.threads.len(), 1);
        assert_eq!(schedule(&one), "", "every walk and preempt named thread 1 or 2");
        assert_eq!(one.validate(), Ok(()));
        assert_eq!(one.without_thread(0), None);
        assert_eq!(one.without_thread_op(0, 1).map(|s| s.threads[0].len()), Some(1));
    }

    #[test]
    fn dropping_a_setup_op_is_checked() {
        let s = story().without_setup_op(0).unwrap();
        assert!(s.setup.is_empty());
        assert_eq!(story().without_setup_op(1), None);
        let big = parse(
            "config ranges=on\nmap 0 0 0 r 4096\nnotify 0\nrepeat 64\nthread 0 p2m notify 0\n",
        )
        .unwrap();
        assert_eq!(big.validate(), Ok(()));
        assert_eq!(big.without_setup_op(1), None, "the repeat would repeat the range");
        assert!(big.without_setup_op(2).is_some());
    }

    #[test]
    fn reductions_list_every_single_step() {
        let s = story();
        let all: Vec<ConcScenario> = s.reductions().collect();
        // 3 threads, 5 thread ops, 3 walks, 4 preempts, 1 setup op.
        assert_eq!(all.len(), 3 + 5 + 3 + 4 + 1);
        for r in &all {
            assert_eq!(r.validate(), Ok(()), "{r}");
            assert_ne!(*r, s);
        }
    }
}
