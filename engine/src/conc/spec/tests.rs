//! The specification against the sequential runner's rules.

use super::*;
use ptdiff_reference::Fault;

fn map(dfn: u64, mfn: u64) -> Op {
    Op::Map { dfn, mfn, order: 0, perm: Perm::RW, missed: false, count: 1 }
}

fn spec(levels: u8) -> Spec {
    let mut assigned = DeviceSet::EMPTY;
    assigned.insert(0);
    Spec::new(Model::new(), levels, 4, PageOrders::BASE, assigned, false)
}

#[test]
fn apply_follows_the_runner_rules() {
    let s = spec(2);
    let (r, s) = s.apply(&map(5, 0x50));
    assert_eq!(r, Ok(()));
    assert_eq!(s.observe(0, 5), Observed::Mapped { mfn: 0x50, perm: Perm::RW });
    assert_eq!(s.observe(1, 5), Observed::Blocked);
    assert_eq!(s.observe(Reader::Lookup, 5), Observed::Mapped { mfn: 0x50, perm: Perm::RW });
    assert_eq!(s.observe(0, 6), Observed::Unmapped);
    // Beyond the height without a notify; the map changes nothing.
    let (r, same) = s.apply(&map(1 << 18, 1));
    assert_eq!((r, &same), (Err(ErrorClass::BeyondHeight), &s));
    let (r, grown) = s.apply(&Op::Notify { dfn: 1 << 18 });
    assert_eq!((r, grown.levels), (Ok(()), 3));
    assert_eq!(grown.apply(&map(1 << 18, 1)).0, Ok(()));
    assert_eq!(s.apply(&Op::Notify { dfn: 1 << 36 }).0, Err(ErrorClass::OutOfRange));
    let range = Op::Unmap { dfn: 4, order: 0, count: 2 };
    let (r, s) = s.apply(&range);
    assert_eq!((r, s.translate(5)), (Ok(()), None));
    assert_eq!(
        s.apply(&Op::Unmap { dfn: 1, order: 9, count: 1 }).0,
        Err(ErrorClass::InvalidArgument)
    );
    let (r, s) = s.apply(&Op::Assign { dev: 1 });
    assert_eq!((r, s.observe(1, 6)), (Ok(()), Observed::Unmapped));
    assert_eq!(s.apply(&Op::Assign { dev: 1 }).0, Err(ErrorClass::Device));
    let (r, s) = s.apply(&Op::Deassign { dev: 0 });
    assert_eq!((r, s.observe(0, 6)), (Ok(()), Observed::Blocked));
    assert_eq!(s.apply(&Op::Deassign { dev: 0 }).0, Err(ErrorClass::Device));
    let (r, down) = s.apply(&map(7, 7)).1.apply(&Op::Teardown);
    assert_eq!(r, Ok(()));
    assert_eq!((down.levels, down.assigned, down.translate(7)), (0, DeviceSet::EMPTY, None));
    assert_eq!(down.observe(Reader::Lookup, 7), Observed::Unmapped);
    for op in [map(1, 1), Op::Notify { dfn: 0 }, Op::Assign { dev: 3 }, Op::Teardown] {
        assert_eq!(down.apply(&op), (Err(ErrorClass::TornDown), down.clone()));
    }
    assert_eq!(down.apply(&Op::Translate { dev: 0, dfn: 1 }), (Ok(()), down.clone()));
}

#[test]
fn a_map_is_checked_against_the_table_orders_and_ranges_change_every_page() {
    let all = Spec::new(Model::new(), 4, 4, PageOrders::ALL, DeviceSet::EMPTY, false);
    let order5 = Op::Map { dfn: 32, mfn: 64, order: 5, perm: Perm::R, missed: true, count: 2 };
    assert_eq!(spec(4).apply(&order5).0, Err(ErrorClass::InvalidArgument));
    let (r, s) = all.apply(&order5);
    assert_eq!(r, Ok(()));
    assert_eq!(s.translate(95), Some((127, Perm::R)));
    assert_eq!(s.translate(96), None);
    assert_eq!(s.observe(Reader::Lookup, 31), Observed::Unmapped);
}

#[test]
fn derived_states_share_the_model_until_settled() {
    let mut base = Model::new();
    base.map(1, 10, 0, Perm::R);
    let s = Spec::new(base.clone(), 4, 4, PageOrders::BASE, DeviceSet::EMPTY, false);
    let (_, a) = s.apply(&map(2, 20));
    let (_, b) = s.apply(&map(2, 20));
    assert_eq!(a, b);
    assert_ne!(a, s);
    assert!(Rc::ptr_eq(&a.base, &s.base) && !a.is_settled());
    assert!(matches!(s.model(), Cow::Borrowed(_)));
    let mut want = base.clone();
    want.map(2, 20, 0, Perm::RW);
    assert_eq!(*a.model(), want);
    drop(b);
    drop(s);
    // `a` holds the only reference: settling copies nothing.
    let mut a = a;
    let before = Rc::as_ptr(&a.base);
    a.settle();
    assert!(a.is_settled() && std::ptr::eq(before, Rc::as_ptr(&a.base)));
    assert_eq!(a.into_model(), want);
}

#[test]
fn walks_classify_and_agree() {
    let table = |perm, spa| {
        Ok(Translation {
            spa,
            page_size_log2: 12,
            perm,
            kind: TranslationKind::Table { leaf_level: 1 },
        })
    };
    let mapped = Observed::Mapped { mfn: 0x50, perm: Perm::RW };
    assert_eq!(Observed::of_walk(&table(Perm::RW, 0x50 << 12)), mapped);
    assert_eq!(Observed::of_walk(&table(Perm::NONE, 0x50 << 12)), Observed::Unmapped);
    assert_eq!(
        Observed::of_walk(&Err(Fault::NotPresent { level: 1, spa: 0x1000 })),
        Observed::Faulted
    );
    let passed = Ok(Translation {
        spa: 0x5000,
        page_size_log2: 12,
        perm: Perm::RW,
        kind: TranslationKind::DteNotValid,
    });
    let untranslated = Observed::of_walk(&passed);
    assert_eq!(
        untranslated,
        Observed::Untranslated { spa: 0x5000, perm: Perm::RW, kind: TranslationKind::DteNotValid }
    );
    for expected in [Observed::Blocked, Observed::Unmapped] {
        assert!(Observed::Faulted.agrees_with(expected));
        assert!(Observed::Unmapped.agrees_with(expected));
        assert!(!mapped.agrees_with(expected));
        assert!(!untranslated.agrees_with(expected));
    }
    assert!(mapped.agrees_with(mapped));
    assert!(!Observed::Faulted.agrees_with(mapped));
    assert!(!Observed::Mapped { mfn: 0x50, perm: Perm::R }.agrees_with(mapped));
    assert!(!Observed::Mapped { mfn: 0x51, perm: Perm::RW }.agrees_with(mapped));
    assert!(!Observed::Faulted.agrees_with(Observed::Faulted));
    assert_eq!(Observed::of_lookup(None), Observed::Unmapped);
    assert_eq!(Observed::of_lookup(Some((0x50, Perm::RW))), mapped);
}

/// Each implementation's specification, stepped through the ops of random scenarios (a map
/// after the notify the runner sends before it, unless the table grows in map), ends every op in the state the sequential
/// runner holds for it.
#[test]
fn specs_step_like_the_sequential_runner() {
    use crate::plant::Plant;
    use crate::run::Runner;
    use crate::scenario::decode::decode;
    use crate::scenario::repeat::expand;
    let mut compared = 0;
    for seed in 0..300 {
        let mut rng = fastrand::Rng::with_seed(seed);
        let len = rng.usize(..400);
        let bytes: Vec<u8> = std::iter::repeat_with(|| rng.u8(..)).take(len).collect();
        let mut scenario = decode(&bytes);
        // An armed allocation failure is the runner's business (`Frontier::invoke_armed`).
        scenario.ops.retain(|op| !matches!(op, Op::FailAlloc { .. }));
        let mut runner = Runner::new(scenario.config, Plant::NONE).unwrap();
        let in_map = scenario.config.growth == crate::tables::Growth::InMap;
        let mut specs: Vec<Spec> = runner.subjects().iter().map(Spec::of).collect();
        specs.iter_mut().for_each(|spec| spec.grows_in_map = in_map);
        for (index, op) in expand(&scenario.ops) {
            runner.step(index, &op).unwrap();
            for (spec, subject) in specs.iter_mut().zip(runner.subjects()) {
                if let (Op::Map { dfn, order, count, missed: false, .. }, false) = (op, in_map) {
                    if let Some(last) = expect::range_last(dfn, order, count) {
                        let _ = spec.step(&Op::Notify { dfn: last });
                    }
                }
                let _ = spec.step(&op);
                let name = subject.name();
                assert_eq!(*spec.model(), *subject.model, "seed {seed} op {index} {name}");
                assert_eq!(spec.levels, subject.table.levels(), "seed {seed} op {index} {name}");
                assert_eq!(spec.assigned, subject.assigned, "seed {seed} op {index} {name}");
                assert_eq!(spec.torn_down, subject.torn_down, "seed {seed} op {index} {name}");
                compared += 1;
            }
            // Every third op, fold the changes in; in between they pile up.
            if index % 3 == 0 {
                specs.iter_mut().for_each(Spec::settle);
            }
        }
    }
    assert!(compared > 10_000, "{compared}");
}
