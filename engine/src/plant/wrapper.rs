//! The wrapper mechanism: a [`Boundary`] changes some operations of a table it wraps, every
//! method defaulting to the wrapped table's own, so a bug states only what it changes.

use crate::substrate::iommu::Iommu;
use crate::table::{PageOrders, PageTable, PagesError, Perm, PtError};

/// What a wrapper bug does at the [`PageTable`] boundary. Each method receives the wrapped
/// table and by default forwards the call unchanged.
pub trait Boundary: Default {
    /// [`PageTable::map_pages`] of the wrapped table (also what the wrapper's
    /// [`PageTable::map`] does, with one page).
    fn map_pages(
        &mut self,
        inner: &mut dyn PageTable,
        dfn: u64,
        mfn: u64,
        order: u32,
        count: u64,
        perm: Perm,
    ) -> Result<(), PagesError> {
        inner.map_pages(dfn, mfn, order, count, perm)
    }

    /// [`PageTable::unmap_pages`] of the wrapped table (also what the wrapper's
    /// [`PageTable::unmap`] does, with one page).
    fn unmap_pages(
        &mut self,
        inner: &mut dyn PageTable,
        dfn: u64,
        order: u32,
        count: u64,
    ) -> Result<(), PagesError> {
        inner.unmap_pages(dfn, order, count)
    }

    /// [`PageTable::notify_dfn`] of the wrapped table.
    fn notify_dfn(&mut self, inner: &mut dyn PageTable, dfn: u64) -> Result<(), PtError> {
        inner.notify_dfn(dfn)
    }

    /// [`PageTable::assign`] of the wrapped table.
    fn assign(&mut self, inner: &mut dyn PageTable, dev: u16) -> Result<(), PtError> {
        inner.assign(dev)
    }

    /// [`PageTable::deassign`] of the wrapped table.
    fn deassign(&mut self, inner: &mut dyn PageTable, dev: u16) -> Result<(), PtError> {
        inner.deassign(dev)
    }

    /// [`PageTable::teardown`] of the wrapped table.
    fn teardown(&mut self, inner: &mut dyn PageTable) -> Result<(), PtError> {
        inner.teardown()
    }
}

/// A table of any implementation with the operations of `B` changed. It reports the wrapped
/// table's name, so findings blame the implementation the bug was planted in.
pub struct Wrapper<B: Boundary> {
    inner: Box<dyn PageTable>,
    boundary: B,
}

impl<B: Boundary> Wrapper<B> {
    /// Wraps `inner`.
    pub fn new(inner: Box<dyn PageTable>) -> Wrapper<B> {
        Wrapper { inner, boundary: B::default() }
    }
}

impl<B: Boundary> PageTable for Wrapper<B> {
    fn name(&self) -> &str {
        self.inner.name()
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
        self.map_pages(dfn, mfn, order, 1, perm).map_err(|e| e.error)
    }

    fn unmap(&mut self, dfn: u64, order: u32) -> Result<(), PtError> {
        self.unmap_pages(dfn, order, 1).map_err(|e| e.error)
    }

    fn map_pages(
        &mut self,
        dfn: u64,
        mfn: u64,
        order: u32,
        count: u64,
        perm: Perm,
    ) -> Result<(), PagesError> {
        self.boundary.map_pages(self.inner.as_mut(), dfn, mfn, order, count, perm)
    }

    fn unmap_pages(&mut self, dfn: u64, order: u32, count: u64) -> Result<(), PagesError> {
        self.boundary.unmap_pages(self.inner.as_mut(), dfn, order, count)
    }

    fn notify_dfn(&mut self, dfn: u64) -> Result<(), PtError> {
        self.boundary.notify_dfn(self.inner.as_mut(), dfn)
    }

    fn lookup(&self, dfn: u64) -> Option<(u64, Perm)> {
        self.inner.lookup(dfn)
    }

    fn assign(&mut self, dev: u16) -> Result<(), PtError> {
        self.boundary.assign(self.inner.as_mut(), dev)
    }

    fn deassign(&mut self, dev: u16) -> Result<(), PtError> {
        self.boundary.deassign(self.inner.as_mut(), dev)
    }

    fn teardown(&mut self) -> Result<(), PtError> {
        self.boundary.teardown(self.inner.as_mut())
    }
}
