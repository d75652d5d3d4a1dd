//! The [`StepTable`] contract, implemented on the parts above: each operation an `async`
//! step machine over [`Cx`].

use super::entry::{self, Entry};
use super::geometry::{
    check_order, entry_order, index, leaf_level, low_mask, slot_spa, span, MFN_LIMIT,
};
use super::range::{Range, Write};
use super::{Dynamic, InMapGrowth, Seams};
use crate::step::{Cx, LockClass, LockingProfile, OpFuture, PagesFuture, Shared, StepTable, Top};
use crate::substrate::commands::{Command, ALL_PAGES_ORDER};
use crate::substrate::device_table::DteSetting;
use crate::substrate::iommu::IommuError;
use crate::table::{PageOrders, PagesError, Perm, PtError};
use crate::tables::Growth;

/// The result of an operation that ran under a lock, given the result of releasing it: an
/// error of the work comes before an error of the release.
fn released<E: From<PtError>>(
    result: Result<(), E>,
    release: Result<(), IommuError>,
) -> Result<(), E> {
    result?;
    Ok(release.map_err(PtError::from)?)
}

impl<S: Seams> Dynamic<S> {
    /// `map_pages`: growing in map, what a seam does before the lock (see
    /// [`InMapGrowth`]), then [`Dynamic::map_locked`] under the `Domain` lock.
    async fn map_op(
        &self,
        cx: &Cx<'_>,
        args: (u64, u64, u32, u64),
        perm: Perm,
    ) -> Result<(), PagesError> {
        let early = self.seams.in_map_growth();
        if self.config.growth == Growth::InMap && early != InMapGrowth::UnderLock {
            if let Ok(last) = self.map_checks(args, perm) {
                self.grow_before_lock(cx, early, last).await?;
            }
        }
        cx.lock(LockClass::Domain).await;
        let result = self.map_locked(cx, args, perm).await;
        released(result, cx.unlock(LockClass::Domain).await)
    }

    /// A seam's growth before the map takes the `Domain` lock, for a map whose last DFN is
    /// `last`: [`InMapGrowth::NoLock`] tests the need and grows with no lock;
    /// [`InMapGrowth::TestOutsideLock`] tests the need with no lock and, while it holds, grows
    /// one level under the lock without testing again (Linux's loop around
    /// `increase_address_space` before its 2019 race fix).
    async fn grow_before_lock(
        &self,
        cx: &Cx<'_>,
        early: InMapGrowth,
        last: u64,
    ) -> Result<(), PtError> {
        while let Ok(top) = self.read_top(cx).await {
            if last < span(top.levels) {
                break;
            }
            if early == InMapGrowth::NoLock {
                return self.grow_to_cover(cx, last).await;
            }
            cx.lock(LockClass::Domain).await;
            let grown = self.grow_one_level(cx, last).await.map(|_| ());
            released(grown, cx.unlock(LockClass::Domain).await)?;
        }
        Ok(())
    }

    /// `unmap_pages`: the top read before the lock if a seam says so, then
    /// [`Dynamic::unmap_locked`] under the `Domain` lock.
    async fn unmap_op(
        &self,
        cx: &Cx<'_>,
        dfn: u64,
        order: u32,
        count: u64,
    ) -> Result<(), PagesError> {
        let early = match self.seams.unmap_reads_top_unlocked() {
            true => Some(self.read_top(cx).await),
            false => None,
        };
        cx.lock(LockClass::Domain).await;
        let result = self.unmap_locked(cx, early, (dfn, order, count)).await;
        released(result, cx.unlock(LockClass::Domain).await)
    }

    /// `map_pages` under the lock: checks in the contract's order, growth (growing in map, when
    /// the top read under the lock is too short), then one descent over the range writing its
    /// leaves (allocating and shattering on the way), one flush if anything present changed,
    /// and the replaced subtrees freed.
    async fn map_locked(
        &self,
        cx: &Cx<'_>,
        (dfn, mfn, order, count): (u64, u64, u32, u64),
        perm: Perm,
    ) -> Result<(), PagesError> {
        let mut top = self.read_top(cx).await?;
        let last = self.map_checks((dfn, mfn, order, count), perm)?;
        let in_map = self.config.growth == Growth::InMap;
        if in_map
            && last >= span(top.levels)
            && self.seams.in_map_growth() != InMapGrowth::TestOutsideLock
        {
            // Linux `increase_address_space`, correct: the need is tested on the top read
            // under the domain lock (and growth re-reads it), the DTEs are rewritten before
            // the top is published, and the top is one cell.
            self.grow_to_cover(cx, last).await?;
            top = self.read_top(cx).await?;
        }
        if last >= span(top.levels) {
            return Err(PtError::BeyondHeight { dfn: last, levels: top.levels }.into());
        }
        let level = leaf_level(order, top.levels);
        let write = Write::Map { mfn, perm, level };
        self.apply_range(cx, top, Range::new(dfn, last, order, write)).await
    }

    /// The argument checks of `map_pages`, in the contract's order, up to the maximum height;
    /// the range's last DFN.
    fn map_checks(
        &self,
        (dfn, mfn, order, count): (u64, u64, u32, u64),
        perm: Perm,
    ) -> Result<u64, PtError> {
        check_order(order, self.orders())?;
        if perm.is_empty() {
            return Err(PtError::NoPermission);
        }
        if count == 0 {
            return Err(PtError::EmptyRange);
        }
        let mask = low_mask(order);
        if dfn & mask != 0 || mfn & mask != 0 {
            return Err(PtError::Misaligned { dfn, mfn, order });
        }
        let frames = count.saturating_mul(1 << order);
        if mfn.checked_add(frames).is_none_or(|end| end > MFN_LIMIT) {
            return Err(PtError::MfnTooLarge { mfn, order });
        }
        let last = dfn.saturating_add(frames - 1);
        let max_levels = self.config.max_levels;
        if last >= span(max_levels) {
            return Err(PtError::OutOfRange { dfn: last, max_levels });
        }
        Ok(last)
    }

    /// `unmap_pages` under the lock: argument checks, then the part within the current height
    /// (none: a no-op, never grows) in one descent that links no table for a hole (nothing
    /// is mapped there), shatters a superpage covered only in part and clears the covered
    /// entries, freeing subtrees wholly unmapped. Tables that merely become empty stay (Xen
    /// 4.13).
    async fn unmap_locked(
        &self,
        cx: &Cx<'_>,
        early: Option<Result<Top, PtError>>,
        (dfn, order, count): (u64, u32, u64),
    ) -> Result<(), PagesError> {
        let top = match early {
            Some(top) => top?,
            None => self.read_top(cx).await?,
        };
        check_order(order, self.orders())?;
        if count == 0 {
            return Err(PtError::EmptyRange.into());
        }
        if dfn & low_mask(order) != 0 {
            return Err(PtError::Misaligned { dfn, mfn: 0, order }.into());
        }
        let table_span = span(top.levels);
        if dfn >= table_span {
            return Ok(());
        }
        let frames = count.saturating_mul(1 << order);
        let last = dfn.saturating_add(frames - 1).min(table_span - 1);
        self.apply_range(cx, top, Range::new(dfn, last, order, Write::Unmap)).await
    }

    /// Whether assign and deassign take the `Domain` lock: growing in map with Linux's locks.
    fn devices_under_domain_lock(&self) -> bool {
        self.config.growth == Growth::InMap && !self.seams.xen_device_locks()
    }

    /// Growing in map, takes the `Domain` lock (Linux's attach and detach hold it); else
    /// nothing (Xen's assign runs under the caller's devices lock alone).
    async fn lock_in_map(&self, cx: &Cx<'_>) {
        if self.devices_under_domain_lock() {
            cx.lock(LockClass::Domain).await;
        }
    }

    /// Releases what [`Dynamic::lock_in_map`] took; `result`, unless releasing failed.
    async fn unlock_in_map(&self, cx: &Cx<'_>, result: Result<(), PtError>) -> Result<(), PtError> {
        if self.devices_under_domain_lock() {
            return released(result, cx.unlock(LockClass::Domain).await);
        }
        result
    }

    /// Assign's work: reads the top in one step, writes the DTE and invalidates it, waits,
    /// then adds `dev` to the device list.
    async fn assign_locked(&self, cx: &Cx<'_>, dev: u16) -> Result<(), PtError> {
        let top = self.read_top(cx).await?;
        Self::check_device(dev)?;
        if cx.devices().await.contains(dev) {
            return Err(PtError::AlreadyAssigned { dev });
        }
        self.program_dte(cx, dev, self.translate_setting(top)).await?;
        cx.issue(Command::CompletionWait).await;
        cx.set_device(dev, true).await;
        Ok(())
    }

    /// Deassign's work: blocks `dev`'s DTE, waits, then removes `dev` from the device list.
    async fn deassign_locked(&self, cx: &Cx<'_>, dev: u16) -> Result<(), PtError> {
        self.read_top(cx).await?;
        Self::check_device(dev)?;
        if !cx.devices().await.contains(dev) {
            return Err(PtError::NotAssigned { dev });
        }
        if self.seams.invalidate_blocked_dte() {
            self.program_dte(cx, dev, DteSetting::Blocked).await?;
        } else {
            cx.set_dte(dev, DteSetting::Blocked).await?;
        }
        cx.issue(Command::CompletionWait).await;
        cx.set_device(dev, false).await;
        Ok(())
    }
}

impl<S: Seams> StepTable for Dynamic<S> {
    fn name(&self) -> &str {
        "dynamic"
    }

    fn domain_id(&self) -> u16 {
        self.config.domain
    }

    fn max_levels(&self) -> u8 {
        self.config.max_levels
    }

    /// Xen 2019 with `notify_dfn` ([`LockingProfile::XEN_NOTIFY`]); growing inside map,
    /// Linux 2020 ([`LockingProfile::LINUX_IN_MAP`]).
    fn locking(&self) -> LockingProfile {
        match self.config.growth {
            Growth::Notify => LockingProfile::XEN_NOTIFY,
            Growth::InMap if self.seams.xen_device_locks() => LockingProfile::XEN_GROW_IN_MAP,
            Growth::InMap => LockingProfile::LINUX_IN_MAP,
        }
    }

    fn top(&self, shared: &Shared) -> Option<Top> {
        self.top_of(shared)
    }

    /// Allocates the empty root of `initial_levels` levels and publishes it.
    fn create<'a, 's: 'a>(&'a self, cx: &'a Cx<'s>) -> OpFuture<'a> {
        Box::pin(async move {
            let root = cx.alloc_table(self.domain()).await?;
            self.write_top(cx, Some(Top { root, levels: self.config.initial_levels })).await;
            Ok(())
        })
    }

    fn map<'a, 's: 'a>(
        &'a self,
        cx: &'a Cx<'s>,
        dfn: u64,
        mfn: u64,
        order: u32,
        perm: Perm,
    ) -> OpFuture<'a> {
        Box::pin(
            async move { self.map_op(cx, (dfn, mfn, order, 1), perm).await.map_err(|e| e.error) },
        )
    }

    fn unmap<'a, 's: 'a>(&'a self, cx: &'a Cx<'s>, dfn: u64, order: u32) -> OpFuture<'a> {
        Box::pin(async move { self.unmap_op(cx, dfn, order, 1).await.map_err(|e| e.error) })
    }

    /// 4 KiB, 2 MiB and 1 GiB; with `all_page_sizes`, every size AMD-Vi v1 encodes.
    fn page_orders(&self) -> PageOrders {
        self.orders()
    }

    fn map_pages<'a, 's: 'a>(
        &'a self,
        cx: &'a Cx<'s>,
        dfn: u64,
        mfn: u64,
        order: u32,
        count: u64,
        perm: Perm,
    ) -> PagesFuture<'a> {
        Box::pin(async move { self.map_op(cx, (dfn, mfn, order, count), perm).await })
    }

    fn unmap_pages<'a, 's: 'a>(
        &'a self,
        cx: &'a Cx<'s>,
        dfn: u64,
        order: u32,
        count: u64,
    ) -> PagesFuture<'a> {
        Box::pin(async move { self.unmap_op(cx, dfn, order, count).await })
    }

    /// [`PtError::OutOfRange`] beyond the span of the maximum height; otherwise grows to the
    /// smallest height covering `dfn` (never shrinks, no growth when already covered).
    fn notify_dfn<'a, 's: 'a>(&'a self, cx: &'a Cx<'s>, dfn: u64) -> OpFuture<'a> {
        Box::pin(async move {
            cx.lock(LockClass::Domain).await;
            let result = self.grow_to_cover(cx, dfn).await;
            released(result, cx.unlock(LockClass::Domain).await)
        })
    }

    /// Joins `dev` (the caller holds the `Devices` lock; growing in map, it also takes the
    /// `Domain` lock, as Linux's attach does): reads the top in one step, writes the DTE and
    /// invalidates it, waits, then adds `dev` to the device list.
    fn assign<'a, 's: 'a>(&'a self, cx: &'a Cx<'s>, dev: u16) -> OpFuture<'a> {
        Box::pin(async move {
            self.lock_in_map(cx).await;
            let result = self.assign_locked(cx, dev).await;
            self.unlock_in_map(cx, result).await
        })
    }

    /// Blocks `dev`'s DTE (the caller holds the `Devices` lock; growing in map, it also takes
    /// the `Domain` lock), waits, then removes `dev` from the device list.
    fn deassign<'a, 's: 'a>(&'a self, cx: &'a Cx<'s>, dev: u16) -> OpFuture<'a> {
        Box::pin(async move {
            self.lock_in_map(cx).await;
            let result = self.deassign_locked(cx, dev).await;
            self.unlock_in_map(cx, result).await
        })
    }

    /// Empties the device list and blocks every device on it, flushes the domain's pages,
    /// clears the top, then frees every table.
    fn teardown<'a, 's: 'a>(&'a self, cx: &'a Cx<'s>) -> OpFuture<'a> {
        Box::pin(async move {
            let top = self.read_top(cx).await?;
            let devices = cx.devices().await;
            for dev in devices.iter() {
                cx.set_device(dev, false).await;
            }
            for dev in devices.iter() {
                self.program_dte(cx, dev, DteSetting::Blocked).await?;
            }
            cx.issue(Command::CompletionWait).await;
            self.flush(cx, 0, ALL_PAGES_ORDER).await;
            self.write_top(cx, None).await;
            self.free_subtree(cx, top.root, top.levels).await
        })
    }

    /// Walks the table in memory for `dfn`: the exact frame and the leaf's permissions.
    fn lookup(&self, shared: &Shared, dfn: u64) -> Option<(u64, Perm)> {
        let top = self.top_of(shared)?;
        if dfn >= span(top.levels) {
            return None;
        }
        let mut table = top.root;
        let mut level = top.levels;
        loop {
            let raw = shared.iommu.read_entry(slot_spa(table, index(dfn, level))).ok()?;
            match entry::decode(raw, level) {
                Entry::Empty => return None,
                Entry::Pte { mfn, perm } => {
                    return Some((mfn.checked_add(dfn & low_mask(entry_order(level)))?, perm));
                }
                Entry::Sized { mfn, order, perm } => {
                    return Some((mfn.checked_add(dfn & low_mask(order))?, perm));
                }
                Entry::Pde { table: next } => {
                    table = next;
                    level -= 1;
                }
            }
        }
    }
}
