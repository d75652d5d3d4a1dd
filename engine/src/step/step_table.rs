//! The step contract: a page table whose operations are `async` over a [`Cx`], so that every
//! shared access is a step another task can interleave with (`../shared/CONCURRENCY.md`
//! section 5.2). [`super::Sequential`] turns one into a [`crate::table::PageTable`].
//!
//! Contract, beyond [`crate::table::PageTable`]'s semantics and error order:
//! - every access to state shared between operations goes through `cx`: table memory, frames,
//!   commands, DTEs, the top ([`Cx::top`]), spare cells and the device list; the
//!   implementation itself holds only configuration (the `Sync` bound rejects `Cell` and
//!   `RefCell` fields, so hidden mutable state does not compile);
//! - an operation that takes locks releases them before it returns;
//! - it declares its [`LockingProfile`] (which locks protect each shared resource), and keeps
//!   it on every access;
//! - `lookup` and `top` read the state directly (they are the implementation's view, used at
//!   quiescent points, not steps).

use super::cx::Cx;
use super::lockdep::LockingProfile;
use super::shared::{Shared, Top};
use crate::table::{PageOrders, PagesError, Perm, PtError};
use std::future::Future;
use std::pin::Pin;

/// The future of one operation (`E`: its error; [`PagesError`] for ranges).
pub type OpFuture<'a, E = PtError> = Pin<Box<dyn Future<Output = Result<(), E>> + 'a>>;

/// The future of one range operation.
pub type PagesFuture<'a> = OpFuture<'a, PagesError>;

/// A domain's I/O page table as step machines. See the module doc for the contract.
pub trait StepTable: Sync {
    /// Short name used in reports.
    fn name(&self) -> &str;

    /// The domain ID programmed into DTEs.
    fn domain_id(&self) -> u16;

    /// Highest number of levels this table can reach.
    fn max_levels(&self) -> u8;

    /// The top as the implementation keeps it in `shared` (default: the top cell).
    fn top(&self, shared: &Shared) -> Option<Top> {
        shared.top
    }

    /// Which locks protect each shared resource, checked at every step of a concurrent run
    /// ([`super::lockdep`]). Default: [`LockingProfile::UNDECLARED`] (no resource rule).
    fn locking(&self) -> LockingProfile {
        LockingProfile::UNDECLARED
    }

    /// Builds the empty table of a new domain (its root); run once, before any operation.
    fn create<'a, 's: 'a>(&'a self, cx: &'a Cx<'s>) -> OpFuture<'a>;

    /// [`crate::table::PageTable::map`].
    fn map<'a, 's: 'a>(
        &'a self,
        cx: &'a Cx<'s>,
        dfn: u64,
        mfn: u64,
        order: u32,
        perm: Perm,
    ) -> OpFuture<'a>;

    /// [`crate::table::PageTable::unmap`].
    fn unmap<'a, 's: 'a>(&'a self, cx: &'a Cx<'s>, dfn: u64, order: u32) -> OpFuture<'a>;

    /// [`crate::table::PageTable::page_orders`]. Default: [`PageOrders::BASE`].
    fn page_orders(&self) -> PageOrders {
        PageOrders::BASE
    }

    /// [`crate::table::PageTable::map_pages`].
    fn map_pages<'a, 's: 'a>(
        &'a self,
        cx: &'a Cx<'s>,
        dfn: u64,
        mfn: u64,
        order: u32,
        count: u64,
        perm: Perm,
    ) -> PagesFuture<'a>;

    /// [`crate::table::PageTable::unmap_pages`].
    fn unmap_pages<'a, 's: 'a>(
        &'a self,
        cx: &'a Cx<'s>,
        dfn: u64,
        order: u32,
        count: u64,
    ) -> PagesFuture<'a>;

    /// [`crate::table::PageTable::notify_dfn`].
    fn notify_dfn<'a, 's: 'a>(&'a self, cx: &'a Cx<'s>, dfn: u64) -> OpFuture<'a>;

    /// [`crate::table::PageTable::assign`].
    fn assign<'a, 's: 'a>(&'a self, cx: &'a Cx<'s>, dev: u16) -> OpFuture<'a>;

    /// [`crate::table::PageTable::deassign`].
    fn deassign<'a, 's: 'a>(&'a self, cx: &'a Cx<'s>, dev: u16) -> OpFuture<'a>;

    /// [`crate::table::PageTable::teardown`].
    fn teardown<'a, 's: 'a>(&'a self, cx: &'a Cx<'s>) -> OpFuture<'a>;

    /// [`crate::table::PageTable::lookup`], reading `shared` directly.
    fn lookup(&self, shared: &Shared, dfn: u64) -> Option<(u64, Perm)>;
}

/// A boxed step table is a step table (what [`super::sequential::StepPageTable`] holds).
impl StepTable for Box<dyn StepTable> {
    fn name(&self) -> &str {
        (**self).name()
    }

    fn domain_id(&self) -> u16 {
        (**self).domain_id()
    }

    fn max_levels(&self) -> u8 {
        (**self).max_levels()
    }

    fn top(&self, shared: &Shared) -> Option<Top> {
        (**self).top(shared)
    }

    fn locking(&self) -> LockingProfile {
        (**self).locking()
    }

    fn create<'a, 's: 'a>(&'a self, cx: &'a Cx<'s>) -> OpFuture<'a> {
        (**self).create(cx)
    }

    fn map<'a, 's: 'a>(
        &'a self,
        cx: &'a Cx<'s>,
        dfn: u64,
        mfn: u64,
        order: u32,
        perm: Perm,
    ) -> OpFuture<'a> {
        (**self).map(cx, dfn, mfn, order, perm)
    }

    fn unmap<'a, 's: 'a>(&'a self, cx: &'a Cx<'s>, dfn: u64, order: u32) -> OpFuture<'a> {
        (**self).unmap(cx, dfn, order)
    }

    fn page_orders(&self) -> PageOrders {
        (**self).page_orders()
    }

    fn map_pages<'a, 's: 'a>(
        &'a self,
        cx: &'a Cx<'s>,
        dfn: u64,
        mfn: u64,
        order: u32,
        count: u64,
        perm: Perm,
    ) -> PagesFuture<'a> {
        (**self).map_pages(cx, dfn, mfn, order, count, perm)
    }

    fn unmap_pages<'a, 's: 'a>(
        &'a self,
        cx: &'a Cx<'s>,
        dfn: u64,
        order: u32,
        count: u64,
    ) -> PagesFuture<'a> {
        (**self).unmap_pages(cx, dfn, order, count)
    }

    fn notify_dfn<'a, 's: 'a>(&'a self, cx: &'a Cx<'s>, dfn: u64) -> OpFuture<'a> {
        (**self).notify_dfn(cx, dfn)
    }

    fn assign<'a, 's: 'a>(&'a self, cx: &'a Cx<'s>, dev: u16) -> OpFuture<'a> {
        (**self).assign(cx, dev)
    }

    fn deassign<'a, 's: 'a>(&'a self, cx: &'a Cx<'s>, dev: u16) -> OpFuture<'a> {
        (**self).deassign(cx, dev)
    }

    fn teardown<'a, 's: 'a>(&'a self, cx: &'a Cx<'s>) -> OpFuture<'a> {
        (**self).teardown(cx)
    }

    fn lookup(&self, shared: &Shared, dfn: u64) -> Option<(u64, Perm)> {
        (**self).lookup(shared, dfn)
    }
}
