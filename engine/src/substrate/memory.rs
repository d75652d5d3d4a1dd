//! Simulated physical memory: 4 KiB frames of little-endian u64 entries, bit-exact, anywhere in
//! the 52-bit physical address space.
//!
//! Only frames that were created (table frames, the device table) exist; reading anything
//! else returns an error, which the oracle reports as a hardware error. Implementations write
//! real AMD-Vi entries here and the oracle reads the same bytes.

use super::frame_index::FrameIndex;
use ptdiff_reference::PhysMem;
use thiserror::Error;

/// Qwords per 4 KiB frame.
pub const QWORDS_PER_FRAME: usize = 512;

/// A memory access that cannot be performed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum MemError {
    /// The address is not 8-byte aligned.
    #[error("unaligned access at {spa:#x}")]
    Unaligned { spa: u64 },
    /// No frame exists at the address.
    #[error("no memory at {spa:#x}")]
    NoFrame { spa: u64 },
}

/// Physical memory as a flat store of frames.
///
/// Invariant: `frames[slot]` holds the contents of the frame whose pfn `index` maps to `slot`;
/// every slot below `frames.len()` is mapped from exactly one pfn. Frames are created, refilled
/// and written, never removed, so a slot number stays valid for the memory's life.
#[derive(Clone, Debug, Default)]
pub struct Memory {
    index: FrameIndex,
    frames: Vec<[u64; QWORDS_PER_FRAME]>,
    /// Stores and frame fills so far: equal counts mean equal contents.
    generation: u64,
}

impl Memory {
    /// Empty memory: every read fails until frames are created.
    pub fn new() -> Memory {
        Memory::default()
    }

    /// Makes frame `pfn` exist and fills it with `value` in every qword.
    pub fn fill_frame(&mut self, pfn: u64, value: u64) {
        self.generation += 1;
        match self.index.get(pfn) {
            Some(slot) => self.frames[slot as usize].fill(value),
            None => {
                let slot = self.frames.len() as u32;
                self.frames.push([value; QWORDS_PER_FRAME]);
                self.index.insert(pfn, slot);
            }
        }
    }

    /// True when frame `pfn` exists.
    pub fn has_frame(&self, pfn: u64) -> bool {
        self.index.get(pfn).is_some()
    }

    /// Reads the qword at `spa`.
    #[inline]
    pub fn read(&self, spa: u64) -> Result<u64, MemError> {
        if spa % 8 != 0 {
            return Err(MemError::Unaligned { spa });
        }
        let slot = self.index.get(spa >> 12).ok_or(MemError::NoFrame { spa })?;
        Ok(self.frames[slot as usize][((spa & 0xfff) / 8) as usize])
    }

    /// Writes the qword at `spa` (one atomic 64-bit store, as real code must do for live entries).
    #[inline]
    pub fn write(&mut self, spa: u64, value: u64) -> Result<(), MemError> {
        if spa % 8 != 0 {
            return Err(MemError::Unaligned { spa });
        }
        let slot = self.index.get(spa >> 12).ok_or(MemError::NoFrame { spa })?;
        self.frames[slot as usize][((spa & 0xfff) / 8) as usize] = value;
        self.generation += 1;
        Ok(())
    }

    /// Forgets every frame, keeping the allocations for reuse.
    pub fn clear(&mut self) {
        self.index.clear();
        self.frames.clear();
        self.generation += 1;
    }

    /// A count of every change so far (stores, fills, clears): memory whose generation did not
    /// move has not changed.
    pub fn generation(&self) -> u64 {
        self.generation
    }
}

impl PhysMem for Memory {
    #[inline]
    fn read_u64(&self, spa: u64) -> Option<u64> {
        self.read(spa).ok()
    }

    /// Lends the whole frame at `spa` (4 KiB aligned) to readers of whole tables.
    fn table(&self, spa: u64) -> Option<&[u64; QWORDS_PER_FRAME]> {
        if spa & 0xfff != 0 {
            return None;
        }
        self.index.get(spa >> 12).map(|slot| &self.frames[slot as usize])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_back_writes_and_rejects_missing_or_unaligned() {
        let mut mem = Memory::new();
        assert_eq!(mem.read(0x5000), Err(MemError::NoFrame { spa: 0x5000 }));
        mem.fill_frame(5, 0);
        mem.write(0x5ff8, 0xdead_beef_0000_0001).unwrap();
        assert_eq!(mem.read(0x5ff8), Ok(0xdead_beef_0000_0001));
        assert_eq!(mem.read_u64(0x5000), Some(0));
        assert_eq!(mem.write(0x5004, 1), Err(MemError::Unaligned { spa: 0x5004 }));
        assert_eq!(mem.write(0x6000, 1), Err(MemError::NoFrame { spa: 0x6000 }));
        assert_eq!(mem.read_u64(0x5001), None);
        mem.fill_frame(5, 7);
        assert_eq!(mem.read(0x5ff8), Ok(7));
        assert_eq!(mem.table(0x5000).map(|t| t[511]), Some(7));
        assert_eq!((mem.table(0x5008), mem.table(0x6000)), (None, None));
    }

    #[test]
    fn frames_anywhere_in_the_physical_address_space() {
        let mut mem = Memory::new();
        let high = (1u64 << 40) - 1;
        mem.fill_frame(high, 3);
        mem.fill_frame(0, 4);
        mem.write((high << 12) | 0xff8, 9).unwrap();
        assert_eq!(mem.read((high << 12) | 0xff8), Ok(9));
        assert_eq!(mem.read(high << 12), Ok(3));
        assert_eq!(mem.read(0), Ok(4));
        assert!(!mem.has_frame(high - 1));
        mem.clear();
        assert!(!mem.has_frame(0));
    }
}
