//! walk == enumerate on thousands of deterministic random trees, and no panics on garbage.
//!
//! Trees are built from a handful of frames whose entries are biased towards interesting
//! values (present, every NL, valid and invalid size codes, replicated NL = 7 groups, PDEs
//! pointing back into the same frames at any level, missing memory, reserved bits), under
//! random DTEs and hardware configurations. For every tree:
//!
//! - `enumerate` either exceeds its budget or returns a `Reach`;
//! - for `Reach::Table`, leaves are sorted and disjoint, and every leaf's first, middle and
//!   last byte walks (with `Perm::NONE`) to exactly what the leaf says;
//! - for random IOVAs (mostly composed from the indices the tree uses), the walk succeeds
//!   with kind `Table` iff a leaf covers the IOVA, and agrees with it; for `Blocked` and
//!   `Untranslated` the walk gives that fault / that untranslated result everywhere;
//! - an access with real permissions gives the `Perm::NONE` translation when the effective
//!   permissions allow it and a permission fault (or the same fault) otherwise;
//! - `Model::from_leaves` translates each probed DFN as the walk does, and
//!   `Model::first_difference_from_leaves` answers as comparing with the rebuilt model does.
//!
//! The test also counts what it reached and fails if some rule or leaf kind never came up,
//! so it cannot silently stop exercising the oracle.

use crate::common::{IR, IW, PR};
use ptdiff_reference::{
    enumerate, enumerate_tree, walk_dte, Dte, Fault, Leaf, Model, Perm, PhysMem, Reach,
    Translation, TranslationKind, Tv0Policy, WalkConfig,
};
use std::collections::{BTreeMap, BTreeSet};

/// The project's one deterministic generator (`fastrand`, seeded).
struct Rng(fastrand::Rng);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(fastrand::Rng::with_seed(seed))
    }
    fn next(&mut self) -> u64 {
        self.0.u64(..)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.0.u64(..n.max(1))
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

const ADDR: u64 = 0x000f_ffff_ffff_f000;
const FRAME0: u64 = 0x10_0000;
/// A table address that is never in memory.
const MISSING: u64 = 0x7fff_f000;
const BUDGET: usize = 400;
const PERMS: [Perm; 4] = [Perm::NONE, Perm::R, Perm::W, Perm::RW];

fn perm_bits(p: Perm) -> u64 {
    (if p.read { IR } else { 0 }) | (if p.write { IW } else { 0 })
}

fn shift(level: u32) -> u32 {
    12 + 9 * (level - 1)
}

struct Tree {
    mem: BTreeMap<u64, u64>,
    frames: Vec<u64>,
    /// Indices the entries were written at: IOVAs are composed from them.
    pool: Vec<u64>,
}

fn random_perm(rng: &mut Rng) -> Perm {
    if rng.chance(65) {
        Perm::RW
    } else {
        rng.pick(&PERMS)
    }
}

fn random_addr(rng: &mut Rng, frames: &[u64]) -> u64 {
    match rng.below(10) {
        0..=6 => rng.pick(frames),
        7 => MISSING,
        _ => rng.next() & ADDR,
    }
}

/// A size code for an NL = 7 leaf: mostly a valid size for some level, sometimes a boundary,
/// an invalid or an all-ones code.
fn random_size_code(rng: &mut Rng) -> (u64, u32) {
    let s: u32 = match rng.below(10) {
        0..=6 => {
            let level = 1 + rng.below(5) as u32;
            let lo = shift(level) + 1;
            let hi = (shift(level + 1) - 1).min(52);
            lo + rng.below(u64::from(hi - lo + 1)) as u32
        }
        7 => rng.pick(&[21u32, 30, 39, 48]),
        8 => 13 + rng.below(40) as u32,
        _ => 53,
    };
    let code = if s >= 53 { ADDR } else { ((1u64 << (s - 1)) - 1) & !0xfff };
    (code, s)
}

fn random_entry(rng: &mut Rng, frames: &[u64]) -> u64 {
    let mut e = 0;
    if rng.chance(92) {
        e |= PR;
    }
    let nl: u64 = match rng.below(20) {
        0..=5 => 0,
        6..=8 => 7,
        _ => rng.pick(&[1, 1, 2, 2, 3, 3, 4, 5, 6]),
    };
    e |= nl << 9;
    match nl {
        0 => e |= if rng.chance(50) { rng.next() & ADDR } else { random_addr(rng, frames) },
        7 => {
            let (code, s) = random_size_code(rng);
            let base = if s >= 53 { 0 } else { rng.next() & ADDR & !((1u64 << s) - 1) };
            e |= base | code;
        }
        _ => e |= random_addr(rng, frames),
    }
    e |= perm_bits(random_perm(rng));
    // Ignored bits (8:1, 63) at random; U and FC on leaves only, mostly.
    e |= rng.next() & 0x1fe;
    if rng.chance(20) {
        e |= 1 << 63;
    }
    if (nl == 0 || nl == 7) && rng.chance(30) {
        e |= 1 << 60;
    }
    if rng.chance(4) {
        e |= 1 << (52 + rng.below(9)); // reserved for PTEs (58:52) and PDEs (60:52)
    }
    e
}

fn random_tree(rng: &mut Rng) -> Tree {
    let nframes = 1 + rng.below(5);
    let frames: Vec<u64> = (0..nframes).map(|i| FRAME0 + i * 0x1000).collect();
    let mut pool = vec![0, 1, 2, 3, 127, 128, 255, 256, 511];
    pool.push(rng.below(512));
    pool.push(rng.below(512));
    let mut mem = BTreeMap::new();
    for &f in &frames {
        match rng.below(10) {
            // Zero-filled table with a few entries.
            0..=4 => {
                for i in 0..512 {
                    mem.insert(f + 8 * i, 0);
                }
                for _ in 0..1 + rng.below(10) {
                    let i = rng.pick(&pool);
                    mem.insert(f + 8 * i, random_entry(rng, &frames));
                }
            }
            // Sparse: unwritten entries are unreadable.
            5..=6 => {
                for _ in 0..1 + rng.below(10) {
                    let i = rng.pick(&pool);
                    mem.insert(f + 8 * i, random_entry(rng, &frames));
                }
            }
            // Garbage everywhere.
            7 => {
                for i in 0..512 {
                    mem.insert(f + 8 * i, random_entry(rng, &frames));
                }
            }
            // A replicated NL = 7 group, valid for some level, plus a few entries.
            _ => {
                for i in 0..512 {
                    mem.insert(f + 8 * i, 0);
                }
                let level = 1 + rng.below(5) as u32;
                let lo = shift(level) + 1;
                let hi = (shift(level + 1) - 1).min(52);
                let s = lo + rng.below(u64::from(hi - lo + 1)) as u32;
                let replicas = 1u64 << (s - shift(level)).min(9);
                let first = rng.below(512 / replicas) * replicas;
                let base = rng.next() & ADDR & !((1u64 << s) - 1);
                let code = ((1u64 << (s - 1)) - 1) & !0xfff;
                let leaf = PR | (7 << 9) | base | code | perm_bits(random_perm(rng));
                for i in first..first + replicas {
                    mem.insert(f + 8 * i, leaf);
                }
                pool.push(first);
                pool.push(first + replicas - 1);
                for _ in 0..rng.below(4) {
                    let i = rng.pick(&pool);
                    mem.insert(f + 8 * i, random_entry(rng, &frames));
                }
            }
        }
    }
    Tree { mem, frames, pool }
}

fn random_dte(rng: &mut Rng, tree: &Tree) -> Dte {
    let perm = perm_bits(random_perm(rng));
    let root = if rng.chance(85) { tree.frames[0] } else { random_addr(rng, &tree.frames) };
    let q0 = match rng.below(100) {
        0..=3 => rng.next() & !1, // V = 0
        4..=6 => 1 | 2 | (3 << 9) | root | perm | (1 << rng.pick(&[2u64, 4, 6, 63])), // illegal
        7..=10 => 1 | (rng.below(8) << 9) | root | perm, // TV = 0
        11..=13 => 1 | 2 | root | perm, // mode 0
        14..=15 => 1 | 2 | (7 << 9) | root | perm, // mode 7
        _ => 1 | 2 | (rng.pick(&[1u64, 2, 3, 3, 4, 4, 5, 6, 6]) << 9) | root | perm,
    };
    Dte([q0, rng.next(), rng.next(), rng.next()])
}

/// An IOVA built from the tree's indices, so that walks reach deep.
fn random_iova(rng: &mut Rng, tree: &Tree, leaves: &[Leaf]) -> u64 {
    match rng.below(20) {
        0..=11 => {
            let top = 1 + rng.below(6) as u32;
            let mut iova = 0u64;
            for level in 1..=top {
                if rng.chance(25) {
                    continue; // zero index: what skipping PDEs need
                }
                let mut i = rng.pick(&tree.pool);
                if level == 6 {
                    i &= 127;
                }
                iova |= i << shift(level);
            }
            let offset = rng.below(0x1000);
            iova | rng.pick(&[0, 0xfff, offset])
        }
        12..=13 => rng.next(),
        14 => rng.pick(&[0, u64::MAX, 1 << 63, (1 << 48) - 1, 1 << 39, 1 << 57]),
        _ if !leaves.is_empty() => {
            let l = rng.pick(leaves);
            let size = 1u64 << l.slot_log2;
            match rng.below(3) {
                0 => l.iova.wrapping_sub(1),
                1 => l.iova.wrapping_add(size),
                _ => l.iova + rng.below(size),
            }
        }
        _ => rng.next() >> rng.below(64),
    }
}

fn covering(leaves: &[Leaf], iova: u64) -> Option<&Leaf> {
    let after = leaves.partition_point(|l| l.iova <= iova);
    let l = leaves.get(after.checked_sub(1)?)?;
    (u128::from(iova - l.iova) < (1u128 << l.slot_log2)).then_some(l)
}

fn from_leaf(l: &Leaf, iova: u64) -> Result<Translation, Fault> {
    Ok(Translation {
        spa: l.spa + (iova - l.iova),
        page_size_log2: l.page_size_log2,
        perm: l.perm,
        kind: TranslationKind::Table { leaf_level: l.level },
    })
}

fn fault_name(f: &Fault) -> &'static str {
    match f {
        Fault::DeviceIdOutOfRange { .. } => "DeviceIdOutOfRange",
        Fault::DteReadFailed { .. } => "DteReadFailed",
        Fault::IllegalDte { .. } => "IllegalDte",
        Fault::TranslationNotValid => "TranslationNotValid",
        Fault::DtePermission { .. } => "DtePermission",
        Fault::ReservedMode => "ReservedMode",
        Fault::ModeAboveMax { .. } => "ModeAboveMax",
        Fault::IovaAboveSpan { .. } => "IovaAboveSpan",
        Fault::TableReadFailed { .. } => "TableReadFailed",
        Fault::NotPresent { .. } => "NotPresent",
        Fault::ReservedBits { .. } => "ReservedBits",
        Fault::Permission { .. } => "Permission",
        Fault::LeafAtTopLevel { .. } => "LeafAtTopLevel",
        Fault::InvalidPageSize { .. } => "InvalidPageSize",
        Fault::InvalidNextLevel { .. } => "InvalidNextLevel",
        Fault::SkippedBitsNonZero { .. } => "SkippedBitsNonZero",
    }
}

#[derive(Debug, Default)]
struct Stats {
    trees: usize,
    over_budget: usize,
    blocked: usize,
    untranslated: usize,
    tables: usize,
    leaves: usize,
    leaf_levels: BTreeSet<u8>,
    sized_leaf_levels: BTreeSet<u8>,
    translated_probes: usize,
    faults: BTreeSet<&'static str>,
}

/// A real access, compared with the `Perm::NONE` walk of the same IOVA.
fn check_access(
    mem: &impl PhysMem,
    cfg: &WalkConfig,
    d: &Dte,
    iova: u64,
    none: &Result<Translation, Fault>,
    stats: &mut Stats,
) {
    for access in [Perm::R, Perm::W, Perm::RW] {
        let got = walk_dte(mem, cfg, d, iova, access);
        if let Err(f) = &got {
            stats.faults.insert(fault_name(f));
        }
        match none {
            Ok(t) if t.perm.allows(access) => assert_eq!(&got, none, "{access} at {iova:#x}"),
            Ok(_) => assert!(
                matches!(got, Err(Fault::DtePermission { requested, .. } | Fault::Permission { requested, .. }) if requested == access),
                "{access} at {iova:#x}: {got:?} vs {none:?}"
            ),
            Err(f) => assert!(
                matches!(got, Err(g) if g == *f || matches!(g, Fault::DtePermission { .. } | Fault::Permission { .. })),
                "{access} at {iova:#x}: {got:?} vs {f:?}"
            ),
        }
    }
}

fn check_tree(rng: &mut Rng, stats: &mut Stats) {
    let tree = random_tree(rng);
    let d = random_dte(rng, &tree);
    let cfg = WalkConfig {
        max_levels: 4 + rng.below(3) as u8,
        tv0: if rng.chance(50) { Tv0Policy::Fault } else { Tv0Policy::Untranslated },
    };
    let mem = &tree.mem;
    stats.trees += 1;
    let reach = enumerate(mem, &cfg, &d, BUDGET);
    // Lending whole frames (`PhysMem::table`) changes nothing.
    assert_eq!(
        enumerate_tree(&Framed::new(mem), &cfg, &d, BUDGET),
        enumerate_tree(mem, &cfg, &d, BUDGET)
    );
    let leaves: &[Leaf] = match &reach {
        Ok(Reach::Table(l)) => l,
        _ => &[],
    };
    match &reach {
        Err(_) => stats.over_budget += 1,
        Ok(Reach::Blocked(_)) => stats.blocked += 1,
        Ok(Reach::Untranslated(_)) => stats.untranslated += 1,
        Ok(Reach::Table(_)) => stats.tables += 1,
    }
    // Leaves: sorted, disjoint, and each walks to itself at its first, middle and last byte.
    for pair in leaves.windows(2) {
        let end = u128::from(pair[0].iova) + (1u128 << pair[0].slot_log2);
        assert!(end <= u128::from(pair[1].iova), "overlap or disorder: {pair:?}");
    }
    for l in leaves {
        stats.leaves += 1;
        stats.leaf_levels.insert(l.level);
        if l.page_size_log2 > l.slot_log2 {
            stats.sized_leaf_levels.insert(l.level);
        }
        assert_eq!(l.slot_log2, shift(u32::from(l.level)));
        assert_eq!(l.spa & ((1u64 << l.slot_log2) - 1), 0, "slot-aligned SPA: {l:?}");
        let last = (1u64 << l.slot_log2) - 1;
        for off in [0, last / 2 + 1, last] {
            let iova = l.iova + off;
            let none = walk_dte(mem, &cfg, &d, iova, Perm::NONE);
            assert_eq!(none, from_leaf(l, iova), "leaf {l:?} + {off:#x}");
            check_access(mem, &cfg, &d, iova, &none, stats);
        }
    }
    let model = Model::from_leaves(leaves);
    // The linear sweep comparison gives what comparing with the rebuilt model gives, also
    // against a model with one frame changed or removed.
    assert_eq!(model.first_difference_from_leaves(leaves), None);
    if !leaves.is_empty() {
        let l = leaves[rng.below(leaves.len() as u64) as usize];
        let mut changed = model.clone();
        if rng.chance(50) {
            changed.unmap(l.iova >> 12, 0);
        } else {
            changed.map(l.iova >> 12, (l.spa >> 12) ^ 1, 0, l.perm);
        }
        let want = changed.first_difference(&model);
        assert_eq!(want.map(|d| d.dfn), Some(l.iova >> 12));
        assert_eq!(changed.first_difference_from_leaves(leaves), want);
    }
    // Random IOVAs.
    for _ in 0..48 {
        let iova = random_iova(rng, &tree, leaves);
        let none = walk_dte(mem, &cfg, &d, iova, Perm::NONE);
        if let Err(f) = &none {
            stats.faults.insert(fault_name(f));
        }
        check_access(mem, &cfg, &d, iova, &none, stats);
        match &reach {
            Err(_) => {} // over budget: only "no panic" is checked
            Ok(Reach::Blocked(f)) => assert_eq!(none, Err(*f), "iova {iova:#x}"),
            Ok(Reach::Untranslated(p)) => {
                let t = none.expect("untranslated DTE must not fault for Perm::NONE");
                assert_eq!((t.spa, t.page_size_log2, t.perm), (iova, 12, *p));
                assert!(matches!(
                    t.kind,
                    TranslationKind::DteNotValid
                        | TranslationKind::Mode0
                        | TranslationKind::Tv0PassThrough
                ));
            }
            Ok(Reach::Table(_)) => {
                match covering(leaves, iova) {
                    Some(l) => {
                        assert_eq!(none, from_leaf(l, iova), "iova {iova:#x} in {l:?}");
                        stats.translated_probes += 1;
                    }
                    None => assert!(none.is_err(), "iova {iova:#x} not covered but {none:?}"),
                }
                let want = none.ok().map(|t| (t.spa >> 12, t.perm));
                assert_eq!(model.translate(iova >> 12), want, "model at iova {iova:#x}");
            }
        }
    }
}

#[test]
fn walk_equals_enumerate_on_random_trees() {
    let mut rng = Rng::new(0x5eed_0fa3_d105_7ab1);
    let mut stats = Stats::default();
    for _ in 0..3000 {
        check_tree(&mut rng, &mut stats);
    }
    eprintln!("{stats:#?}");
    // The generator must reach every part of the oracle.
    assert_eq!(stats.trees, 3000);
    assert!(stats.tables > 1500, "table reaches: {}", stats.tables);
    assert!(
        stats.blocked > 50 && stats.untranslated > 50,
        "{} {}",
        stats.blocked,
        stats.untranslated
    );
    assert!(stats.over_budget > 0 && stats.over_budget < 600, "over budget: {}", stats.over_budget);
    assert!(stats.leaves > 10_000, "leaves: {}", stats.leaves);
    assert!(stats.translated_probes > 5_000, "translated probes: {}", stats.translated_probes);
    assert_eq!(stats.leaf_levels, BTreeSet::from([1, 2, 3, 4, 5]));
    assert_eq!(stats.sized_leaf_levels, BTreeSet::from([1, 2, 3, 4, 5]));
    let every_walk_fault = BTreeSet::from([
        "IllegalDte",
        "TranslationNotValid",
        "DtePermission",
        "ReservedMode",
        "ModeAboveMax",
        "IovaAboveSpan",
        "TableReadFailed",
        "NotPresent",
        "ReservedBits",
        "Permission",
        "LeafAtTopLevel",
        "InvalidPageSize",
        "InvalidNextLevel",
        "SkippedBitsNonZero",
    ]);
    assert_eq!(stats.faults, every_walk_fault);
}

/// The same memory, also lending every frame whose 512 qwords all exist as one table.
struct Framed<'m> {
    mem: &'m BTreeMap<u64, u64>,
    frames: BTreeMap<u64, [u64; 512]>,
}

impl<'m> Framed<'m> {
    fn new(mem: &'m BTreeMap<u64, u64>) -> Framed<'m> {
        let mut frames = BTreeMap::new();
        for &frame in mem.keys().map(|spa| spa & !0xfff).collect::<BTreeSet<_>>().iter() {
            let mut qwords = [0; 512];
            if qwords
                .iter_mut()
                .enumerate()
                .all(|(i, q)| mem.get(&(frame + 8 * i as u64)).map(|&v| *q = v).is_some())
            {
                frames.insert(frame, qwords);
            }
        }
        Framed { mem, frames }
    }
}

impl PhysMem for Framed<'_> {
    fn read_u64(&self, spa: u64) -> Option<u64> {
        self.mem.read_u64(spa)
    }
    fn table(&self, spa: u64) -> Option<&[u64; 512]> {
        self.frames.get(&spa)
    }
}

/// Memory that holds a pseudo-random qword at every 8-byte-aligned address: every read
/// succeeds, so walks go as deep as the garbage lets them.
struct NoiseMem(u64);

impl PhysMem for NoiseMem {
    fn read_u64(&self, spa: u64) -> Option<u64> {
        // splitmix64 of the address.
        let mut z = spa ^ self.0;
        z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        // Mostly present, mostly without reserved bits, so that walks get deep.
        let mut e = z;
        if (z >> 8) & 7 != 0 {
            e &= !(0x1ff << 52);
        }
        if (z >> 20) & 7 != 0 {
            e |= PR;
        }
        Some(e)
    }
}

#[test]
fn no_panic_on_noise_memory() {
    let mut rng = Rng::new(0xdead_beef_cafe_f00d);
    let mut translated = 0;
    for round in 0..500 {
        let mem = NoiseMem(rng.next());
        let mode = 1 + (round % 6);
        let d = Dte([1 | 2 | (mode << 9) | (rng.next() & ADDR) | IR | IW, 0, 0, 0]);
        let cfg = WalkConfig::default();
        for _ in 0..50 {
            let iova = match rng.below(4) {
                0 => rng.next(),
                1 => rng.next() >> (64 - (12 + 9 * mode.min(5))),
                2 => u64::MAX,
                _ => rng.next() & 0x1f_ffff,
            };
            let none = walk_dte(&mem, &cfg, &d, iova, Perm::NONE);
            if let Ok(t) = none {
                translated += 1;
                // The offset inside the page is preserved.
                let mask = (1u64 << t.page_size_log2) - 1;
                assert_eq!(t.spa & mask, iova & mask);
                assert!(t.spa >> 52 == 0, "SPA beyond 52 bits: {t:?}");
            }
            let mut stats = Stats::default();
            check_access(&mem, &cfg, &d, iova, &none, &mut stats);
        }
        // Enumeration of noise ends within its budget, one way or the other.
        // When it completes, its leaves agree with the walk.
        match enumerate(&mem, &cfg, &d, 64) {
            Err(_) => {}
            Ok(Reach::Table(leaves)) => {
                for l in &leaves {
                    let last = l.iova + ((1u64 << l.slot_log2) - 1);
                    assert_eq!(walk_dte(&mem, &cfg, &d, l.iova, Perm::NONE), from_leaf(l, l.iova));
                    assert_eq!(walk_dte(&mem, &cfg, &d, last, Perm::NONE), from_leaf(l, last));
                }
            }
            Ok(other) => panic!("a translating DTE gave {other:?}"),
        }
    }
    assert!(translated > 100, "{translated}");
}
