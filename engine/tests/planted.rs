//! Proof that the checks fire: every planted bug is caught by the scenario written for it, with
//! the check we expect, and by the random property loop within a bounded number of inputs.
//! Needs `--features planted-bugs`.
#![cfg(feature = "planted-bugs")]

mod common;

use common::Bytes;
use ptdiff::scenario::{decode::decode, text};
use ptdiff::{run, Check, Plant, PlantedBug};

/// (bug, scenario file that must catch it, expected check).
const CATCHES: [(PlantedBug, &str, Check); 10] = [
    (PlantedBug::D1StaleDeviceList, "growth_several_devices.scn", Check::Dte),
    (PlantedBug::D4GrowNoRecheck, "growth_through_notify.scn", Check::Height),
    (PlantedBug::R2QuarantineLevels, "growth_through_notify.scn", Check::Dte),
    (PlantedBug::S5SuperpageOverclear, "neighbour_superpages.scn", Check::Translation),
    (PlantedBug::T2DeassignKeepsDte, "deassign_blocks.scn", Check::UnassignedAccess),
    (PlantedBug::SplitGrantsRw, "superpage_split.scn", Check::Translation),
    (PlantedBug::UnmapGrows, "unmap_beyond_height.scn", Check::Height),
    (PlantedBug::F2UnmapNoFlush, "iotlb_flush.scn", Check::StaleIotlb),
    (PlantedBug::T2StaleDteCache, "stale_dte.scn", Check::StaleDte),
    (PlantedBug::D1GrowLeak, "alloc_failure.scn", Check::FailureNotClean),
];

#[test]
fn every_planted_bug_is_caught_by_its_scenario() {
    for (bug, file, check) in CATCHES {
        let path = common::corpus_dir().join("scenarios").join(file);
        let scenario = text::parse(&std::fs::read_to_string(path).unwrap()).unwrap();
        let report = run(&scenario, Plant::select(bug).unwrap()).unwrap();
        let finding = report.finding.unwrap_or_else(|| panic!("{bug} not caught by {file}"));
        assert_eq!(finding.check, check, "{bug} via {file}:\n{finding}");
        assert_eq!(finding.implementation, bug.implementation(), "{bug}:\n{finding}");
    }
}

#[test]
fn every_planted_bug_is_found_by_random_inputs() {
    const BUDGET: u64 = 3000;
    for bug in PlantedBug::ALL {
        let plant = Plant::select(bug).unwrap();
        let found = (0..BUDGET).find_map(|seed| {
            let scenario = decode(&Bytes::seeded(seed).input(400));
            run(&scenario, plant).unwrap().finding.map(|f| (seed, f))
        });
        let (seed, finding) =
            found.unwrap_or_else(|| panic!("{bug}: no finding in {BUDGET} random inputs"));
        assert_eq!(finding.implementation, bug.implementation(), "{bug}, seed {seed}:\n{finding}");
    }
}

#[test]
fn the_same_scenarios_pass_without_the_bug() {
    for (_, file, _) in CATCHES {
        let path = common::corpus_dir().join("scenarios").join(file);
        let scenario = text::parse(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert_eq!(run(&scenario, Plant::NONE).unwrap().finding, None, "{file}");
    }
}
