//! The own-walker template (`engine/examples/own_walker.rs`) finds the bug of its toy walk
//! within a bounded number of seeded inputs, and agrees with the oracle once it is fixed.

#[allow(dead_code)]
#[path = "../examples/own_walker.rs"]
mod own_walker;

use own_walker::{MyWalker, ToyEmulator};
use ptdiff::walker::{check, seeded_input, OtherSide, WalkerInput};

/// The buggy toy walk must be caught within this many seeded inputs.
const SEEDS_TO_CATCH: u64 = 500;

#[test]
fn leaf_only_permissions_are_caught() {
    let walker = MyWalker { emulator: ToyEmulator { and_table_permissions: false } };
    let finding = (0..SEEDS_TO_CATCH)
        .find_map(|seed| check(&WalkerInput::decode(&seeded_input(seed)), &walker).err())
        .expect("the bug is found within the seeds");
    // Same page, same address; the walk claims more than the path grants.
    let oracle = finding.oracle.expect("the oracle translates");
    let OtherSide::Walker { answer: Ok(answer), .. } = finding.other else {
        panic!("the walk translates too:\n{finding}")
    };
    assert_eq!((answer.spa, answer.page_size_log2), (oracle.spa, oracle.page_size_log2));
    assert!(answer.perm.allows(oracle.perm) && answer.perm != oracle.perm, "{finding}");
    let report = finding.to_string();
    assert!(report.contains("toy emulator walk disagrees"), "{report}");
}

#[test]
fn the_fixed_toy_walk_agrees_with_the_oracle() {
    let walker = MyWalker { emulator: ToyEmulator { and_table_permissions: true } };
    for seed in 0..3000 {
        if let Err(finding) = check(&WalkerInput::decode(&seeded_input(seed)), &walker) {
            panic!("seed {seed}:\n{finding}");
        }
    }
}

#[test]
fn walker_with_runs_the_template() {
    let walker = MyWalker { emulator: ToyEmulator { and_table_permissions: true } };
    for seed in 0..100 {
        ptdiff::fuzz::walker_with(&seeded_input(seed), &walker);
    }
}
