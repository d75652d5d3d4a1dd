//! The checks, as data: three lists of functions, each over exactly what it reads, each
//! returning a typed [`Violation`] when its rule is broken.
//!
//! - [`PER_OP`], after every operation, for every implementation: caches
//!   (`stale-dte`, `stale-iotlb`), the portable flush rule (`flush`), devices (`unassigned-access`, `dte`), then the probe walks,
//!   computed once per operation ([`ProbeWalks`]) and shared by `ledger` and `translation`, and
//!   the implementation's own `lookup`;
//! - [`AFTER_TEARDOWN`], after a successful teardown (`teardown-leak`);
//! - [`FINAL`], after the last operation, over one enumeration of the whole tree
//!   ([`Enumerated`]): `sweep`, `ledger`, `leak`.
//!
//! The checks of a single call's result (`outcome`, `failure-not-clean`, `height`) are in
//! [`outcome`], and the `dma` operation's check in [`mod@dma`]; the runner applies them where the
//! call happens. Every check reads the implementation's memory with the oracle, never trusting
//! the implementation's own idea of its tables (except `lookup`, which tests exactly that).
//! A check builds its violation only when it fails: the passing path formats nothing.

pub mod caches;
pub mod change;
pub use crate::substrate::device_set;
pub mod devices;
pub mod dfn_set;
pub mod dma;
pub mod expect;
pub mod finding;
pub mod flush;
pub mod journaled_model;
pub mod names;
pub mod others;
pub mod outcome;
pub mod probe;
pub mod probe_walks;
pub mod subject;
pub mod sweep;
pub mod teardown;
pub mod translation;
pub mod violation;

pub use finding::{Check, Finding, Gave, Phase};
pub use probe_walks::ProbeWalks;
pub use subject::Subject;
pub use sweep::Enumerated;
pub use violation::Violation;

use ptdiff_reference::WalkConfig;
use std::cell::Cell;

/// What the per-operation checks read besides the implementation.
pub struct Ctx<'a> {
    pub walk: &'a WalkConfig,
    /// Devices in the system (`0..devices`).
    pub devices: u16,
    /// The DFNs probed after this operation ([`probe::probes`]).
    pub probes: &'a [u64],
    /// Oracle walks made by the checks (for statistics).
    pub walks: Cell<u64>,
}

impl Ctx<'_> {
    /// Counts one oracle walk.
    pub fn count_walk(&self) {
        self.walks.set(self.walks.get() + 1);
    }
}

/// A check made after every operation.
pub struct PerOpCheck {
    /// The check its violations belong to.
    pub check: Check,
    pub run: fn(&Ctx<'_>, &Subject, &ProbeWalks) -> Result<(), Violation>,
}

/// A check made after the last operation.
pub struct FinalCheck {
    /// The check its violations belong to.
    pub check: Check,
    pub run: fn(&Subject, &Enumerated) -> Result<(), Violation>,
}

/// After every operation, in this order (the first violation is reported).
pub const PER_OP: [PerOpCheck; 8] = [
    PerOpCheck { check: Check::StaleDte, run: |c, s, _| caches::stale_dte(c, s) },
    PerOpCheck { check: Check::StaleIotlb, run: |c, s, _| caches::stale_iotlb(c, s) },
    PerOpCheck { check: Check::Flush, run: |c, s, _| flush::flush(c, s) },
    PerOpCheck { check: Check::UnassignedAccess, run: |c, s, _| devices::unassigned_access(c, s) },
    PerOpCheck { check: Check::Dte, run: |c, s, _| devices::dte(c, s) },
    PerOpCheck { check: Check::Ledger, run: translation::walk_ledger },
    PerOpCheck { check: Check::Translation, run: translation::translation },
    PerOpCheck { check: Check::Lookup, run: translation::lookup },
];

/// A check made after a successful teardown.
pub type TeardownCheck = fn(&Subject) -> Result<(), Violation>;

/// After a successful teardown.
pub const AFTER_TEARDOWN: [TeardownCheck; 1] = [teardown::teardown_leak];

/// After the last operation, for every implementation not torn down, in this order.
pub const FINAL: [FinalCheck; 5] = [
    FinalCheck { check: Check::Sweep, run: sweep::enumerable },
    FinalCheck { check: Check::Ledger, run: sweep::reachable_tables_live },
    FinalCheck { check: Check::Leak, run: sweep::leak },
    FinalCheck { check: Check::Ledger, run: sweep::no_table_as_data },
    FinalCheck { check: Check::Sweep, run: sweep::leaves_equal_model },
];

/// Runs [`PER_OP`] on `subject`, computing its probe walks into `walks` first.
pub fn per_op(ctx: &Ctx<'_>, subject: &Subject, walks: &mut ProbeWalks) -> Result<(), Violation> {
    walks.compute(ctx.walk, subject, ctx.probes);
    ctx.walks.set(ctx.walks.get() + walks.walks.len() as u64);
    PER_OP.iter().try_for_each(|c| (c.run)(ctx, subject, walks))
}

/// Runs [`FINAL`] on `subject` (not torn down).
pub fn final_checks(walk: &WalkConfig, subject: &Subject) -> Result<(), Violation> {
    let enumerated = Enumerated::of(walk, subject);
    FINAL.iter().try_for_each(|c| (c.run)(subject, &enumerated))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_check_is_listed_or_applied_by_the_runner() {
        let listed: Vec<Check> = PER_OP
            .iter()
            .map(|c| c.check)
            .chain(FINAL.iter().map(|c| c.check))
            .chain([Check::TeardownLeak])
            .collect();
        // Applied where the call happens: outcome, failure-not-clean, height, dma; setup by
        // the runner's constructor.
        let applied = [
            Check::Setup,
            Check::Outcome,
            Check::FailureNotClean,
            Check::Height,
            Check::Dma,
            Check::StepBudget,
            Check::Deadlock,
            // Judged by the concurrent runner (`crate::conc`).
            Check::Linearizability,
            // Checked at every step of a concurrent run (`crate::step::lockdep`).
            Check::LockRule,
            Check::LockOrder,
            Check::Protocol,
        ];
        for check in Check::ALL {
            assert!(
                listed.contains(&check) ^ applied.contains(&check),
                "{} must be in exactly one place",
                check.name()
            );
        }
    }
}
