//! The frame allocator for page-table frames, with a ledger of what every frame is.
//!
//! Freed frames are not returned to "nothing": they are filled with [`POISON_ENTRY`], a present
//! read/write leaf pointing at [`POISON_MFN`], so a walk through a freed table translates to an
//! unmistakable frame instead of silently faulting. Freed frames are reused last-in first-out,
//! which turns a dangling table pointer into an alias of a live table, as on real hardware.
//!
//! Where fresh frames come from is a [`Placement`]: low memory (the default), the top of the
//! 52-bit physical address space, spread over all of it, or adversarial addresses that set
//! each high address bit in turn, so a table pointer's bits 51:32 are exercised.

use super::frame_index::FrameIndex;
use thiserror::Error;

/// First frame number handed out for tables (SPA 1 GiB), far above the device table.
pub const TABLE_POOL_FIRST_PFN: u64 = 0x4_0000;

/// The frame a walk through a freed (poisoned) table translates to.
pub const POISON_MFN: u64 = 0xbad_bad;

/// The raw value written into every entry of a freed frame: PR, IR, IW, NL = 0, address
/// [`POISON_MFN`].
pub const POISON_ENTRY: u64 = (1 << 62) | (1 << 61) | (POISON_MFN << 12) | 1;

/// The highest frame number of the 52-bit physical address space.
pub const MAX_PFN: u64 = (1 << 40) - 1;

/// Where the allocator places fresh table frames (freed frames are always reused first, last
/// freed first). Every placement is deterministic, never hands out a frame twice, and never
/// uses frame 0, the device table's frame or [`POISON_MFN`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Placement {
    /// Consecutive frames from [`TABLE_POOL_FIRST_PFN`] (SPA 1 GiB) upwards.
    #[default]
    Low,
    /// Consecutive frames from the top of the physical address space downwards.
    High,
    /// Frames scattered over the whole physical address space, by a hash of `seed` and the
    /// allocation's number.
    Spread { seed: u64 },
    /// Frames whose addresses set one high address bit each (bit 51 down to bit 30), then
    /// all-ones and alternating patterns in bits 51:30, then as [`Placement::High`].
    Adversarial,
}

impl Placement {
    /// The `n`-th (0-based) candidate frame of this placement.
    fn candidate(self, n: u64) -> u64 {
        match self {
            Placement::Low => TABLE_POOL_FIRST_PFN + n,
            Placement::High => MAX_PFN - n,
            Placement::Spread { seed } => {
                let mut x = seed ^ n.wrapping_mul(0x9e37_79b9_7f4a_7c15);
                x ^= x >> 31;
                x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
                x ^= x >> 29;
                x & MAX_PFN
            }
            Placement::Adversarial => {
                const WALKING: u64 = 22; // address bits 51..=30 = pfn bits 39..=18
                const PATTERNS: [u64; 3] = [0xff_fffc_0000, 0xaa_aaa8_0000, 0x55_5554_0000];
                if n < WALKING {
                    (1 << (39 - n)) | n
                } else if n < WALKING + PATTERNS.len() as u64 {
                    PATTERNS[(n - WALKING) as usize] | n
                } else {
                    MAX_PFN - n
                }
            }
        }
    }
}

/// What a frame is used for, as the allocator's ledger records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FrameState {
    /// A live page-table frame of this domain.
    Table { domain: u16 },
    /// Part of the device table.
    DeviceTable,
    /// A table frame that was freed and poisoned.
    Freed,
}

/// Why an allocator call failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum FrameError {
    /// The allocation failed (injected failure).
    #[error("out of memory (table allocation #{nth} failed by injection)")]
    OutOfMemory { nth: u64 },
    /// Freeing a frame that is not a live table frame (double free or foreign frame).
    #[error("frame {pfn:#x} freed but it is {state}")]
    BadFree { pfn: u64, state: &'static str },
}

/// One change to the ledger, as the journal records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameEvent {
    /// Table frame `pfn` was allocated.
    Alloc(u64),
    /// Table frame `pfn` was freed.
    Free(u64),
}

/// Hands out zeroed table frames and keeps the ledger.
///
/// Invariant: `ledger[i]` is the state of frame `ledger_pfns[i]`, and `index` maps each pfn of
/// `ledger_pfns` to its `i`; a frame enters the ledger once and stays. `journal` holds every
/// alloc and free since the last [`FrameAllocator::start_journal`], in order.
#[derive(Clone, Debug)]
pub struct FrameAllocator {
    placement: Placement,
    /// Candidates of `placement` tried so far.
    candidates: u64,
    free: Vec<u64>,
    index: FrameIndex,
    ledger_pfns: Vec<u64>,
    ledger: Vec<FrameState>,
    journal: Vec<FrameEvent>,
    allocations: u64,
    /// Live table frames (of any domain).
    live: u64,
    fail_at: Option<u64>,
}

impl Default for FrameAllocator {
    fn default() -> Self {
        FrameAllocator {
            placement: Placement::Low,
            candidates: 0,
            free: Vec::new(),
            index: FrameIndex::default(),
            ledger_pfns: Vec::new(),
            ledger: Vec::new(),
            journal: Vec::new(),
            allocations: 0,
            live: 0,
            fail_at: None,
        }
    }
}

impl FrameAllocator {
    /// Picks the frame for the next table of `domain` and records it. The caller (the
    /// [`crate::Iommu`]) zeroes the frame in memory.
    pub fn alloc(&mut self, domain: u16) -> Result<u64, FrameError> {
        self.allocations += 1;
        if self.fail_at == Some(self.allocations) {
            self.fail_at = None;
            return Err(FrameError::OutOfMemory { nth: self.allocations });
        }
        let pfn = match self.free.pop() {
            Some(pfn) => pfn,
            None => self.fresh_pfn(),
        };
        self.set_state(pfn, FrameState::Table { domain });
        self.live += 1;
        self.journal.push(FrameEvent::Alloc(pfn));
        Ok(pfn)
    }

    /// An allocator placing fresh frames by `placement`.
    pub fn with_placement(placement: Placement) -> FrameAllocator {
        FrameAllocator { placement, ..FrameAllocator::default() }
    }

    /// The next candidate of the placement that is not reserved and never was in the ledger.
    fn fresh_pfn(&mut self) -> u64 {
        loop {
            let pfn = self.placement.candidate(self.candidates);
            self.candidates += 1;
            let reserved = pfn == 0 || pfn == POISON_MFN;
            if !reserved && self.index.get(pfn).is_none() {
                return pfn;
            }
        }
    }

    fn set_state(&mut self, pfn: u64, state: FrameState) {
        match self.index.get(pfn) {
            Some(i) => self.ledger[i as usize] = state,
            None => {
                self.index.insert(pfn, self.ledger.len() as u32);
                self.ledger_pfns.push(pfn);
                self.ledger.push(state);
            }
        }
    }

    /// Records that table frame `pfn` is free; the caller poisons it.
    pub fn free(&mut self, pfn: u64) -> Result<(), FrameError> {
        match self.state(pfn) {
            Some(FrameState::Table { .. }) => {
                self.set_state(pfn, FrameState::Freed);
                self.live -= 1;
                self.free.push(pfn);
                self.journal.push(FrameEvent::Free(pfn));
                Ok(())
            }
            Some(FrameState::Freed) => Err(FrameError::BadFree { pfn, state: "already free" }),
            Some(FrameState::DeviceTable) => {
                Err(FrameError::BadFree { pfn, state: "the device table" })
            }
            None => Err(FrameError::BadFree { pfn, state: "not a table frame" }),
        }
    }

    /// Records a device-table frame.
    pub fn reserve_device_table(&mut self, pfn: u64) {
        self.set_state(pfn, FrameState::DeviceTable);
    }

    /// What the ledger says frame `pfn` is (`None`: never a table or device-table frame).
    #[inline]
    pub fn state(&self, pfn: u64) -> Option<FrameState> {
        self.index.get(pfn).map(|i| self.ledger[i as usize])
    }

    /// Live table frames of `domain`, in frame order (collects and sorts: for sweeps and
    /// reports, not for per-operation checks).
    pub fn live_tables(&self, domain: u16) -> impl Iterator<Item = u64> {
        let mut live: Vec<u64> = self
            .ledger_pfns
            .iter()
            .zip(&self.ledger)
            .filter_map(|(&pfn, &state)| (state == FrameState::Table { domain }).then_some(pfn))
            .collect();
        live.sort_unstable();
        live.into_iter()
    }

    /// Starts a new journal of allocs and frees (forgetting the previous one).
    pub fn start_journal(&mut self) {
        self.journal.clear();
    }

    /// Allocs and frees since [`FrameAllocator::start_journal`], in order.
    pub fn journal(&self) -> &[FrameEvent] {
        &self.journal
    }

    /// Live table frames of every domain, in O(1).
    pub fn live_count(&self) -> u64 {
        self.live
    }

    /// How many allocations were attempted so far (failed ones included).
    pub fn allocations(&self) -> u64 {
        self.allocations
    }

    /// Makes the `n`-th allocation from now fail (`n` = 1: the next one). One failure only.
    pub fn fail_nth_allocation(&mut self, n: u64) {
        self.fail_at = Some(self.allocations + n.max(1));
    }

    /// Cancels a pending injected failure; returns whether one was pending.
    pub fn cancel_failure(&mut self) -> bool {
        self.fail_at.take().is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ledger_tracks_alloc_free_reuse() {
        let mut frames = FrameAllocator::default();
        let a = frames.alloc(1).unwrap();
        let b = frames.alloc(1).unwrap();
        assert_eq!((a, b), (TABLE_POOL_FIRST_PFN, TABLE_POOL_FIRST_PFN + 1));
        assert_eq!(frames.live_tables(1).collect::<Vec<_>>(), vec![a, b]);
        frames.free(a).unwrap();
        assert_eq!(frames.state(a), Some(FrameState::Freed));
        assert_eq!(frames.free(a), Err(FrameError::BadFree { pfn: a, state: "already free" }));
        assert_eq!(frames.alloc(2).unwrap(), a, "freed frames are reused LIFO");
        assert_eq!(frames.live_tables(1).collect::<Vec<_>>(), vec![b]);
        assert_eq!(frames.live_tables(2).collect::<Vec<_>>(), vec![a]);
        assert_eq!(
            frames.journal(),
            &[
                FrameEvent::Alloc(a),
                FrameEvent::Alloc(b),
                FrameEvent::Free(a),
                FrameEvent::Alloc(a)
            ]
        );
        frames.start_journal();
        assert_eq!(frames.journal(), &[]);
    }

    #[test]
    fn placements_are_distinct_and_avoid_reserved_frames() {
        let first = |placement: Placement, n: usize| -> Vec<u64> {
            let mut frames = FrameAllocator::with_placement(placement);
            frames.reserve_device_table(1);
            (0..n).map(|_| frames.alloc(1).unwrap()).collect()
        };
        assert_eq!(first(Placement::Low, 2), vec![0x40000, 0x40001]);
        assert_eq!(first(Placement::High, 2), vec![MAX_PFN, MAX_PFN - 1]);
        let adversarial = first(Placement::Adversarial, 26);
        assert_eq!(&adversarial[..3], &[1 << 39, (1 << 38) | 1, (1 << 37) | 2]);
        assert_eq!(adversarial[22], 0xff_fffc_0000 | 22);
        assert_eq!(adversarial[25], MAX_PFN - 25);
        for placement in [Placement::Spread { seed: 7 }, Placement::Adversarial, Placement::High] {
            let mut pfns = first(placement, 300);
            assert!(pfns.iter().all(|&p| p != 0 && p != 1 && p != POISON_MFN && p <= MAX_PFN));
            pfns.sort_unstable();
            pfns.dedup();
            assert_eq!(pfns.len(), 300, "{placement:?} handed out a frame twice");
        }
        let spread = first(Placement::Spread { seed: 7 }, 64);
        assert!(spread.iter().any(|&p| p >> 30 != 0), "spread reaches bits 51:42");
        assert_ne!(spread, first(Placement::Spread { seed: 8 }, 64), "the seed matters");
    }

    #[test]
    fn injected_failure_hits_exactly_the_nth_allocation() {
        let mut frames = FrameAllocator::default();
        frames.fail_nth_allocation(2);
        assert!(frames.alloc(1).is_ok());
        assert_eq!(frames.alloc(1), Err(FrameError::OutOfMemory { nth: 2 }));
        assert!(frames.alloc(1).is_ok());
        assert_eq!(frames.allocations(), 3);
        assert!(!frames.cancel_failure());
    }
}
