//! Cache checks: no cached DTE differs from memory (`stale-dte`), and no IOTLB entry grants
//! what the tables no longer grant (`stale-iotlb`; the model stands for the tables, since the
//! probes keep them equal).

use super::subject::Subject;
use super::violation::Violation;
use super::Ctx;

/// Every DTE the IOMMU caches equals the DTE in memory.
pub fn stale_dte(_: &Ctx<'_>, subject: &Subject) -> Result<(), Violation> {
    let iommu = subject.table.iommu();
    let devtab = iommu.device_table();
    for (dev, cached) in subject.caches.dtes() {
        let memory = devtab.read(iommu.memory(), dev).ok();
        if memory.as_ref() != Some(cached) {
            return Err(Violation::StaleDte { dev, memory, cached: *cached });
        }
    }
    Ok(())
}

/// Every IOTLB entry of the domain translates as the model does, with no more permission.
pub fn stale_iotlb(_: &Ctx<'_>, subject: &Subject) -> Result<(), Violation> {
    let domain = subject.table.domain_id();
    for page in subject.caches.pages().filter(|p| p.domain == domain && !p.perm.is_empty()) {
        let first_dfn = page.iova >> 12;
        let frames = 1u64 << page.size_log2.saturating_sub(12).min(63);
        let stale = if subject.torn_down {
            Some(first_dfn)
        } else {
            subject.model.first_ungranted(first_dfn, frames, page.spa >> 12, page.perm)
        };
        if let Some(dfn) = stale {
            let mfn = (page.spa >> 12) + (dfn - first_dfn);
            let model = subject.model.translate(dfn);
            return Err(Violation::StaleIotlb { dfn, mfn, page: *page, model });
        }
    }
    Ok(())
}
