//! The oracle walks of one operation's probe DFNs and what the model maps them to, computed
//! once per implementation and shared by the checks that read them (`ledger`, `translation`,
//! `lookup`).
//!
//! One walk per probe DFN suffices: the walks go through the DTE of the lowest assigned
//! device, and the `dte` check proves every assigned device's DTE holds the same root, mode
//! and permissions, so every device would walk identically. With no device assigned, the walk
//! goes through the DTE a device would get (the current root and height), so the memory is
//! still checked.

use super::subject::Subject;
use crate::substrate::frames::FrameState;
use crate::table::Perm;
use ptdiff_reference::{walk_dte_visiting, Dte, Fault, Translation, WalkConfig};

/// One probe's walk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeWalk {
    pub dfn: u64,
    pub result: Result<Translation, Fault>,
    /// The first table on the walk that is not a live table frame of the domain:
    /// `(level, table SPA)`.
    pub foreign: Option<(u8, u64)>,
}

/// The probe walks of one implementation after one operation.
///
/// Invariant, for the probes passed to [`ProbeWalks::compute`]: `expected[i]` is what the
/// model maps `probes[i]` to (`expected` is empty when the implementation was torn down);
/// `walks[i].dfn == probes[i]`, all walked through `device`'s DTE (or, with `device == None`,
/// the DTE a device would get); `walks` is empty when the implementation was torn down, has no
/// root, or the DTE is unreadable.
#[derive(Clone, Debug, Default)]
pub struct ProbeWalks {
    pub device: Option<u16>,
    pub expected: Vec<Option<(u64, Perm)>>,
    pub walks: Vec<ProbeWalk>,
}

impl ProbeWalks {
    /// Walks `probes` in `subject`'s memory, reusing this value's buffer.
    pub fn compute(&mut self, walk: &WalkConfig, subject: &Subject, probes: &[u64]) {
        self.walks.clear();
        self.expected.clear();
        self.device = None;
        if subject.torn_down {
            return;
        }
        self.expected.extend(probes.iter().map(|&dfn| subject.model.translate(dfn)));
        let iommu = subject.table.iommu();
        let mem = iommu.memory();
        let domain = subject.table.domain_id();
        let dte = match subject.assigned.first() {
            Some(dev) => {
                self.device = Some(dev);
                match iommu.device_table().read(mem, dev) {
                    Ok(dte) => dte,
                    Err(_) => return,
                }
            }
            None => match subject.table.root() {
                Some(root) => Dte::translating(root, subject.table.levels(), Perm::RW, domain),
                None => return,
            },
        };
        for &dfn in probes {
            let mut foreign = None;
            let result =
                walk_dte_visiting(mem, walk, &dte, dfn << 12, Perm::NONE, |level, table| {
                    if foreign.is_none()
                        && iommu.frames().state(table >> 12) != Some(FrameState::Table { domain })
                    {
                        foreign = Some((level, table));
                    }
                });
            self.walks.push(ProbeWalk { dfn, result, foreign });
        }
    }
}
