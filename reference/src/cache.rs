//! The IOMMU's translation caches, as the hardware keeps them: a DTE cache per device and an
//! IOTLB of successful table translations keyed by domain ID and page.
//!
//! Contract:
//! - [`Caches::dma`] performs a device access as hardware does: the DTE comes from the DTE
//!   cache or, on a miss, from memory (and is then cached); a translation comes from the IOTLB
//!   or, on a miss, from a walk of the tables (and a successful table translation is then
//!   cached for the whole page). Faults are never cached.
//! - Cached entries are dropped only by invalidation commands, and an invalidation takes
//!   effect only once a later [`Invalidation::CompletionWait`] is processed: until then
//!   software cannot know the hardware has acted on it.
//! - The IOTLB holds at most [`IOTLB_CAPACITY`] entries and evicts the oldest first (hardware
//!   may always evict), which keeps the work per access bounded; entries are indexed by
//!   domain, size and IOVA (`iotlb.rs`), so that work stays flat however full it is.

use crate::dte::{DeviceTable, Dte};
use crate::fault::Fault;
use crate::iotlb::{last_byte, Iotlb};
use crate::memory::PhysMem;
use crate::perm::Perm;
use crate::walk::{walk_dte, Translation, TranslationKind, WalkConfig};
use std::collections::BTreeMap;

/// Most IOTLB entries kept.
pub const IOTLB_CAPACITY: usize = 256;

/// An IOMMU command that acts on the caches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Invalidation {
    /// INVALIDATE_DEVTAB_ENTRY for device `dev`.
    DevtabEntry { dev: u16 },
    /// INVALIDATE_IOMMU_PAGES: entries of `domain` overlapping `[iova, iova + 2^size_log2)`;
    /// `size_log2 >= 64` means every page of the domain.
    IommuPages { domain: u16, iova: u64, size_log2: u32 },
    /// COMPLETION_WAIT: every earlier command has taken effect.
    CompletionWait,
}

/// One IOTLB entry: the page `[iova, iova + 2^size_log2)` of `domain` translates to `spa`
/// onwards with `perm`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CachedPage {
    pub domain: u16,
    pub iova: u64,
    pub size_log2: u32,
    pub spa: u64,
    pub perm: Perm,
}

impl CachedPage {
    pub(crate) fn covers(&self, iova: u64) -> bool {
        iova >= self.iova && (self.size_log2 >= 64 || iova - self.iova < (1u64 << self.size_log2))
    }

    /// Whether the page shares a byte with `[iova, iova + 2^size_log2)`.
    pub(crate) fn overlaps(&self, iova: u64, size_log2: u32) -> bool {
        self.iova <= last_byte(iova, size_log2) && iova <= last_byte(self.iova, self.size_log2)
    }
}

/// The DTE cache and the IOTLB of one IOMMU.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caches {
    dtes: BTreeMap<u16, Dte>,
    iotlb: Iotlb,
    /// Invalidations issued but not yet completed by a COMPLETION_WAIT.
    pending: Vec<Invalidation>,
}

impl Default for Caches {
    fn default() -> Self {
        Caches { dtes: BTreeMap::new(), iotlb: Iotlb::new(IOTLB_CAPACITY), pending: Vec::new() }
    }
}

impl Caches {
    /// Empty caches.
    pub fn new() -> Caches {
        Caches::default()
    }

    /// A DMA by device `dev` to `iova` needing `access`, through the caches (see the module
    /// contract). `Perm::NONE` asks for the translation without a permission check.
    pub fn dma(
        &mut self,
        mem: &impl PhysMem,
        cfg: &WalkConfig,
        devtab: &DeviceTable,
        dev: u16,
        iova: u64,
        access: Perm,
    ) -> Result<Translation, Fault> {
        let dte = match self.dtes.get(&dev) {
            Some(dte) => *dte,
            None => {
                let dte = devtab.read(mem, dev)?;
                self.dtes.insert(dev, dte);
                dte
            }
        };
        let translating = dte.valid() && dte.translation_valid() && dte.mode() != 0;
        if translating {
            let domain = dte.domain_id();
            if let Some(hit) = self.iotlb.lookup(domain, iova) {
                let perm = hit.perm.intersect(dte.perm());
                if !dte.perm().allows(access) {
                    return Err(Fault::DtePermission { requested: access, allowed: dte.perm() });
                }
                if !perm.allows(access) {
                    return Err(Fault::Permission { level: 0, requested: access, allowed: perm });
                }
                return Ok(Translation {
                    spa: hit.spa.wrapping_add(iova - hit.iova),
                    page_size_log2: hit.size_log2,
                    perm,
                    kind: TranslationKind::Table { leaf_level: 0 },
                });
            }
        }
        let result = walk_dte(mem, cfg, &dte, iova, access);
        if let (true, Ok(t)) = (translating, &result) {
            if matches!(t.kind, TranslationKind::Table { .. }) {
                let mask =
                    if t.page_size_log2 >= 64 { u64::MAX } else { (1u64 << t.page_size_log2) - 1 };
                self.iotlb.insert(CachedPage {
                    domain: dte.domain_id(),
                    iova: iova & !mask,
                    size_log2: t.page_size_log2,
                    spa: t.spa & !mask,
                    perm: t.perm,
                });
            }
        }
        result
    }

    /// Processes one command in issue order.
    pub fn command(&mut self, command: Invalidation) {
        match command {
            Invalidation::CompletionWait => {
                for done in std::mem::take(&mut self.pending) {
                    self.invalidate(done);
                }
            }
            other => self.pending.push(other),
        }
    }

    fn invalidate(&mut self, command: Invalidation) {
        match command {
            Invalidation::DevtabEntry { dev } => {
                self.dtes.remove(&dev);
            }
            Invalidation::IommuPages { domain, iova, size_log2 } => {
                self.iotlb.invalidate(domain, iova, size_log2);
            }
            Invalidation::CompletionWait => {}
        }
    }

    /// The cached DTEs, by device.
    pub fn dtes(&self) -> impl Iterator<Item = (u16, &Dte)> + '_ {
        self.dtes.iter().map(|(&dev, dte)| (dev, dte))
    }

    /// The IOTLB entries, oldest first.
    pub fn pages(&self) -> impl Iterator<Item = &CachedPage> + '_ {
        self.iotlb.pages()
    }

    /// How many pages the IOTLB ever cached: a mark for [`Caches::pages_since`].
    pub fn fills(&self) -> u64 {
        self.iotlb.fills()
    }

    /// The IOTLB entries cached since `mark` (an earlier [`Caches::fills`]), oldest first.
    pub fn pages_since(&self, mark: u64) -> impl Iterator<Item = &CachedPage> + '_ {
        self.iotlb.pages_since(mark)
    }

    /// The IOTLB entries of `domain` that overlap the IOVAs `first..=last`. O(page sizes
    /// cached x (log n + k)).
    pub fn pages_overlapping(
        &self,
        domain: u16,
        first: u64,
        last: u64,
    ) -> impl Iterator<Item = &CachedPage> + '_ {
        self.iotlb.overlapping(domain, first, last)
    }

    /// Invalidations issued and not yet completed.
    pub fn pending(&self) -> &[Invalidation] {
        &self.pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{IR, IW, PR};
    use std::collections::BTreeMap;

    const DEVTAB: DeviceTable = DeviceTable { base: 0x1000, entries: 4 };

    /// Device 1, domain 7, 1-level root at 0x2000 with 4 KiB leaves 0 -> 0x5000 (rw) and
    /// 1 -> 0x6000 (r).
    fn memory() -> BTreeMap<u64, u64> {
        let mut mem = BTreeMap::new();
        for i in 0..16 {
            mem.insert(0x1000 + 8 * i, 0);
        }
        let dte = Dte::translating(0x2000, 1, Perm::RW, 7);
        for (i, q) in dte.0.iter().enumerate() {
            mem.insert(0x1020 + 8 * i as u64, *q);
        }
        for i in 0..512 {
            mem.insert(0x2000 + 8 * i, 0);
        }
        mem.insert(0x2000, PR | IR | IW | 0x5000);
        mem.insert(0x2008, PR | IR | 0x6000);
        mem
    }

    fn dma(
        c: &mut Caches,
        mem: &BTreeMap<u64, u64>,
        iova: u64,
        access: Perm,
    ) -> Result<u64, Fault> {
        c.dma(mem, &WalkConfig::default(), &DEVTAB, 1, iova, access).map(|t| t.spa)
    }

    #[test]
    fn hits_survive_table_changes_until_invalidated_and_waited() {
        let mut mem = memory();
        let mut c = Caches::new();
        assert_eq!(dma(&mut c, &mem, 0x123, Perm::W), Ok(0x5123));
        assert_eq!(c.pages().count(), 1);
        // Unmap in memory: the IOTLB still translates (stale) ...
        mem.insert(0x2000, 0);
        assert_eq!(dma(&mut c, &mem, 0x10, Perm::R), Ok(0x5010));
        // ... after an invalidation without a wait too ...
        c.command(Invalidation::IommuPages { domain: 7, iova: 0, size_log2: 12 });
        assert_eq!(dma(&mut c, &mem, 0x10, Perm::R), Ok(0x5010));
        assert_eq!(c.pending().len(), 1);
        // ... and no longer once the wait completes.
        c.command(Invalidation::CompletionWait);
        assert_eq!(
            dma(&mut c, &mem, 0x10, Perm::R),
            Err(Fault::NotPresent { level: 1, spa: 0x2000 })
        );
        assert_eq!(c.pages().count(), 0);
    }

    #[test]
    fn invalidation_drops_only_overlapping_pages_of_its_domain() {
        let mem = memory();
        let mut c = Caches::new();
        dma(&mut c, &mem, 0x0, Perm::NONE).unwrap();
        dma(&mut c, &mem, 0x1000, Perm::NONE).unwrap();
        c.command(Invalidation::IommuPages { domain: 8, iova: 0, size_log2: 64 });
        c.command(Invalidation::IommuPages { domain: 7, iova: 0x1800, size_log2: 8 });
        c.command(Invalidation::CompletionWait);
        assert_eq!(c.pages().map(|p| p.iova).collect::<Vec<_>>(), vec![0]);
        c.command(Invalidation::IommuPages { domain: 7, iova: 0, size_log2: 64 });
        c.command(Invalidation::CompletionWait);
        assert_eq!(c.pages().count(), 0);
    }

    #[test]
    fn cached_permissions_and_dte_apply_on_hits() {
        let mut mem = memory();
        let mut c = Caches::new();
        assert_eq!(dma(&mut c, &mem, 0x1000, Perm::R), Ok(0x6000));
        assert_eq!(
            dma(&mut c, &mem, 0x1000, Perm::W),
            Err(Fault::Permission { level: 0, requested: Perm::W, allowed: Perm::R })
        );
        // The DTE is cached: blocking it in memory changes nothing until it is invalidated.
        mem.insert(0x1020, 0b11);
        assert_eq!(dma(&mut c, &mem, 0x1000, Perm::R), Ok(0x6000));
        assert_eq!(c.dtes().count(), 1);
        c.command(Invalidation::DevtabEntry { dev: 1 });
        c.command(Invalidation::CompletionWait);
        assert!(dma(&mut c, &mem, 0x1000, Perm::R).is_err());
    }

    #[test]
    fn faults_are_not_cached_and_capacity_is_bounded() {
        let mem = memory();
        let mut c = Caches::new();
        assert!(dma(&mut c, &mem, 0x2000, Perm::R).is_err());
        assert_eq!(c.pages().count(), 0);
        for i in 0..IOTLB_CAPACITY as u64 {
            c.iotlb.insert(CachedPage {
                domain: 9,
                iova: i << 12,
                size_log2: 12,
                spa: 0,
                perm: Perm::R,
            });
        }
        dma(&mut c, &mem, 0, Perm::R).unwrap();
        assert_eq!(c.pages().count(), IOTLB_CAPACITY);
        assert_eq!(c.pages().next().map(|p| p.iova), Some(0x1000), "the oldest entry was evicted");
        assert_eq!(c.pages().last().map(|p| (p.domain, p.spa)), Some((7, 0x5000)));
    }

    #[test]
    fn new_and_overlapping_pages_can_be_asked_for() {
        let mem = memory();
        let mut c = Caches::new();
        dma(&mut c, &mem, 0x0, Perm::NONE).unwrap();
        let mark = c.fills();
        dma(&mut c, &mem, 0x1000, Perm::NONE).unwrap();
        dma(&mut c, &mem, 0x10, Perm::NONE).unwrap(); // a hit: nothing new
        assert_eq!(c.pages_since(mark).map(|p| p.iova).collect::<Vec<_>>(), vec![0x1000]);
        assert_eq!(c.fills(), mark + 1);
        let overlapping =
            |first, last| c.pages_overlapping(7, first, last).map(|p| p.iova).collect::<Vec<_>>();
        assert_eq!(overlapping(0xfff, 0x1000), vec![0, 0x1000]);
        assert_eq!(overlapping(0x1fff, 0x5000), vec![0x1000]);
        assert_eq!(overlapping(0x2000, u64::MAX), Vec::<u64>::new());
        assert_eq!(c.pages_overlapping(8, 0, u64::MAX).count(), 0);
    }
}
