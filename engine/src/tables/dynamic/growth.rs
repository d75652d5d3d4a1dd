//! Growth (`update_paging_mode`): a chain of new roots built off-line, then published.

use super::geometry::levels_to_cover;
use super::{entry, Dynamic, Seams, Top};
use crate::substrate::commands::{Command, ALL_PAGES_ORDER};
use crate::table::PtError;

impl<S: Seams> Dynamic<S> {
    /// Grows the table, if needed, so that its span covers `dfn` (the `notify_dfn` hook).
    pub(super) fn grow_to_cover(&mut self, dfn: u64) -> Result<(), PtError> {
        let top = self.top()?;
        let max_levels = self.config.max_levels;
        let needed = levels_to_cover(dfn)
            .filter(|&levels| levels <= max_levels)
            .ok_or(PtError::OutOfRange { dfn, max_levels })?;
        let target = self.seams.growth_target(top.levels, needed, max_levels)?;
        if target <= top.levels {
            return Ok(());
        }
        let grown = self.build_chain(top, target)?;
        self.publish(grown)
    }

    /// Allocates the new roots from `top.levels + 1` up to `target`, each holding only entry
    /// 0 = PDE to the previous root. On failure frees every table it allocated (XSA-311
    /// leaked them) and changes nothing. Returns the new top, not yet published.
    fn build_chain(&mut self, top: Top, target: u8) -> Result<Top, PtError> {
        let mut chain = Vec::new();
        let mut grown = top;
        while grown.levels < target {
            match self.add_level(grown) {
                Ok(next) => {
                    chain.push(next.root);
                    grown = next;
                }
                Err(error) => {
                    if self.seams.free_unfinished_growth() {
                        for root in chain {
                            self.iommu.free_table(root)?;
                        }
                    }
                    return Err(error);
                }
            }
        }
        Ok(grown)
    }

    /// One new root above `top`: entry 0 covers DFNs [0, span(top.levels)), the old table.
    fn add_level(&mut self, top: Top) -> Result<Top, PtError> {
        let root = self.iommu.alloc_table(self.domain())?;
        if let Err(error) = self.iommu.write_entry(root, entry::pde(top.root, top.levels)) {
            self.iommu.free_table(root)?;
            return Err(error.into());
        }
        Ok(Top { root, levels: top.levels + 1 })
    }

    /// Makes `grown` the table every device walks: DTEs first (so no mapping that needs the
    /// new root can be reachable through a stale DTE, Linux's 2020 rule), then the domain's
    /// root and height, then a flush of every page "for safety" as Xen did.
    fn publish(&mut self, grown: Top) -> Result<(), PtError> {
        let devices = self.seams.growth_devices(&self.devices);
        let setting = self.translate_setting(grown);
        for dev in devices {
            self.program_dte(dev, setting)?;
        }
        self.iommu.issue(Command::CompletionWait);
        self.top = Some(grown);
        self.flush(0, ALL_PAGES_ORDER);
        Ok(())
    }
}
