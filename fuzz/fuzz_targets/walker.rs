#![no_main]
//! libFuzzer target `walker`: see `ptdiff::fuzz::walker` for its contract.

libfuzzer_sys::fuzz_target!(|data: &[u8]| ptdiff::fuzz::walker(data));
