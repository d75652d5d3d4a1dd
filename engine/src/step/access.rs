//! What one step is: the kinds of shared access an implementation makes through
//! [`super::Cx`], and the lock classes it can take.

use crate::substrate::commands::Command;

/// A lock class, in the declared acquisition order (a lock may be taken while holding only
/// locks that come before it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LockClass {
    /// The system's device lock (Xen `pcidevs_lock`, the Linux group mutex).
    Devices,
    /// The domain's mapping lock (Xen `mapping_lock`, Linux `domain->lock`).
    Domain,
    /// The IOMMU's own lock (device table and command queue; Xen `iommu->lock`).
    IommuHw,
}

impl LockClass {
    /// Every class, in the declared order.
    pub const ALL: [LockClass; 3] = [LockClass::Devices, LockClass::Domain, LockClass::IommuHw];

    /// Index into per-class arrays.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The class's name in reports.
    pub fn name(self) -> &'static str {
        match self {
            LockClass::Devices => "devices",
            LockClass::Domain => "domain",
            LockClass::IommuHw => "iommu",
        }
    }
}

/// One shared access: the unit at which another task may run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// A 64-bit load of table or device-table memory.
    Load { spa: u64 },
    /// One wide load of `qwords` consecutive qwords from `spa` (a hardware walker reading a
    /// whole DTE at once).
    LoadWide { spa: u64, qwords: u8 },
    /// A 64-bit store.
    Store { spa: u64, value: u64 },
    /// A 64-bit compare-and-swap.
    Cas { spa: u64, new: u64 },
    /// A table-frame allocation.
    Alloc,
    /// A table-frame free.
    Free { spa: u64 },
    /// An IOMMU command issued.
    Issue { command: Command },
    /// A read of the top cell (root and height).
    ReadTop,
    /// A write of the top cell.
    WriteTop,
    /// A read of spare cell `cell`.
    ReadCell { cell: u8 },
    /// A write of spare cell `cell`.
    WriteCell { cell: u8 },
    /// A read of the domain's device list.
    ReadDevices,
    /// A change of the domain's device list.
    WriteDevices,
    /// Acquiring a lock (blocks while another task holds it).
    Lock { class: LockClass },
    /// Releasing a lock.
    Unlock { class: LockClass },
}

impl std::fmt::Display for Access {
    /// The access as a report names it, addresses and values in hexadecimal.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Access::Load { spa } => write!(f, "load of {spa:#x}"),
            Access::LoadWide { spa, qwords } => write!(f, "load of {qwords} qwords at {spa:#x}"),
            Access::Store { spa, value } => write!(f, "store of {value:#x} to {spa:#x}"),
            Access::Cas { spa, new } => write!(f, "compare-and-swap of {new:#x} into {spa:#x}"),
            Access::Alloc => write!(f, "table allocation"),
            Access::Free { spa } => write!(f, "free of the table at {spa:#x}"),
            Access::Issue { command } => write!(f, "command {command:?}"),
            Access::ReadTop => write!(f, "read of the top"),
            Access::WriteTop => write!(f, "write of the top"),
            Access::ReadCell { cell } => write!(f, "read of cell {cell}"),
            Access::WriteCell { cell } => write!(f, "write of cell {cell}"),
            Access::ReadDevices => write!(f, "read of the device list"),
            Access::WriteDevices => write!(f, "change of the device list"),
            Access::Lock { class } => write!(f, "lock of {}", class.name()),
            Access::Unlock { class } => write!(f, "unlock of {}", class.name()),
        }
    }
}

/// A task of the executor (task 0 in a sequential run).
pub type TaskId = usize;

/// A set of lock classes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct LockSet(u8);

impl LockSet {
    /// No lock.
    pub const EMPTY: LockSet = LockSet(0);

    /// The set of `classes`.
    pub const fn of(classes: &[LockClass]) -> LockSet {
        let mut bits = 0;
        let mut i = 0;
        while i < classes.len() {
            bits |= 1 << (classes[i] as u8);
            i += 1;
        }
        LockSet(bits)
    }

    /// True when `class` is in the set.
    pub fn contains(self, class: LockClass) -> bool {
        self.0 & (1 << class.index()) != 0
    }

    /// The set with `class` added.
    pub fn with(self, class: LockClass) -> LockSet {
        LockSet(self.0 | (1 << class.index()))
    }

    /// The set without `class`.
    pub fn without(self, class: LockClass) -> LockSet {
        LockSet(self.0 & !(1 << class.index()))
    }

    /// The classes in the set, in the declared order.
    pub fn iter(self) -> impl Iterator<Item = LockClass> {
        LockClass::ALL.into_iter().filter(move |&c| self.contains(c))
    }

    /// True when no lock is in the set.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl std::fmt::Display for LockSet {
    /// `{devices, domain}`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.iter().map(LockClass::name).collect();
        write!(f, "{{{}}}", names.join(", "))
    }
}
