//! The sequential adapter: a [`StepTable`] as a [`PageTable`], each operation one task polled
//! to completion on a sequential [`Cx`] (no yielding), within a step budget. The runner, the
//! checks, the corpus and `run_tables` see an ordinary page table.

use super::cx::{Cx, DEFAULT_STEP_BUDGET};
use super::exec::poll_once;
use super::shared::Shared;
use super::step_table::{OpFuture, StepTable};
use crate::substrate::iommu::Iommu;
use crate::table::{PageOrders, PageTable, PagesError, Perm, PtError};
use std::any::Any;
use std::task::Poll;

/// The one type every step table takes as a page table when a harness must reach its steps
/// (the registry and the planted variants build it): see [`PageTable::as_any_mut`] and
/// [`Sequential::parts_mut`].
pub type StepPageTable = Sequential<Box<dyn StepTable>>;

/// A [`StepTable`] with its domain's shared state, driven one operation at a time.
#[derive(Debug)]
pub struct Sequential<T> {
    table: T,
    shared: Shared,
    budget: u64,
}

/// Polls the operation `op` on `cx` once: a sequential operation completes in that poll unless
/// it ran out of steps or waits for a lock it can never get.
fn finish<E: From<PtError>>(cx: &Cx<'_>, mut op: OpFuture<'_, E>) -> Result<(), E> {
    cx.begin_op(0);
    match poll_once(op.as_mut()) {
        Poll::Ready(result) => result,
        Poll::Pending => Err(match cx.position(0).blocked_on {
            _ if cx.over_budget().is_some() => {
                PtError::StepBudget { steps: u64::from(cx.position(0).access) }
            }
            Some(lock) => PtError::Deadlock { lock: lock.name() },
            None => PtError::StepBudget { steps: u64::from(cx.position(0).access) },
        }
        .into()),
    }
}

impl<T: StepTable> Sequential<T> {
    /// `table` over a fresh domain on `iommu`, its empty table built.
    pub fn new(table: T, iommu: Iommu) -> Result<Sequential<T>, PtError> {
        Sequential::with_budget(table, iommu, DEFAULT_STEP_BUDGET)
    }

    /// Like [`Sequential::new`] with `budget` steps per operation.
    pub fn with_budget(table: T, iommu: Iommu, budget: u64) -> Result<Sequential<T>, PtError> {
        let mut seq = Sequential { table, shared: Shared::new(iommu), budget };
        seq.drive(|t, cx| t.create(cx))?;
        Ok(seq)
    }

    /// The table.
    pub fn table(&self) -> &T {
        &self.table
    }

    /// The domain's shared state.
    pub fn shared(&self) -> &Shared {
        &self.shared
    }

    /// The table and its shared state, for a harness that drives the table's step machines
    /// itself (the concurrent runner).
    pub fn parts_mut(&mut self) -> (&T, &mut Shared) {
        (&self.table, &mut self.shared)
    }

    /// The same table behind a [`Box<dyn StepTable>`]: the [`StepPageTable`] a harness can
    /// find again through [`PageTable::as_any_mut`].
    pub fn boxed(self) -> StepPageTable
    where
        T: 'static,
    {
        Sequential { table: Box::new(self.table), shared: self.shared, budget: self.budget }
    }

    /// An operation's step budget: the configured one, plus 1,024 steps for every live table
    /// frame (an operation that walks every table, as teardown does, needs that many).
    fn op_budget(&self) -> u64 {
        let tables = self.shared.iommu.frames().live_count();
        self.budget.saturating_add(tables.saturating_mul(1024))
    }

    fn drive<E: From<PtError>>(
        &mut self,
        op: impl for<'a, 's> FnOnce(&'a T, &'a Cx<'s>) -> OpFuture<'a, E>,
    ) -> Result<(), E> {
        let budget = self.op_budget();
        let cx = Cx::new(&mut self.shared, 1, false, budget);
        let future = op(&self.table, &cx);
        finish(&cx, future)
    }
}

impl<T: StepTable + 'static> PageTable for Sequential<T> {
    fn name(&self) -> &str {
        self.table.name()
    }

    fn as_any_mut(&mut self) -> Option<&mut dyn Any> {
        Some(self)
    }

    fn iommu(&self) -> &Iommu {
        &self.shared.iommu
    }

    fn iommu_mut(&mut self) -> &mut Iommu {
        &mut self.shared.iommu
    }

    fn domain_id(&self) -> u16 {
        self.table.domain_id()
    }

    fn levels(&self) -> u8 {
        self.table.top(&self.shared).map_or(0, |t| t.levels)
    }

    fn max_levels(&self) -> u8 {
        self.table.max_levels()
    }

    fn root(&self) -> Option<u64> {
        self.table.top(&self.shared).map(|t| t.root)
    }

    fn map(&mut self, dfn: u64, mfn: u64, order: u32, perm: Perm) -> Result<(), PtError> {
        self.drive(|t, cx| t.map(cx, dfn, mfn, order, perm))
    }

    fn unmap(&mut self, dfn: u64, order: u32) -> Result<(), PtError> {
        self.drive(|t, cx| t.unmap(cx, dfn, order))
    }

    fn page_orders(&self) -> PageOrders {
        self.table.page_orders()
    }

    fn map_pages(
        &mut self,
        dfn: u64,
        mfn: u64,
        order: u32,
        count: u64,
        perm: Perm,
    ) -> Result<(), PagesError> {
        self.drive(|t, cx| t.map_pages(cx, dfn, mfn, order, count, perm))
    }

    fn unmap_pages(&mut self, dfn: u64, order: u32, count: u64) -> Result<(), PagesError> {
        self.drive(|t, cx| t.unmap_pages(cx, dfn, order, count))
    }

    fn notify_dfn(&mut self, dfn: u64) -> Result<(), PtError> {
        self.drive(|t, cx| t.notify_dfn(cx, dfn))
    }

    fn lookup(&self, dfn: u64) -> Option<(u64, Perm)> {
        self.table.lookup(&self.shared, dfn)
    }

    fn assign(&mut self, dev: u16) -> Result<(), PtError> {
        self.drive(|t, cx| t.assign(cx, dev))
    }

    fn deassign(&mut self, dev: u16) -> Result<(), PtError> {
        self.drive(|t, cx| t.deassign(cx, dev))
    }

    fn teardown(&mut self) -> Result<(), PtError> {
        self.drive(|t, cx| t.teardown(cx))
    }
}
