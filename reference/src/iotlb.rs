//! The IOTLB's storage: cached pages indexed by domain, page size and IOVA, so a lookup, an
//! invalidation or a question about one range costs O(page sizes cached x log n), not O(n),
//! and stays flat however full the IOTLB gets.

use crate::cache::CachedPage;
use std::collections::{BTreeMap, VecDeque};

/// `(domain, size_log2, iova)`: a cached page's key; its IOVA is aligned to its size.
type Key = (u16, u32, u64);

/// `iova` aligned down to `2^size_log2` (0 for sizes of 64 bits and more).
fn align(iova: u64, size_log2: u32) -> u64 {
    if size_log2 >= 64 {
        0
    } else {
        iova & !((1u64 << size_log2) - 1)
    }
}

/// Last byte of `[iova, iova + 2^size_log2)`, saturating: where an invalidation or a cached
/// page ends, for every overlap test.
pub(crate) fn last_byte(iova: u64, size_log2: u32) -> u64 {
    if size_log2 >= 64 {
        u64::MAX
    } else {
        iova.saturating_add((1u64 << size_log2) - 1)
    }
}

/// Cached pages in fill order, at most `capacity`, the oldest evicted first.
///
/// Invariants: `pages` holds every live page under its key with its fill number (the count of
/// fills before it); `order` holds `(fill, key)` of every page filled and not evicted, in fill
/// order, including pages since invalidated, which are dead: `pages` holds another fill number
/// or nothing under their key; `sizes` counts the live pages of each size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Iotlb {
    capacity: usize,
    pages: BTreeMap<Key, (u64, CachedPage)>,
    order: VecDeque<(u64, Key)>,
    sizes: BTreeMap<u32, usize>,
    fills: u64,
}

impl Iotlb {
    pub(crate) fn new(capacity: usize) -> Iotlb {
        Iotlb {
            capacity,
            pages: BTreeMap::new(),
            order: VecDeque::new(),
            sizes: BTreeMap::new(),
            fills: 0,
        }
    }

    fn key(page: &CachedPage) -> Key {
        (page.domain, page.size_log2, align(page.iova, page.size_log2))
    }

    fn live(&self, &(fill, key): &(u64, Key)) -> Option<&CachedPage> {
        self.pages.get(&key).filter(|(f, _)| *f == fill).map(|(_, page)| page)
    }

    /// The oldest cached page of `domain` covering `iova`.
    pub(crate) fn lookup(&self, domain: u16, iova: u64) -> Option<&CachedPage> {
        self.sizes
            .keys()
            .filter_map(|&size| self.pages.get(&(domain, size, align(iova, size))))
            .filter(|(_, page)| page.covers(iova))
            .min_by_key(|(fill, _)| *fill)
            .map(|(_, page)| page)
    }

    /// Caches `page` (replacing a page under the same key), evicting the oldest pages while
    /// the IOTLB is full.
    pub(crate) fn insert(&mut self, page: CachedPage) {
        let key = Iotlb::key(&page);
        self.remove(key);
        while self.pages.len() >= self.capacity.max(1) {
            match self.order.pop_front() {
                Some(entry) if self.live(&entry).is_some() => self.remove(entry.1),
                Some(_) => {}
                None => break,
            }
        }
        self.pages.insert(key, (self.fills, page));
        self.order.push_back((self.fills, key));
        *self.sizes.entry(page.size_log2).or_insert(0) += 1;
        self.fills += 1;
        if self.order.len() > 4 * self.capacity.max(1) {
            let pages = &self.pages;
            self.order.retain(|(fill, key)| pages.get(key).is_some_and(|(f, _)| f == fill));
        }
    }

    fn remove(&mut self, key: Key) {
        if self.pages.remove(&key).is_some() {
            if let Some(count) = self.sizes.get_mut(&key.1) {
                *count -= 1;
                if *count == 0 {
                    self.sizes.remove(&key.1);
                }
            }
        }
    }

    /// The keys of the pages of `domain` that overlap `[iova, last]`.
    fn overlapping_keys(&self, domain: u16, iova: u64, last: u64) -> Vec<Key> {
        let mut keys = Vec::new();
        for &size in self.sizes.keys() {
            let range = (domain, size, align(iova, size))..=(domain, size, last);
            keys.extend(self.pages.range(range).map(|(key, _)| *key));
        }
        keys
    }

    /// Drops the pages of `domain` that overlap `[iova, iova + 2^size_log2)`.
    pub(crate) fn invalidate(&mut self, domain: u16, iova: u64, size_log2: u32) {
        for key in self.overlapping_keys(domain, iova, last_byte(iova, size_log2)) {
            let overlaps = self.pages.get(&key).is_some_and(|(_, p)| p.overlaps(iova, size_log2));
            if overlaps {
                self.remove(key);
            }
        }
    }

    /// The pages, oldest first.
    pub(crate) fn pages(&self) -> impl Iterator<Item = &CachedPage> + '_ {
        self.order.iter().filter_map(|entry| self.live(entry))
    }

    /// How many pages were ever cached: a mark for [`Iotlb::pages_since`].
    pub(crate) fn fills(&self) -> u64 {
        self.fills
    }

    /// The pages cached since `mark` (an earlier [`Iotlb::fills`]) and still cached, oldest
    /// first.
    pub(crate) fn pages_since(&self, mark: u64) -> impl Iterator<Item = &CachedPage> + '_ {
        let newer = self.order.iter().rev().take_while(|(fill, _)| *fill >= mark).count();
        self.order.range(self.order.len() - newer..).filter_map(|entry| self.live(entry))
    }

    /// The pages of `domain` that overlap the IOVAs `first..=last`, by size then IOVA.
    pub(crate) fn overlapping(
        &self,
        domain: u16,
        first: u64,
        last: u64,
    ) -> impl Iterator<Item = &CachedPage> + '_ {
        let keys = if first <= last { self.overlapping_keys(domain, first, last) } else { vec![] };
        keys.into_iter().filter_map(|key| self.pages.get(&key).map(|(_, page)| page))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::perm::Perm;

    fn page(domain: u16, iova: u64, size_log2: u32) -> CachedPage {
        CachedPage { domain, iova, size_log2, spa: iova, perm: Perm::R }
    }

    /// The same operations on a plain list, scanned in full: what the index must agree with.
    #[derive(Default)]
    struct Naive(Vec<CachedPage>);

    impl Naive {
        fn lookup(&self, domain: u16, iova: u64) -> Option<&CachedPage> {
            self.0.iter().find(|p| p.domain == domain && p.covers(iova))
        }
        fn insert(&mut self, page: CachedPage, capacity: usize) {
            self.0.retain(|p| Iotlb::key(p) != Iotlb::key(&page));
            while self.0.len() >= capacity {
                self.0.remove(0);
            }
            self.0.push(page);
        }
        fn invalidate(&mut self, domain: u16, iova: u64, size_log2: u32) {
            self.0.retain(|p| !(p.domain == domain && p.overlaps(iova, size_log2)));
        }
    }

    #[test]
    fn agrees_with_a_scanned_list_on_random_operations() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
        let sizes = [12, 21, 30, 64];
        for round in 0..20 {
            let capacity = 1 + round * 3;
            let (mut iotlb, mut naive) = (Iotlb::new(capacity as usize), Naive::default());
            for _ in 0..2000 {
                let domain = next(2) as u16;
                let iova = next(1 << 16) << 12;
                let size = sizes[next(4) as usize];
                match next(4) {
                    0 | 1 => {
                        if naive.lookup(domain, iova).is_none() {
                            let p = page(domain, align(iova, size), size);
                            iotlb.insert(p);
                            naive.insert(p, capacity as usize);
                        }
                    }
                    2 => {
                        let log2 = [12, 13, 21, 40, 64][next(5) as usize];
                        iotlb.invalidate(domain, iova, log2);
                        naive.invalidate(domain, iova, log2);
                    }
                    _ => assert_eq!(iotlb.lookup(domain, iova), naive.lookup(domain, iova)),
                }
                assert!(iotlb.pages().eq(naive.0.iter()));
                let (first, last) = (next(1 << 28) << 12, next(1 << 28) << 12);
                let mut overlapping: Vec<_> = iotlb.overlapping(domain, first, last).collect();
                let mut expected: Vec<_> = naive
                    .0
                    .iter()
                    .filter(|p| p.domain == domain && first <= last && p.iova <= last)
                    .filter(|p| last_byte(p.iova, p.size_log2) >= first)
                    .collect();
                overlapping.sort_by_key(|p| (p.size_log2, p.iova));
                expected.sort_by_key(|p| (p.size_log2, p.iova));
                assert_eq!(overlapping, expected);
            }
            assert!(iotlb.order.len() <= 4 * capacity as usize + 1);
        }
    }

    #[test]
    fn an_invalidation_ends_at_its_last_byte() {
        let mut iotlb = Iotlb::new(8);
        for iova in [0x1000, 0x2000, 0x3000] {
            iotlb.insert(page(1, iova, 12));
        }
        iotlb.insert(page(1, 0x20_0000, 21));
        iotlb.invalidate(1, 0x2000, 12);
        let left = |t: &Iotlb| t.pages().map(|p| p.iova).collect::<Vec<_>>();
        assert_eq!(left(&iotlb), [0x1000, 0x3000, 0x20_0000], "not the neighbours");
        iotlb.invalidate(1, 0x1fff, 0);
        assert_eq!(left(&iotlb), [0x3000, 0x20_0000], "its last byte");
        iotlb.invalidate(1, 0x1f_f000, 12);
        assert_eq!(left(&iotlb), [0x3000, 0x20_0000], "the page before the superpage");
        iotlb.invalidate(1, 0x3f_ffff, 0);
        assert_eq!(left(&iotlb), [0x3000], "the superpage's last byte");
        assert_eq!((last_byte(0x1000, 12), last_byte(5, 64)), (0x1fff, u64::MAX));
    }

    #[test]
    fn pages_since_a_mark_are_the_ones_cached_after_it() {
        let mut iotlb = Iotlb::new(3);
        iotlb.insert(page(1, 0x1000, 12));
        let mark = iotlb.fills();
        iotlb.insert(page(1, 0x2000, 12));
        iotlb.insert(page(1, 0x20_0000, 21));
        iotlb.invalidate(1, 0x2000, 12);
        let since: Vec<u64> = iotlb.pages_since(mark).map(|p| p.iova).collect();
        assert_eq!(since, vec![0x20_0000]);
        iotlb.insert(page(2, 0x5000, 12));
        iotlb.insert(page(2, 0x6000, 12));
        assert_eq!(iotlb.pages().map(|p| p.iova).collect::<Vec<_>>(), [0x20_0000, 0x5000, 0x6000]);
        assert_eq!(iotlb.pages_since(iotlb.fills()).count(), 0);
    }
}
