//! Call sites: who calls a thread's operation, which fixes the locks the caller holds when it
//! calls (`../shared/CONCURRENCY.md` section 5.3).

use crate::scenario::Op;
use crate::step::{LockClass, OpLabel};
use std::fmt;

/// The caller of a thread's operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Site {
    /// The p2m code (Xen `p2m_set_entry`, a guest's mappings): holds no lock.
    P2m,
    /// PCI device assignment: holds the devices lock for `assign` and `deassign`.
    Pci,
    /// A caller following the notify protocol: holds the devices lock.
    NotifySite,
    /// A caller breaking the protocol: holds no lock, yet calls `notify` or `assign`.
    Rogue,
}

impl Site {
    /// Every site, in the order of their text words.
    pub const ALL: [Site; 4] = [Site::P2m, Site::Pci, Site::NotifySite, Site::Rogue];

    /// The site's word in the text format.
    pub fn word(self) -> &'static str {
        match self {
            Site::P2m => "p2m",
            Site::Pci => "pci",
            Site::NotifySite => "notify-site",
            Site::Rogue => "rogue",
        }
    }

    /// The site whose word is `word`.
    pub fn from_word(word: &str) -> Option<Site> {
        Site::ALL.into_iter().find(|s| s.word() == word)
    }

    /// The locks the caller holds when it calls `op` from this site (taken by the harness, as
    /// steps, before the operation starts), in acquisition order.
    pub fn held(self, op: &Op) -> &'static [LockClass] {
        match (self, op) {
            (Site::Pci, Op::Assign { .. } | Op::Deassign { .. }) | (Site::NotifySite, _) => {
                &[LockClass::Devices]
            }
            _ => &[],
        }
    }
}

impl fmt::Display for Site {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.word())
    }
}

/// What the lock rules know of `op`: its text, its entry contract (`notify`, `assign` and
/// `deassign` need the devices lock on every call) and whether it runs alone (`teardown`).
pub fn lock_label(op: &Op) -> OpLabel {
    let contract = matches!(op, Op::Notify { .. } | Op::Assign { .. } | Op::Deassign { .. });
    OpLabel {
        text: op.to_string(),
        entry_lock: contract.then_some(LockClass::Devices),
        alone: *op == Op::Teardown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ptdiff_reference::Perm;

    #[test]
    fn words_name_each_site_once() {
        for site in Site::ALL {
            assert_eq!(Site::from_word(site.word()), Some(site));
        }
        assert_eq!(Site::from_word("notify"), None);
        assert_eq!(Site::NotifySite.to_string(), "notify-site");
    }

    #[test]
    fn sites_hold_the_devices_lock_as_the_design_says() {
        let map = Op::Map { dfn: 0, mfn: 0, order: 0, perm: Perm::RW, missed: false, count: 1 };
        let assign = Op::Assign { dev: 1 };
        let deassign = Op::Deassign { dev: 1 };
        let notify = Op::Notify { dfn: 0x40000 };
        assert_eq!(Site::Pci.held(&assign), &[LockClass::Devices]);
        assert_eq!(Site::Pci.held(&deassign), &[LockClass::Devices]);
        assert_eq!(Site::Pci.held(&map), &[]);
        assert_eq!(Site::NotifySite.held(&notify), &[LockClass::Devices]);
        assert_eq!(Site::NotifySite.held(&map), &[LockClass::Devices]);
        assert_eq!(Site::P2m.held(&assign), &[]);
        assert_eq!(Site::Rogue.held(&notify), &[]);
        assert_eq!(Site::Rogue.held(&assign), &[]);
    }
}
