//! The [`StepTable`] contract, implemented on the parts above: the top read once per
//! operation, map, unmap, notify and teardown under the `Domain` lock.

use super::entry::Entry;
use super::geometry::{leaf_level, DFN_LIMIT, LEVELS};
use super::install::{translate, Install};
use super::{Fixed, Seams};
use crate::step::{Cx, LockClass, LockingProfile, OpFuture, PagesFuture, Shared, StepTable, Top};
use crate::substrate::commands::{Command, ALL_PAGES_ORDER};
use crate::substrate::device_table::{DteSetting, DEVICE_TABLE_ENTRIES};
use crate::table::{PagesError, Perm, PtError};

/// Releases the `Domain` lock taken for an operation that ended with `result`; the result,
/// unless releasing failed.
async fn unlock_domain<E: From<PtError>>(cx: &Cx<'_>, result: Result<(), E>) -> Result<(), E> {
    let released = cx.unlock(LockClass::Domain).await;
    result?;
    Ok(released.map_err(PtError::from)?)
}

impl<S: Seams> Fixed<S> {
    /// The root, read from the top cell (one step), or [`PtError::TornDown`].
    async fn live_root(&self, cx: &Cx<'_>) -> Result<u64, PtError> {
        cx.top().await.map(|top| top.root).ok_or(PtError::TornDown)
    }

    /// [`StepTable::map_pages`] with the `Domain` lock held.
    async fn map_locked(
        &self,
        cx: &Cx<'_>,
        dfn: u64,
        mfn: u64,
        order: u32,
        count: u64,
        perm: Perm,
    ) -> Result<(), PagesError> {
        let root = self.live_root(cx).await?;
        let last = Self::check_map(dfn, mfn, order, count, perm)?;
        let leaf = Entry::Pte { mfn, perm };
        let install = Install { first: dfn, last, order, level: leaf_level(order), entry: leaf };
        self.apply(cx, root, install).await
    }

    /// [`StepTable::unmap_pages`] with the `Domain` lock held.
    async fn unmap_locked(
        &self,
        cx: &Cx<'_>,
        dfn: u64,
        order: u32,
        count: u64,
    ) -> Result<(), PagesError> {
        let root = self.live_root(cx).await?;
        Self::check_order(order)?;
        Self::check_count(count)?;
        Self::check_aligned(dfn, 0, order)?;
        if dfn >= DFN_LIMIT {
            return Ok(());
        }
        let last = dfn.saturating_add(Self::frames(order, count) - 1).min(DFN_LIMIT - 1);
        let clear =
            Install { first: dfn, last, order, level: leaf_level(order), entry: Entry::Empty };
        self.apply(cx, root, clear).await
    }

    /// [`StepTable::teardown`] with the `Domain` lock held.
    async fn teardown_locked(&self, cx: &Cx<'_>) -> Result<(), PtError> {
        let root = self.live_root(cx).await?;
        cx.set_top(None).await;
        let devices = cx.devices().await;
        for dev in devices.iter() {
            cx.set_device(dev, false).await;
        }
        for dev in devices.iter() {
            self.program_dte(cx, dev, DteSetting::Blocked).await?;
        }
        let all =
            Command::InvalidateIommuPages { domain: self.domain, dfn: 0, order: ALL_PAGES_ORDER };
        cx.issue(all).await;
        cx.issue(Command::CompletionWait).await;
        self.free_subtree(cx, root, LEVELS).await
    }
}

impl<S: Seams> StepTable for Fixed<S> {
    fn name(&self) -> &str {
        "fixed"
    }

    fn domain_id(&self) -> u16 {
        self.domain
    }

    /// Xen 4.13 and later ([`LockingProfile::XEN_FIXED`]).
    fn locking(&self) -> LockingProfile {
        LockingProfile::XEN_FIXED
    }

    /// Always 4: the table never grows.
    fn max_levels(&self) -> u8 {
        LEVELS
    }

    /// Allocates the empty level-4 root and publishes it as the top.
    fn create<'a, 's: 'a>(&'a self, cx: &'a Cx<'s>) -> OpFuture<'a> {
        Box::pin(async move {
            let root = cx.alloc_table(self.domain).await?;
            cx.set_top(Some(Top { root, levels: LEVELS })).await;
            Ok(())
        })
    }

    /// [`StepTable::map_pages`] of one page.
    fn map<'a, 's: 'a>(
        &'a self,
        cx: &'a Cx<'s>,
        dfn: u64,
        mfn: u64,
        order: u32,
        perm: Perm,
    ) -> OpFuture<'a> {
        Box::pin(async move {
            cx.lock(LockClass::Domain).await;
            let mapped = self.map_locked(cx, dfn, mfn, order, 1, perm).await;
            unlock_domain(cx, mapped.map_err(|e| e.error)).await
        })
    }

    /// [`StepTable::unmap_pages`] of one page.
    fn unmap<'a, 's: 'a>(&'a self, cx: &'a Cx<'s>, dfn: u64, order: u32) -> OpFuture<'a> {
        Box::pin(async move {
            cx.lock(LockClass::Domain).await;
            let unmapped = self.unmap_locked(cx, dfn, order, 1).await;
            unlock_domain(cx, unmapped.map_err(|e| e.error)).await
        })
    }

    /// Maps the range in one descent, writing one leaf of `order` per page (splitting a
    /// superpage a page lands in, replacing and freeing a table a page lands on), then
    /// invalidates the range if something present was replaced. A failed allocation drops
    /// the table it was for with its part of the range; the pages before it stay.
    fn map_pages<'a, 's: 'a>(
        &'a self,
        cx: &'a Cx<'s>,
        dfn: u64,
        mfn: u64,
        order: u32,
        count: u64,
        perm: Perm,
    ) -> PagesFuture<'a> {
        Box::pin(async move {
            cx.lock(LockClass::Domain).await;
            let mapped = self.map_locked(cx, dfn, mfn, order, count, perm).await;
            unlock_domain(cx, mapped).await
        })
    }

    /// Unmaps the range in one descent, splitting a superpage that it covers only partly
    /// (the only allocation) and freeing tables left empty. What lies beyond 2^36 DFNs is
    /// not mapped: a successful no-op.
    fn unmap_pages<'a, 's: 'a>(
        &'a self,
        cx: &'a Cx<'s>,
        dfn: u64,
        order: u32,
        count: u64,
    ) -> PagesFuture<'a> {
        Box::pin(async move {
            cx.lock(LockClass::Domain).await;
            let unmapped = self.unmap_locked(cx, dfn, order, count).await;
            unlock_domain(cx, unmapped).await
        })
    }

    /// The fixed table never grows: only checks that `dfn` is within the 4-level span.
    fn notify_dfn<'a, 's: 'a>(&'a self, cx: &'a Cx<'s>, dfn: u64) -> OpFuture<'a> {
        Box::pin(async move {
            cx.lock(LockClass::Domain).await;
            let checked = match self.live_root(cx).await {
                Ok(_) if dfn >= DFN_LIMIT => Err(PtError::OutOfRange { dfn, max_levels: LEVELS }),
                other => other.map(|_| ()),
            };
            unlock_domain(cx, checked).await
        })
    }

    /// Points `dev`'s DTE at the root with mode 4 (checks: torn down, device exists, not
    /// already assigned), then joins the device list. Called with the `Devices` lock held.
    fn assign<'a, 's: 'a>(&'a self, cx: &'a Cx<'s>, dev: u16) -> OpFuture<'a> {
        Box::pin(async move {
            let root = self.live_root(cx).await?;
            if u32::from(dev) >= DEVICE_TABLE_ENTRIES {
                return Err(PtError::NoSuchDevice { dev });
            }
            if cx.devices().await.contains(dev) {
                return Err(PtError::AlreadyAssigned { dev });
            }
            let setting =
                DteSetting::Translate { domain: self.domain, root, levels: self.dte_levels() };
            self.program_dte(cx, dev, setting).await?;
            cx.issue(Command::CompletionWait).await;
            cx.set_device(dev, true).await;
            Ok(())
        })
    }

    /// Leaves the device list, then blocks `dev`'s DTE (checks: torn down, device exists,
    /// assigned). Called with the `Devices` lock held.
    fn deassign<'a, 's: 'a>(&'a self, cx: &'a Cx<'s>, dev: u16) -> OpFuture<'a> {
        Box::pin(async move {
            self.live_root(cx).await?;
            if u32::from(dev) >= DEVICE_TABLE_ENTRIES {
                return Err(PtError::NoSuchDevice { dev });
            }
            if !cx.devices().await.contains(dev) {
                return Err(PtError::NotAssigned { dev });
            }
            cx.set_device(dev, false).await;
            if !self.seams.block_on_deassign() {
                return Ok(());
            }
            self.program_dte(cx, dev, DteSetting::Blocked).await?;
            cx.issue(Command::CompletionWait).await;
            Ok(())
        })
    }

    /// Sets the top to `None`, empties the device list and blocks every device that was in
    /// it, invalidates the whole domain, then frees every table; under the `Domain` lock.
    fn teardown<'a, 's: 'a>(&'a self, cx: &'a Cx<'s>) -> OpFuture<'a> {
        Box::pin(async move {
            cx.lock(LockClass::Domain).await;
            let torn_down = self.teardown_locked(cx).await;
            unlock_domain(cx, torn_down).await
        })
    }

    fn lookup(&self, shared: &Shared, dfn: u64) -> Option<(u64, Perm)> {
        let root = shared.top?.root;
        if dfn >= DFN_LIMIT {
            return None;
        }
        translate(&shared.iommu, root, LEVELS, dfn)
    }
}
