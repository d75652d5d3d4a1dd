//! The contract every page-table implementation under test keeps: the [`PageTable`] trait.
//!
//! ptdiff ships two implementations ([`crate::tables::dynamic`] and [`crate::tables::fixed`]); plug in your
//! own by implementing this trait over an [`Iommu`] of its own and handing it to the runner
//! (see the README, "Testing your own page table").
//!
//! ## Semantics (DESIGN.md section 4)
//!
//! DFN = IOVA >> 12, MFN = SPA >> 12. `order` is log2 of the number of 4 KiB frames: 0, 9 or 18
//! (4 KiB, 2 MiB, 1 GiB). The *span* of a table of `L` levels is DFNs `[0, 2^(9L))` (capped at
//! 2^52 DFNs for 6 levels).
//!
//! Errors are checked in this order, and an operation that fails changes nothing:
//! 1. [`ErrorClass::InvalidArgument`]: unsupported order, empty permissions, `dfn` or `mfn`
//!    not aligned to the order, a frame at or beyond 2^40 (52-bit physical addresses);
//! 2. [`ErrorClass::OutOfRange`]: (map, notify) the last DFN is beyond the span of
//!    [`PageTable::max_levels`];
//! 3. [`ErrorClass::BeyondHeight`]: (map) the last DFN is beyond the span of the *current*
//!    height; a growing table must have been notified first;
//! 4. [`ErrorClass::NoMemory`]: a table frame could not be allocated.
//!
//! After [`PageTable::teardown`] every operation fails with [`ErrorClass::TornDown`].

use crate::substrate::frames::FrameError;
use crate::substrate::iommu::{Iommu, IommuError};
pub use ptdiff_reference::Perm;
use thiserror::Error;

/// DFNs are IOVA >> 12 of a 64-bit IOVA: 52 bits.
pub const DFN_BITS: u32 = 52;
/// First DFN no 64-bit IOVA can address.
pub const DFN_LIMIT: u64 = 1 << DFN_BITS;
/// First MFN beyond the 52-bit physical address space.
pub const MFN_LIMIT: u64 = 1 << 40;

/// What a page-table operation can fail with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum PtError {
    /// Order is not 0, 9 or 18.
    #[error("unsupported order {order} (0, 9 or 18)")]
    UnsupportedOrder { order: u32 },
    /// A map without read or write permission.
    #[error("a mapping needs read or write permission")]
    NoPermission,
    /// `dfn` or `mfn` not aligned to 2^order frames.
    #[error("dfn {dfn:#x} / mfn {mfn:#x} not aligned to order {order}")]
    Misaligned { dfn: u64, mfn: u64, order: u32 },
    /// A frame at or beyond 2^40 (the 52-bit physical address limit).
    #[error("mfn {mfn:#x} + 2^{order} frames is beyond the 52-bit physical address space")]
    MfnTooLarge { mfn: u64, order: u32 },
    /// The range is beyond what the table can ever cover.
    #[error("dfn {dfn:#x} is beyond the {max_levels}-level maximum span")]
    OutOfRange { dfn: u64, max_levels: u8 },
    /// The range is beyond the current height (missed notification).
    #[error("dfn {dfn:#x} is beyond the current {levels}-level span (no notification?)")]
    BeyondHeight { dfn: u64, levels: u8 },
    /// A table frame could not be allocated.
    #[error("out of table memory")]
    NoMemory,
    /// Assigning a device that is already assigned.
    #[error("device {dev} is already assigned")]
    AlreadyAssigned { dev: u16 },
    /// Deassigning a device that is not assigned.
    #[error("device {dev} is not assigned")]
    NotAssigned { dev: u16 },
    /// The device ID is beyond the device table.
    #[error("device {dev} does not exist")]
    NoSuchDevice { dev: u16 },
    /// The domain was torn down.
    #[error("the domain was torn down")]
    TornDown,
    /// A table configuration outside what the format allows (initial 1..=6, maximum 4..=6,
    /// initial <= maximum).
    #[error("bad height configuration: initial {initial_levels}, maximum {max_levels}")]
    BadHeight { initial_levels: u8, max_levels: u8 },
    /// The operation took more steps than its budget (an implementation that loops).
    #[error("the operation took more than {steps} steps")]
    StepBudget { steps: u64 },
    /// The operation waits for a lock that can never be released.
    #[error("deadlock: the operation waits forever for the {lock} lock")]
    Deadlock { lock: &'static str },
    /// The implementation misused the substrate (a bug in the implementation).
    #[error("substrate error: {0}")]
    Substrate(IommuError),
}

impl From<IommuError> for PtError {
    /// Allocation failure becomes [`PtError::NoMemory`]; anything else is a substrate misuse.
    fn from(e: IommuError) -> Self {
        match e {
            IommuError::Frame(FrameError::OutOfMemory { .. }) => PtError::NoMemory,
            IommuError::NoSuchDevice { dev } => PtError::NoSuchDevice { dev },
            other => PtError::Substrate(other),
        }
    }
}

/// The class of an error: two implementations agree when their errors have the same class.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorClass {
    InvalidArgument,
    OutOfRange,
    BeyondHeight,
    NoMemory,
    /// Assign/deassign of a device in the wrong state, or a device that does not exist.
    Device,
    TornDown,
    /// Substrate misuse: always a finding.
    Internal,
}

impl PtError {
    /// The class used to compare outcomes.
    pub fn class(&self) -> ErrorClass {
        match self {
            PtError::UnsupportedOrder { .. }
            | PtError::NoPermission
            | PtError::Misaligned { .. }
            | PtError::MfnTooLarge { .. }
            | PtError::BadHeight { .. } => ErrorClass::InvalidArgument,
            PtError::OutOfRange { .. } => ErrorClass::OutOfRange,
            PtError::BeyondHeight { .. } => ErrorClass::BeyondHeight,
            PtError::NoMemory => ErrorClass::NoMemory,
            PtError::AlreadyAssigned { .. }
            | PtError::NotAssigned { .. }
            | PtError::NoSuchDevice { .. } => ErrorClass::Device,
            PtError::TornDown => ErrorClass::TornDown,
            PtError::Substrate(_) | PtError::StepBudget { .. } | PtError::Deadlock { .. } => {
                ErrorClass::Internal
            }
        }
    }
}

/// A domain's I/O page table, as the runner drives it.
///
/// Contract, beyond the module-level semantics:
/// - all state the hardware sees lives in [`PageTable::iommu`]'s memory as real AMD-Vi v1
///   entries: PDEs with PR, NL = child level, IR = IW = 1; leaves with PR, NL = 0, IR/IW;
/// - every assigned device's DTE holds the current root and `levels()` as its mode; a device
///   not assigned has a blocking DTE; a DTE change is followed by
///   `InvalidateDevtabEntry` and `CompletionWait`;
/// - no method panics; errors are values.
pub trait PageTable {
    /// Short name used in reports (`dynamic`, `fixed`, ...).
    fn name(&self) -> &str;

    /// The simulated IOMMU this table lives in.
    fn iommu(&self) -> &Iommu;

    /// Mutable access to the IOMMU, for the runner's fault injection only.
    fn iommu_mut(&mut self) -> &mut Iommu;

    /// The domain ID programmed into DTEs.
    fn domain_id(&self) -> u16;

    /// Current number of levels (0 after teardown).
    fn levels(&self) -> u8;

    /// Highest number of levels this table can reach.
    fn max_levels(&self) -> u8;

    /// SPA of the current root table (`None` after teardown).
    fn root(&self) -> Option<u64>;

    /// Maps `[dfn, dfn + 2^order)` to `[mfn, ...)` with `perm`, replacing what was there.
    fn map(&mut self, dfn: u64, mfn: u64, order: u32, perm: Perm) -> Result<(), PtError>;

    /// Unmaps `[dfn, dfn + 2^order)`, splitting superpages that straddle it. Unmapping what is
    /// not mapped, or beyond the current height, succeeds and changes nothing.
    fn unmap(&mut self, dfn: u64, order: u32) -> Result<(), PtError>;

    /// "`dfn` is about to be mapped for the first time": a growing table grows (only as much as
    /// needed) so that its span covers `dfn`; others do nothing.
    fn notify_dfn(&mut self, dfn: u64) -> Result<(), PtError>;

    /// The implementation's own view of what `dfn` translates to.
    fn lookup(&self, dfn: u64) -> Option<(u64, Perm)>;

    /// Device `dev` joins the domain: its DTE gets the current root and height.
    fn assign(&mut self, dev: u16) -> Result<(), PtError>;

    /// Device `dev` leaves the domain: its DTE blocks all DMA.
    fn deassign(&mut self, dev: u16) -> Result<(), PtError>;

    /// Destroys the domain: deassigns every device and frees every table frame.
    fn teardown(&mut self) -> Result<(), PtError>;
}
