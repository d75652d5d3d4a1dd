//! Why a walk did not translate: one variant per rule of the hardware walk.

use crate::perm::Perm;
use thiserror::Error;

/// The event class hardware would log for a fault (amd-vi.md section 3). Only the class is
/// architecturally visible; [`Fault`] keeps the precise rule for people reading a finding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FaultClass {
    /// IO_PAGE_FAULT (event code 0x2).
    IoPageFault,
    /// ILLEGAL_DEV_TABLE_ENTRY (0x1).
    IllegalDevTableEntry,
    /// DEV_TAB_HARDWARE_ERROR (0x3).
    DevTabHardwareError,
    /// PAGE_TAB_HARDWARE_ERROR (0x4).
    PageTabHardwareError,
}

/// A fault raised by the walk, naming the rule that fired. `level` is the level of the table
/// that held the offending entry; `entry` is the raw 64-bit entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Error)]
pub enum Fault {
    /// The device ID indexes past the end of the device table.
    #[error("device {dev:#x} is beyond the device table ({entries} entries)")]
    DeviceIdOutOfRange { dev: u16, entries: u32 },
    /// The DTE could not be read.
    #[error("DTE of device {dev:#x}: no memory at {spa:#x}")]
    DteReadFailed { dev: u16, spa: u64 },
    /// V = 1 with reserved DTE bits set.
    #[error("illegal DTE: reserved bits {bits:#x} set")]
    IllegalDte { bits: u64 },
    /// V = 1, TV = 0 under [`crate::Tv0Policy::Fault`]: the walk is terminated.
    #[error("DTE has V=1, TV=0: no translation information")]
    TranslationNotValid,
    /// The DTE's IR/IW do not grant the request (checked before the mode).
    #[error("DTE grants {allowed}, request needs {requested}")]
    DtePermission { requested: Perm, allowed: Perm },
    /// DTE mode 7 is reserved.
    #[error("DTE mode 7 is reserved")]
    ReservedMode,
    /// DTE mode above what the hardware supports (4 + HATS).
    #[error("DTE mode {mode} exceeds the hardware maximum of {max} levels")]
    ModeAboveMax { mode: u8, max: u8 },
    /// IOVA bits above the span of the DTE's mode are not zero.
    #[error("IOVA {iova:#x} is beyond the {mode}-level table's span")]
    IovaAboveSpan { mode: u8, iova: u64 },
    /// A table entry could not be read.
    #[error("level-{level} table entry at {spa:#x}: no memory")]
    TableReadFailed { level: u8, spa: u64 },
    /// PR = 0.
    #[error("level-{level} entry at {spa:#x} not present")]
    NotPresent { level: u8, spa: u64 },
    /// Reserved bits set (PTE: 58:52; PDE: 60:52).
    #[error("level-{level} entry {entry:#018x} has reserved bits set")]
    ReservedBits { level: u8, entry: u64 },
    /// The path's accumulated IR/IW do not grant the request.
    #[error("level-{level} entry grants {allowed} along the path, request needs {requested}")]
    Permission { level: u8, requested: Perm, allowed: Perm },
    /// A leaf (NL = 0 or 7) in a level-6 table (spec Table 15: L6 holds no translations).
    #[error("leaf entry {entry:#018x} in a level-6 table")]
    LeafAtTopLevel { entry: u64 },
    /// NL = 7 with a size outside (default size of this level, default size of the next).
    /// `size_log2` is 53 when bits 51:12 are all ones, which encodes no size at all.
    #[error("level-{level} entry {entry:#018x} encodes invalid page size 2^{size_log2}")]
    InvalidPageSize { level: u8, entry: u64, size_log2: u32 },
    /// A PDE whose NL is not below the level of its table (including any PDE in an L1 table).
    #[error("level-{level} entry {entry:#018x} has next level {next_level}")]
    InvalidNextLevel { level: u8, entry: u64, next_level: u8 },
    /// A PDE skipping levels while the IOVA bits of the skipped levels are not zero.
    #[error(
        "level-{level} PDE skips to level {next_level} but IOVA {iova:#x} has skipped bits set"
    )]
    SkippedBitsNonZero { level: u8, next_level: u8, iova: u64 },
}

impl Fault {
    /// The hardware event class of this fault.
    pub fn class(&self) -> FaultClass {
        match self {
            Fault::DteReadFailed { .. } => FaultClass::DevTabHardwareError,
            Fault::IllegalDte { .. } => FaultClass::IllegalDevTableEntry,
            Fault::TableReadFailed { .. } => FaultClass::PageTabHardwareError,
            _ => FaultClass::IoPageFault,
        }
    }
}
