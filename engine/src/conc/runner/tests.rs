use super::*;
use crate::conc::site::Site;
use crate::scenario::Config;
use crate::table::Perm;

fn map(dfn: u64, mfn: u64) -> Op {
    Op::Map { dfn, mfn, order: 0, count: 1, perm: Perm::RW, missed: false }
}

/// Two threads each map DFNs `0..pairs`, thread 0 to frame `0x100 + dfn`, thread 1 to
/// `0x200 + dfn`, each pair of maps of one DFN racing (both invoked, then both returned), and
/// no read telling which won: every pair doubles the states the frontier must keep.
fn racing_pairs(pairs: u64) -> (ConcScenario, Vec<Event>) {
    let thread = |base: u64| -> Vec<ThreadOp> {
        (0..pairs).map(|dfn| ThreadOp { site: Site::P2m, op: map(dfn, base + dfn) }).collect()
    };
    let s = ConcScenario {
        config: Config::default(),
        setup: Vec::new(),
        threads: vec![thread(0x100), thread(0x200)],
        walks: Vec::new(),
        preempts: Vec::new(),
        shadow_walks: false,
    };
    let mut events = Vec::new();
    for op in 0..pairs as usize {
        for task in 0..2 {
            events.push(Event::Invoke { task, op, what: s.threads[task][op].op });
        }
        for task in 0..2 {
            events.push(Event::Return { task, op, result: Ok(()) });
        }
    }
    (s, events)
}

fn frontier(s: &ConcScenario) -> Frontier {
    let runner = Runner::new(s.config, Plant::NONE).unwrap();
    Frontier::new(Spec::of(&runner.subjects()[0]))
}

#[test]
fn a_history_the_frontier_can_follow_is_judged_whole() {
    // Seven pairs leave 2^7 = 128 states; with the eighth pair in flight each has 5
    // configurations (neither, either or both linearized, in either order): 640.
    let (s, events) = racing_pairs(8);
    let mut f = frontier(&s);
    assert_eq!(judge(&s, &mut f, &events, "t", "").unwrap(), Some(0));
    assert_eq!(f.len(), 256, "2^8 orders no read decided");
}

#[test]
fn operations_whose_orders_pass_the_bound_leave_the_phase_unjudged_not_failed() {
    // 256 states after eight racing pairs; the ninth pair in flight would need 256 * 5.
    let (s, events) = racing_pairs(9);
    let mut f = frontier(&s);
    assert_eq!(judge(&s, &mut f, &events, "t", "").unwrap(), None);
}
