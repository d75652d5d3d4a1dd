//! AFL target `walker`: see `ptdiff::fuzz::walker` for its contract.

fn main() {
    afl::fuzz!(|data: &[u8]| ptdiff::fuzz::walker(data));
}
