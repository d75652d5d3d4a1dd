//! The hardware-walk oracle (amd-vi.md section 3).
//!
//! Contract: [`walk_dte`] reads memory only through [`PhysMem`], performs at most 6 table
//! entry reads (one per level; [`walk`] adds the DTE's four qwords), never panics, and returns
//! either the translation AMD-Vi v1 hardware would produce or the first [`Fault`] rule that
//! fires, in the order listed on [`walk_dte`].

use crate::dte::{DeviceTable, Dte};
use crate::entry::{self, Decoded};
use crate::fault::Fault;
use crate::format::{entry_size_log2, span_log2, ENTRIES, MAX_LEVEL};
use crate::memory::PhysMem;
use crate::perm::Perm;
use crate::sized_leaf::low_mask;

/// What the walker does with a DTE that has V = 1, TV = 0 (sources disagree, amd-vi.md 1.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Tv0Policy {
    /// The walk is terminated: the access is denied ([`Fault::TranslationNotValid`]). QEMU since
    /// 2025 and VirtualBox behave so; the default.
    #[default]
    Fault,
    /// The access is passed through untranslated (pre-2025 QEMU behaviour), but still gated by
    /// the DTE's IR/IW, which it reports as its permissions: like mode 0. (Pre-2025 QEMU
    /// granted RW regardless; the oracle never grants more than the DTE states.)
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

/// Walks from an already-read DTE, for an access to `iova` needing `access`.
///
/// The rules, in the order they are checked (amd-vi.md section 3); the first that fires is
/// returned:
///
/// 1. V = 0: untranslated, `spa = iova`, permissions RW, [`TranslationKind::DteNotValid`]. No
///    other DTE bit is looked at.
/// 2. Reserved DTE bits (qword 0 bits 6:2 and 63) set: [`Fault::IllegalDte`].
/// 3. TV = 0: under [`Tv0Policy::Fault`], [`Fault::TranslationNotValid`]; under
///    [`Tv0Policy::Untranslated`], the access is gated by the DTE's IR/IW exactly like mode 0
///    ([`Fault::DtePermission`] if they do not grant it), then passes untranslated with the
///    DTE's permissions ([`TranslationKind::Tv0PassThrough`]).
/// 4. The DTE's IR/IW must grant `access`: [`Fault::DtePermission`] (checked before the mode).
/// 5. Mode 0: untranslated with the DTE's permissions ([`TranslationKind::Mode0`]); mode 7:
///    [`Fault::ReservedMode`]; mode above `cfg.max_levels`: [`Fault::ModeAboveMax`].
/// 6. Mode below 6 and IOVA bits at or above `12 + 9 mode` set: [`Fault::IovaAboveSpan`].
/// 7. For each table from the root down, with `L` its level: read the entry the IOVA indexes
///    ([`Fault::TableReadFailed`]); PR = 0 ([`Fault::NotPresent`]); reserved bits for its NL
///    ([`Fault::ReservedBits`]); AND its IR/IW into the path's permissions, which must still
///    grant `access` ([`Fault::Permission`]); then by NL: 0 is a leaf of the level's default
///    size, 7 a leaf of the encoded size ([`Fault::InvalidPageSize`] outside the level's
///    window), either at level 6 is [`Fault::LeafAtTopLevel`]; 1..=6 must be below `L`
///    ([`Fault::InvalidNextLevel`]) and, when it skips levels, the IOVA bits of the skipped
///    levels must be zero ([`Fault::SkippedBitsNonZero`]).
///
/// Within one entry the order is therefore PR, reserved bits, permission, then the NL-specific
/// rules. All of these are IO_PAGE_FAULTs, so the order changes only which rule a finding
/// names, never the [`crate::FaultClass`].
///
/// With `access == Perm::NONE` no permission rule can fire, and the result carries the
/// effective permissions (possibly none) of the translation.
pub fn walk_dte(
    mem: &impl PhysMem,
    cfg: &WalkConfig,
    dte: &Dte,
    iova: u64,
    access: Perm,
) -> Result<Translation, Fault> {
    walk_dte_visiting(mem, cfg, dte, iova, access, |_, _| {})
}

/// [`walk_dte`], calling `visit(level, table_spa)` for every table the walk reads an entry
/// from, root first, before reading it. Used to check that every table a device can reach is
/// a live page-table frame.
pub fn walk_dte_visiting(
    mem: &impl PhysMem,
    cfg: &WalkConfig,
    dte: &Dte,
    iova: u64,
    access: Perm,
    mut visit: impl FnMut(u8, u64),
) -> Result<Translation, Fault> {
    let (mode, root, dte_perm) = match dte_stage(cfg, dte, access)? {
        DteStage::Untranslated { perm, kind } => {
            return Ok(Translation {
                spa: iova,
                page_size_log2: UNTRANSLATED_PAGE_LOG2,
                perm,
                kind,
            });
        }
        DteStage::Walk { mode, root, perm } => (mode, root, perm),
    };
    if iova & !low_mask(span_log2(mode)) != 0 {
        return Err(Fault::IovaAboveSpan { mode, iova });
    }

    let mut level = mode;
    let mut table = root;
    let mut perm = dte_perm;
    // `level` strictly decreases every iteration and stays >= 1, so at most 6 reads.
    loop {
        visit(level, table);
        let index = (iova >> entry_size_log2(level)) & (ENTRIES - 1);
        let spa = table.wrapping_add(index * 8);
        let e = mem.read_u64(spa).ok_or(Fault::TableReadFailed { level, spa })?;
        if !entry::present(e) {
            return Err(Fault::NotPresent { level, spa });
        }
        if entry::reserved_bits(e) != 0 {
            return Err(Fault::ReservedBits { level, entry: e });
        }
        perm = perm.intersect(entry::perm(e));
        if !perm.allows(access) {
            return Err(Fault::Permission { level, requested: access, allowed: perm });
        }
        match entry::decode(e, level)? {
            Decoded::Leaf { base, size_log2 } => {
                return Ok(Translation {
                    spa: base | (iova & low_mask(size_log2)),
                    page_size_log2: size_log2,
                    perm,
                    kind: TranslationKind::Table { leaf_level: level },
                });
            }
            Decoded::Table { level: next, table: next_table } => {
                if iova & entry::skipped_bits_mask(level, next) != 0 {
                    return Err(Fault::SkippedBitsNonZero { level, next_level: next, iova });
                }
                level = next;
                table = next_table;
            }
        }
    }
}

/// Page size reported for untranslated accesses.
const UNTRANSLATED_PAGE_LOG2: u32 = 12;

/// What the DTE alone decides (steps 1 to 5), before any IOVA-dependent rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DteStage {
    /// Every IOVA passes untranslated with `perm`.
    Untranslated { perm: Perm, kind: TranslationKind },
    /// Every IOVA is walked from a level-`mode` table at `root` (`1 <= mode <= 6`), starting
    /// with the DTE's permissions `perm`.
    Walk { mode: u8, root: u64, perm: Perm },
}

/// Steps 1 to 5 of [`walk_dte`]: the DTE rules, which do not depend on the IOVA. Shared with
/// [`crate::enumerate`] so both agree on every DTE.
pub(crate) fn dte_stage(cfg: &WalkConfig, dte: &Dte, access: Perm) -> Result<DteStage, Fault> {
    if !dte.valid() {
        return Ok(DteStage::Untranslated { perm: Perm::RW, kind: TranslationKind::DteNotValid });
    }
    let bits = dte.reserved_bits();
    if bits != 0 {
        return Err(Fault::IllegalDte { bits });
    }
    let perm = dte.perm();
    if !dte.translation_valid() {
        return match cfg.tv0 {
            Tv0Policy::Fault => Err(Fault::TranslationNotValid),
            Tv0Policy::Untranslated => {
                check_dte_perm(perm, access)?;
                Ok(DteStage::Untranslated { perm, kind: TranslationKind::Tv0PassThrough })
            }
        };
    }
    check_dte_perm(perm, access)?;
    let mode = dte.mode();
    if mode == 0 {
        return Ok(DteStage::Untranslated { perm, kind: TranslationKind::Mode0 });
    }
    if mode > MAX_LEVEL {
        return Err(Fault::ReservedMode);
    }
    if mode > cfg.max_levels {
        return Err(Fault::ModeAboveMax { mode, max: cfg.max_levels });
    }
    Ok(DteStage::Walk { mode, root: dte.root(), perm })
}

/// Step 4: the DTE's IR/IW must grant the access.
fn check_dte_perm(allowed: Perm, requested: Perm) -> Result<(), Fault> {
    if allowed.allows(requested) {
        Ok(())
    } else {
        Err(Fault::DtePermission { requested, allowed })
    }
}
