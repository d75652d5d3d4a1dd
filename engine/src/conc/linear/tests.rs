//! Hand-made histories (Porcupine and stateright style), mapped onto one DFN: the register is
//! the DFN's translation, a write is a map or unmap, a read is a walk or a lookup.

use super::*;
use crate::check::device_set::DeviceSet;
use crate::table::{PageOrders, Perm};
use ptdiff_reference::Model;

const D: u64 = 0x42;

fn map(dfn: u64, mfn: u64) -> Op {
    Op::Map { dfn, mfn, order: 0, perm: Perm::RW, missed: false, count: 1 }
}

fn unmap(dfn: u64) -> Op {
    Op::Unmap { dfn, order: 0, count: 1 }
}

fn m(mfn: u64) -> Observed {
    Observed::Mapped { mfn, perm: Perm::RW }
}

/// A 4-level table (of at most `max` levels) `levels` high, device 0 assigned, `mapped` at D.
fn spec_with(levels: u8, mapped: Option<u64>) -> Spec {
    let mut model = Model::new();
    if let Some(mfn) = mapped {
        model.map(D, mfn, 0, Perm::RW);
    }
    let mut assigned = DeviceSet::EMPTY;
    assigned.insert(0);
    Spec::new(model, levels, 4, PageOrders::BASE, assigned, false)
}

fn frontier() -> Frontier {
    Frontier::new(spec_with(4, None))
}

/// The violation of a failed event.
fn violation(result: Result<(), FrontierError>) -> LinViolation {
    match result {
        Err(FrontierError::Violation(v)) => *v,
        other => panic!("expected a violation, got {other:?}"),
    }
}

fn translations(f: &Frontier, dfn: u64) -> Vec<Option<(u64, Perm)>> {
    f.specs().map(|s| s.translate(dfn)).collect()
}

#[test]
fn a_register_history_is_accepted() {
    let mut f = frontier();
    f.read(0, D, Observed::Faulted).unwrap();
    f.invoke(1, map(D, 1)).unwrap();
    f.ret(1, Ok(())).unwrap();
    f.read(0, D, m(1)).unwrap();
    f.read(Reader::Lookup, D, m(1)).unwrap();
    f.invoke(2, map(D, 2)).unwrap();
    f.read(0, D, m(1)).unwrap(); // before the map takes effect
    f.read(0, D, m(2)).unwrap(); // after
    f.ret(2, Ok(())).unwrap();
    f.invoke(3, unmap(D)).unwrap();
    f.ret(3, Ok(())).unwrap();
    f.read(0, D, Observed::Unmapped).unwrap(); // a leaf granting nothing
    f.read(0, D, Observed::Faulted).unwrap();
    assert!(f.is_quiescent());
    assert_eq!(f.len(), 1);
    assert_eq!(f.specs().next().unwrap().translate(D), None);
    assert!(f.specs().next().unwrap().is_settled());
}

#[test]
fn a_register_history_reading_what_was_never_written_or_overwritten_is_rejected() {
    let mut f = frontier();
    f.invoke(1, map(D, 1)).unwrap();
    f.ret(1, Ok(())).unwrap();
    assert_eq!(
        violation(f.read(0, D, Observed::Faulted)),
        LinViolation::Read {
            reader: Reader::Device(0),
            dfn: D,
            observed: Observed::Faulted,
            pending: vec![],
            allowed: vec![m(1)],
        }
    );
    // The failed event changed nothing: the history goes on.
    f.read(0, D, m(1)).unwrap();
    f.invoke(2, map(D, 2)).unwrap();
    f.ret(2, Ok(())).unwrap();
    let stale = violation(f.read(0, D, m(1)));
    assert_eq!(
        stale.to_string(),
        "device 0 read dfn 0x42 as mfn 0x1 rw, with nothing in flight; allowed: mfn 0x2 rw"
    );
    // A pass-through never agrees, not even where nothing is mapped.
    let passed = Observed::Untranslated {
        spa: D << 12,
        perm: Perm::RW,
        kind: ptdiff_reference::TranslationKind::DteNotValid,
    };
    assert!(matches!(violation(f.read(0, 7, passed)), LinViolation::Read { .. }));
}

#[test]
fn two_maps_of_one_dfn_racing_either_wins() {
    let race = || {
        let mut f = frontier();
        f.invoke(1, map(D, 1)).unwrap();
        f.invoke(2, map(D, 2)).unwrap();
        f.read(0, D, Observed::Faulted).unwrap(); // neither yet
        f.ret(1, Ok(())).unwrap();
        f.ret(2, Ok(())).unwrap();
        f
    };
    let mut f = race();
    assert_eq!(f.collapse(), Ok(2));
    // The invocation order (1 then 2) first; they differ only at D.
    assert_eq!(translations(&f, D), vec![Some((2, Perm::RW)), Some((1, Perm::RW))]);
    assert!(f.specs().all(|s| s.changed_ranges() == [(D, D + 1)]));
    let settled = f.settle(1).unwrap();
    assert!(settled.is_settled() && settled.changed_ranges().is_empty());
    assert_eq!(settled.translate(D), Some((1, Perm::RW)));
    assert_eq!(f.len(), 1);

    for winner in [1, 2] {
        let mut f = race();
        f.read(0, D, m(winner)).unwrap();
        assert_eq!(f.collapse(), Ok(1));
        assert_eq!(translations(&f, D), vec![Some((winner, Perm::RW))]);
    }

    let mut f = race();
    assert_eq!(
        violation(f.read(0, D, m(3))),
        LinViolation::Read {
            reader: Reader::Device(0),
            dfn: D,
            observed: m(3),
            pending: vec![],
            allowed: vec![m(2), m(1)],
        }
    );
}

#[test]
fn racing_maps_may_be_seen_in_one_order_only() {
    let mut f = frontier();
    f.invoke(1, map(D, 1)).unwrap();
    f.invoke(2, map(D, 2)).unwrap();
    // 2 then 1: legal.
    f.read(0, D, m(2)).unwrap();
    f.read(0, D, m(1)).unwrap();
    // Back to 2: each map takes effect once.
    let v = violation(f.read(0, D, m(2)));
    let pending = vec![PendingOp { id: 1, op: map(D, 1) }, PendingOp { id: 2, op: map(D, 2) }];
    assert_eq!(
        v,
        LinViolation::Read {
            reader: Reader::Device(0),
            dfn: D,
            observed: m(2),
            pending,
            allowed: vec![m(1)],
        }
    );
}

#[test]
fn a_read_that_saw_an_effect_forbids_a_later_read_without_it() {
    let mut f = frontier();
    f.invoke(1, map(D, 1)).unwrap();
    f.read(0, D, Observed::Faulted).unwrap();
    f.read(0, D, m(1)).unwrap();
    let flicker = violation(f.read(0, D, Observed::Faulted));
    assert_eq!(
        flicker,
        LinViolation::Read {
            reader: Reader::Device(0),
            dfn: D,
            observed: Observed::Faulted,
            pending: vec![PendingOp { id: 1, op: map(D, 1) }],
            allowed: vec![m(1)],
        }
    );
    // Another reader is bound by it too: the lookup must see the map from now on.
    assert!(matches!(
        violation(f.read(Reader::Lookup, D, Observed::Unmapped)),
        LinViolation::Read { allowed, .. } if allowed == vec![m(1)]
    ));
    f.ret(1, Ok(())).unwrap();
    f.read(Reader::Lookup, D, m(1)).unwrap();
}

#[test]
fn a_notify_racing_a_map_lets_the_map_return_either_result() {
    const HIGH: u64 = 1 << 18; // needs 3 levels
    let race = || {
        let mut f = Frontier::new(spec_with(2, None));
        f.invoke(1, Op::Notify { dfn: HIGH }).unwrap();
        f.invoke(2, map(HIGH, 5)).unwrap();
        f
    };
    for (got, mapped) in
        [(Err(PtError::BeyondHeight { dfn: HIGH, levels: 2 }), None), (Ok(()), Some((5, Perm::RW)))]
    {
        let mut f = race();
        f.ret(2, got).unwrap();
        f.ret(1, Ok(())).unwrap();
        assert_eq!(f.collapse(), Ok(1));
        let spec = f.specs().next().unwrap();
        assert_eq!((spec.levels, spec.translate(HIGH)), (3, mapped));
    }
    // A map that returned before the notify was invoked ran on the old height.
    let mut f = Frontier::new(spec_with(2, None));
    f.invoke(2, map(HIGH, 5)).unwrap();
    assert_eq!(
        violation(f.ret(2, Ok(()))),
        LinViolation::Return {
            id: 2,
            op: map(HIGH, 5),
            got: Ok(()),
            pending: vec![PendingOp { id: 2, op: map(HIGH, 5) }],
            allowed: vec![Err(ErrorClass::BeyondHeight)],
        }
    );
    f.ret(2, Err(PtError::BeyondHeight { dfn: HIGH, levels: 2 })).unwrap();
    f.invoke(1, Op::Notify { dfn: HIGH }).unwrap();
    f.ret(1, Ok(())).unwrap();
    assert_eq!(f.specs().next().unwrap().levels, 3);
}

#[test]
fn an_assign_racing_a_read_is_blocked_or_translated_once_and_for_all() {
    let mut f = Frontier::new(spec_with(4, Some(7)));
    f.invoke(1, Op::Assign { dev: 1 }).unwrap();
    f.read(1, D, Observed::Faulted).unwrap();
    f.read(1, D, m(7)).unwrap();
    assert!(matches!(
        violation(f.read(1, D, Observed::Faulted)),
        LinViolation::Read { allowed, .. } if allowed == vec![m(7)]
    ));
    f.ret(1, Ok(())).unwrap();

    let mut f = Frontier::new(spec_with(4, Some(7)));
    f.invoke(1, Op::Assign { dev: 1 }).unwrap();
    f.ret(1, Ok(())).unwrap();
    assert!(matches!(
        violation(f.read(1, D, Observed::Faulted)),
        LinViolation::Read { allowed, .. } if allowed == vec![m(7)]
    ));
    // Still blocked elsewhere: device 2 was never assigned.
    f.read(2, D, Observed::Faulted).unwrap();
    assert!(matches!(
        violation(f.read(2, D, m(7))),
        LinViolation::Read { allowed, .. } if allowed == vec![Observed::Blocked]
    ));
}

#[test]
fn a_deassign_racing_a_read_cuts_the_device_off_once_and_for_all() {
    let mut f = Frontier::new(spec_with(4, Some(7)));
    f.invoke(1, Op::Deassign { dev: 0 }).unwrap();
    f.read(0, D, m(7)).unwrap();
    f.read(0, D, Observed::Unmapped).unwrap(); // a leaf granting nothing: blocked too
    assert!(matches!(
        violation(f.read(0, D, m(7))),
        LinViolation::Read { allowed, .. } if allowed == vec![Observed::Blocked]
    ));
    f.ret(1, Ok(())).unwrap();
    f.read(0, D, Observed::Faulted).unwrap();
    // The mapping stays for the lookup.
    f.read(Reader::Lookup, D, m(7)).unwrap();
}

#[test]
fn a_teardown_racing_a_read_blocks_every_device() {
    let mut f = Frontier::new(spec_with(4, Some(7)));
    f.invoke(1, Op::Teardown).unwrap();
    f.read(0, D, m(7)).unwrap();
    f.read(0, D, Observed::Faulted).unwrap();
    assert!(matches!(violation(f.read(0, D, m(7))), LinViolation::Read { .. }));
    f.ret(1, Ok(())).unwrap();
    f.invoke(2, map(D, 1)).unwrap();
    f.ret(2, Err(PtError::TornDown)).unwrap();
    let spec = f.specs().next().unwrap();
    assert!(spec.torn_down && spec.assigned.is_empty() && spec.levels == 0);
}

#[test]
fn a_result_class_no_linearization_allows_is_rejected() {
    let mut f = frontier();
    f.invoke(1, Op::Assign { dev: 0 }).unwrap();
    let v = violation(f.ret(1, Ok(())));
    assert_eq!(
        v.to_string(),
        "#1 `assign 0` returned ok, with #1 `assign 0` in flight; allowed: Device"
    );
    // Two assigns of one device racing: exactly one succeeds.
    let mut f = frontier();
    f.invoke(1, Op::Assign { dev: 3 }).unwrap();
    f.invoke(2, Op::Assign { dev: 3 }).unwrap();
    f.ret(1, Err(PtError::AlreadyAssigned { dev: 3 })).unwrap();
    assert_eq!(
        violation(f.ret(2, Err(PtError::AlreadyAssigned { dev: 3 }))),
        LinViolation::Return {
            id: 2,
            op: Op::Assign { dev: 3 },
            got: Err(PtError::AlreadyAssigned { dev: 3 }),
            pending: vec![PendingOp { id: 2, op: Op::Assign { dev: 3 } }],
            allowed: vec![Ok(())],
        }
    );
    f.ret(2, Ok(())).unwrap();
    assert!(f.specs().next().unwrap().assigned.contains(3));
    // Out of memory only where an allocation failure is armed.
    f.invoke(3, map(D, 1)).unwrap();
    assert!(matches!(violation(f.ret(3, Err(PtError::NoMemory))), LinViolation::Return { .. }));
    f.ret(3, Ok(())).unwrap();
}

#[test]
fn an_armed_allocation_failure_may_fail_a_map_that_then_changed_nothing() {
    for (got, mapped) in [(Err(PtError::NoMemory), None), (Ok(()), Some((1, Perm::RW)))] {
        let mut f = frontier();
        f.invoke_armed(1, map(D, 1)).unwrap();
        assert_eq!(f.len(), 3);
        f.ret(1, got).unwrap();
        assert_eq!(translations(&f, D), vec![mapped]);
    }
    // A read that saw the map rules the failure out.
    let mut f = frontier();
    f.invoke_armed(1, map(D, 1)).unwrap();
    f.read(0, D, m(1)).unwrap();
    assert!(matches!(
        violation(f.ret(1, Err(PtError::NoMemory))),
        LinViolation::Return { allowed, .. } if allowed == vec![Ok(())]
    ));
    // Where the map must fail anyway, the failure armed changes nothing.
    let mut f = frontier();
    f.invoke_armed(1, map(D, 1 << 40)).unwrap();
    assert!(matches!(violation(f.ret(1, Err(PtError::NoMemory))), LinViolation::Return { .. }));
}

#[test]
fn an_interval_read_is_linearized_anywhere_in_its_interval() {
    // It started before the map was invoked: it may have seen nothing...
    let mut f = frontier();
    f.invoke_read(10, 0, D).unwrap();
    f.invoke(1, map(D, 1)).unwrap();
    f.ret(1, Ok(())).unwrap();
    f.invoke(2, map(D, 2)).unwrap();
    f.ret(2, Ok(())).unwrap();
    f.read(0, D, m(2)).unwrap();
    f.ret_read(10, Observed::Faulted).unwrap();
    // ...or the middle state, or the last; never a value outside its interval.
    for seen in [m(1), m(2)] {
        let mut f = frontier();
        f.invoke_read(10, 0, D).unwrap();
        for (id, mfn) in [(1, 1), (2, 2)] {
            f.invoke(id, map(D, mfn)).unwrap();
            f.ret(id, Ok(())).unwrap();
        }
        f.ret_read(10, seen).unwrap();
    }
    let mut f = frontier();
    f.invoke(1, map(D, 1)).unwrap();
    f.ret(1, Ok(())).unwrap();
    f.invoke_read(10, 0, D).unwrap();
    f.invoke(2, map(D, 2)).unwrap();
    f.ret(2, Ok(())).unwrap();
    assert_eq!(
        violation(f.ret_read(10, Observed::Faulted)),
        LinViolation::Read {
            reader: Reader::Device(0),
            dfn: D,
            observed: Observed::Faulted,
            pending: vec![],
            allowed: vec![m(1), m(2)],
        }
    );
    f.ret_read(10, m(1)).unwrap();
    assert!(f.is_quiescent());
}

#[test]
fn an_interval_read_fixes_the_order_of_what_it_saw() {
    // Two racing maps; a long read saw 1, a later instant read saw 2: 1 then 2.
    let mut f = frontier();
    f.invoke(1, map(D, 1)).unwrap();
    f.invoke(2, map(D, 2)).unwrap();
    f.invoke_read(10, 0, D).unwrap();
    f.ret(1, Ok(())).unwrap();
    f.ret(2, Ok(())).unwrap();
    f.ret_read(10, m(1)).unwrap();
    f.read(0, D, m(2)).unwrap();
    assert_eq!(f.collapse(), Ok(1));
    assert_eq!(translations(&f, D), vec![Some((2, Perm::RW))]);
}

#[test]
fn the_frontier_stays_within_its_bound() {
    let dfns = [0x10, 0x20, 0x30];
    let mut f = frontier();
    for (id, &dfn) in (1..).zip(&dfns) {
        f.invoke(id, map(dfn, dfn)).unwrap();
    }
    // Maps of different DFNs commute: the states are the 2^3 subsets.
    assert_eq!(f.len(), 8);
    for round in 0..50 {
        for &dfn in &dfns {
            f.read(0, dfn, Observed::Faulted).unwrap();
            f.read(Reader::Lookup, dfn + 1, Observed::Unmapped).unwrap();
        }
        assert_eq!(f.len(), 8, "round {round}");
    }
    f.read(0, 0x20, m(0x20)).unwrap();
    assert_eq!(f.len(), 4);
    f.invoke_read(10, 0, 0x10).unwrap();
    f.invoke_read(11, 0, 0x30).unwrap();
    // Per open map and the read of its DFN: the map not linearized (the read open or saw
    // nothing) or linearized (the read open, saw nothing before it, or saw it): 5; squared.
    assert_eq!(f.len(), 25);
    f.ret_read(10, Observed::Faulted).unwrap();
    f.ret_read(11, m(0x30)).unwrap();
    for (id, _) in (1..).zip(&dfns) {
        f.ret(id, Ok(())).unwrap();
    }
    assert_eq!(f.len(), 1);
    assert_eq!(f.peak(), 25);

    // Three maps of one DFN: 1 + 3 + 3·2 + 3 = 13 configurations (the 16 orders, with those
    // that end on the same map and linearized the same set merged).
    let mut f = frontier();
    for id in 1..=3 {
        f.invoke(id, map(D, u64::from(id))).unwrap();
    }
    assert_eq!(f.len(), 13);
    for _ in 0..20 {
        f.read(0, D, Observed::Faulted).unwrap();
    }
    assert_eq!(f.len(), 13);
    for id in 1..=3 {
        f.ret(id, Ok(())).unwrap();
    }
    assert_eq!(f.collapse(), Ok(3));
    assert_eq!(f.peak(), 13);
}

#[test]
fn harness_misuse_is_an_error_and_changes_nothing() {
    let mut f = frontier();
    assert_eq!(f.ret(1, Ok(())), Err(FrontierError::NotInFlight { id: 1, kind: "operation" }));
    f.invoke(1, map(D, 1)).unwrap();
    assert_eq!(f.invoke(1, map(D, 2)), Err(FrontierError::InFlight(1)));
    assert_eq!(f.invoke_read(1, 0, D), Err(FrontierError::InFlight(1)));
    assert_eq!(f.ret_read(1, m(1)), Err(FrontierError::NotInFlight { id: 1, kind: "read" }));
    assert_eq!(f.collapse(), Err(FrontierError::NotQuiescent(1)));
    assert_eq!(f.settle(0).map(|_| ()), Err(FrontierError::NotQuiescent(1)));
    assert!(f.spec_mut().is_none());
    assert_eq!(f.pending_ops(), vec![PendingOp { id: 1, op: map(D, 1) }]);
    f.ret(1, Ok(())).unwrap();
    assert_eq!(f.settle(1).map(|_| ()), Err(FrontierError::NoSuchState { index: 1, survivors: 1 }));
    let spec = f.spec_mut().unwrap();
    spec.levels = 5;
    assert_eq!(f.specs().next().unwrap().levels, 5);
    assert!(!f.is_empty());
}

#[test]
fn an_event_past_the_bound_is_refused_and_changes_nothing() {
    let dfns = [0x10, 0x20, 0x30];
    let mut f = frontier();
    for (id, &dfn) in (1..).zip(&dfns) {
        f.invoke(id, map(dfn, dfn)).unwrap();
    }
    // Each interval read of a DFN whose map is open: the map not linearized (each read open
    // or saw nothing: 2^k) or linearized (each open, saw nothing or saw the map: 3^k). Reads
    // of the first two DFNs twice and the third once hold (4 + 9)^2 (2 + 3) = 845
    // configurations; a second read of the third would make 13^3 = 2197.
    let mut reads = 0;
    let refused = loop {
        let (len, dfn) = (f.len(), dfns[reads % 3]);
        match f.invoke_read(100 + reads as u32, 0, dfn) {
            Ok(()) => reads += 1,
            Err(e) => break (e, len),
        }
    };
    assert_eq!(refused.0, FrontierError::Overflow);
    assert_eq!(reads, 5);
    assert_eq!((f.len(), refused.1), (845, 845));
    assert_eq!(f.pending_ops().len(), 3);
    // The history goes on from where it was.
    f.read(0, 0x10, m(0x10)).unwrap();
    for id in 1..=3 {
        f.ret(id, Ok(())).unwrap();
    }
}

#[test]
fn forgetting_the_reads_in_flight_shrinks_the_frontier_to_the_operations() {
    let mut f = frontier();
    f.invoke(1, map(0x10, 0x10)).unwrap();
    f.invoke(2, map(0x20, 0x20)).unwrap();
    let ops_only = f.len();
    f.invoke_read(100, 0, 0x10).unwrap();
    f.invoke_read(101, 0, 0x20).unwrap();
    assert!(f.len() > ops_only);
    assert_eq!(f.forget_reads(), vec![100, 101]);
    assert_eq!(f.len(), ops_only);
    assert_eq!(f.pending_ops().len(), 2);
    // A forgotten read is no longer in flight; the operations go on as before.
    assert_eq!(f.ret_read(100, m(0x10)), Err(FrontierError::NotInFlight { id: 100, kind: "read" }));
    f.ret(1, Ok(())).unwrap();
    f.read(0, 0x10, m(0x10)).unwrap();
    f.ret(2, Ok(())).unwrap();
    assert!(f.is_quiescent());
    assert_eq!(f.forget_reads(), Vec::<EventId>::new());
}
