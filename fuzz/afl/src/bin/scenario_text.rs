//! AFL target `scenario_text`: see `ptdiff::fuzz::scenario_text` for its contract.

fn main() {
    afl::fuzz!(|data: &[u8]| ptdiff::fuzz::scenario_text(data));
}
