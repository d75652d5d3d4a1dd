//! AFL target `concurrent`: see `ptdiff::fuzz::concurrent` for its contract.

fn main() {
    afl::fuzz!(|data: &[u8]| ptdiff::fuzz::concurrent(data));
}
