//! Cache checks: no cached DTE differs from memory (`stale-dte`), and no IOTLB entry grants
//! what the tables no longer grant (`stale-iotlb`; the model stands for the tables, since the
//! probes keep them equal).
//!
//! `stale-iotlb` is incremental: a cached page never changes while cached, so it can only
//! become stale when the model changes over its IOVAs (what the operation replaced,
//! [`JournaledModel::replaced`](super::journaled_model::JournaledModel::replaced)), or be stale
//! from the start; only those pages and the ones cached since the last check
//! ([`Subject::pages_checked`]) are checked, in O(what changed), however full the IOTLB is.

use super::subject::Subject;
use super::violation::Violation;
use super::Ctx;
use ptdiff_reference::CachedPage;

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

/// Every IOTLB entry of the domain translates as the model does, with no more permission:
/// checked on the entries cached since the last check and those over what the operation
/// changed in the model.
pub fn stale_iotlb(_: &Ctx<'_>, subject: &Subject) -> Result<(), Violation> {
    let domain = subject.table.domain_id();
    for e in subject.model.replaced() {
        let first = e.dfn.saturating_mul(4096);
        let last = (e.dfn + e.frames - 1).saturating_mul(4096).saturating_add(4095);
        for page in subject.caches.pages_overlapping(domain, first, last) {
            check_page(subject, page)?;
        }
    }
    let new = subject.caches.pages_since(subject.pages_checked).filter(|p| p.domain == domain);
    new.into_iter().try_for_each(|page| check_page(subject, page))
}

/// The cached `page` grants nothing the model does not.
fn check_page(subject: &Subject, page: &CachedPage) -> Result<(), Violation> {
    if !page.perm.is_empty() {
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
