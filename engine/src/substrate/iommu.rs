//! The simulated IOMMU an implementation programs: physical memory, the table-frame allocator
//! and its ledger, the device table, and the command log. Each implementation under test owns
//! one, so their memories never mix; this is the only code the implementations share.

use crate::substrate::commands::{Command, CommandLog};
use crate::substrate::device_table::{dte_spa, DteSetting, DEVICE_TABLE_ENTRIES, DEVICE_TABLE_SPA};
use crate::substrate::frames::{FrameAllocator, FrameError, Placement, POISON_ENTRY};
use crate::substrate::memory::{MemError, Memory};
use ptdiff_reference::DeviceTable;
use thiserror::Error;

/// A substrate operation that failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum IommuError {
    /// Reading or writing memory failed.
    #[error(transparent)]
    Memory(#[from] MemError),
    /// Allocating or freeing a table frame failed.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// The device ID is beyond the device table.
    #[error("device {dev} does not exist (the device table has {DEVICE_TABLE_ENTRIES} entries)")]
    NoSuchDevice { dev: u16 },
    /// A lock was released by a task that does not hold it.
    #[error("the {lock} lock was released but is not held")]
    LockNotHeld { lock: &'static str },
}

/// A device's DTE as it was before the first write to it since the journal started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DteTouched {
    pub dev: u16,
    /// The four qwords before the first write.
    pub before: [u64; 4],
}

/// One simulated IOMMU with its memory.
///
/// Besides the state, it keeps a journal of what changed since
/// [`Iommu::start_journal`]: table frames allocated and freed
/// ([`FrameAllocator::journal`]) and DTEs written ([`Iommu::dte_journal`]), so that "a failed
/// operation changed nothing" costs O(what the operation did), not O(memory).
#[derive(Clone, Debug)]
pub struct Iommu {
    memory: Memory,
    frames: FrameAllocator,
    commands: CommandLog,
    dte_journal: Vec<DteTouched>,
}

impl Default for Iommu {
    fn default() -> Self {
        Iommu::new()
    }
}

impl Iommu {
    /// An IOMMU whose device table blocks every device, placing table frames low.
    pub fn new() -> Iommu {
        Iommu::with_placement(Placement::Low)
    }

    /// An IOMMU whose device table blocks every device, placing table frames by `placement`.
    pub fn with_placement(placement: Placement) -> Iommu {
        let mut memory = Memory::new();
        let mut frames = FrameAllocator::with_placement(placement);
        let devtab_pfn = DEVICE_TABLE_SPA >> 12;
        memory.fill_frame(devtab_pfn, 0);
        frames.reserve_device_table(devtab_pfn);
        let mut iommu =
            Iommu { memory, frames, commands: CommandLog::default(), dte_journal: Vec::new() };
        for dev in 0..DEVICE_TABLE_ENTRIES {
            let spa = DEVICE_TABLE_SPA + 32 * u64::from(dev);
            for (i, q) in DteSetting::Blocked.encode().into_iter().enumerate() {
                // The device-table frame was created just above, so this cannot fail.
                let _ = iommu.memory.write(spa + 8 * i as u64, q);
            }
        }
        iommu
    }

    /// The physical memory (implements the oracle's `PhysMem`).
    pub fn memory(&self) -> &Memory {
        &self.memory
    }

    /// The table-frame allocator and its ledger.
    pub fn frames(&self) -> &FrameAllocator {
        &self.frames
    }

    /// The allocator, for failure injection by the runner.
    pub fn frames_mut(&mut self) -> &mut FrameAllocator {
        &mut self.frames
    }

    /// The commands issued so far.
    pub fn commands(&self) -> &CommandLog {
        &self.commands
    }

    /// Where the device table is, in the oracle's terms.
    pub fn device_table(&self) -> DeviceTable {
        DeviceTable { base: DEVICE_TABLE_SPA, entries: DEVICE_TABLE_ENTRIES }
    }

    /// Allocates a zeroed table frame for `domain`; returns its SPA.
    pub fn alloc_table(&mut self, domain: u16) -> Result<u64, IommuError> {
        let pfn = self.frames.alloc(domain)?;
        self.memory.fill_frame(pfn, 0);
        Ok(pfn << 12)
    }

    /// Frees the table frame at `spa` (4 KiB aligned) and poisons its contents.
    pub fn free_table(&mut self, spa: u64) -> Result<(), IommuError> {
        let pfn = spa >> 12;
        if spa & 0xfff != 0 {
            return Err(MemError::Unaligned { spa }.into());
        }
        self.frames.free(pfn)?;
        self.memory.fill_frame(pfn, POISON_ENTRY);
        Ok(())
    }

    /// Reads the 64-bit entry at `spa`.
    #[inline]
    pub fn read_entry(&self, spa: u64) -> Result<u64, IommuError> {
        Ok(self.memory.read(spa)?)
    }

    /// Writes the 64-bit entry at `spa` in one store.
    #[inline]
    pub fn write_entry(&mut self, spa: u64, value: u64) -> Result<(), IommuError> {
        if spa >> 12 == DEVICE_TABLE_SPA >> 12 {
            self.touch_dte(((spa & 0xfff) / 32) as u16);
        }
        Ok(self.memory.write(spa, value)?)
    }

    /// Records device `dev`'s DTE in the journal before its first write since the journal
    /// started.
    fn touch_dte(&mut self, dev: u16) {
        if self.dte_journal.iter().any(|t| t.dev == dev) {
            return;
        }
        if let Some(spa) = dte_spa(dev) {
            let mut before = [0; 4];
            for (i, q) in before.iter_mut().enumerate() {
                *q = self.memory.read(spa + 8 * i as u64).unwrap_or(0);
            }
            self.dte_journal.push(DteTouched { dev, before });
        }
    }

    /// Starts a new journal of frame and DTE changes (forgetting the previous one).
    pub fn start_journal(&mut self) {
        self.frames.start_journal();
        self.dte_journal.clear();
    }

    /// The DTEs written since [`Iommu::start_journal`], each with its value before the first
    /// write.
    pub fn dte_journal(&self) -> &[DteTouched] {
        &self.dte_journal
    }

    /// Programs device `dev`'s DTE (qwords 3..1 first, qword 0 with V/TV/mode/root last, as the
    /// update discipline requires). Does not invalidate: issue
    /// [`Command::InvalidateDevtabEntry`] afterwards.
    pub fn set_dte(&mut self, dev: u16, setting: DteSetting) -> Result<(), IommuError> {
        let spa = dte_spa(dev).ok_or(IommuError::NoSuchDevice { dev })?;
        self.touch_dte(dev);
        let q = setting.encode();
        for i in (0..4).rev() {
            self.memory.write(spa + 8 * i as u64, q[i])?;
        }
        Ok(())
    }

    /// Appends a command to the command log.
    pub fn issue(&mut self, command: Command) {
        self.commands.push(command);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ptdiff_reference::{walk, Perm, WalkConfig};

    #[test]
    fn fresh_iommu_blocks_every_device() {
        let iommu = Iommu::new();
        let devtab = iommu.device_table();
        for dev in [0u16, 5, 127] {
            let read = walk(iommu.memory(), &WalkConfig::default(), &devtab, dev, 0x1000, Perm::R);
            assert!(read.is_err(), "device {dev} must not reach memory: {read:?}");
        }
    }

    #[test]
    fn freed_tables_are_poisoned() {
        let mut iommu = Iommu::new();
        let spa = iommu.alloc_table(1).unwrap();
        iommu.write_entry(spa + 8, 0x1234).unwrap();
        assert_eq!(iommu.read_entry(spa), Ok(0));
        iommu.free_table(spa).unwrap();
        assert_eq!(iommu.read_entry(spa + 8), Ok(POISON_ENTRY));
        assert!(iommu.free_table(spa).is_err());
    }
}
