//! Plugging your own page table into ptdiff: implement [`PageTable`] for it and put it in a
//! [`Lineup`] next to a built-in table; every ptdiff tool then runs it: the fuzz entry point
//! (`ptdiff::fuzz::differential_with`), the command line (`ptdiff::cli::main_with`: `repro`,
//! `minimize`, `run`) and regression replay. `fuzz/templates/own_table/` is the ready-to-copy
//! harness built on this file: a `cargo fuzz` target, its AFL twin, the command line and the
//! regression test, all running [`MyTable`] next to the built-in `fixed` table.
//!
//! Run with `cargo run -p ptdiff --example custom_table`: it runs one scenario on the table as
//! shipped, which has a deliberate bug, and on the table with the bug fixed.
//!
//! "Your table" here is a thin wrapper around the built-in fixed table; replace the delegation
//! with your own code. Its bug, on in [`MyTable::new`]: a range map writes every page of the
//! range but the last (`count - 1`, the off-by-one of a range loop), and still reports success.
//! [`MyTable::fixed`] is the same table without it.

use ptdiff::scenario::text;
use ptdiff::table::{PageOrders, PagesError};
use ptdiff::tables::{built_in, TableConfig};
use ptdiff::{Iommu, Lineup, PageTable, Perm, Plant, PtError};

/// Your implementation. It owns an [`Iommu`] (memory, frame allocator, device table, command
/// log) and writes real AMD-Vi entries into it; the oracle reads them from there.
pub struct MyTable {
    inner: Box<dyn PageTable>,
    /// The bug: a range map leaves out its last page.
    drops_last_page: bool,
}

impl MyTable {
    /// The table as shipped, with its bug. Its [`TableConfig`] comes from the scenario being
    /// run: the domain, where table frames go, the heights a growing table uses.
    pub fn new(config: TableConfig) -> Result<MyTable, PtError> {
        MyTable::create(config, true)
    }

    /// The table with its bug fixed.
    pub fn fixed(config: TableConfig) -> Result<MyTable, PtError> {
        MyTable::create(config, false)
    }

    fn create(config: TableConfig, drops_last_page: bool) -> Result<MyTable, PtError> {
        let fixed = built_in("fixed").expect("`fixed` is a built-in table");
        Ok(MyTable { inner: (fixed.build)(config)?, drops_last_page })
    }
}

impl PageTable for MyTable {
    fn name(&self) -> &str {
        "my-table"
    }
    fn iommu(&self) -> &Iommu {
        self.inner.iommu()
    }
    fn iommu_mut(&mut self) -> &mut Iommu {
        self.inner.iommu_mut()
    }
    fn domain_id(&self) -> u16 {
        self.inner.domain_id()
    }
    fn levels(&self) -> u8 {
        self.inner.levels()
    }
    fn max_levels(&self) -> u8 {
        self.inner.max_levels()
    }
    fn root(&self) -> Option<u64> {
        self.inner.root()
    }
    fn page_orders(&self) -> PageOrders {
        self.inner.page_orders()
    }
    fn map(&mut self, dfn: u64, mfn: u64, order: u32, perm: Perm) -> Result<(), PtError> {
        self.inner.map(dfn, mfn, order, perm)
    }
    fn unmap(&mut self, dfn: u64, order: u32) -> Result<(), PtError> {
        self.inner.unmap(dfn, order)
    }
    fn map_pages(
        &mut self,
        dfn: u64,
        mfn: u64,
        order: u32,
        count: u64,
        perm: Perm,
    ) -> Result<(), PagesError> {
        let written = if self.drops_last_page && count > 1 { count - 1 } else { count };
        self.inner.map_pages(dfn, mfn, order, written, perm)
    }
    fn unmap_pages(&mut self, dfn: u64, order: u32, count: u64) -> Result<(), PagesError> {
        self.inner.unmap_pages(dfn, order, count)
    }
    fn notify_dfn(&mut self, dfn: u64) -> Result<(), PtError> {
        self.inner.notify_dfn(dfn)
    }
    fn lookup(&self, dfn: u64) -> Option<(u64, Perm)> {
        self.inner.lookup(dfn)
    }
    fn assign(&mut self, dev: u16) -> Result<(), PtError> {
        self.inner.assign(dev)
    }
    fn deassign(&mut self, dev: u16) -> Result<(), PtError> {
        self.inner.deassign(dev)
    }
    fn teardown(&mut self) -> Result<(), PtError> {
        self.inner.teardown()
    }
}

#[allow(dead_code)]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let scenario = text::parse(
        "config devices=2 ranges=on\n\
         assign 0\n\
         map 0x1fe 0x1000 0 rw 4 # four pages, across a level-1 table boundary\n\
         assign 1\n\
         translate 1 0x201\n",
    )?;
    print!("{scenario}");
    type Make = fn(TableConfig) -> Result<MyTable, PtError>;
    for (label, make) in [("as shipped", MyTable::new as Make), ("bug fixed", MyTable::fixed)] {
        let tables = Lineup::new().with_own("my-table", make)?.with_built_in("fixed")?;
        match tables.run(&scenario, Plant::NONE)?.finding {
            None => println!("\n{label}: my-table passed"),
            Some(finding) => println!("\n{label}:\n{finding}"),
        }
    }
    Ok(())
}
