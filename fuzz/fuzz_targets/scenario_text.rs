#![no_main]
//! libFuzzer target `scenario_text`: see `ptdiff::fuzz::scenario_text` for its contract.

libfuzzer_sys::fuzz_target!(|data: &[u8]| ptdiff::fuzz::scenario_text(data));
