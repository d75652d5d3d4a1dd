//! The frame allocator for page-table frames, with a ledger of what every frame is.
//!
//! Freed frames are not returned to "nothing": they are filled with [`POISON_ENTRY`], a present
//! read/write leaf pointing at [`POISON_MFN`], so a walk through a freed table translates to an
//! unmistakable frame instead of silently faulting. Freed frames are reused last-in first-out,
//! which turns a dangling table pointer into an alias of a live table, as on real hardware.

use super::frame_index::FrameIndex;
use thiserror::Error;

/// First frame number handed out for tables (SPA 1 GiB), far above the device table.
pub const TABLE_POOL_FIRST_PFN: u64 = 0x4_0000;

/// The frame a walk through a freed (poisoned) table translates to.
pub const POISON_MFN: u64 = 0xbad_bad;

/// The raw value written into every entry of a freed frame: PR, IR, IW, NL = 0, address
/// [`POISON_MFN`].
pub const POISON_ENTRY: u64 = (1 << 62) | (1 << 61) | (POISON_MFN << 12) | 1;

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
    next_pfn: u64,
    free: Vec<u64>,
    index: FrameIndex,
    ledger_pfns: Vec<u64>,
    ledger: Vec<FrameState>,
    journal: Vec<FrameEvent>,
    allocations: u64,
    fail_at: Option<u64>,
}

impl Default for FrameAllocator {
    fn default() -> Self {
        FrameAllocator {
            next_pfn: TABLE_POOL_FIRST_PFN,
            free: Vec::new(),
            index: FrameIndex::default(),
            ledger_pfns: Vec::new(),
            ledger: Vec::new(),
            journal: Vec::new(),
            allocations: 0,
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
            None => {
                let pfn = self.next_pfn;
                self.next_pfn += 1;
                pfn
            }
        };
        self.set_state(pfn, FrameState::Table { domain });
        self.journal.push(FrameEvent::Alloc(pfn));
        Ok(pfn)
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
