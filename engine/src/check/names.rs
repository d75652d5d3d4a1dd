//! The checks by name: what each one means, and the stable short names scripts, regression
//! files and the minimizer use.

/// Which check failed. Each has a one-line meaning in [`Check::meaning`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Check {
    /// The table could not even be created.
    Setup,
    /// An operation returned something other than what the specification requires (a wrong
    /// error class, an error where success was due, or success where an error was due).
    Outcome,
    /// The height changed when it must not, or a notify did not grow exactly as needed.
    Height,
    /// An assigned device's DTE does not hold the current root and height, or its root is not
    /// a live table frame.
    Dte,
    /// The hardware walk through a device's DTE disagrees with the model.
    Translation,
    /// The implementation's own lookup disagrees with the model.
    Lookup,
    /// A device that is not assigned can reach memory.
    UnassignedAccess,
    /// The full sweep of every leaf disagrees with the model.
    Sweep,
    /// Table frames are left after teardown.
    TeardownLeak,
    /// An operation that failed changed the tables or the DTEs (leak, half-done growth...).
    FailureNotClean,
    /// A cached DTE differs from the DTE in memory: a DTE changed without
    /// INVALIDATE_DEVTAB_ENTRY and COMPLETION_WAIT.
    StaleDte,
    /// The IOTLB holds a translation the tables no longer grant: a missing or short flush.
    StaleIotlb,
    /// A device's DMA through the IOMMU (caches included) got other than the model grants.
    Dma,
    /// A device can reach a frame that is not a live table frame of the domain (freed,
    /// foreign), or a table frame is mapped as data.
    Ledger,
    /// A live table frame of the domain is not reachable from its root (leaked).
    Leak,
    /// An observed translation or a returned result that no order of the operations in flight
    /// explains (a concurrent run).
    Linearizability,
    /// An operation took more steps than its budget (an implementation that loops).
    StepBudget,
    /// An operation waits for a lock that can never be released.
    Deadlock,
    /// A translation was removed, narrowed or redirected outside every completed
    /// invalidation the operation issued (the flush rule of every IOMMU).
    Flush,
    /// A shared resource was accessed without the locks its profile requires, a lock was
    /// released while not held, or an operation returned holding a lock (blames the
    /// implementation).
    LockRule,
    /// A lock was taken against the declared order (a possible deadlock, even if none
    /// happened).
    LockOrder,
    /// An operation was called without the lock its entry contract requires (blames the call
    /// site).
    Protocol,
}

impl Check {
    /// A short name, stable for scripts and the minimizer.
    pub fn name(self) -> &'static str {
        match self {
            Check::Setup => "setup",
            Check::Outcome => "outcome",
            Check::Height => "height",
            Check::Dte => "dte",
            Check::Translation => "translation",
            Check::Lookup => "lookup",
            Check::UnassignedAccess => "unassigned-access",
            Check::Sweep => "sweep",
            Check::TeardownLeak => "teardown-leak",
            Check::FailureNotClean => "failure-not-clean",
            Check::StaleDte => "stale-dte",
            Check::StaleIotlb => "stale-iotlb",
            Check::Dma => "dma",
            Check::Ledger => "ledger",
            Check::Leak => "leak",
            Check::Linearizability => "linearizability",
            Check::StepBudget => "step-budget",
            Check::Deadlock => "deadlock",
            Check::Flush => "flush",
            Check::LockRule => "lock-rule",
            Check::LockOrder => "lock-order",
            Check::Protocol => "protocol",
        }
    }

    /// What failing this check means, for the report.
    pub fn meaning(self) -> &'static str {
        match self {
            Check::Setup => "the page table could not be created",
            Check::Outcome => "the operation's result differs from what the specification requires",
            Check::Height => "the table height changed when it must not, or did not grow exactly as needed",
            Check::Dte => "an assigned device's DTE does not point at the current root with the current height",
            Check::Translation => "a device's DMA, walked in table memory as hardware does, differs from the model",
            Check::Lookup => "the implementation's own lookup differs from the model",
            Check::UnassignedAccess => "a device that is not assigned can reach memory",
            Check::Sweep => "the set of all reachable leaves differs from the model",
            Check::TeardownLeak => "table frames remain after teardown",
            Check::FailureNotClean => "an operation that failed changed the tables or the DTEs",
            Check::StaleDte => "the IOMMU still caches a DTE that was changed in memory (no invalidation)",
            Check::StaleIotlb => "the IOTLB still caches a translation the tables no longer grant (missing flush)",
            Check::Dma => "a device's DMA through the IOMMU and its caches differs from the model",
            Check::Ledger => "a device can reach a frame that is not a live page table of the domain",
            Check::Leak => "a live page-table frame is not reachable from the root (leaked)",
            Check::Linearizability => "a translation or result no order of the concurrent operations explains",
            Check::StepBudget => "an operation took more steps than its budget (it loops?)",
            Check::Deadlock => "an operation waits forever for a lock",
            Check::Flush => "a translation was removed, narrowed or redirected without a completed invalidation covering it",
            Check::LockRule => "a shared resource was touched without the locks that protect it (or a lock was mishandled)",
            Check::LockOrder => "a lock was taken against the declared lock order",
            Check::Protocol => "an operation was called without the lock its caller must hold",
        }
    }

    /// Every check, in declaration order.
    pub const ALL: [Check; 22] = [
        Check::Setup,
        Check::Outcome,
        Check::Height,
        Check::Dte,
        Check::Translation,
        Check::Lookup,
        Check::UnassignedAccess,
        Check::Sweep,
        Check::TeardownLeak,
        Check::FailureNotClean,
        Check::StaleDte,
        Check::StaleIotlb,
        Check::Dma,
        Check::Ledger,
        Check::Leak,
        Check::Linearizability,
        Check::StepBudget,
        Check::Deadlock,
        Check::Flush,
        Check::LockRule,
        Check::LockOrder,
        Check::Protocol,
    ];

    /// The check named `name` (as printed by [`Check::name`]).
    pub fn from_name(name: &str) -> Option<Check> {
        Check::ALL.into_iter().find(|c| c.name() == name)
    }
}
