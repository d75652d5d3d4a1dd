//! `phases`: where an input's time goes, through the runner's public API. Nested loops each
//! run every input up to a later point, timed a pass over the inputs at a time (CPU time where
//! the system gives it; no timer runs inside an input), taking turns; a phase costs the
//! difference of two loops:
//!
//! - `new`: `Runner::new` and drop (setup);
//! - `unchecked`: the same plus every op through `Runner::step_unchecked` (the operations and
//!   their outcome checks);
//! - `checked`: `Runner::step` instead (the same plus the per-op state checks);
//! - `swept`: the same plus `Runner::sweep` (the final sweep);
//! - `tables_new` and `tables`: bare tables created and dropped, and the same plus every op
//!   applied to them ([`crate::tables`]): the implementations' share of the ops phase.

use crate::{long, Clock, LENGTHS};
use ptdiff::scenario::decode::decode;
use ptdiff::scenario::repeat::expand;
use ptdiff::{Plant, Runner, Scenario};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// How far one loop runs each input.
#[derive(Clone, Copy)]
enum Upto {
    New,
    Unchecked,
    Checked,
    Swept,
    TablesNew,
    Tables,
}

const LOOPS: [(Upto, &str); 6] = [
    (Upto::New, "new"),
    (Upto::Unchecked, "unchecked"),
    (Upto::Checked, "checked"),
    (Upto::Swept, "swept"),
    (Upto::TablesNew, "tables_new"),
    (Upto::Tables, "tables"),
];

/// Runs `scenario` up to `upto`; returns whether a check fired.
fn once(scenario: &Scenario, upto: Upto) -> Result<bool, String> {
    let new = || Runner::new(scenario.config, Plant::NONE).map_err(|f| format!("setup: {f}"));
    let mut found = false;
    match upto {
        Upto::New => drop(black_box(new()?)),
        Upto::Unchecked => {
            let mut runner = new()?;
            for (index, op) in expand(&scenario.ops) {
                if runner.step_unchecked(index, &op).is_err() {
                    found = true;
                    break;
                }
            }
            drop(black_box(runner));
        }
        Upto::Checked | Upto::Swept => {
            let mut runner = new()?;
            for (index, op) in expand(&scenario.ops) {
                if runner.step(index, &op).is_err() {
                    found = true;
                    break;
                }
            }
            if matches!(upto, Upto::Swept) {
                found |= black_box(runner.sweep()).is_err();
            }
            drop(black_box(runner));
        }
        Upto::TablesNew => crate::tables::run(scenario, false)?,
        Upto::Tables => crate::tables::run(scenario, true)?,
    }
    Ok(found)
}

/// Inputs of at most this many ops are run several times per pass, so that each timed pass
/// is long next to the cost of reading the clock.
const PASS_OPS: usize = 256;

pub fn main(inputs: &[Vec<u8>], budget: Duration) -> Result<(), String> {
    for length in LENGTHS {
        let scenarios = long::scenarios(inputs, length)?;
        let reps = (PASS_OPS / length).max(1);
        let mut nanos = [0u128; LOOPS.len()];
        let (mut passes, mut findings) = (0u64, 0u64);
        let start = Instant::now();
        // The loops take turns, one pass each, so that a change in load hits them all.
        while passes == 0 || start.elapsed() < budget {
            for (i, (upto, _)) in LOOPS.iter().enumerate() {
                let clock = Clock::start();
                for scenario in scenarios.iter().cycle().take(scenarios.len() * reps) {
                    findings += u64::from(once(scenario, *upto)?);
                }
                nanos[i] += clock.nanos();
            }
            passes += 1;
        }
        let runs = u128::from(passes) * (scenarios.len() * reps) as u128;
        let fields: Vec<String> =
            LOOPS.iter().zip(nanos).map(|((_, name), n)| format!("{name}={}", n / runs)).collect();
        println!("phases ops={length} {} findings={findings}", fields.join(" "));
    }
    Ok(())
}

/// `ceiling`: the `replay` command with the per-op state checks left out (every op
/// through `Runner::step_unchecked`, then the final sweep): the checked-ops rate no cheaper
/// per-op check could lift replay above.
pub fn ceiling(inputs: &[Vec<u8>], budget: Duration) -> Result<(), String> {
    let (mut runs, mut ops, mut findings) = (0u64, 0u64, 0u64);
    let start = Clock::start();
    while runs == 0 || start.elapsed() < budget {
        for input in inputs {
            let scenario = decode(black_box(input));
            let mut runner =
                Runner::new(scenario.config, Plant::NONE).map_err(|f| format!("setup: {f}"))?;
            let mut found = false;
            for (index, op) in expand(&scenario.ops) {
                if runner.step_unchecked(index, &op).is_err() {
                    found = true;
                    break;
                }
            }
            found = found || black_box(runner.sweep()).is_err();
            // `RunStats::ops` was a u32 before it became a u64.
            #[allow(clippy::useless_conversion)]
            let executed = u64::from(runner.stats().ops);
            ops += executed;
            findings += u64::from(found);
            runs += 1;
        }
    }
    println!("ceiling inputs={runs} ops={ops} {} findings={findings}", start.fields());
    Ok(())
}
