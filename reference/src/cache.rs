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
//!   may always evict). It is indexed by page (see `Iotlb`), so an access costs a few map
//!   lookups, never a scan of the cached pages.

use crate::dte::{DeviceTable, Dte};
use crate::fault::Fault;
use crate::memory::PhysMem;
use crate::perm::Perm;
use crate::walk::{dte_stage, walk_dte, DteStage, Translation, TranslationKind, WalkConfig};
use std::collections::BTreeMap;
use std::ops::Bound::{Excluded, Unbounded};

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

/// The last byte of `[start, start + 2^log2)`, saturating at `u64::MAX` (also for
/// `log2 >= 64`).
fn last_byte(start: u64, log2: u32) -> u64 {
    if log2 >= 64 {
        u64::MAX
    } else {
        start.saturating_add((1u64 << log2) - 1)
    }
}

/// `iova` rounded down to a multiple of `2^log2` (0 for `log2 >= 64`).
fn align_down(iova: u64, log2: u32) -> u64 {
    if log2 >= 64 {
        0
    } else {
        iova & !((1u64 << log2) - 1)
    }
}

/// The IOTLB: cached pages in insertion order, indexed by page.
///
/// Invariant:
/// - `by_age` holds every cached page exactly once, under a stamp taken from `next_stamp`
///   when it was inserted; stamps only grow, so iteration is oldest first.
/// - `by_page[s]` maps `(domain, iova)` to the stamp of the page of that domain, base and
///   `size_log2 == s`, for exactly the pages in `by_age` (no more, no fewer); a size with no
///   page has no map. Page bases are aligned to their size, so for a given IOVA each size has
///   at most one page that can cover it, found with one lookup.
/// - At most one page per `(domain, iova, size_log2)`: inserting a key that is present replaces
///   the older page (a walk only fills the IOTLB after a miss, so this does not happen through
///   [`Caches::dma`]).
#[derive(Clone, Debug, Default)]
struct Iotlb {
    by_age: BTreeMap<u64, CachedPage>,
    by_page: BTreeMap<u32, BTreeMap<(u16, u64), u64>>,
    next_stamp: u64,
}

impl Iotlb {
    fn len(&self) -> usize {
        self.by_age.len()
    }

    /// The oldest page of `domain` covering `iova`. O(s log n) for s distinct page sizes.
    fn lookup(&self, domain: u16, iova: u64) -> Option<&CachedPage> {
        let stamp = self
            .by_page
            .iter()
            .filter_map(|(&size_log2, pages)| pages.get(&(domain, align_down(iova, size_log2))))
            .min()?;
        self.by_age.get(stamp)
    }

    /// Adds `page` as the newest entry, evicting the oldest ones beyond [`IOTLB_CAPACITY`].
    fn insert(&mut self, page: CachedPage) {
        self.remove_page(page.size_log2, page.domain, page.iova);
        while self.len() >= IOTLB_CAPACITY {
            let Some((_, oldest)) = self.by_age.pop_first() else { break };
            self.unindex(&oldest);
        }
        let stamp = self.next_stamp;
        self.next_stamp += 1;
        self.by_age.insert(stamp, page);
        self.by_page.entry(page.size_log2).or_default().insert((page.domain, page.iova), stamp);
    }

    /// Drops every page of `domain` overlapping `[iova, iova + 2^size_log2)`. A page of size
    /// `2^s` overlaps exactly when its base lies in `[align_down(iova, s), last byte]`, so each
    /// size is one range of the index. O((k + s) log n) for k dropped pages.
    fn invalidate(&mut self, domain: u16, iova: u64, size_log2: u32) {
        let last = last_byte(iova, size_log2);
        let mut size = self.by_page.keys().next().copied();
        while let Some(s) = size {
            let first = (domain, align_down(iova, s));
            while let Some(&(_, base)) = self
                .by_page
                .get(&s)
                .and_then(|pages| pages.range(first..=(domain, last)).next())
                .map(|(key, _)| key)
            {
                self.remove_page(s, domain, base);
            }
            size = self.by_page.range((Excluded(s), Unbounded)).next().map(|(&k, _)| k);
        }
    }

    /// Removes the page with this key, if cached.
    fn remove_page(&mut self, size_log2: u32, domain: u16, iova: u64) {
        let Some(pages) = self.by_page.get_mut(&size_log2) else { return };
        let Some(stamp) = pages.remove(&(domain, iova)) else { return };
        if pages.is_empty() {
            self.by_page.remove(&size_log2);
        }
        self.by_age.remove(&stamp);
    }

    /// Removes `page` from `by_page` only.
    fn unindex(&mut self, page: &CachedPage) {
        if let Some(pages) = self.by_page.get_mut(&page.size_log2) {
            pages.remove(&(page.domain, page.iova));
            if pages.is_empty() {
                self.by_page.remove(&page.size_log2);
            }
        }
    }

    fn pages(&self) -> impl Iterator<Item = &CachedPage> + '_ {
        self.by_age.values()
    }

    /// Pages of `domain` overlapping the IOVAs `first..=last`, size by size.
    fn overlapping(
        &self,
        domain: u16,
        first: u64,
        last: u64,
    ) -> impl Iterator<Item = &CachedPage> + '_ {
        self.by_page.iter().flat_map(move |(&s, pages)| {
            pages
                .range((domain, align_down(first, s))..=(domain, last.max(first)))
                .filter_map(|(_, stamp)| self.by_age.get(stamp))
        })
    }
}

/// The DTE cache and the IOTLB of one IOMMU.
///
/// Equality compares what is cached (DTEs, pages oldest first, pending invalidations), not how
/// it is indexed.
#[derive(Clone, Debug, Default)]
pub struct Caches {
    dtes: BTreeMap<u16, Dte>,
    iotlb: Iotlb,
    /// Invalidations issued but not yet completed by a COMPLETION_WAIT.
    pending: Vec<Invalidation>,
}

impl PartialEq for Caches {
    fn eq(&self, other: &Caches) -> bool {
        self.dtes == other.dtes
            && self.pending == other.pending
            && self.iotlb.pages().eq(other.iotlb.pages())
    }
}

impl Eq for Caches {}

impl Caches {
    /// Empty caches.
    pub fn new() -> Caches {
        Caches::default()
    }

    /// A DMA by device `dev` to `iova` needing `access`, through the caches (see the module
    /// contract). `Perm::NONE` asks for the translation without a permission check.
    ///
    /// Only a DTE that translates through tables (V = 1, TV = 1, mode 1..=6 within the
    /// hardware's maximum, no reserved bits) looks in the IOTLB; the hit is the oldest page of
    /// the DTE's domain covering `iova`. O(s log n) for a
    /// hit, with s distinct cached page sizes and n cached pages.
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
        // Only a DTE the walk would translate through tables may hit: not V = 0, TV = 0 or
        // mode 0 (untranslated), nor one the walk rejects whatever the IOVA (reserved bits,
        // mode 7, a mode above the hardware's).
        let translating = matches!(dte_stage(cfg, &dte, Perm::NONE), Ok(DteStage::Walk { .. }));
        if translating {
            if let Some(hit) = self.iotlb.lookup(dte.domain_id(), iova) {
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
                self.iotlb.insert(CachedPage {
                    domain: dte.domain_id(),
                    iova: align_down(iova, t.page_size_log2),
                    size_log2: t.page_size_log2,
                    spa: align_down(t.spa, t.page_size_log2),
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
        self.iotlb.next_stamp
    }

    /// The IOTLB entries cached since `mark` (an earlier [`Caches::fills`]) and still cached,
    /// oldest first. O(log n + k).
    pub fn pages_since(&self, mark: u64) -> impl Iterator<Item = &CachedPage> + '_ {
        self.iotlb.by_age.range(mark..).map(|(_, page)| page)
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
    use crate::walk::Tv0Policy;
    use std::collections::BTreeMap;

    const DEVTAB: DeviceTable = DeviceTable { base: 0x1000, entries: 4 };

    /// Device 1, domain 7, 1-level root at 0x2000 with 4 KiB leaves 0 -> 0x5000 (rw),
    /// 1 -> 0x6000 (r) and 2 -> 0x7000 (rw). Devices 0, 2 and 3 have all-zero DTEs.
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
        mem.insert(0x2010, PR | IR | IW | 0x7000);
        mem
    }

    /// Writes device `dev`'s DTE.
    fn set_dte(mem: &mut BTreeMap<u64, u64>, dev: u16, dte: Dte) {
        for (i, q) in dte.0.iter().enumerate() {
            mem.insert(DEVTAB.base + 32 * u64::from(dev) + 8 * i as u64, *q);
        }
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
    fn new_and_overlapping_pages_can_be_asked_for() {
        let mem = memory();
        let mut c = Caches::new();
        dma(&mut c, &mem, 0x0, Perm::NONE).unwrap();
        let mark = c.fills();
        dma(&mut c, &mem, 0x1000, Perm::NONE).unwrap();
        dma(&mut c, &mem, 0x10, Perm::NONE).unwrap(); // a hit: nothing new
        assert_eq!(c.pages_since(mark).map(|p| p.iova).collect::<Vec<_>>(), vec![0x1000]);
        assert_eq!(c.fills(), mark + 1);
        let overlapping = |first, last| {
            let mut v: Vec<u64> = c.pages_overlapping(7, first, last).map(|p| p.iova).collect();
            v.sort_unstable();
            v
        };
        assert_eq!(overlapping(0xfff, 0x1000), vec![0, 0x1000]);
        assert_eq!(overlapping(0x1fff, 0x5000), vec![0x1000]);
        assert_eq!(overlapping(0x2000, u64::MAX), Vec::<u64>::new());
        assert_eq!(c.pages_overlapping(8, 0, u64::MAX).count(), 0);
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
        assert!(dma(&mut c, &mem, 0x3000, Perm::R).is_err());
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

    /// Caches pages 0, 0x1000 and 0x2000 of device 1 (domain 7).
    fn three_cached_pages(mem: &BTreeMap<u64, u64>) -> Caches {
        let mut c = Caches::new();
        for iova in [0, 0x1000, 0x2000] {
            dma(&mut c, mem, iova, Perm::NONE).unwrap();
        }
        assert_eq!(c.pages().map(|p| p.iova).collect::<Vec<_>>(), vec![0, 0x1000, 0x2000]);
        c
    }

    fn invalidate_and_wait(c: &mut Caches, domain: u16, iova: u64, size_log2: u32) {
        c.command(Invalidation::IommuPages { domain, iova, size_log2 });
        c.command(Invalidation::CompletionWait);
    }

    #[test]
    fn invalidating_one_page_keeps_both_neighbours() {
        let mem = memory();
        // Exactly the middle page: its last byte is 0x1fff, not 0x2000 or beyond.
        let mut c = three_cached_pages(&mem);
        invalidate_and_wait(&mut c, 7, 0x1000, 12);
        assert_eq!(c.pages().map(|p| p.iova).collect::<Vec<_>>(), vec![0, 0x2000]);
        // One byte at each edge of a page drops that page only.
        let mut c = three_cached_pages(&mem);
        invalidate_and_wait(&mut c, 7, 0x1fff, 0);
        assert_eq!(c.pages().map(|p| p.iova).collect::<Vec<_>>(), vec![0, 0x2000]);
        let mut c = three_cached_pages(&mem);
        invalidate_and_wait(&mut c, 7, 0x2000, 0);
        assert_eq!(c.pages().map(|p| p.iova).collect::<Vec<_>>(), vec![0, 0x1000]);
        // Two pages from 0x1000: the first page survives, the other two go.
        let mut c = three_cached_pages(&mem);
        invalidate_and_wait(&mut c, 7, 0x1000, 13);
        assert_eq!(c.pages().map(|p| p.iova).collect::<Vec<_>>(), vec![0]);
        // A range ending at the top of the address space saturates instead of wrapping.
        let mut c = three_cached_pages(&mem);
        invalidate_and_wait(&mut c, 7, u64::MAX - 0xfff, 12);
        assert_eq!(c.pages().count(), 3);
        invalidate_and_wait(&mut c, 7, 0x2000, 64);
        assert_eq!(c.pages().map(|p| p.iova).collect::<Vec<_>>(), vec![0, 0x1000]);
    }

    #[test]
    fn a_hit_covers_exactly_the_cached_page() {
        let mut mem = memory();
        let mut c = Caches::new();
        assert_eq!(dma(&mut c, &mem, 0x1000, Perm::R), Ok(0x6000));
        // Change the table under the cache: hits keep the old page, misses walk the new one.
        mem.insert(0x2008, PR | IR | 0x9000);
        mem.insert(0x2010, PR | IR | 0xa000);
        mem.insert(0x2000, PR | IR | 0xb000);
        assert_eq!(dma(&mut c, &mem, 0x1fff, Perm::R), Ok(0x6fff));
        assert_eq!(dma(&mut c, &mem, 0x2000, Perm::R), Ok(0xa000));
        assert_eq!(dma(&mut c, &mem, 0xfff, Perm::R), Ok(0xbfff));
    }

    #[test]
    fn untranslated_dtes_never_use_the_iotlb_of_their_domain() {
        let mut mem = memory();
        let cfg_untranslated = WalkConfig { tv0: Tv0Policy::Untranslated, ..WalkConfig::default() };
        // Device 0: V = 0, yet TV, a mode and domain 7 (ignored without V).
        let mut v0 = Dte::translating(0x2000, 1, Perm::RW, 7);
        v0.0[0] &= !1;
        set_dte(&mut mem, 0, v0);
        // Device 2: mode 0 in domain 7.
        set_dte(&mut mem, 2, Dte::translating(0x2000, 0, Perm::RW, 7));
        // Device 3: V = 1, TV = 0, mode 1, domain 7.
        let mut tv0 = Dte::translating(0x2000, 1, Perm::RW, 7);
        tv0.0[0] &= !2;
        set_dte(&mut mem, 3, tv0);
        for cfg in [WalkConfig::default(), cfg_untranslated] {
            let mut c = Caches::new();
            assert_eq!(c.dma(&mem, &cfg, &DEVTAB, 1, 0x10, Perm::R).map(|t| t.spa), Ok(0x5010));
            assert_eq!(c.pages().count(), 1);
            let spa = |c: &mut Caches, dev| c.dma(&mem, &cfg, &DEVTAB, dev, 0x10, Perm::R);
            assert_eq!(
                spa(&mut c, 0).map(|t| (t.spa, t.kind)),
                Ok((0x10, TranslationKind::DteNotValid))
            );
            assert_eq!(spa(&mut c, 2).map(|t| (t.spa, t.kind)), Ok((0x10, TranslationKind::Mode0)));
            let tv0_result = spa(&mut c, 3).map(|t| (t.spa, t.kind));
            match cfg.tv0 {
                Tv0Policy::Fault => assert_eq!(tv0_result, Err(Fault::TranslationNotValid)),
                Tv0Policy::Untranslated => {
                    assert_eq!(tv0_result, Ok((0x10, TranslationKind::Tv0PassThrough)))
                }
            }
            assert_eq!(c.pages().count(), 1, "untranslated accesses are not cached");
        }
    }

    fn page(domain: u16, iova: u64, size_log2: u32) -> CachedPage {
        CachedPage { domain, iova, size_log2, spa: 0x8000_0000, perm: Perm::RW }
    }

    #[test]
    fn eviction_leaves_nothing_behind_in_the_index() {
        let mut tlb = Iotlb::default();
        tlb.insert(page(9, 0, 12));
        tlb.insert(page(9, 0, 21));
        // Evict exactly the 4 KiB page: the 2 MiB page now answers for IOVA 0.
        for i in 1..IOTLB_CAPACITY as u64 - 1 {
            tlb.insert(page(8, i << 12, 12));
        }
        assert_eq!(tlb.lookup(9, 0x10), Some(&page(9, 0, 12)));
        tlb.insert(page(8, 0, 12));
        assert_eq!(tlb.len(), IOTLB_CAPACITY);
        assert_eq!(tlb.lookup(9, 0x10), Some(&page(9, 0, 21)));
        assert_eq!(tlb.by_page.values().map(BTreeMap::len).sum::<usize>(), IOTLB_CAPACITY);
    }

    #[test]
    fn caches_compare_by_content_not_by_index_history() {
        let mem = memory();
        let mut a = Caches::new();
        dma(&mut a, &mem, 0x1000, Perm::NONE).unwrap();
        let mut b = Caches::new();
        dma(&mut b, &mem, 0, Perm::NONE).unwrap();
        assert_ne!(a, b);
        invalidate_and_wait(&mut b, 7, 0, 12);
        dma(&mut b, &mem, 0x1000, Perm::NONE).unwrap();
        assert_eq!(a, b, "same DTEs, pages and pending commands");
        a.command(Invalidation::CompletionWait);
        assert_eq!(a, b);
        a.command(Invalidation::DevtabEntry { dev: 1 });
        assert_ne!(a, b, "a pending invalidation differs");
    }

    #[test]
    fn dtes_the_walk_rejects_never_hit_the_iotlb() {
        let mut mem = memory();
        // Device 2: mode 7; device 3: a reserved bit; device 0: mode 5 on 4-level hardware.
        set_dte(&mut mem, 2, Dte::translating(0x2000, 7, Perm::RW, 7));
        let mut reserved = Dte::translating(0x2000, 1, Perm::RW, 7);
        reserved.0[0] |= 1 << 63;
        set_dte(&mut mem, 3, reserved);
        set_dte(&mut mem, 0, Dte::translating(0x2000, 5, Perm::RW, 7));
        let cfg = WalkConfig { max_levels: 4, ..WalkConfig::default() };
        let mut c = Caches::new();
        assert_eq!(c.dma(&mem, &cfg, &DEVTAB, 1, 0x10, Perm::R).map(|t| t.spa), Ok(0x5010));
        let dma = |c: &mut Caches, dev| c.dma(&mem, &cfg, &DEVTAB, dev, 0x10, Perm::R);
        assert_eq!(dma(&mut c, 2), Err(Fault::ReservedMode));
        assert_eq!(dma(&mut c, 3), Err(Fault::IllegalDte { bits: 1 << 63 }));
        assert_eq!(dma(&mut c, 0), Err(Fault::ModeAboveMax { mode: 5, max: 4 }));
    }

    /// The linear IOTLB the index replaces: a list, oldest first, scanned in order.
    #[derive(Default)]
    struct LinearIotlb(Vec<CachedPage>);

    impl LinearIotlb {
        fn lookup(&self, domain: u16, iova: u64) -> Option<&CachedPage> {
            let range =
                |iova: u64, log2: u32| (iova as u128, iova as u128 + (1u128 << log2.min(64)));
            self.0.iter().find(|p| {
                let (start, end) = range(p.iova, p.size_log2);
                p.domain == domain && start <= iova as u128 && (iova as u128) < end
            })
        }
        fn insert(&mut self, page: CachedPage) {
            self.0.retain(|p| {
                (p.domain, p.iova, p.size_log2) != (page.domain, page.iova, page.size_log2)
            });
            while self.0.len() >= IOTLB_CAPACITY {
                self.0.remove(0);
            }
            self.0.push(page);
        }
        fn invalidate(&mut self, domain: u16, iova: u64, size_log2: u32) {
            // Half-open ranges in 128 bits: no saturation, no shift overflow.
            let range =
                |iova: u64, log2: u32| (iova as u128, iova as u128 + (1u128 << log2.min(64)));
            let (start, end) = range(iova, size_log2);
            self.0.retain(|p| {
                let (p_start, p_end) = range(p.iova, p.size_log2);
                !(p.domain == domain && p_start < end && start < p_end)
            });
        }
    }

    #[test]
    fn index_behaves_like_a_linear_scan() {
        let mut rng = fastrand::Rng::with_seed(0x2545_f491_4f6c_dd1d);
        let mut next = move |n: u64| rng.u64(..n.max(1));
        let sizes = [12, 13, 21, 22, 30, 39, 52, 63];
        let mut evictions = 0;
        for _round in 0..20 {
            let mut index = Iotlb::default();
            let mut linear = LinearIotlb::default();
            for _op in 0..1500 {
                evictions += usize::from(index.len() == IOTLB_CAPACITY);
                let domain = next(3) as u16;
                // IOVAs clustered in a small window so that pages of all sizes overlap.
                let iova = next(1 << 23) << next(30);
                match next(32) {
                    0..=15 => {
                        let size_log2 = sizes[next(sizes.len() as u64) as usize];
                        let page = CachedPage {
                            domain,
                            iova: align_down(iova, size_log2),
                            size_log2,
                            spa: next(1 << 40) << 12,
                            perm: Perm::R,
                        };
                        index.insert(page);
                        linear.insert(page);
                    }
                    16..=17 => {
                        // Rarely the whole domain, so that the capacity is reached too.
                        let size_log2 = match next(64) {
                            0 => 64 + next(8) as u32,
                            n => [0, 12, 13, 20, 21, 30, 40][n as usize % 7],
                        };
                        index.invalidate(domain, iova, size_log2);
                        linear.invalidate(domain, iova, size_log2);
                    }
                    _ => assert_eq!(index.lookup(domain, iova), linear.lookup(domain, iova)),
                }
                assert!(index.pages().eq(linear.0.iter()));
                let indexed: usize = index.by_page.values().map(BTreeMap::len).sum();
                assert_eq!(indexed, index.len());
                assert!(index.by_page.values().all(|pages| !pages.is_empty()));
            }
        }
        assert!(evictions > 1000, "the capacity is reached: {evictions}");
    }
}
