//! The `dma` operation's check: a device's access through the IOMMU and its caches succeeds,
//! at the model's frame, exactly when the model grants it to an assigned device.

use super::subject::Subject;
use super::violation::{Violation, Walked};
use crate::table::Perm;
use ptdiff_reference::WalkConfig;

/// Device `dev` accesses `dfn` (below 2^52) with `access` through `subject`'s IOMMU, filling
/// its caches as hardware would.
pub fn dma(
    walk: &WalkConfig,
    subject: &mut Subject,
    dev: u16,
    dfn: u64,
    access: Perm,
) -> Result<(), Violation> {
    let Subject { table, caches, model, assigned, torn_down, .. } = subject;
    let iommu = table.iommu();
    let result = caches.dma(iommu.memory(), walk, &iommu.device_table(), dev, dfn << 12, access);
    let assigned = !*torn_down && assigned.contains(dev);
    let mapping = model.translate(dfn);
    let granted = mapping.filter(|(_, perm)| assigned && perm.allows(access));
    let agrees = match (granted, &result) {
        (Some((mfn, _)), Ok(t)) => t.spa == mfn << 12,
        (None, Err(_)) => true,
        _ => false,
    };
    if agrees {
        return Ok(());
    }
    let frame = result.as_ref().ok().and_then(|t| iommu.frames().state(t.spa >> 12));
    Err(Violation::Dma {
        dev,
        dfn,
        access,
        assigned,
        model: mapping,
        walked: Walked { result, frame },
    })
}
