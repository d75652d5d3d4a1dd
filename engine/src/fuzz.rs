//! Engine-neutral fuzz entry points: each takes the raw input bytes, and every fuzzing engine
//! (libFuzzer via `fuzz/`, AFL via `fuzz/afl/`) calls the same function, so an input means the
//! same thing everywhere and `ptdiff repro` replays it.
//!
//! They panic, deliberately, only to report a finding; the message is the readable report.
//!
//! Environment (read once per process):
//! - `PTDIFF_PLANT=ID` activates a planted bug (build with `--features planted-bugs`);
//! - `PTDIFF_STATS=N` prints what the differential target exercised every N runs.

use crate::plant::{Plant, PlantedBug};
use crate::run::{run, RunStats};
use crate::scenario::decode::decode;
use crate::scenario::text;
use arbitrary::Unstructured;
use ptdiff_reference::{enumerate, walk_dte, Dte, Leaf, Perm, Reach, Tv0Policy, WalkConfig};
use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock};

/// The planted bug selected by `PTDIFF_PLANT`, read once. An unknown or uncompiled bug is a
/// set-up error and stops the process with a message.
pub fn plant_from_env() -> Plant {
    static PLANT: OnceLock<Plant> = OnceLock::new();
    *PLANT.get_or_init(|| match std::env::var("PTDIFF_PLANT") {
        Ok(id) if !id.is_empty() => match id.parse::<PlantedBug>().and_then(Plant::select) {
            Ok(plant) => plant,
            Err(e) => panic!("PTDIFF_PLANT: {e}"),
        },
        _ => Plant::NONE,
    })
}

/// Accumulated statistics for `PTDIFF_STATS`.
struct StatsState {
    every: u64,
    runs: u64,
    total: RunStats,
    passed: u64,
}

fn stats_state() -> &'static Option<Mutex<StatsState>> {
    static STATE: OnceLock<Option<Mutex<StatsState>>> = OnceLock::new();
    STATE.get_or_init(|| {
        let every = std::env::var("PTDIFF_STATS").ok()?.parse::<u64>().ok().filter(|&n| n > 0)?;
        Some(Mutex::new(StatsState { every, runs: 0, total: RunStats::default(), passed: 0 }))
    })
}

/// One line describing accumulated statistics over `runs` inputs.
pub fn describe_stats(runs: u64, passed: u64, total: &RunStats) -> String {
    format!("ptdiff stats: {runs} inputs ({passed} clean) | {total}")
}

/// The differential target: decode, run both tables with every check; a finding panics with
/// the scenario (ready to save as a `.scn` file) and the report.
pub fn differential(data: &[u8]) {
    let scenario = decode(data);
    let report = match run(&scenario, plant_from_env()) {
        Ok(report) => report,
        Err(e) => panic!("decoder produced an invalid scenario ({e}):\n{scenario}"),
    };
    if let Some(state) = stats_state() {
        if let Ok(mut s) = state.lock() {
            s.runs += 1;
            s.passed += u64::from(report.passed());
            s.total += &report.stats;
            if s.runs % s.every == 0 {
                eprintln!("{}", describe_stats(s.runs, s.passed, &s.total));
            }
        }
    }
    if let Some(finding) = report.finding {
        panic!(
            "\n# ptdiff finding; reproduce with `ptdiff repro <this input>`\n{scenario}{finding}\n"
        );
    }
}

/// The scenario-text target: arbitrary bytes into the parser must never panic, and whatever
/// parses must print and parse back to the same scenario.
pub fn scenario_text(data: &[u8]) {
    let Ok(scenario) = text::parse_bytes(data) else { return };
    let printed = text::print(&scenario);
    match text::parse(&printed) {
        Ok(again) if again == scenario => {}
        Ok(again) => panic!("print/parse changed the scenario:\n{scenario}\nbecame\n{again}"),
        Err(e) => panic!("printed scenario does not parse ({e}):\n{printed}"),
    }
}

/// Frames the walker target builds tables in (pfns 1..=WALKER_FRAMES).
const WALKER_FRAMES: u64 = 6;
/// Most entries the walker target writes.
const WALKER_ENTRIES: usize = 64;
/// Leaf budget for the walker target's enumeration.
const WALKER_LEAF_BUDGET: usize = 1 << 10;

/// The walker target: arbitrary table memory, DTE, IOVAs and accesses handed to the oracle. It
/// must never panic or hang, and walk and enumerate must agree on every tree.
pub fn walker(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let mut mem: BTreeMap<u64, u64> = BTreeMap::new();
    for pfn in 1..=WALKER_FRAMES {
        for i in 0..512 {
            mem.insert(pfn << 12 | i << 3, 0);
        }
    }
    let value = |u: &mut Unstructured| -> u64 {
        let raw: u64 = u.arbitrary().unwrap_or(0);
        let selector: u8 = u.arbitrary().unwrap_or(0);
        if selector & 3 == 0 {
            return raw;
        }
        // A plausible entry: present, next level 0..=3 (or any when selector bit 7 is set), an
        // address inside the frames (or one past them), some permissions.
        let pfn = 1 + u64::from(selector >> 2) % (WALKER_FRAMES + 1);
        let nl_mask = if selector & 0x80 != 0 { 0xe00 } else { 0x600 };
        (raw & nl_mask) | pfn << 12 | (raw & 0x6000_0000_0000_0000) | 1
    };
    let dte_q0 = value(&mut u) | 0b11;
    let cfg = WalkConfig {
        max_levels: 4 + u.arbitrary::<u8>().unwrap_or(0) % 3,
        tv0: if u.arbitrary::<bool>().unwrap_or(false) {
            Tv0Policy::Untranslated
        } else {
            Tv0Policy::Fault
        },
    };
    let dte = Dte([dte_q0, u.arbitrary().unwrap_or(0), 0, 0]);
    let entries = usize::from(u.arbitrary::<u8>().unwrap_or(0)) % WALKER_ENTRIES;
    for _ in 0..entries {
        let pfn = 1 + u64::from(u.arbitrary::<u8>().unwrap_or(0)) % WALKER_FRAMES;
        let index = u64::from(u.arbitrary::<u16>().unwrap_or(0) % 512);
        let v = value(&mut u);
        mem.insert(pfn << 12 | index << 3, v);
    }
    let reach = enumerate(&mem, &cfg, &dte, WALKER_LEAF_BUDGET);
    let mut iovas = Vec::new();
    while let (Ok(iova), true) = (u.arbitrary::<u64>(), iovas.len() < 16) {
        iovas.push(iova);
    }
    if let Ok(Reach::Table(leaves)) = &reach {
        for leaf in leaves.iter().take(64) {
            iovas.push(leaf.iova);
            iovas.push(leaf.iova | ((1u64 << leaf.slot_log2) - 1));
        }
    }
    for iova in iovas {
        for access in [Perm::NONE, Perm::R, Perm::W, Perm::RW] {
            let _ = walk_dte(&mem, &cfg, &dte, iova, access);
        }
        if let Ok(reach) = &reach {
            check_walk_matches_enumeration(&mem, &cfg, &dte, reach, iova);
        }
    }
}

/// Panics when the walk of `iova` disagrees with the enumeration `reach`.
fn check_walk_matches_enumeration(
    mem: &BTreeMap<u64, u64>,
    cfg: &WalkConfig,
    dte: &Dte,
    reach: &Reach,
    iova: u64,
) {
    let walked = walk_dte(mem, cfg, dte, iova, Perm::NONE);
    match reach {
        Reach::Blocked(fault) => {
            assert!(
                walked.is_err(),
                "enumerate says blocked ({fault}) but the walk of {iova:#x} gives {walked:?}"
            )
        }
        Reach::Untranslated(perm) => match walked {
            Ok(t) => assert!(
                t.spa == iova && t.perm == *perm,
                "untranslated {perm} vs walk {t:?} at {iova:#x}"
            ),
            Err(f) => panic!("enumerate says untranslated but the walk of {iova:#x} faults: {f}"),
        },
        Reach::Table(leaves) => {
            let covering: Vec<&Leaf> = leaves
                .iter()
                .filter(|l| {
                    iova.wrapping_sub(l.iova)
                        < 1u64.checked_shl(l.slot_log2).unwrap_or(0).wrapping_sub(1).wrapping_add(1)
                        || l.slot_log2 >= 64
                })
                .filter(|l| {
                    iova >= l.iova && (l.slot_log2 >= 64 || iova - l.iova < (1u64 << l.slot_log2))
                })
                .collect();
            match (covering.as_slice(), walked) {
                ([], Err(_)) => {}
                ([leaf], Ok(t)) => assert!(
                    t.spa == leaf.spa.wrapping_add(iova - leaf.iova) && t.perm == leaf.perm,
                    "walk of {iova:#x} gives {t:?}, enumeration {leaf:?}"
                ),
                (c, w) => panic!("iova {iova:#x}: {} covering leaves {c:?}, walk {w:?}", c.len()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_accept_empty_and_junk_input() {
        differential(&[]);
        scenario_text(b"");
        scenario_text(b"map 1 2 0 rw\nassign 0\n\xff");
        scenario_text(b"config devices=2\nassign 1\nmap 0x200 0x200 9 rw missed\n");
        walker(&[]);
        walker(&[0xff; 300]);
    }

    #[test]
    fn stats_line_starts_with_the_input_counts() {
        let t = RunStats { ops: 10, maps: 4, ..RunStats::default() };
        let line = describe_stats(7, 6, &t);
        assert!(line.starts_with("ptdiff stats: 7 inputs (6 clean) | ops 10 = map 4"), "{line}");
    }
}
