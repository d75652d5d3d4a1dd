//! The hardware-walk oracle (amd-vi.md section 3).
//!
//! Contract: [`walk_dte`] reads memory only through [`PhysMem`], performs at most 7 entry
//! reads, never panics, and returns either the translation AMD-Vi v1 hardware would produce
//! or the first [`Fault`] rule that fires, in the order the spec checks them.

use crate::dte::{DeviceTable, Dte};
use crate::fault::Fault;
use crate::memory::PhysMem;
use crate::perm::Perm;

/// What the walker does with a DTE that has V = 1, TV = 0 (sources disagree, amd-vi.md 1.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Tv0Policy {
    /// The walk is terminated: the access is denied ([`Fault::TranslationNotValid`]). QEMU since
    /// 2025 and VirtualBox behave so; the default.
    #[default]
    Fault,
    /// The access is passed through untranslated (pre-2025 QEMU behaviour).
    Untranslated,
}

/// Hardware configuration the walk depends on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WalkConfig {
    /// Highest DTE mode the hardware supports: 4 + EFR.HATS, so 4..=6.
    pub max_levels: u8,
    /// Treatment of V = 1, TV = 0.
    pub tv0: Tv0Policy,
}

impl Default for WalkConfig {
    /// Six levels (HATS = 2), TV = 0 faults.
    fn default() -> Self {
        WalkConfig { max_levels: 6, tv0: Tv0Policy::Fault }
    }
}

/// How an access was resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TranslationKind {
    /// V = 0: DMA is forwarded untranslated.
    DteNotValid,
    /// V = 1, TV = 0 under [`Tv0Policy::Untranslated`].
    Tv0PassThrough,
    /// Mode 0: translation disabled, SPA = IOVA, DTE permissions apply.
    Mode0,
    /// Translated by a leaf in a table of `leaf_level`.
    Table { leaf_level: u8 },
}

/// A successful walk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Translation {
    /// System physical address the IOVA maps to.
    pub spa: u64,
    /// log2 of the size of the page containing the IOVA (12 for untranslated accesses).
    pub page_size_log2: u32,
    /// Effective permissions: the AND of the DTE and every entry on the path.
    pub perm: Perm,
    /// How the access was resolved.
    pub kind: TranslationKind,
}

/// Walks device `dev`'s DTE, read from the device table in `mem`, for an access to `iova`
/// needing `access` (use [`Perm::NONE`] to ask only for the translation and its effective
/// permissions without a permission check).
pub fn walk(
    mem: &impl PhysMem,
    cfg: &WalkConfig,
    devtab: &DeviceTable,
    dev: u16,
    iova: u64,
    access: Perm,
) -> Result<Translation, Fault> {
    let dte = devtab.read(mem, dev)?;
    walk_dte(mem, cfg, &dte, iova, access)
}

/// Walks from an already-read DTE. See the module contract.
pub fn walk_dte(
    mem: &impl PhysMem,
    cfg: &WalkConfig,
    dte: &Dte,
    iova: u64,
    access: Perm,
) -> Result<Translation, Fault> {
    todo!("issue 2: implement amd-vi.md section 3")
}
