#![no_main]
//! libFuzzer target `own_table`: ptdiff's differential target on your tables
//! (`own_table::tables`); a finding panics with the scenario and the report. See
//! `ptdiff::fuzz::differential_with` for its contract.

use std::sync::LazyLock;

static TABLES: LazyLock<ptdiff::Lineup> = LazyLock::new(own_table::tables);

libfuzzer_sys::fuzz_target!(|data: &[u8]| ptdiff::fuzz::differential_with(data, &TABLES));
