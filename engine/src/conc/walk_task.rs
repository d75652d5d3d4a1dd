//! A hardware walk as a task (`../shared/CONCURRENCY.md` section 5.3): it reads one entry per
//! step through [`Cx`], so other tasks can store between two of its reads, and it gets its
//! result by replaying the trusted oracle walk ([`ptdiff_reference::walk()`]) over the values it
//! read. The oracle itself stays untouched and synchronous.
//!
//! The DTE is read in one wide step (hardware reads it in wide chunks; reading it qword by
//! qword would flag legal 128-bit DTE updates as torn). A walk makes at most a DTE read and one
//! read per level, so it replays the oracle at most eight times.
//!
//! A walk does not outlive an invalidation that covers it: when, after its DTE read, an
//! INVALIDATE_DEVTAB_ENTRY of its device, or an INVALIDATE_IOMMU_PAGES of its DTE's domain
//! covering a page under the root entry it walks through, is issued and then a
//! COMPLETION_WAIT, it starts again from the DTE. Hardware finishes or drops the translations
//! that use the DTE, or any cached page-directory entry on the invalidated pages' paths (the
//! root entry is on all of them), before the invalidation completes, so software may then reuse
//! what the walk was reading: a walk that went on would translate through tables its device no
//! longer uses, or through freed tables.

use crate::step::Cx;
use crate::substrate::commands::{Command, ALL_PAGES_ORDER};
use crate::substrate::device_table::DEVICE_TABLE_SPA;
use ptdiff_reference::{walk, DeviceTable, Fault, Perm, PhysMem, Translation, WalkConfig};
use std::cell::Cell;

/// Memory as the walk has read it so far: a read of anything else is remembered as the next
/// address to fetch, and fails.
struct Replay<'a> {
    reads: &'a [(u64, Option<u64>)],
    missing: Cell<Option<u64>>,
}

impl PhysMem for Replay<'_> {
    fn read_u64(&self, spa: u64) -> Option<u64> {
        match self.reads.iter().find(|(at, _)| *at == spa) {
            Some(&(_, value)) => value,
            None => {
                if self.missing.get().is_none() {
                    self.missing.set(Some(spa));
                }
                None
            }
        }
    }
}

/// Most replays of one walk (a safety bound: a DTE and six levels need eight).
const MAX_REPLAYS: usize = 16;

/// Device `dev`'s DMA to `iova` needing `access`, walked one read per step.
pub async fn stepwise_walk(
    cx: &Cx<'_>,
    cfg: &WalkConfig,
    devtab: &DeviceTable,
    dev: u16,
    iova: u64,
    access: Perm,
) -> Result<Translation, Fault> {
    let mut reads: Vec<(u64, Option<u64>)> = Vec::with_capacity(10);
    let mut dte_read_at: Option<Covered> = None;
    let mut replays = 0;
    while replays < MAX_REPLAYS {
        replays += 1;
        let replay = Replay { reads: &reads, missing: Cell::new(None) };
        let result = walk(&replay, cfg, devtab, dev, iova, access);
        let Some(spa) = replay.missing.get() else { return result };
        let dte = devtab.base == DEVICE_TABLE_SPA
            && spa >= devtab.base
            && spa - devtab.base < 32 * u64::from(devtab.entries);
        if dte {
            let first = spa & !31;
            let mut q = [0u64; 4];
            let ok = cx.read_wide(first, &mut q).await.is_ok();
            for (i, v) in q.iter().enumerate() {
                reads.push((first + 8 * i as u64, ok.then_some(*v)));
            }
            // DomainID: DTE bits 79:64; the root entry covers 2^(9 (mode - 1)) pages (mode:
            // DTE bits 11:9).
            let domain = ok.then_some((q[1] & 0xffff) as u16);
            let root_entry_order = 9 * (((q[0] >> 9) & 7).clamp(1, 6) as u32 - 1);
            let since = cx.with_shared(|s| s.iommu.commands().len());
            dte_read_at = Some(Covered { since, domain, dfn: iova >> 12, root_entry_order });
        } else {
            let value = cx.read(spa).await.ok();
            reads.push((spa, value));
            if dte_read_at.is_some_and(|c| c.invalidated(cx, dev)) {
                reads.clear();
                dte_read_at = None;
                replays = 0;
            }
        }
    }
    let replay = Replay { reads: &reads, missing: Cell::new(None) };
    walk(&replay, cfg, devtab, dev, iova, access)
}

/// What a walk has read that an invalidation can cover.
#[derive(Clone, Copy)]
struct Covered {
    /// The command log's length when the DTE was read.
    since: usize,
    /// The DTE's domain (`None` when the DTE read failed).
    domain: Option<u16>,
    /// The page walked, and the order of the block its root entry covers.
    dfn: u64,
    root_entry_order: u32,
}

impl Covered {
    /// Whether commands issued since the DTE read invalidate `dev`'s DTE, or pages of the
    /// domain under the walk's root entry, and then complete.
    fn invalidated(self, cx: &Cx<'_>, dev: u16) -> bool {
        let covers = |c: &Command| match *c {
            Command::InvalidateDevtabEntry { dev: d } => d == dev,
            Command::InvalidateIommuPages { domain, dfn, order } => {
                let span = order.max(self.root_entry_order);
                Some(domain) == self.domain
                    && (order >= ALL_PAGES_ORDER || (dfn ^ self.dfn).checked_shr(span) == Some(0))
            }
            Command::CompletionWait => false,
        };
        cx.with_shared(|s| {
            let new = s.iommu.commands().commands().get(self.since..).unwrap_or_default();
            new.iter().position(covers).is_some_and(|i| new[i..].contains(&Command::CompletionWait))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::step::exec::{poll_once, run, SwitchEveryStep, TaskFuture};
    use crate::step::DEFAULT_STEP_BUDGET;
    use crate::step::{Access, LockSet, Shared, StepObserver, TaskId};
    use crate::substrate::device_table::DteSetting;
    use crate::substrate::iommu::Iommu;

    /// Counts the walker's steps.
    #[derive(Default)]
    struct Count(Vec<(TaskId, Access)>);
    impl StepObserver for Count {
        fn after(&mut self, task: TaskId, access: &Access, _: LockSet, _: &Shared) {
            self.0.push((task, *access));
        }
    }

    /// A two-level table mapping dfn 0x3 to mfn 0x77 for device 1.
    fn shared() -> (Shared, u64, u64) {
        let mut iommu = Iommu::new();
        let root = iommu.alloc_table(1).unwrap();
        let l1 = iommu.alloc_table(1).unwrap();
        iommu.write_entry(root, l1 | (1 << 9) | (3 << 61) | 1).unwrap();
        iommu.write_entry(l1 + 3 * 8, (0x77 << 12) | (3 << 61) | 1).unwrap();
        iommu.set_dte(1, DteSetting::Translate { domain: 1, root, levels: 2 }).unwrap();
        (Shared::new(iommu), root, l1)
    }

    #[test]
    fn a_walk_reads_one_entry_per_step_and_agrees_with_the_oracle() {
        let (mut shared, root, l1) = shared();
        let devtab = shared.iommu.device_table();
        let expected =
            walk(shared.iommu.memory(), &WalkConfig::default(), &devtab, 1, 0x3000, Perm::R);
        let mut seen = Count::default();
        let cfg = WalkConfig::default();
        let cx = Cx::new(&mut shared, 1, false, DEFAULT_STEP_BUDGET);
        cx.observe(&mut seen);
        let mut fut = Box::pin(stepwise_walk(&cx, &cfg, &devtab, 1, 0x3000, Perm::R));
        let result = match poll_once(fut.as_mut()) {
            std::task::Poll::Ready(r) => r,
            std::task::Poll::Pending => panic!("a sequential walk completes in one poll"),
        };
        drop(fut);
        drop(cx);
        assert_eq!(result, expected);
        assert_eq!(result.map(|t| t.spa), Ok(0x77000));
        let accesses: Vec<Access> = seen.0.iter().map(|&(_, a)| a).collect();
        assert_eq!(
            accesses,
            vec![
                Access::LoadWide { spa: DEVICE_TABLE_SPA + 32, qwords: 4 },
                Access::Load { spa: root },
                Access::Load { spa: l1 + 24 },
            ]
        );
    }

    #[test]
    fn a_store_between_two_reads_is_seen_by_the_rest_of_the_walk() {
        let (mut shared, _, l1) = shared();
        let devtab = shared.iommu.device_table();
        let cx = Cx::new(&mut shared, 2, true, DEFAULT_STEP_BUDGET);
        let result = std::cell::Cell::new(None);
        let (c, r) = (&cx, &result);
        let tasks: Vec<TaskFuture<'_>> = vec![
            Box::pin(async move {
                c.begin_op(0);
                let t = stepwise_walk(c, &WalkConfig::default(), &devtab, 1, 0x3000, Perm::R).await;
                r.set(Some(t));
            }),
            Box::pin(async move {
                c.begin_op(1);
                // Switching every step: the walk has read the DTE and the root before this
                // store lands, and reads the new leaf after it.
                let _ = c.write(l1 + 24, (0x99 << 12) | (3 << 61) | 1).await;
            }),
        ];
        run(&cx, tasks, &mut SwitchEveryStep, 100);
        assert_eq!(result.get().map(|t| t.map(|t| t.spa)), Some(Ok(0x99000)));
    }
}
