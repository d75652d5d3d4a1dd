#![no_main]
//! libFuzzer target `differential`: see `ptdiff::fuzz::differential` for its contract.

libfuzzer_sys::fuzz_target!(|data: &[u8]| ptdiff::fuzz::differential(data));
