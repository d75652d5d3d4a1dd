//! What the other implementations gave where one failed a check: makes every finding
//! differential ("`fixed` gave: mfn 0x1000 rw").

use super::finding::{Finding, Gave};
use super::subject::Subject;
use super::violation::Walked;
use crate::check::expect::DFN_LIMIT;
use crate::table::Perm;
use ptdiff_reference::{walk_dte, Dte, WalkConfig};

/// Adds to `finding`, when it is at a DFN and says nothing yet of the others, each other
/// implementation's hardware walk of that DFN: through the same device when it is assigned
/// there, else through its lowest assigned device, else through the DTE a device would get.
pub fn annotate(walk: &WalkConfig, subjects: &[Subject], finding: &mut Finding) {
    let Some(dfn) = finding.dfn.filter(|&d| d < DFN_LIMIT && finding.others.is_empty()) else {
        return;
    };
    for subject in subjects.iter().filter(|s| s.name() != finding.implementation) {
        let gave = if subject.torn_down {
            Gave::TornDown
        } else {
            let table = &subject.table;
            let iommu = table.iommu();
            let dev = finding
                .device
                .filter(|&d| subject.assigned.contains(d))
                .or(subject.assigned.first());
            let dte = match dev {
                Some(dev) => iommu.device_table().read(iommu.memory(), dev).ok(),
                None => table
                    .root()
                    .map(|r| Dte::translating(r, table.levels(), Perm::RW, table.domain_id())),
            };
            match dte {
                Some(dte) => {
                    let result = walk_dte(iommu.memory(), walk, &dte, dfn << 12, Perm::NONE);
                    let frame =
                        result.as_ref().ok().and_then(|t| iommu.frames().state(t.spa >> 12));
                    Gave::Walk(Walked { result, frame })
                }
                None => Gave::NoDte,
            }
        };
        finding.others.push((subject.name().to_string(), gave));
    }
}
