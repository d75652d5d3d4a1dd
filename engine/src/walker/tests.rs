//! The walker checks can fire, and the independent walker agrees with the oracle.

use super::*;
use crate::fuzz::walker_with;
use ptdiff_reference::{enumerate, walk_dte, Reach, TranslationKind};
use std::collections::BTreeSet;

/// Seeded inputs the agreement test runs.
const SEEDS: u64 = 3000;
/// A broken walker must be caught within this many seeded inputs (each below is caught within
/// the first 120 today).
const SEEDS_TO_CATCH: u64 = 500;

/// The independent walker seeing memory through `rewrite`: how a decoding slip in some walker
/// looks from outside. Configuration: the default (6 levels, TV = 0 faults).
struct Misreads<F: Fn(u64) -> u64> {
    rewrite: F,
}

struct Rewritten<'a, F> {
    mem: &'a dyn PhysMem,
    rewrite: &'a F,
}

impl<F: Fn(u64) -> u64> PhysMem for Rewritten<'_, F> {
    fn read_u64(&self, spa: u64) -> Option<u64> {
        self.mem.read_u64(spa).map(self.rewrite)
    }
}

impl<F: Fn(u64) -> u64> Walker for Misreads<F> {
    fn walk(
        &self,
        mem: &dyn PhysMem,
        dte: &Dte,
        iova: u64,
        access: Perm,
    ) -> Result<Translated, FaultClass> {
        let mem = Rewritten { mem, rewrite: &self.rewrite };
        IndependentWalker::default().walk(&mem, dte, iova, access)
    }

    fn name(&self) -> String {
        "misreading walker".to_string()
    }
}

const NL: u64 = 7 << 9;
const IR_IW: u64 = 3 << 61;

/// The first seed whose input `walker` disagrees on, and the finding.
fn first_finding(walker: &dyn Walker) -> Option<(u64, Box<WalkerFinding>)> {
    (0..SEEDS_TO_CATCH).find_map(|seed| {
        check(&WalkerInput::decode(&seeded_input(seed)), walker).err().map(|f| (seed, f))
    })
}

/// The walker's answer in a finding.
fn walker_answer(f: &WalkerFinding) -> Result<Translated, FaultClass> {
    match &f.other {
        OtherSide::Walker { answer, .. } => *answer,
        OtherSide::Enumeration(says) => panic!("the oracle disagrees with itself: {says:?}"),
    }
}

#[test]
fn independent_walker_agrees_with_the_oracle_on_seeded_inputs() {
    // What the comparisons reached, so the test cannot silently stop exercising anything.
    let mut leaf_levels = BTreeSet::new();
    let mut sized_leaf_levels = BTreeSet::new();
    let mut fault_classes = BTreeSet::new();
    let mut untranslated = 0;
    for seed in 0..SEEDS {
        let input = WalkerInput::decode(&seeded_input(seed));
        let walker = IndependentWalker::new(input.cfg);
        if let Err(finding) = check(&input, &walker) {
            panic!("seed {seed}:\n{finding}");
        }
        let mut iovas = input.iovas.to_vec();
        if let Ok(Reach::Table(leaves)) = enumerate(&input.mem, &input.cfg, &input.dte, 1 << 10) {
            iovas.extend(leaves.iter().take(64).map(|l| l.iova));
        }
        for iova in iovas {
            // The derivation `check` relies on: after a translation-only walk succeeds, an
            // access gets that translation when its permissions allow it, else an IO page fault.
            let none = walk_dte(&input.mem, &input.cfg, &input.dte, iova, Perm::NONE);
            if let Ok(t) = none {
                for access in ACCESSES {
                    let real = walk_dte(&input.mem, &input.cfg, &input.dte, iova, access);
                    let derived = if t.perm.allows(access) { Ok(t) } else { Err(()) };
                    assert_eq!(
                        real.map_err(|f| assert_eq!(f.class(), FaultClass::IoPageFault)),
                        derived
                    );
                }
            }
            match none {
                Ok(t) => match t.kind {
                    TranslationKind::Table { leaf_level } => {
                        leaf_levels.insert(leaf_level);
                        if t.page_size_log2 > 12 + 9 * (u32::from(leaf_level) - 1) {
                            sized_leaf_levels.insert(leaf_level);
                        }
                    }
                    _ => untranslated += 1,
                },
                Err(fault) => {
                    fault_classes.insert(format!("{:?}", fault.class()));
                }
            }
        }
    }
    assert_eq!(leaf_levels, BTreeSet::from([1, 2, 3, 4, 5]));
    // The decoder's plausible entries address the first frames only, so their size codes are
    // small: NL = 7 leaves of random inputs are level-1 pages (a fuzzer finds the rest).
    assert_eq!(sized_leaf_levels, BTreeSet::from([1]));
    assert_eq!(fault_classes.len(), 3, "{fault_classes:?}"); // all but DEV_TAB (no DTE read)
    assert!(untranslated > 100, "{untranslated}");
}

#[test]
fn a_walker_ignoring_the_page_size_code_is_caught() {
    // NL = 7 read as NL = 0: the size-code bits leak into the SPA (QEMU's 2021 bug).
    let walker = Misreads { rewrite: |e| if e & NL == NL { e & !NL } else { e } };
    let (_, finding) = first_finding(&walker).expect("caught within the seeds");
    let leaf = finding.path.last().and_then(|p| p.entry).expect("the path ends at a leaf");
    assert_eq!(leaf & NL, NL, "{finding}");
}

#[test]
fn a_walker_ignoring_table_permissions_is_caught() {
    // PDE IR/IW read as granted: only the leaf's permissions count (old QEMU).
    let pde = |e: u64| (1..=6).contains(&((e >> 9) & 7));
    let walker = Misreads { rewrite: move |e| if pde(e) { e | IR_IW } else { e } };
    let (_, finding) = first_finding(&walker).expect("caught within the seeds");
    let answer = walker_answer(&finding);
    let grants_more = match (&finding.oracle, answer) {
        (Ok(t), Ok(w)) => w.perm.allows(t.perm) && w.perm != t.perm,
        (Err(_), Ok(_)) => true,
        _ => false,
    };
    assert!(grants_more, "{finding}");
}

#[test]
fn a_walker_ignoring_reserved_bits_is_caught() {
    let walker = Misreads { rewrite: |e| e & !(0x1ff << 52) };
    let (_, finding) = first_finding(&walker).expect("caught within the seeds");
    let entry = finding.path.last().and_then(|p| p.entry).expect("a path");
    assert_ne!(entry & 0x1ff << 52, 0, "{finding}");
    assert_eq!(finding.oracle.err().map(|f| f.class()), Some(FaultClass::IoPageFault));
}

#[test]
fn a_walker_treating_non_zero_entries_as_present_is_caught() {
    // Any non-zero entry counts as present (old QEMU).
    let walker = Misreads { rewrite: |e| if e != 0 { e | 1 } else { e } };
    let (_, finding) = first_finding(&walker).expect("caught within the seeds");
    let entry = finding.path.last().and_then(|p| p.entry).expect("a path");
    assert_eq!(entry & 1, 0, "{finding}");
}

#[test]
fn a_walker_with_one_flipped_field_is_caught() {
    // Each decoded field flipped on its own: IW, IR, address bit 12, next level bit 0.
    for flip in [1u64 << 62, 1 << 61, 1 << 12, 1 << 9] {
        let walker = Misreads { rewrite: move |e| e ^ flip };
        assert!(first_finding(&walker).is_some(), "flipping {flip:#x} goes unnoticed");
    }
}

#[test]
fn walker_with_panics_with_a_readable_report() {
    let walker = Misreads { rewrite: |e| if e & NL == NL { e & !NL } else { e } };
    let (seed, _) = first_finding(&walker).expect("caught within the seeds");
    let data = seeded_input(seed);
    let panic = std::panic::catch_unwind(|| walker_with(&data, &walker)).expect_err("must panic");
    let report = panic.downcast_ref::<String>().expect("a formatted report");
    for part in ["misreading walker disagrees", "DTE:", "IOVA:", "path:", "oracle:", "walker:"] {
        assert!(report.contains(part), "{part:?} missing from\n{report}");
    }
}

#[test]
fn walker_with_uses_the_walkers_configuration() {
    // A walker for 4-level hardware must fault on mode 5 whatever the input bytes say.
    struct Hats0;
    impl Walker for Hats0 {
        fn config(&self) -> WalkConfig {
            WalkConfig { max_levels: 4, ..WalkConfig::default() }
        }
        fn walk(
            &self,
            mem: &dyn PhysMem,
            dte: &Dte,
            iova: u64,
            access: Perm,
        ) -> Result<Translated, FaultClass> {
            IndependentWalker::new(self.config()).walk(mem, dte, iova, access)
        }
    }
    for seed in 0..300 {
        walker_with(&seeded_input(seed), &Hats0);
    }
}
