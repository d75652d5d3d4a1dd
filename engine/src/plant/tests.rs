//! The catalogue and [`Plant`]: ids, parsing, selection, building; the variants' own tests
//! are in `variants.rs`.

#[cfg(feature = "planted-bugs")]
mod variants;

use super::*;
use crate::check::finding::Check;
use crate::tables::BUILT_IN;

#[test]
fn ids_round_trip_and_are_unique() {
    for bug in PlantedBug::ALL {
        assert_eq!(bug.id().to_lowercase().parse::<PlantedBug>(), Ok(bug));
        assert_eq!(format!("{bug}"), bug.id());
    }
    let mut ids = PlantedBug::ALL.map(PlantedBug::id).to_vec();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), PlantedBug::ALL.len());
    assert_eq!("X9".parse::<PlantedBug>(), Err(PlantError::Unknown("X9".into())));
    assert_eq!(
        PlantError::Unknown("X9".into()).to_string(),
        "unknown planted bug `X9` (known: D1, D4, D7, R2, S5, T2, SPLIT-RW, UNMAP-GROW, F2, \
         T2-CACHE, D1-LEAK, FLUSH-LAST, PDE-32, RANGE-STOP, NL7-SHORT, NL7-PARTIAL, F2-RANGE, \
         RANGE-DONE, A1-TORN-PTE, A2-DTE-FIELDWISE, S1-BLANK-FIRST, D6-PUBLISH-FIRST, \
         SEED-GROW-IN-MAP, D3-GROW-UNLOCKED, D4-RECHECK-OUTSIDE, D5-TOP-TWO-CELLS)"
    );
}

#[test]
fn the_catalogue_names_built_in_tables_and_real_checks() {
    assert_eq!(PlantedBug::ALL.len(), 26);
    for bug in PlantedBug::ALL {
        assert!(crate::tables::built_in(bug.implementation()).is_some(), "{bug}");
        assert!(bug.scenario().ends_with(".scn"), "{bug}");
        assert_ne!(bug.check(), Check::Setup, "{bug}");
        assert!(!bug.summary().is_empty() && !bug.summary().contains('|'), "{bug}");
    }
    assert_eq!(PlantedBug::D4GrowNoRecheck.check(), Check::Height);
    assert_eq!(PlantedBug::D7GrowLoopForever.check(), Check::StepBudget);
    assert_eq!(PlantedBug::S5SuperpageOverclear.implementation(), "fixed");
    let concurrent: Vec<PlantedBug> =
        PlantedBug::ALL.into_iter().filter(|b| b.concurrent()).collect();
    assert_eq!(
        concurrent,
        [
            PlantedBug::A1TornPte,
            PlantedBug::A2DteFieldwise,
            PlantedBug::S1BlankFirst,
            PlantedBug::D6PublishFirst,
            PlantedBug::SeedGrowInMap,
            PlantedBug::D3GrowUnlocked,
            PlantedBug::D4RecheckOutside,
            PlantedBug::D5TopTwoCells,
        ]
    );
    let lock_or_linear = [Check::Linearizability, Check::LockRule];
    assert!(concurrent.iter().all(|b| lock_or_linear.contains(&b.check())));
}

#[test]
fn selection_depends_on_the_feature() {
    let selected = Plant::select(PlantedBug::D1StaleDeviceList);
    if cfg!(feature = "planted-bugs") {
        assert_eq!(selected.unwrap().bug(), Some(PlantedBug::D1StaleDeviceList));
    } else {
        assert_eq!(selected, Err(PlantError::NotCompiled(PlantedBug::D1StaleDeviceList)));
    }
    assert_eq!(Plant::NONE.bug(), None);
}

#[test]
fn no_plant_builds_what_the_registry_builds() {
    let config = TableConfig {
        initial_levels: 3,
        max_levels: 4,
        domain: 1,
        placement: crate::substrate::frames::Placement::Low,
        all_page_sizes: false,
        growth: Default::default(),
    };
    for table in BUILT_IN {
        let t = Plant::NONE.build(table, config).unwrap();
        assert_eq!((t.name(), t.levels()), (table.name, (table.build)(config).unwrap().levels()));
    }
    let fixed = (BUILT_IN[1].build)(config).unwrap();
    assert_eq!(Plant::NONE.wrap(fixed).unwrap().name(), "fixed");
}
