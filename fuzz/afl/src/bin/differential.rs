//! AFL target `differential`: see `ptdiff::fuzz::differential` for its contract.

fn main() {
    afl::fuzz!(|data: &[u8]| ptdiff::fuzz::differential(data));
}
