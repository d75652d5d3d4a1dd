//! Device checks: devices that are not assigned reach nothing (`unassigned-access`), and every
//! assigned device's DTE holds V, TV, IR, IW, the current root and the current height, with the
//! root a live table frame of the domain (`dte`).

use super::subject::Subject;
use super::violation::{Violation, Walked};
use super::Ctx;
use crate::substrate::frames::FrameState;
use crate::table::Perm;
use ptdiff_reference::walk_dte;

/// Probes (from the front of the probe list) walked through each unassigned device.
const UNASSIGNED_PROBES: usize = 2;

/// No device outside the domain reads or writes anything at the first probes.
pub fn unassigned_access(ctx: &Ctx<'_>, subject: &Subject) -> Result<(), Violation> {
    let iommu = subject.table.iommu();
    let mem = iommu.memory();
    let devtab = iommu.device_table();
    for dev in (0..ctx.devices).filter(|&d| !subject.assigned.contains(d)) {
        let dte = devtab
            .read(mem, dev)
            .map_err(|fault| Violation::UnassignedDteUnreadable { dev, fault })?;
        for &dfn in ctx.probes.iter().take(UNASSIGNED_PROBES) {
            for access in [Perm::R, Perm::W] {
                ctx.count_walk();
                let result = walk_dte(mem, ctx.walk, &dte, dfn << 12, access);
                if let Ok(t) = &result {
                    let frame = iommu.frames().state(t.spa >> 12);
                    return Err(Violation::UnassignedReaches {
                        dev,
                        dfn,
                        access,
                        walked: Walked { result, frame },
                    });
                }
            }
        }
    }
    Ok(())
}

/// Every assigned device's DTE: V = TV = 1, IR = IW = 1, no reserved bits, mode = height,
/// root = the current root, a live table frame of the domain.
pub fn dte(_: &Ctx<'_>, subject: &Subject) -> Result<(), Violation> {
    if subject.torn_down {
        return Ok(());
    }
    let iommu = subject.table.iommu();
    let devtab = iommu.device_table();
    let levels = subject.table.levels();
    let root = subject.table.root();
    let domain = subject.table.domain_id();
    for dev in subject.assigned.iter() {
        let dte = devtab
            .read(iommu.memory(), dev)
            .map_err(|fault| Violation::DteUnreadable { dev, fault })?;
        let root_state = iommu.frames().state(dte.root() >> 12);
        let good = dte.valid()
            && dte.translation_valid()
            && dte.perm() == Perm::RW
            && dte.reserved_bits() == 0
            && dte.mode() == levels
            && Some(dte.root()) == root;
        if !good || root_state != Some(FrameState::Table { domain }) {
            return Err(Violation::DteWrong { dev, levels, root, domain, dte, root_state });
        }
    }
    Ok(())
}
