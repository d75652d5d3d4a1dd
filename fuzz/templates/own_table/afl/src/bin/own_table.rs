//! AFL target `own_table`: the same entry point as the libFuzzer target, on the same tables.

fn main() {
    let tables = own_table::tables();
    afl::fuzz!(|data: &[u8]| ptdiff::fuzz::differential_with(data, &tables));
}
