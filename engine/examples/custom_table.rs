//! Plugging your own page table into ptdiff: implement [`PageTable`] for it and hand it to
//! [`run_tables`] next to a reference implementation. Run with
//! `cargo run -p ptdiff --example custom_table`.
//!
//! Here "your table" is a thin wrapper around the built-in fixed table, so the example runs
//! clean; replace the delegation with your own code.

use ptdiff::scenario::text;
use ptdiff::step::Sequential;
use ptdiff::tables::fixed::Fixed;
use ptdiff::{run_tables, Iommu, PageTable, Perm, PtError};

/// Your implementation. It owns an [`Iommu`] (memory, frame allocator, device table, command
/// log) and writes real AMD-Vi entries into it; the oracle reads them from there.
struct MyTable {
    inner: Sequential<Fixed>,
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
    fn map(&mut self, dfn: u64, mfn: u64, order: u32, perm: Perm) -> Result<(), PtError> {
        self.inner.map(dfn, mfn, order, perm)
    }
    fn unmap(&mut self, dfn: u64, order: u32) -> Result<(), PtError> {
        self.inner.unmap(dfn, order)
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

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let scenario = text::parse(
        "config initial_levels=4 max_levels=4 devices=2\n\
         assign 0\n\
         map 0x200 0x1000 9 rw\n\
         unmap 0x300 0\n\
         assign 1\n\
         translate 1 0x2ff\n",
    )?;
    let tables: Vec<Box<dyn PageTable>> =
        vec![Box::new(MyTable { inner: Fixed::new(1)? }), Box::new(Fixed::new(1)?)];
    let report = run_tables(&scenario, tables)?;
    match report.finding {
        None => println!("my-table passed {} ops", report.stats.ops),
        Some(finding) => println!("{finding}"),
    }
    Ok(())
}
