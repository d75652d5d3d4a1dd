//! Simulated physical memory: sparse 4 KiB frames of little-endian u64 entries, bit-exact.
//!
//! Only frames that were created (table frames, the device table) exist; reading anything
//! else returns `None`, which the oracle reports as a hardware error. Implementations write
//! real AMD-Vi entries here and the oracle reads the same bytes.

use ptdiff_reference::PhysMem;
use std::collections::HashMap;
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

/// Sparse physical memory, keyed by page frame number.
#[derive(Clone, Debug, Default)]
pub struct Memory {
    frames: HashMap<u64, Box<[u64; QWORDS_PER_FRAME]>>,
}

impl Memory {
    /// Empty memory: every read fails until frames are created.
    pub fn new() -> Memory {
        Memory::default()
    }

    /// Makes frame `pfn` exist and fills it with `value` in every qword.
    pub fn fill_frame(&mut self, pfn: u64, value: u64) {
        let frame = self.frames.entry(pfn).or_insert_with(|| Box::new([0; QWORDS_PER_FRAME]));
        frame.fill(value);
    }

    /// True when frame `pfn` exists.
    pub fn has_frame(&self, pfn: u64) -> bool {
        self.frames.contains_key(&pfn)
    }

    /// Reads the qword at `spa`.
    pub fn read(&self, spa: u64) -> Result<u64, MemError> {
        let (frame, index) = self.locate(spa)?;
        Ok(frame[index])
    }

    /// Writes the qword at `spa` (one atomic 64-bit store, as real code must do for live entries).
    pub fn write(&mut self, spa: u64, value: u64) -> Result<(), MemError> {
        if spa % 8 != 0 {
            return Err(MemError::Unaligned { spa });
        }
        let frame = self.frames.get_mut(&(spa >> 12)).ok_or(MemError::NoFrame { spa })?;
        frame[((spa & 0xfff) / 8) as usize] = value;
        Ok(())
    }

    fn locate(&self, spa: u64) -> Result<(&[u64; QWORDS_PER_FRAME], usize), MemError> {
        if spa % 8 != 0 {
            return Err(MemError::Unaligned { spa });
        }
        let frame = self.frames.get(&(spa >> 12)).ok_or(MemError::NoFrame { spa })?;
        Ok((frame, ((spa & 0xfff) / 8) as usize))
    }
}

impl PhysMem for Memory {
    fn read_u64(&self, spa: u64) -> Option<u64> {
        self.read(spa).ok()
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
    }
}
