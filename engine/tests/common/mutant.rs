//! A test mutant: a table that forwards every call to the table it wraps, except what its
//! [`Misbehaviour`] changes. Tests that prove a check can fire state only the broken rule.

use ptdiff::{Iommu, PageTable, Perm, PtError};

/// What a mutant changes; every method defaults to the wrapped table's own. Ranges
/// (`map_pages`, `unmap_pages`) go page by page through these, as the trait's defaults do.
pub trait Misbehaviour {
    fn map(
        &self,
        inner: &mut dyn PageTable,
        dfn: u64,
        mfn: u64,
        order: u32,
        perm: Perm,
    ) -> Result<(), PtError> {
        inner.map(dfn, mfn, order, perm)
    }
    fn unmap(&self, inner: &mut dyn PageTable, dfn: u64, order: u32) -> Result<(), PtError> {
        inner.unmap(dfn, order)
    }
    fn lookup(&self, inner: &dyn PageTable, dfn: u64) -> Option<(u64, Perm)> {
        inner.lookup(dfn)
    }
    fn teardown(&self, inner: &mut dyn PageTable) -> Result<(), PtError> {
        inner.teardown()
    }
}

/// `inner` under the name `name`, misbehaving as `misbehaviour` says.
pub struct Mutant<M> {
    pub name: &'static str,
    pub inner: Box<dyn PageTable>,
    pub misbehaviour: M,
}

impl<M: Misbehaviour + 'static> Mutant<M> {
    /// The mutant as a table for `ptdiff::run_tables`.
    pub fn boxed(
        name: &'static str,
        inner: Box<dyn PageTable>,
        misbehaviour: M,
    ) -> Box<dyn PageTable> {
        Box::new(Mutant { name, inner, misbehaviour })
    }
}

impl<M: Misbehaviour> PageTable for Mutant<M> {
    fn name(&self) -> &str {
        self.name
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
        self.misbehaviour.map(self.inner.as_mut(), dfn, mfn, order, perm)
    }
    fn unmap(&mut self, dfn: u64, order: u32) -> Result<(), PtError> {
        self.misbehaviour.unmap(self.inner.as_mut(), dfn, order)
    }
    fn notify_dfn(&mut self, dfn: u64) -> Result<(), PtError> {
        self.inner.notify_dfn(dfn)
    }
    fn lookup(&self, dfn: u64) -> Option<(u64, Perm)> {
        self.misbehaviour.lookup(self.inner.as_ref(), dfn)
    }
    fn assign(&mut self, dev: u16) -> Result<(), PtError> {
        self.inner.assign(dev)
    }
    fn deassign(&mut self, dev: u16) -> Result<(), PtError> {
        self.inner.deassign(dev)
    }
    fn teardown(&mut self) -> Result<(), PtError> {
        self.misbehaviour.teardown(self.inner.as_mut())
    }
}
