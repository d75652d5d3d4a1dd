//! Engine-neutral fuzz entry points: each takes the raw input bytes, and every fuzzing engine
//! (libFuzzer via `fuzz/`, AFL via `fuzz/afl/`) calls the same function, so an input means the
//! same thing everywhere and `ptdiff repro` replays it.
//!
//! Your own code under the same targets: [`differential_with`] runs your tables (a
//! [`Lineup`], your table next to a built-in one; `fuzz/templates/own_table/` is a
//! ready-to-copy harness) and [`walker_with`] your AMD-Vi walk.
//!
//! They panic, deliberately, only to report a finding (or a set-up error); the message is the
//! readable report.
//!
//! Environment (read once per process):
//! - `PTDIFF_PLANT=ID` activates a planted bug (build with `--features planted-bugs`);
//! - `PTDIFF_STATS=N` prints what the differential (or concurrent) target exercised every N
//!   runs;
//! - `PTDIFF_MAX_OPS=N` makes the differential target decode each input to at most N
//!   operations ([`max_ops_from_env`]; `ptdiff repro --max-ops N` decodes the same way).

use crate::conc::runner::{run_concurrent_with, ConcOptions, ConcReport, ConcStats};
use crate::conc::scenario::{ConcError, ConcScenario};
use crate::lineup::Lineup;
use crate::plant::{Plant, PlantedBug};
use crate::run::{Report, RunStats};
use crate::scenario::decode::{decode_limited, MAX_DECODED_OPS};
use crate::scenario::text;
use crate::scenario::{Scenario, ScenarioError};
use crate::walker::{check, IndependentWalker, Walker, WalkerInput};
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

/// The most operations the differential target decodes an input to: `PTDIFF_MAX_OPS` (1 to
/// [`MAX_DECODED_OPS`]), read once, else [`MAX_DECODED_OPS`]. Any other value is a set-up
/// error and stops the process with a message.
pub fn max_ops_from_env() -> usize {
    static MAX_OPS: OnceLock<usize> = OnceLock::new();
    *MAX_OPS.get_or_init(|| match std::env::var("PTDIFF_MAX_OPS") {
        Ok(n) if !n.is_empty() => match n.parse::<usize>() {
            Ok(n @ 1..=MAX_DECODED_OPS) => n,
            _ => panic!("PTDIFF_MAX_OPS: `{n}` is not a number from 1 to {MAX_DECODED_OPS}"),
        },
        _ => MAX_DECODED_OPS,
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
    static BUILT_IN: OnceLock<Lineup> = OnceLock::new();
    differential_with(data, BUILT_IN.get_or_init(Lineup::built_in));
}

/// The differential target with your tables: `data` decoded by the one decoder into a
/// scenario, run on fresh tables of `tables` (yours next to a built-in one: see [`Lineup`])
/// with every check. A finding panics with the scenario and the report, as [`differential`]
/// does; reproduce and minimize it with the command line of your tables
/// ([`crate::cli::main_with`]). `PTDIFF_PLANT` and `PTDIFF_STATS` work as for
/// [`differential`]; a table that does not report the name it was added under
/// ([`Lineup::check_names`]) and a planted bug whose table is not in `tables` are set-up
/// errors.
pub fn differential_with(data: &[u8], tables: &Lineup) {
    let plant = plant_from_env();
    if let Err(e) = tables.check_names() {
        panic!("the tables to fuzz: {e}");
    }
    if let Err(e) = tables.check_plant(plant) {
        panic!("PTDIFF_PLANT: {e}");
    }
    let (scenario, result) = differential_run(data, max_ops_from_env(), tables, plant);
    let report = match result {
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
        let limit = match max_ops_from_env() {
            MAX_DECODED_OPS => String::new(),
            n => format!(" --max-ops {n}"),
        };
        let how = if tables.is_built_in() {
            format!("`ptdiff repro{limit} <this input>`")
        } else {
            let names = tables.names().collect::<Vec<_>>().join(", ");
            format!("`repro{limit} <this input>` of the command line that runs {names}")
        };
        panic!("\n# ptdiff finding; reproduce with {how}\n{scenario}{finding}\n");
    }
}

/// One input of the differential target, as values: the scenario `data` decodes to (at most
/// `max_ops` operations, [`decode_limited`]) and its run on fresh tables of `tables` with
/// `plant` planted (an `Err` only if the decoder made a scenario that does not validate, which
/// is a bug in the decoder).
pub fn differential_run(
    data: &[u8],
    max_ops: usize,
    tables: &Lineup,
    plant: Plant,
) -> (Scenario, Result<Report, ScenarioError>) {
    let scenario = decode_limited(data, max_ops);
    let result = tables.run(&scenario, plant);
    (scenario, result)
}

/// Accumulated statistics of the concurrent target for `PTDIFF_STATS`.
struct ConcStatsState {
    every: u64,
    total: ConcStats,
    passed: u64,
}

fn conc_stats_state() -> &'static Option<Mutex<ConcStatsState>> {
    static STATE: OnceLock<Option<Mutex<ConcStatsState>>> = OnceLock::new();
    STATE.get_or_init(|| {
        let every = std::env::var("PTDIFF_STATS").ok()?.parse::<u64>().ok().filter(|&n| n > 0)?;
        Some(Mutex::new(ConcStatsState { every, total: ConcStats::default(), passed: 0 }))
    })
}

/// The concurrent target: decode ([`crate::conc::decode`]), run the concurrent runner on the
/// built-in tables (threads and hardware walks interleaved at the input's preemptions, shadow
/// walks, the linearizability oracle, then the quiescent checks); a finding panics with the
/// scenario (ready to save as a `.scn` file), the finding and the failing table's interleaving.
pub fn concurrent(data: &[u8]) {
    static BUILT_IN: OnceLock<Lineup> = OnceLock::new();
    concurrent_with(data, BUILT_IN.get_or_init(Lineup::built_in));
}

/// The concurrent target on your tables (see [`differential_with`] for the set-up errors).
pub fn concurrent_with(data: &[u8], tables: &Lineup) {
    let plant = plant_from_env();
    if let Err(e) = tables.check_names() {
        panic!("the tables to fuzz: {e}");
    }
    if let Err(e) = tables.check_plant(plant) {
        panic!("PTDIFF_PLANT: {e}");
    }
    let options = ConcOptions { lock_rules: lock_rules_from_env() };
    let (scenario, result) = concurrent_run_with(data, tables, plant, options);
    let report = match result {
        Ok(report) => report,
        Err(e) => panic!("decoder produced an invalid concurrent scenario ({e}):\n{scenario}"),
    };
    if let Some(state) = conc_stats_state() {
        if let Ok(mut s) = state.lock() {
            s.passed += u64::from(report.finding.is_none());
            s.total += &report.stats;
            if s.total.runs % s.every == 0 {
                eprintln!(
                    "ptdiff stats: {} inputs ({} clean) | {}",
                    s.total.runs, s.passed, s.total
                );
            }
        }
    }
    if let Some(explained) = report.explain() {
        panic!(
            "\n# ptdiff concurrent finding; reproduce with `ptdiff repro --concurrent <this \
             input>`\n{scenario}{explained}\n"
        );
    }
}

/// One input of the concurrent target, as values: the scenario `data` decodes to and its
/// concurrent run on fresh tables of `tables` with `plant` planted (an `Err` only if the
/// decoder made a scenario that does not validate, which is a bug in the decoder).
pub fn concurrent_run(
    data: &[u8],
    tables: &Lineup,
    plant: Plant,
) -> (ConcScenario, Result<ConcReport, ConcError>) {
    concurrent_run_with(data, tables, plant, ConcOptions::default())
}

/// [`concurrent_run`], judged as `options` say (the lock rules on or off).
pub fn concurrent_run_with(
    data: &[u8],
    tables: &Lineup,
    plant: Plant,
    options: ConcOptions,
) -> (ConcScenario, Result<ConcReport, ConcError>) {
    let scenario = crate::conc::decode::decode(data);
    let result = run_concurrent_with(&scenario, tables, plant, options);
    (scenario, result)
}

/// Whether the concurrent target checks the lock rules: `PTDIFF_LOCK_RULES=off` turns them off
/// (to time the consequence oracle on its own); unset, empty or `on` keeps them. Any other
/// value is a set-up error (a panic naming it).
pub fn lock_rules_from_env() -> bool {
    static RULES: OnceLock<bool> = OnceLock::new();
    *RULES.get_or_init(|| match std::env::var("PTDIFF_LOCK_RULES").as_deref() {
        Err(_) | Ok("" | "on") => true,
        Ok("off") => false,
        Ok(other) => panic!("PTDIFF_LOCK_RULES: `{other}` is neither `on` nor `off`"),
    })
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

/// The walker target: arbitrary table memory, DTE, IOVAs and accesses
/// ([`crate::walker::WalkerInput`]) handed to the oracle, which must never panic or hang; its
/// walk must agree with its leaf enumeration and with [`IndependentWalker`], a second walk that
/// shares no entry decoder with it, on every IOVA and access (see [`crate::walker::check`]). A
/// disagreement panics with the report.
pub fn walker(data: &[u8]) {
    let input = WalkerInput::decode(data);
    if let Err(finding) = check(&input, &IndependentWalker::new(input.cfg)) {
        panic!("\n{finding}");
    }
}

/// Your own AMD-Vi walk against the oracle: the inputs of the `walker` target, walked by
/// `your_walker` under its own [`Walker::config`] and by the oracle; a disagreement panics with
/// a report naming the DTE, the IOVA, the entries on the path and both answers. Call it from a
/// fuzz target (`engine/examples/own_walker.rs` is a template).
pub fn walker_with<W: Walker + ?Sized>(data: &[u8], your_walker: &W) {
    if let Err(finding) = check(&WalkerInput::decode(data), your_walker) {
        panic!("\n{finding}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_accept_empty_and_junk_input() {
        differential(&[]);
        concurrent(&[]);
        concurrent(&[0xff; 300]);
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
