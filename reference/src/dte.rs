//! Device table entries: where the hardware walk starts (amd-vi.md section 1).

use crate::fault::Fault;
use crate::format::*;
use crate::memory::PhysMem;
use crate::perm::Perm;

/// A 256-bit device table entry as four little-endian qwords. Only qwords 0 and 1 matter for
/// DMA translation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Dte(pub [u64; 4]);

impl Dte {
    /// V: the DTE is valid. With V = 0 the device's DMA is not translated.
    pub fn valid(&self) -> bool {
        self.0[0] & DTE_V != 0
    }

    /// TV: the mode and root pointer are meaningful.
    pub fn translation_valid(&self) -> bool {
        self.0[0] & DTE_TV != 0
    }

    /// The paging mode field (0 = no translation, 1..=6 = levels, 7 = reserved).
    pub fn mode(&self) -> u8 {
        ((self.0[0] >> DTE_MODE_SHIFT) & 0x7) as u8
    }

    /// SPA of the root table (bits 51:12 of qword 0).
    pub fn root(&self) -> u64 {
        self.0[0] & DTE_ROOT_MASK
    }

    /// IR/IW of the DTE, ANDed with every entry of the walk.
    pub fn perm(&self) -> Perm {
        Perm { read: self.0[0] & DTE_IR != 0, write: self.0[0] & DTE_IW != 0 }
    }

    /// Domain ID (bits 79:64), which tags IOTLB entries.
    pub fn domain_id(&self) -> u16 {
        (self.0[1] & DTE_DOMAIN_MASK) as u16
    }

    /// Reserved bits of qword 0 that are set (checked only when V = 1).
    pub fn reserved_bits(&self) -> u64 {
        self.0[0] & DTE_Q0_RESERVED
    }

    /// A translating DTE (V = 1, TV = 1) with the given fields; used by tests and fuzzers to
    /// build inputs for the oracle.
    pub fn translating(root: u64, mode: u8, perm: Perm, domain_id: u16) -> Dte {
        let mut q0 = DTE_V | DTE_TV | ((u64::from(mode) & 0x7) << DTE_MODE_SHIFT);
        q0 |= root & DTE_ROOT_MASK;
        if perm.read {
            q0 |= DTE_IR;
        }
        if perm.write {
            q0 |= DTE_IW;
        }
        Dte([q0, u64::from(domain_id), 0, 0])
    }
}

/// Where the device table lives: `entries` DTEs of 32 bytes from `base` (4 KiB aligned).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceTable {
    /// SPA of DTE 0.
    pub base: u64,
    /// Number of DTEs; device IDs at or above it are out of range.
    pub entries: u32,
}

impl DeviceTable {
    /// Reads the DTE of device `dev` from memory.
    ///
    /// Errors: [`Fault::DeviceIdOutOfRange`] for `dev >= entries`,
    /// [`Fault::DteReadFailed`] when any of the four qwords cannot be read.
    pub fn read(&self, mem: &impl PhysMem, dev: u16) -> Result<Dte, Fault> {
        if u32::from(dev) >= self.entries {
            return Err(Fault::DeviceIdOutOfRange { dev, entries: self.entries });
        }
        let at = self
            .base
            .checked_add(u64::from(dev) * DTE_BYTES)
            .ok_or(Fault::DteReadFailed { dev, spa: self.base })?;
        let mut q = [0u64; 4];
        for (i, slot) in q.iter_mut().enumerate() {
            let spa = at.wrapping_add(8 * i as u64);
            *slot = mem.read_u64(spa).ok_or(Fault::DteReadFailed { dev, spa })?;
        }
        Ok(Dte(q))
    }
}
