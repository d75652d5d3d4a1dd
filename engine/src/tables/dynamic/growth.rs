//! Growth (`update_paging_mode`): a chain of new roots built off-line, then published.

use super::geometry::levels_to_cover;
use super::{entry, Dynamic, Seams, Top};
use crate::step::{Cx, LockClass};
use crate::substrate::commands::{Command, ALL_PAGES_ORDER};
use crate::table::PtError;

impl<S: Seams> Dynamic<S> {
    /// Grows the table, if needed, so that its span covers `dfn` (the `notify_dfn` hook; the
    /// caller holds the `Domain` lock). Grows in rounds, each building a chain of new roots
    /// and publishing it, re-reading the top after each round until the table is as high as
    /// the target (one round, unless a seam says otherwise).
    pub(super) async fn grow_to_cover(&self, cx: &Cx<'_>, dfn: u64) -> Result<(), PtError> {
        let mut top = self.read_top(cx).await?;
        let max_levels = self.config.max_levels;
        let needed = levels_to_cover(dfn)
            .filter(|&levels| levels <= max_levels)
            .ok_or(PtError::OutOfRange { dfn, max_levels })?;
        let target = self.seams.growth_target(top.levels, needed, max_levels)?;
        while top.levels < target {
            let round = self.seams.growth_round(top.levels, target, max_levels);
            if round > top.levels {
                let grown = self.build_chain(cx, top, round).await?;
                self.publish(cx, grown).await?;
            }
            top = self.read_top(cx).await?;
        }
        Ok(())
    }

    /// Grows the table by one level, without testing whether `dfn` needs it (a seam's growth:
    /// the need was tested before the caller took the lock); returns the new top.
    /// [`PtError::OutOfRange`] when the table is already at its maximum height.
    pub(super) async fn grow_one_level(&self, cx: &Cx<'_>, dfn: u64) -> Result<Top, PtError> {
        let top = self.read_top(cx).await?;
        let max_levels = self.config.max_levels;
        if top.levels >= max_levels {
            return Err(PtError::OutOfRange { dfn, max_levels });
        }
        let grown = self.build_chain(cx, top, top.levels + 1).await?;
        self.publish(cx, grown).await?;
        Ok(grown)
    }

    /// Allocates the new roots from `top.levels + 1` up to `target`, each holding only entry
    /// 0 = PDE to the previous root. On failure frees every table it allocated (XSA-311
    /// leaked them) and changes nothing. Returns the new top, not yet published.
    async fn build_chain(&self, cx: &Cx<'_>, top: Top, target: u8) -> Result<Top, PtError> {
        let mut chain = Vec::new();
        let mut grown = top;
        while grown.levels < target {
            match self.add_level(cx, grown).await {
                Ok(next) => {
                    chain.push(next.root);
                    grown = next;
                }
                Err(error) => {
                    if self.seams.free_unfinished_growth() {
                        for root in chain {
                            cx.free_table(root).await?;
                        }
                    }
                    return Err(error);
                }
            }
        }
        Ok(grown)
    }

    /// One new root above `top`: entry 0 covers DFNs [0, span(top.levels)), the old table.
    async fn add_level(&self, cx: &Cx<'_>, top: Top) -> Result<Top, PtError> {
        let root = cx.alloc_table(self.domain()).await?;
        if let Err(error) = cx.write(root, entry::pde(top.root, top.levels)).await {
            cx.free_table(root).await?;
            return Err(error.into());
        }
        Ok(Top { root, levels: top.levels + 1 })
    }

    /// Makes `grown` the table every device walks: DTEs first (so no mapping that needs the
    /// new root can be reachable through a stale DTE, Linux's 2020 rule), then the domain's
    /// root and height in one step, then a flush of every page "for safety" as Xen did.
    /// With [`Seams::top_before_dtes`], the top first, then the DTEs with the `Domain` lock
    /// released.
    async fn publish(&self, cx: &Cx<'_>, grown: Top) -> Result<(), PtError> {
        if self.seams.top_before_dtes() {
            // Not the table's own order: boxed, keeping this future small.
            return Box::pin(self.publish_top_first(cx, grown)).await;
        }
        self.retarget(cx, grown).await?;
        self.write_top(cx, Some(grown)).await;
        self.flush(cx, 0, ALL_PAGES_ORDER).await;
        Ok(())
    }

    /// Points the DTE of every device growth retargets at `grown`, and waits for their
    /// invalidation.
    async fn retarget(&self, cx: &Cx<'_>, grown: Top) -> Result<(), PtError> {
        let devices = self.seams.growth_devices(cx.devices().await);
        let setting = self.translate_setting(grown);
        for dev in devices.iter() {
            self.program_dte(cx, dev, setting).await?;
        }
        cx.issue(Command::CompletionWait).await;
        Ok(())
    }

    /// [`Seams::top_before_dtes`]: publishes the top, releases the `Domain` lock, retargets
    /// the DTEs, takes the lock again (the caller releases it), then flushes.
    async fn publish_top_first(&self, cx: &Cx<'_>, grown: Top) -> Result<(), PtError> {
        self.write_top(cx, Some(grown)).await;
        cx.unlock(LockClass::Domain).await?;
        let retargeted = self.retarget(cx, grown).await;
        cx.lock(LockClass::Domain).await;
        retargeted?;
        self.flush(cx, 0, ALL_PAGES_ORDER).await;
        Ok(())
    }
}
