//! The lock rules (`ptdiff::step::lockdep`) end to end: the correct tables keep them on every
//! scenario of the corpus, and a call site breaking the caller protocol is blamed.

mod common;

use ptdiff::conc::runner::{run_concurrent_with, ConcOptions};
use ptdiff::conc::{self, ConcScenario};
use ptdiff::lineup::Lineup;
use ptdiff::Check;
use ptdiff::Plant;

fn lock_checks() -> [Check; 3] {
    [Check::LockRule, Check::LockOrder, Check::Protocol]
}

fn parse(source: &str) -> ConcScenario {
    conc::text::parse(source).unwrap_or_else(|e| panic!("{e}\n{source}"))
}

/// Every `conc-*.scn` of the corpus runs with no lock finding on the correct tables.
#[test]
fn concurrent_corpus_keeps_the_lock_rules() {
    let mut ran = 0;
    for path in common::corpus_files("scenarios") {
        let source = std::fs::read_to_string(&path).unwrap();
        if !conc::text::is_concurrent(source.as_bytes()) {
            continue;
        }
        let s = parse(&source);
        let report =
            run_concurrent_with(&s, &Lineup::built_in(), Plant::NONE, ConcOptions::default())
                .unwrap();
        if let Some(f) = report.finding {
            assert!(!lock_checks().contains(&f.check), "{}:\n{f}", path.display());
        }
        ran += 1;
    }
    assert!(ran >= 4, "only {ran} concurrent scenarios");
}

/// The seed scenario with the growth requested by a rogue caller (no devices lock): the entry
/// contract of `notify_dfn` blames the call site, on the sequential schedule too.
#[test]
fn a_rogue_notify_is_blamed_on_its_call_site() {
    let source = "config initial_levels=2 max_levels=4 devices=2\n\
                  assign 0\n\
                  thread 0 pci assign 1\n\
                  thread 1 rogue notify 0x40000\n";
    let report = run_concurrent_with(
        &parse(source),
        &Lineup::built_in(),
        Plant::NONE,
        ConcOptions::default(),
    )
    .unwrap();
    let f = report.finding.expect("the entry contract fires");
    assert_eq!((f.check, f.implementation.as_str()), (Check::Protocol, "dynamic"));
    let text = f.to_string();
    assert!(
        text.contains(
            "expected: the caller holds {devices}\n  got:      entry of notify holding {}; t1 op#0 \
             `notify 0x40000` (site rogue), profile xen-notify"
        ),
        "{text}"
    );
    // With the rules off, the same run is clean: the consequence oracle has nothing to see
    // without a concurrent grower.
    let off = ConcOptions { lock_rules: false };
    let report = run_concurrent_with(&parse(source), &Lineup::built_in(), Plant::NONE, off);
    assert_eq!(report.unwrap().finding, None);
}

/// The ops of a sequential scenario as one thread's programs, each op from the call site a
/// real caller uses (assign and deassign from PCI, notify from a notify site, the rest from
/// p2m), every map preceded by the notify the sequential runner makes for it; windows of at
/// most 8 ops, the ops before a window as its setup. Setup-only ops and missed maps stay in
/// the setup.
fn windows(s: &ptdiff::Scenario) -> Vec<ConcScenario> {
    use ptdiff::conc::{Site, ThreadOp};
    use ptdiff::Op;
    let mut out = Vec::new();
    let mut thread: Vec<ThreadOp> = Vec::new();
    let mut start = 0;
    let flush = |thread: &mut Vec<ThreadOp>, start: usize, out: &mut Vec<ConcScenario>| {
        if !thread.is_empty() {
            let mut c = ConcScenario::of_threads(s.config, vec![std::mem::take(thread)]);
            c.setup = s.ops[..start].to_vec();
            out.push(c);
        }
    };
    for (i, op) in s.ops.iter().enumerate() {
        let threadable = !matches!(op.keyword(), "fail" | "repeat" | "teardown")
            && !matches!(op, Op::Map { missed: true, .. });
        if !threadable || thread.len() + 2 > 8 {
            flush(&mut thread, start, &mut out);
            start = i;
        }
        if !threadable {
            start = i + 1;
            continue;
        }
        let site = match op {
            Op::Assign { .. } | Op::Deassign { .. } => Site::Pci,
            Op::Notify { .. } => Site::NotifySite,
            _ => Site::P2m,
        };
        if let Op::Map { dfn, order, count, .. } = *op {
            let last = dfn.saturating_add((count << order).saturating_sub(1));
            thread.push(ThreadOp { site: Site::NotifySite, op: Op::Notify { dfn: last } });
        }
        thread.push(ThreadOp { site, op: *op });
    }
    flush(&mut thread, start, &mut out);
    out
}

/// Every sequential scenario of the corpus, its ops run from their real call sites as threads
/// of a concurrent run: no lock finding on the correct tables (other findings are the
/// sequential runner's business: a window drops the runner's own notifications and checks).
#[test]
fn sequential_corpus_keeps_the_lock_rules() {
    let (mut files, mut runs) = (0, 0);
    for path in common::corpus_files("scenarios") {
        let source = std::fs::read_to_string(&path).unwrap();
        if conc::text::is_concurrent(source.as_bytes()) {
            continue;
        }
        let s = ptdiff::scenario::text::parse(&source).unwrap();
        files += 1;
        for c in windows(&s) {
            if c.validate().is_err() {
                continue;
            }
            let report =
                run_concurrent_with(&c, &Lineup::built_in(), Plant::NONE, ConcOptions::default())
                    .unwrap();
            if let Some(f) = report.finding {
                assert!(!lock_checks().contains(&f.check), "{}:\n{f}", path.display());
            }
            runs += 1;
        }
    }
    assert!(files >= 20 && runs >= files, "{files} files, {runs} runs");
}

mod profiles {
    //! Each built-in table's locking profile, with the facts it encodes.

    use ptdiff::step::{LockClass, LockSet, LockingProfile, StepTable};
    use ptdiff::tables::dynamic::{Correct, Dynamic, DynamicConfig};
    use ptdiff::tables::fixed::Fixed;
    use ptdiff::tables::Growth;

    const DEVICES: LockSet = LockSet::of(&[LockClass::Devices]);
    const DOMAIN: LockSet = LockSet::of(&[LockClass::Domain]);
    const BOTH: LockSet = LockSet::of(&[LockClass::Devices, LockClass::Domain]);

    fn dynamic() -> Dynamic {
        let config = DynamicConfig {
            initial_levels: 2,
            max_levels: 4,
            domain: 1,
            all_page_sizes: false,
            growth: Growth::Notify,
        };
        Dynamic::with_config(config, Correct).unwrap()
    }

    /// Xen 2019 with Jan Beulich's `notify_dfn` hook ("AMD/IOMMU: re-work mode updating",
    /// xen-devel 2019-11-14): `update_paging_mode()` "expects to be invoked with the PCI
    /// devices lock held", and `amd_iommu_map_page` asserts `mapping_lock` at entry; so the
    /// root and mode change only with both held (either lets a reader read them), the device
    /// list (`for_each_pdev`) and the DTEs belong to `pcidevs_lock`, the table slots to
    /// `mapping_lock`; a fresh DFN must be notified before it is mapped.
    #[test]
    fn dynamic_with_notify_growth_follows_xen_2019_pcidevs_and_mapping_lock() {
        let p = dynamic().locking();
        assert_eq!(p, LockingProfile::XEN_NOTIFY);
        assert_eq!((p.top, p.device_list, p.dte, p.slots), (BOTH, DEVICES, DEVICES, DOMAIN));
        assert!(!p.top_read_lock_free, "Xen reads root and mode under a lock");
        assert!(p.notify_protocol, "growth only through notify_dfn");
    }

    /// Linux 2020 (`increase_address_space`, AMD v1 page table): growth happens inside map
    /// under `domain->lock`, the need re-checked under it (the 2019 race fix moved the test
    /// inside the lock), the DTEs updated before the new root and mode are published as one
    /// 64-bit word that lookups read without a lock; attach takes the domain lock as well as
    /// the group mutex, so the device list is protected by both.
    #[test]
    fn dynamic_growing_in_map_follows_linux_2020_domain_lock() {
        let config = DynamicConfig {
            initial_levels: 2,
            max_levels: 4,
            domain: 1,
            all_page_sizes: false,
            growth: Growth::InMap,
        };
        let p = Dynamic::with_config(config, Correct).unwrap().locking();
        assert_eq!(p, LockingProfile::LINUX_IN_MAP);
        assert_eq!((p.top, p.device_list, p.dte, p.slots), (DOMAIN, BOTH, DOMAIN, DOMAIN));
        assert!(p.top_read_lock_free, "one atomic word: root and mode together");
        assert!(!p.notify_protocol, "a map grows the table itself");
    }

    /// Xen 4.13 and later (XSA-311: "a one-liner defaulting to 4 levels"): the height never
    /// changes after creation; map under `mapping_lock` and assign under `pcidevs_lock` both
    /// read the root, so either lock protects it; DTEs and the device list under
    /// `pcidevs_lock`; no notify protocol.
    #[test]
    fn fixed_follows_xen_4_13_one_root_under_either_lock() {
        let fixed = Fixed::new(1).unwrap();
        let p = fixed.table().locking();
        assert_eq!(p, LockingProfile::XEN_FIXED);
        assert_eq!((p.top, p.device_list, p.dte, p.slots), (BOTH, DEVICES, DEVICES, DOMAIN));
        assert!(!p.notify_protocol);
    }

    /// A step table that declares nothing has no resource rule.
    #[test]
    fn undeclared_protects_nothing() {
        let p = LockingProfile::UNDECLARED;
        assert_eq!(
            (p.top, p.device_list, p.dte, p.slots),
            (LockSet::EMPTY, LockSet::EMPTY, LockSet::EMPTY, LockSet::EMPTY)
        );
    }
}

fn corpus(name: &str) -> ConcScenario {
    let path = common::corpus_dir().join("scenarios").join(name);
    parse(&std::fs::read_to_string(path).unwrap())
}

/// A notify racing the map it announces: the map is not preceded by a completed notify, so it
/// is a `protocol` outcome naming the p2m call site; the run is clean (the table is not
/// blamed). A map the same thread notified first is not.
#[test]
fn a_map_racing_its_notify_is_a_protocol_outcome_of_its_call_site() {
    let report =
        ptdiff::conc::runner::run_concurrent(&corpus("conc-notify-racing-map.scn"), Plant::NONE)
            .unwrap();
    assert_eq!(report.finding, None);
    let texts: Vec<String> = report.protocol.iter().map(|p| p.to_string()).collect();
    assert_eq!(
        texts,
        ["protocol: map of 0x40000 at site p2m not preceded by a covering notify (t1 op#0, dynamic)"]
    );
    let notified =
        ptdiff::conc::runner::run_concurrent(&corpus("conc-assign-racing-growth.scn"), Plant::NONE)
            .unwrap();
    assert_eq!((notified.finding, notified.protocol), (None, vec![]));
}

/// Growth inside map on the correct table: concurrent growers and an assign keep every rule
/// of the Linux profile and the run is clean; with the rules off too.
#[test]
fn growth_in_map_races_cleanly() {
    let s = corpus("conc-grow-in-map.scn");
    for lock_rules in [true, false] {
        let report =
            run_concurrent_with(&s, &Lineup::built_in(), Plant::NONE, ConcOptions { lock_rules })
                .unwrap();
        assert_eq!(report.finding, None, "lock rules {lock_rules}");
        assert_eq!(report.protocol, vec![], "no notify protocol when growing in map");
        assert!(report.stats.preemptions >= 2, "{}", report.stats);
    }
}

/// Random concurrent inputs on the correct tables, growing in map and growing on notify, with
/// the lock rules on: no finding (no false alarm of the rules, the in-map expectations or the
/// in-map table).
#[test]
fn random_concurrent_inputs_on_correct_tables_are_clean() {
    use ptdiff::tables::Growth;
    for growth in Growth::ALL {
        let mut ran = 0;
        for seed in 0..400 {
            let mut s = conc::decode::decode(&common::Bytes::seeded(seed).input(400));
            s.config.growth = growth;
            if s.validate().is_err() {
                continue;
            }
            let report = ptdiff::conc::runner::run_concurrent(&s, Plant::NONE).unwrap();
            if let Some(f) = report.finding {
                panic!("seed {seed}, growth {growth:?}:\n{}\n{f}", conc::text::print(&s));
            }
            ran += 1;
        }
        assert!(ran > 300, "{ran} valid inputs");
    }
}
