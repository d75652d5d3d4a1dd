//! Your own walker against the oracle: the [`Walker`] contract, the checks the walker fuzz
//! targets run, and a second, independent AMD-Vi walk ([`IndependentWalker`]).
//!
//! Emulators (QEMU, VirtualBox, cloud-hypervisor, crosvm) model the AMD-Vi v1 table walk and
//! have had bugs in it: NL = 7 page sizes decoded wrongly, permissions taken from the leaf
//! only, skipped levels mis-indexed. Implement [`Walker`] for your walk and call
//! [`crate::fuzz::walker_with`] from a fuzz target: every input becomes arbitrary table memory,
//! a DTE and IOVAs ([`WalkerInput`]), and your answer for every IOVA and access is compared
//! with the hardware-walk oracle of `ptdiff-reference` ([`check`]). A disagreement is a
//! [`WalkerFinding`], whose report shows the DTE, the IOVA, the entries on the path and both
//! answers. `engine/examples/own_walker.rs` is a template.
//!
//! The built-in `walker` target runs the same checks with [`IndependentWalker`], a walk written
//! apart from the oracle (it shares no entry decoder with it), so a decoding slip on either side
//! shows up; it also checks the oracle's walk against its own leaf enumeration.

mod check;
mod finding;
mod frames;
mod independent;
mod input;
mod layout;
mod probes;

pub use check::{check, seeded_input, ACCESSES};
pub use finding::{EnumerationSays, OtherSide, PathEntry, WalkerFinding};
pub use frames::FrameArray;
pub use independent::IndependentWalker;
pub use input::{WalkerInput, INPUT_IOVAS, WALKER_FRAMES};

/// The oracle's vocabulary a [`Walker`] speaks, re-exported so that a walker needs no other
/// crate.
pub use ptdiff_reference::{Dte, FaultClass, Perm, PhysMem, Tv0Policy, WalkConfig};

/// A successful walk as the contract compares it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Translated {
    /// The system physical address the IOVA translates to.
    pub spa: u64,
    /// Effective permissions: the AND of the DTE's IR/IW and those of every entry on the path
    /// (the DTE's alone for an untranslated access; read/write for V = 0).
    pub perm: Perm,
    /// log2 of the size of the page holding the IOVA; 12 for an untranslated access.
    pub page_size_log2: u32,
}

/// An AMD-Vi v1 walk: what the IOMMU does with a DMA, given the device's DTE and memory.
///
/// The contract (amd-vi.md section 3; `ptdiff_reference::walk_dte` documents the oracle's
/// rules in order):
/// - `walk` reads table memory only through `mem`, 8 bytes at a time; memory that is not there
///   (`None`) is a hardware error. It must not panic on any DTE or memory contents.
/// - `access` is what the DMA needs; [`Perm::NONE`] asks for the translation without a
///   permission check (the result then carries the effective permissions, possibly none).
/// - The answer is compared with the oracle's: on success `spa`, `perm` and `page_size_log2`
///   must be equal; on a fault only its [`FaultClass`] is compared (which rule fired is not
///   architecturally visible). V = 0 passes untranslated with read/write; V = 1 with reserved
///   DTE bits is an illegal DTE; an unreadable table entry is a page-table hardware error;
///   every other failure is an IO page fault.
pub trait Walker {
    /// The hardware this walk models: the highest DTE mode (4 + HATS) and what V = 1, TV = 0
    /// means. The oracle is run with the same configuration. Default: 6 levels, TV = 0 faults.
    fn config(&self) -> WalkConfig {
        WalkConfig::default()
    }

    /// Translates `iova` for an access `access` by the device whose DTE is `dte`.
    fn walk(
        &self,
        mem: &dyn PhysMem,
        dte: &Dte,
        iova: u64,
        access: Perm,
    ) -> Result<Translated, FaultClass>;

    /// How reports name this walker.
    fn name(&self) -> String {
        std::any::type_name::<Self>().to_string()
    }
}

#[cfg(test)]
mod tests;
