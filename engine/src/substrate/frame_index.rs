//! A map from page frame number to a dense slot number, for the flat frame stores of the
//! substrate ([`super::memory::Memory`], [`super::frames::FrameAllocator`]'s ledger).
//!
//! Open addressing with linear probing over a power-of-two table of `(pfn, slot)` pairs. Frames
//! are only ever added, never removed (a freed table frame stays, poisoned), so there are no
//! tombstones. Invariant: `keys.len()` is a power of two at least twice `len`, every inserted
//! pfn sits at the first free position at or after its home bucket (wrapping), and
//! `EMPTY` marks a free position. Lookups cost one multiply and, at load at most 1/2, about
//! 1.5 probes.

/// Marks a free position (no real pfn: pfns are below 2^52).
const EMPTY: u64 = u64::MAX;

/// `pfn -> slot`, insert-only.
#[derive(Clone, Debug)]
pub struct FrameIndex {
    keys: Vec<u64>,
    slots: Vec<u32>,
    len: usize,
    shift: u32,
}

impl Default for FrameIndex {
    fn default() -> Self {
        FrameIndex::with_capacity_log2(6)
    }
}

impl FrameIndex {
    fn with_capacity_log2(log2: u32) -> FrameIndex {
        FrameIndex {
            keys: vec![EMPTY; 1 << log2],
            slots: vec![0; 1 << log2],
            len: 0,
            shift: 64 - log2,
        }
    }

    fn home(&self, pfn: u64) -> usize {
        (pfn.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> self.shift) as usize
    }

    /// The slot of `pfn`, if it was inserted.
    #[inline]
    pub fn get(&self, pfn: u64) -> Option<u32> {
        let mask = self.keys.len() - 1;
        let mut at = self.home(pfn);
        loop {
            let key = self.keys[at];
            if key == pfn {
                return Some(self.slots[at]);
            }
            if key == EMPTY {
                return None;
            }
            at = (at + 1) & mask;
        }
    }

    /// Records `pfn -> slot`; a pfn inserted twice keeps its first slot.
    pub fn insert(&mut self, pfn: u64, slot: u32) {
        if pfn == EMPTY || self.get(pfn).is_some() {
            return;
        }
        if 2 * (self.len + 1) > self.keys.len() {
            self.grow();
        }
        self.place(pfn, slot);
        self.len += 1;
    }

    fn place(&mut self, pfn: u64, slot: u32) {
        let mask = self.keys.len() - 1;
        let mut at = self.home(pfn);
        while self.keys[at] != EMPTY {
            at = (at + 1) & mask;
        }
        self.keys[at] = pfn;
        self.slots[at] = slot;
    }

    fn grow(&mut self) {
        let log2 = 64 - self.shift + 1;
        let old = std::mem::replace(self, FrameIndex::with_capacity_log2(log2));
        for (key, slot) in old.keys.into_iter().zip(old.slots) {
            if key != EMPTY {
                self.place(key, slot);
            }
        }
        self.len = old.len;
    }

    /// Forgets every pfn, keeping the allocation.
    pub fn clear(&mut self) {
        self.keys.fill(EMPTY);
        self.len = 0;
    }

    /// Number of pfns inserted.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when nothing was inserted.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_what_was_inserted_across_growth() {
        let mut index = FrameIndex::default();
        let pfns: Vec<u64> =
            (0..1000u64).map(|i| if i % 2 == 0 { i } else { (1 << 39) + i * 4099 }).collect();
        for (slot, &pfn) in pfns.iter().enumerate() {
            index.insert(pfn, slot as u32);
        }
        assert_eq!(index.len(), 1000);
        for (slot, &pfn) in pfns.iter().enumerate() {
            assert_eq!(index.get(pfn), Some(slot as u32), "pfn {pfn:#x}");
        }
        assert_eq!(index.get(1), None);
        assert_eq!(index.get((1 << 40) - 1), None);
        index.insert(0, 77);
        assert_eq!(index.get(0), Some(0), "a second insert keeps the first slot");
        index.clear();
        assert_eq!((index.len(), index.get(0)), (0, None));
    }
}
