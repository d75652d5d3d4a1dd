//! # ptdiff-reference: the trusted base of ptdiff
//!
//! Everything here is written from the AMD-Vi v1 host page-table format (AMD IOMMU spec, as
//! summarised in `shared/reference/amd-vi.md` sections 0-3 and 8), never from the page-table
//! implementations under test, and this crate depends on nothing else in the repository.
//!
//! - [`mod@walk`]: the hardware-walk oracle. Given raw physical memory (through [`PhysMem`]), a
//!   device table entry and an IOVA, it returns the translation or the [`Fault`] hardware would
//!   raise, naming the rule that fired.
//! - [`mod@enumerate`]: every leaf reachable from a DTE, consistent with [`walk()`].
//! - [`cache`]: the IOMMU's DTE cache and IOTLB, emptied only by completed invalidations.
//! - [`model`]: the abstract translation model, what *must* be mapped after a sequence of
//!   successful map/unmap operations, independent of any table layout.
//!
//! No function in this crate panics on any input, including garbage memory.

pub mod cache;
pub mod dte;
mod entry;
pub mod enumerate;
pub mod fault;
pub mod format;
mod iotlb;
pub mod memory;
pub mod model;
pub mod perm;
mod sized_leaf;
pub mod walk;

pub use cache::{CachedPage, Caches, Invalidation};
pub use dte::{DeviceTable, Dte};
pub use enumerate::{enumerate, enumerate_tree, EnumerateError, Leaf, Reach, TableRef, Tree};
pub use fault::{Fault, FaultClass};
pub use memory::PhysMem;
pub use model::{Extent, Model, ModelDifference};
pub use perm::Perm;
pub use walk::{
    walk, walk_dte, walk_dte_visiting, Translation, TranslationKind, Tv0Policy, WalkConfig,
};
