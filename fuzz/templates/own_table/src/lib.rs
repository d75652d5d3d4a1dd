//! Your page table under ptdiff: [`tables`] is what every binary of this harness runs (the
//! `cargo fuzz` target, its AFL twin and the command line), so an input means the same thing
//! in each of them.

use ptdiff::Lineup;

// The example table: ptdiff's `engine/examples/custom_table.rs`, which has a deliberate bug
// (a range map leaves out its last page). In your copy, delete these three lines and bring your
// table in instead, e.g. `use my_iommu::MyTable;`.
#[path = "../../../../engine/examples/custom_table.rs"]
mod custom_table;
pub use custom_table::MyTable;

/// Where `minimize` saves regression files (`cargo run -- minimize CRASH`) and where
/// `cargo test` replays them from: this crate's `regressions/` folder.
pub const REGRESSIONS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/regressions");

/// The tables every run compares, made fresh for each input: yours (under the name its
/// `PageTable::name` reports) next to ptdiff's built-in `fixed` table. Add `dynamic` too, or
/// instead, for a table that grows on `notify_dfn`.
pub fn tables() -> Lineup {
    Lineup::new()
        .with_own("my-table", MyTable::new)
        .and_then(|tables| tables.with_built_in("fixed"))
        .unwrap_or_else(|e| panic!("the tables to fuzz: {e}"))
}
