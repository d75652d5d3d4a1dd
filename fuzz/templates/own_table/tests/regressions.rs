//! Replays every regression file of `regressions/` (saved by `cargo run -- minimize CRASH`) on
//! your tables: each must run clean, so a bug once found stays fixed.

#[test]
fn every_regression_replays_clean() {
    let dir = std::path::Path::new(own_table::REGRESSIONS);
    if let Err(failures) = ptdiff::repro::replay::replay_dir(dir, &own_table::tables()) {
        panic!("{}", failures.join("\n\n"));
    }
}
