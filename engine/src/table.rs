//! The contract every page-table implementation under test keeps: the [`PageTable`] trait.
//!
//! ptdiff ships two implementations ([`crate::tables::dynamic`] and [`crate::tables::fixed`]); plug in your
//! own by implementing this trait over an [`Iommu`] of its own and handing it to the runner
//! (see the README, "Testing your own page table").
//!
//! ## Semantics (DESIGN.md section 4)
//!
//! DFN = IOVA >> 12, MFN = SPA >> 12. A *page* of order `o` is `2^o` 4 KiB frames, naturally
//! aligned; the orders a table maps are its [`PageTable::page_orders`]: at least 0, 9 and 18
//! (4 KiB, 2 MiB, 1 GiB, [`PageOrders::BASE`]), at most every size AMD-Vi v1 encodes
//! ([`PageOrders::ALL`]). A *range* is `count >= 1` consecutive pages of one order:
//! `map_pages(dfn, mfn, order, count, perm)` maps DFNs `[dfn, dfn + count·2^order)` to
//! `[mfn, ...)`, page `i` at `dfn + i·2^order` to `mfn + i·2^order` (Xen's `iommu_map` with a
//! page count, Linux's `map_pages` with `pgsize` and `pgcount`); `map` is the one-page range.
//! The *span* of a table of `L` levels is DFNs `[0, 2^(9L))` (capped at 2^52 DFNs for 6
//! levels).
//!
//! Errors are checked in this order, over the whole range:
//! 1. [`ErrorClass::InvalidArgument`]: an order not in [`PageTable::page_orders`], empty
//!    permissions, `dfn` or `mfn` not aligned to the order, `count` 0, a frame of the range at
//!    or beyond 2^40 (52-bit physical addresses);
//! 2. [`ErrorClass::OutOfRange`]: (map, notify) the last DFN is beyond the span of
//!    [`PageTable::max_levels`];
//! 3. [`ErrorClass::BeyondHeight`]: (map) the last DFN is beyond the span of the *current*
//!    height; a growing table must have been notified first;
//! 4. [`ErrorClass::NoMemory`]: a table frame could not be allocated.
//!
//! An operation that fails with 1 to 3 changes nothing. A single-page operation that fails
//! changes nothing. A range that fails part-way, which only [`ErrorClass::NoMemory`] can cause,
//! follows Linux's `map_pages`/`unmap_pages` (the driver reports how much it did; its caller,
//! `iommu_map`, then decides what to undo), not Xen's `iommu_map` (which unmaps the pages it
//! mapped before returning): it stops at the first page it cannot complete and reports in
//! [`PagesError::done`] how many pages, from the start of the range, it completed. Those pages
//! are mapped (unmapped) exactly as asked; every other page of the range, and everything
//! outside it, translates as before; the tables the failed page needed and did not keep are
//! freed, the DTEs and the top are unchanged; and what changed is invalidated as after a
//! success. `done` is 0 when nothing changed.
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
/// Largest order AMD-Vi v1 can encode: a 2^52-byte NL = 7 page (amd-vi.md 2.2).
pub const MAX_ORDER: u32 = 40;

/// A set of page orders: the page sizes a table maps, as `order = log2(size / 4 KiB)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PageOrders(u64);

impl PageOrders {
    /// 4 KiB, 2 MiB and 1 GiB: what every table maps (Xen's `.page_sizes`), written as
    /// NL = 0 leaves at levels 1 to 3.
    pub const BASE: PageOrders = PageOrders(1 | 1 << 9 | 1 << 18);

    /// Every page size AMD-Vi v1 encodes, orders 0 to [`MAX_ORDER`]: NL = 0 leaves at levels 1
    /// to 5 (orders 0, 9, 18, 27, 36) and between them NL = 7 leaves, whose size lies strictly
    /// between the default sizes of their level and the next (as Linux's AMD v1 table writes
    /// them; amd-vi.md 2.2).
    pub const ALL: PageOrders = PageOrders((1 << (MAX_ORDER + 1)) - 1);

    /// The set with these orders: `None` unless it holds [`PageOrders::BASE`] and only orders
    /// up to [`MAX_ORDER`].
    pub fn from_bits(bits: u64) -> Option<PageOrders> {
        (bits & Self::BASE.0 == Self::BASE.0 && bits & !Self::ALL.0 == 0)
            .then_some(PageOrders(bits))
    }

    /// Bit `o` is set when order `o` is in the set.
    pub fn bits(self) -> u64 {
        self.0
    }

    /// Whether pages of `order` are in the set.
    pub fn contains(self, order: u32) -> bool {
        order <= MAX_ORDER && self.0 >> order & 1 != 0
    }
}

/// What a page-table operation can fail with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum PtError {
    /// The order is not one of the table's page orders ([`PageTable::page_orders`]).
    #[error("order {order} is not a page size of this table")]
    UnsupportedOrder { order: u32 },
    /// A range of no pages.
    #[error("a range of 0 pages")]
    EmptyRange,
    /// A map without read or write permission.
    #[error("a mapping needs read or write permission")]
    NoPermission,
    /// `dfn` or `mfn` not aligned to 2^order frames.
    #[error("dfn {dfn:#x} / mfn {mfn:#x} not aligned to order {order}")]
    Misaligned { dfn: u64, mfn: u64, order: u32 },
    /// A frame of the range at or beyond 2^40 (the 52-bit physical address limit).
    #[error("the pages of order {order} from mfn {mfn:#x} reach beyond the 52-bit physical address space")]
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
            | PtError::EmptyRange
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

/// A range operation that failed, and how far it got (see the module doc).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
#[error("{error} (after {done} pages)")]
pub struct PagesError {
    pub error: PtError,
    /// Pages completed, from the start of the range; 0 when nothing changed.
    pub done: u64,
}

impl From<PtError> for PagesError {
    /// A failure that changed nothing.
    fn from(error: PtError) -> Self {
        PagesError { error, done: 0 }
    }
}

/// A domain's I/O page table, as the runner drives it.
///
/// Contract, beyond the module-level semantics:
/// - all state the hardware sees lives in [`PageTable::iommu`]'s memory as real AMD-Vi v1
///   entries: PDEs with PR, NL = child level, IR = IW = 1; leaves with PR, NL = 0, IR/IW, or
///   NL = 7 and every replica of the page identical;
/// - every assigned device's DTE holds the current root and `levels()` as its mode; a device
///   not assigned has a blocking DTE; a DTE change is followed by
///   `InvalidateDevtabEntry` and `CompletionWait`;
/// - no method panics; errors are values.
pub trait PageTable {
    /// Short name used in reports (`dynamic`, `fixed`, ...).
    fn name(&self) -> &str;

    /// The table as [`std::any::Any`], for a harness that knows a concrete table type (the
    /// concurrent runner reaches a step table's machines through it: see
    /// `crate::step::StepPageTable`). Default: `None`, an opaque table.
    fn as_any_mut(&mut self) -> Option<&mut dyn std::any::Any> {
        None
    }

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

    /// The orders [`PageTable::map_pages`] and [`PageTable::unmap_pages`] accept: a superset of
    /// [`PageOrders::BASE`]. Default: [`PageOrders::BASE`].
    fn page_orders(&self) -> PageOrders {
        PageOrders::BASE
    }

    /// Maps one page: `[dfn, dfn + 2^order)` to `[mfn, ...)` with `perm`, replacing what was
    /// there. The same as [`PageTable::map_pages`] with `count` 1.
    fn map(&mut self, dfn: u64, mfn: u64, order: u32, perm: Perm) -> Result<(), PtError>;

    /// Unmaps one page: `[dfn, dfn + 2^order)`, splitting larger pages that straddle it and
    /// keeping their rest. Unmapping what is not mapped, or beyond the current height,
    /// succeeds and changes nothing. The same as [`PageTable::unmap_pages`] with `count` 1.
    fn unmap(&mut self, dfn: u64, order: u32) -> Result<(), PtError>;

    /// Maps the range of `count` pages of `order` from `dfn` to `mfn` onwards with `perm`,
    /// replacing what was there; a failure part-way reports the pages done (module doc). The
    /// runner calls this for every map.
    ///
    /// The default is [`PageTable::map`] for one page; for more, it checks the whole range
    /// and then calls [`PageTable::map`] page by page. A table that implements ranges natively
    /// (the built-in ones: one descent per range, one invalidation covering what changed)
    /// overrides it.
    fn map_pages(
        &mut self,
        dfn: u64,
        mfn: u64,
        order: u32,
        count: u64,
        perm: Perm,
    ) -> Result<(), PagesError> {
        if count == 1 {
            return Ok(self.map(dfn, mfn, order, perm)?);
        }
        if self.root().is_none() {
            return Err(PtError::TornDown.into());
        }
        let frames = range_frames(order, count, self.page_orders())?;
        if perm.is_empty() {
            return Err(PtError::NoPermission.into());
        }
        if !aligned(dfn, order) || !aligned(mfn, order) {
            return Err(PtError::Misaligned { dfn, mfn, order }.into());
        }
        if mfn.checked_add(frames).is_none_or(|end| end > MFN_LIMIT) {
            return Err(PtError::MfnTooLarge { mfn, order }.into());
        }
        let last = dfn.saturating_add(frames - 1);
        let max_levels = self.max_levels();
        if last >= span(max_levels) {
            return Err(PtError::OutOfRange { dfn: last, max_levels }.into());
        }
        if last >= span(self.levels()) {
            return Err(PtError::BeyondHeight { dfn: last, levels: self.levels() }.into());
        }
        for done in 0..count {
            let offset = done << order;
            self.map(dfn + offset, mfn + offset, order, perm)
                .map_err(|error| PagesError { error, done })?;
        }
        Ok(())
    }

    /// Unmaps the range of `count` pages of `order` from `dfn`, splitting larger pages that
    /// straddle either end and keeping their rest; a failure part-way reports the pages done
    /// (module doc). What lies beyond the current height is not mapped: unmapping it succeeds
    /// and changes nothing. The runner calls this for every unmap.
    ///
    /// The default is [`PageTable::unmap`] for one page; for more, it checks the arguments and
    /// then calls [`PageTable::unmap`] page by page, up to the last DFN a 64-bit IOVA has.
    fn unmap_pages(&mut self, dfn: u64, order: u32, count: u64) -> Result<(), PagesError> {
        if count == 1 {
            return Ok(self.unmap(dfn, order)?);
        }
        if self.root().is_none() {
            return Err(PtError::TornDown.into());
        }
        range_frames(order, count, self.page_orders())?;
        if !aligned(dfn, order) {
            return Err(PtError::Misaligned { dfn, mfn: 0, order }.into());
        }
        for done in 0..count {
            let page = (done << order).checked_add(dfn).filter(|&page| page < DFN_LIMIT);
            let Some(page) = page else { break };
            self.unmap(page, order).map_err(|error| PagesError { error, done })?;
        }
        Ok(())
    }

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

/// Frames in `count` pages of `order`, after the range checks every table makes first:
/// `order` in `orders`, `count` not 0 (a range too large for 64 bits counts as reaching
/// beyond every span: `u64::MAX` frames).
fn range_frames(order: u32, count: u64, orders: PageOrders) -> Result<u64, PtError> {
    if !orders.contains(order) {
        return Err(PtError::UnsupportedOrder { order });
    }
    if count == 0 {
        return Err(PtError::EmptyRange);
    }
    Ok(count.saturating_mul(1 << order))
}

/// `frame` is a multiple of `2^order` (`order` at most [`MAX_ORDER`]).
fn aligned(frame: u64, order: u32) -> bool {
    frame & ((1 << order) - 1) == 0
}

/// DFNs a table of `levels` levels spans: `2^(9 levels)`, capped at 2^52.
fn span(levels: u8) -> u64 {
    1 << (9 * u32::from(levels)).min(DFN_BITS)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A table that only records the single-page calls the default range methods make, and
    /// fails the `fail_at`-th of them (1-based) with `NoMemory`.
    struct Recorder {
        iommu: Iommu,
        levels: u8,
        calls: Vec<(u64, u64)>,
        fail_at: usize,
    }

    impl Recorder {
        fn new(levels: u8, fail_at: usize) -> Recorder {
            Recorder { iommu: Iommu::new(), levels, calls: Vec::new(), fail_at }
        }

        fn call(&mut self, dfn: u64, mfn: u64) -> Result<(), PtError> {
            self.calls.push((dfn, mfn));
            if self.calls.len() == self.fail_at {
                return Err(PtError::NoMemory);
            }
            Ok(())
        }
    }

    impl PageTable for Recorder {
        fn name(&self) -> &str {
            "recorder"
        }
        fn iommu(&self) -> &Iommu {
            &self.iommu
        }
        fn iommu_mut(&mut self) -> &mut Iommu {
            &mut self.iommu
        }
        fn domain_id(&self) -> u16 {
            1
        }
        fn levels(&self) -> u8 {
            self.levels
        }
        fn max_levels(&self) -> u8 {
            4
        }
        fn root(&self) -> Option<u64> {
            (self.levels > 0).then_some(0x4000_0000)
        }
        fn map(&mut self, dfn: u64, mfn: u64, order: u32, perm: Perm) -> Result<(), PtError> {
            // What the table checks itself for one page.
            if order == 5 || perm.is_empty() {
                return Err(PtError::UnsupportedOrder { order });
            }
            self.call(dfn, mfn)
        }
        fn unmap(&mut self, dfn: u64, _: u32) -> Result<(), PtError> {
            self.call(dfn, 0)
        }
        fn notify_dfn(&mut self, _: u64) -> Result<(), PtError> {
            Ok(())
        }
        fn lookup(&self, _: u64) -> Option<(u64, Perm)> {
            None
        }
        fn assign(&mut self, _: u16) -> Result<(), PtError> {
            Ok(())
        }
        fn deassign(&mut self, _: u16) -> Result<(), PtError> {
            Ok(())
        }
        fn teardown(&mut self) -> Result<(), PtError> {
            Ok(())
        }
    }

    #[test]
    fn page_orders_hold_the_base_and_nothing_beyond_the_format() {
        assert_eq!(PageOrders::BASE.bits(), 1 | 1 << 9 | 1 << 18);
        assert!(PageOrders::ALL.contains(40) && !PageOrders::ALL.contains(41));
        assert!((0..=40).all(|o| PageOrders::ALL.contains(o)));
        assert!(!PageOrders::BASE.contains(3) && !PageOrders::BASE.contains(u32::MAX));
        assert_eq!(
            PageOrders::from_bits(PageOrders::BASE.bits() | 1 << 3).map(|o| o.contains(3)),
            Some(true)
        );
        assert_eq!(PageOrders::from_bits(1 << 3), None, "without the base orders");
        assert_eq!(PageOrders::from_bits(PageOrders::BASE.bits() | 1 << 41), None);
    }

    #[test]
    fn one_page_is_the_single_page_call_itself() {
        let mut t = Recorder::new(4, 0);
        // The table's own checks decide, whatever the range checks would say.
        assert_eq!(
            t.map_pages(0, 0, 5, 1, Perm::RW),
            Err(PagesError { error: PtError::UnsupportedOrder { order: 5 }, done: 0 })
        );
        assert_eq!(t.map_pages(1 << 40, 7, 0, 1, Perm::RW), Ok(()));
        assert_eq!(t.unmap_pages(3, 0, 1), Ok(()));
        assert_eq!(t.calls, vec![(1 << 40, 7), (3, 0)]);
    }

    #[test]
    fn ranges_are_checked_whole_in_contract_order_then_mapped_page_by_page() {
        let mut t = Recorder::new(2, 0);
        let err = |error| Err(PagesError { error, done: 0 });
        assert_eq!(t.map_pages(0, 0, 3, 2, Perm::RW), err(PtError::UnsupportedOrder { order: 3 }));
        assert_eq!(t.map_pages(0, 0, 9, 0, Perm::RW), err(PtError::EmptyRange));
        assert_eq!(t.map_pages(0, 0, 9, 2, Perm::NONE), err(PtError::NoPermission));
        assert_eq!(
            t.map_pages(1, 0, 9, 2, Perm::RW),
            err(PtError::Misaligned { dfn: 1, mfn: 0, order: 9 })
        );
        assert_eq!(
            t.map_pages(0, MFN_LIMIT - 512, 9, 2, Perm::RW),
            err(PtError::MfnTooLarge { mfn: MFN_LIMIT - 512, order: 9 })
        );
        assert_eq!(
            t.map_pages(0, 0, 9, u64::MAX, Perm::RW),
            err(PtError::MfnTooLarge { mfn: 0, order: 9 })
        );
        // Misaligned before out of range; the last DFN of the range is the one reported.
        assert_eq!(
            t.map_pages((1 << 36) - 512, 0, 9, 2, Perm::RW),
            err(PtError::OutOfRange { dfn: (1 << 36) + 511, max_levels: 4 })
        );
        assert_eq!(t.map_pages(511, 0, 0, 2, Perm::RW), Ok(()), "2 levels span DFNs below 2^18");
        assert_eq!(
            t.map_pages((1 << 18) - 1, 0, 0, 2, Perm::RW),
            err(PtError::BeyondHeight { dfn: 1 << 18, levels: 2 })
        );
        assert_eq!(t.calls, vec![(511, 0), (512, 1)]);
        assert_eq!(t.unmap_pages(0, 3, 2), err(PtError::UnsupportedOrder { order: 3 }));
        assert_eq!(t.unmap_pages(0, 0, 0), err(PtError::EmptyRange));
        assert_eq!(t.unmap_pages(1, 9, 2), err(PtError::Misaligned { dfn: 1, mfn: 0, order: 9 }));
        let mut gone = Recorder::new(0, 0);
        assert_eq!(gone.map_pages(0, 0, 0, 2, Perm::RW), err(PtError::TornDown));
        assert_eq!(gone.unmap_pages(0, 0, 2), err(PtError::TornDown));
    }

    #[test]
    fn a_range_reports_the_pages_before_the_one_that_failed() {
        let mut t = Recorder::new(4, 3);
        assert_eq!(
            t.map_pages(0x200, 0x400, 9, 4, Perm::R),
            Err(PagesError { error: PtError::NoMemory, done: 2 })
        );
        assert_eq!(t.calls, vec![(0x200, 0x400), (0x400, 0x600), (0x600, 0x800)]);
        let mut t = Recorder::new(4, 2);
        assert_eq!(t.unmap_pages(0, 0, 5), Err(PagesError { error: PtError::NoMemory, done: 1 }));
        // An unmap stops at the last DFN a 64-bit IOVA has.
        let mut t = Recorder::new(4, 0);
        assert_eq!(t.unmap_pages(DFN_LIMIT - 2, 0, u64::MAX), Ok(()));
        assert_eq!(t.calls, vec![(DFN_LIMIT - 2, 0), (DFN_LIMIT - 1, 0)]);
        assert_eq!(
            PagesError { error: PtError::NoMemory, done: 2 }.to_string(),
            "out of table memory (after 2 pages)"
        );
    }
}
