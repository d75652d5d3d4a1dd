#![no_main]
//! libFuzzer target `concurrent`: see `ptdiff::fuzz::concurrent` for its contract.

libfuzzer_sys::fuzz_target!(|data: &[u8]| ptdiff::fuzz::concurrent(data));
