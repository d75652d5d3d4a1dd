//! The checks of the walker fuzz targets: a [`Walker`] against the oracle's walk, and the
//! oracle's walk against its own leaf enumeration.

use super::finding::{EnumerationSays, OtherSide, WalkerFinding};
use super::input::WalkerInput;
use super::probes::EntryProbes;
use super::{Translated, Walker};
use ptdiff_reference::{
    enumerate, walk_dte, Fault, FaultClass, Leaf, Perm, Reach, Translation, WalkConfig,
};

/// The accesses every IOVA is walked with: translation only, read, write, read and write.
pub const ACCESSES: [Perm; 4] = [Perm::NONE, Perm::R, Perm::W, Perm::RW];
/// Leaf budget of the enumeration.
const LEAF_BUDGET: usize = 1 << 10;
/// Enumerated leaves whose last byte is walked too.
const LEAVES_WALKED: usize = 64;

/// Walks every IOVA of `input` with every access in [`ACCESSES`], through the oracle and
/// through `walker`, under `walker.config()` (the input's own configuration is not used), and
/// returns the first disagreement:
/// - `walker` must give the oracle's answer (see the [`Walker`] contract);
/// - the oracle's walk with [`Perm::NONE`] must agree with its leaf enumeration, whose leaves
///   must be sorted and disjoint.
///
/// The IOVAs: the input's own ([`WalkerInput::iovas`]); the last byte of the first 64
/// enumerated leaves; a neighbour of each of the first 16 leaves, its IOVA with bit
/// `iovas[i] % 64` flipped (in-span addresses next to mappings: skipped-level bits, other
/// indices, the span's edge); and for each written entry reachable from the DTE, valid or
/// not, the first IOVA whose walk reads it (at most 64; this includes the first byte of the
/// leaves). Apart from the enumeration's lists, allocates nothing unless it finds something.
pub fn check<W: Walker + ?Sized>(
    input: &WalkerInput,
    walker: &W,
) -> Result<(), Box<WalkerFinding>> {
    let cfg = walker.config();
    let reach = enumerate(&input.mem, &cfg, &input.dte, LEAF_BUDGET).ok();
    let leaves: &[Leaf] = match &reach {
        Some(Reach::Table(leaves)) => leaves,
        _ => &[],
    };
    for pair in leaves.windows(2) {
        if leaf_end(&pair[0]) > u128::from(pair[1].iova) {
            let says = EnumerationSays::LeavesOutOfOrder(pair[0], pair[1]);
            let oracle = walk_dte(&input.mem, &cfg, &input.dte, pair[1].iova, Perm::NONE);
            let other = OtherSide::Enumeration(says);
            return Err(WalkerFinding::new(input, &cfg, pair[1].iova, Perm::NONE, oracle, other));
        }
    }
    let leaf_iovas = leaves
        .iter()
        .take(LEAVES_WALKED)
        .map(|l| (leaf_end(l) - 1).min(u128::from(u64::MAX)) as u64);
    let neighbours = leaves.iter().zip(input.iovas).map(|(l, bits)| l.iova ^ (1 << (bits % 64)));
    let probes = EntryProbes::of(input);
    let entries = probes.iovas().iter().copied();
    for iova in input.iovas.iter().copied().chain(leaf_iovas).chain(neighbours).chain(entries) {
        check_iova(input, &cfg, reach.as_ref(), walker, iova)?;
    }
    Ok(())
}

/// One past the last byte of a leaf's slot.
fn leaf_end(leaf: &Leaf) -> u128 {
    u128::from(leaf.iova) + (1u128 << leaf.slot_log2.min(64))
}

/// Every access to `iova`: the oracle against `walker`, and against the enumeration `reach`.
///
/// The oracle walks each access, except that when the translation-only walk succeeds the
/// other accesses are derived from it: the same translation when its effective permissions
/// allow the access, an IO page fault (a permission fault) otherwise. That is what
/// `walk_dte` gives (every entry on the path was read and valid; only the permission rules
/// can differ), and `ptdiff-reference` tests it; the real walk is still made before anything
/// is reported.
fn check_iova<W: Walker + ?Sized>(
    input: &WalkerInput,
    cfg: &WalkConfig,
    reach: Option<&Reach>,
    walker: &W,
    iova: u64,
) -> Result<(), Box<WalkerFinding>> {
    let translation_only = walk_dte(&input.mem, cfg, &input.dte, iova, Perm::NONE);
    if let Some(says) =
        reach.and_then(|reach| enumeration_disagrees(reach, iova, &translation_only))
    {
        let other = OtherSide::Enumeration(says);
        return Err(WalkerFinding::new(input, cfg, iova, Perm::NONE, translation_only, other));
    }
    for access in ACCESSES {
        let expected = match &translation_only {
            Ok(t) if t.perm.allows(access) => Ok(translated(t)),
            Ok(_) => Err(FaultClass::IoPageFault),
            Err(fault) if access.is_empty() => Err(fault.class()),
            Err(_) => walk_dte(&input.mem, cfg, &input.dte, iova, access)
                .map(|t| translated(&t))
                .map_err(|fault| fault.class()),
        };
        let answer = walker.walk(&input.mem, &input.dte, iova, access);
        if answer != expected {
            let oracle = walk_dte(&input.mem, cfg, &input.dte, iova, access);
            if answer != oracle.map(|t| translated(&t)).map_err(|fault| fault.class()) {
                let other = OtherSide::Walker { name: walker.name(), answer };
                return Err(WalkerFinding::new(input, cfg, iova, access, oracle, other));
            }
        }
    }
    Ok(())
}

/// The part of an oracle translation the [`Walker`] contract compares.
fn translated(t: &Translation) -> Translated {
    Translated { spa: t.spa, perm: t.perm, page_size_log2: t.page_size_log2 }
}

/// What the enumeration says about `iova` when it contradicts the walk `walked` (made with
/// [`Perm::NONE`]); `None` when they agree. Needs the leaves sorted and disjoint.
fn enumeration_disagrees(
    reach: &Reach,
    iova: u64,
    walked: &Result<Translation, Fault>,
) -> Option<EnumerationSays> {
    match reach {
        Reach::Blocked(fault) => {
            (walked != &Err(*fault)).then_some(EnumerationSays::Blocked(*fault))
        }
        Reach::Untranslated(perm) => match walked {
            Ok(t) if t.spa == iova && t.perm == *perm && t.page_size_log2 == 12 => None,
            _ => Some(EnumerationSays::Untranslated(*perm)),
        },
        Reach::Table(leaves) => {
            let after = leaves.partition_point(|l| l.iova <= iova);
            let covering =
                after.checked_sub(1).map(|i| leaves[i]).filter(|l| u128::from(iova) < leaf_end(l));
            match (covering, walked) {
                (None, Err(_)) => None,
                (None, Ok(_)) => Some(EnumerationSays::NoLeaf),
                (Some(leaf), Ok(t))
                    if t.spa == leaf.spa.wrapping_add(iova - leaf.iova)
                        && t.perm == leaf.perm
                        && t.page_size_log2 == leaf.page_size_log2
                        && t.kind
                            == ptdiff_reference::TranslationKind::Table {
                                leaf_level: leaf.level,
                            } =>
                {
                    None
                }
                (Some(leaf), _) => Some(EnumerationSays::Leaf(leaf)),
            }
        }
    }
}

/// Deterministic pseudo-random input bytes number `seed` (64 to 1,023 bytes): for running a
/// walker over many inputs in a unit test, without a fuzzer.
pub fn seeded_input(seed: u64) -> Vec<u8> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut bytes = vec![0; rng.usize(64..1024)];
    rng.fill(&mut bytes);
    bytes
}
