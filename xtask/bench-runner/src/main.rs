//! The replay side of `cargo xtask bench`. It times the engine uninstrumented (release build,
//! no sanitizer coverage) on the checked-in inputs of `corpus/bench/` and prints one line per
//! measurement, `kind key=value ...`, for the xtask to parse:
//!
//! ```text
//! ptdiff-bench-runner replay DIR SECONDS    every input of DIR decoded and run with all checks,
//!                                           in whole passes until SECONDS have passed
//!   replay inputs=N ops=N nanos=N cpu=N findings=N
//! ptdiff-bench-runner lengths DIR SECONDS   each long input of DIR cut to 16, 64, 256 and 1,024
//!                                           operations and run with all checks; SECONDS per length
//!   length ops=L inputs=N nanos=N cpu=N findings=N
//! ptdiff-bench-runner phases DIR SECONDS    (feature `phases`) the same, split by phase
//!   phases ops=L new=N unchecked=N checked=N swept=N tables_new=N tables=N findings=N
//! ptdiff-bench-runner ceiling DIR SECONDS   (feature `phases`) `replay` without the per-op state
//!                                           checks: every op and its outcome checks, the sweep
//!   ceiling inputs=N ops=N nanos=N cpu=N findings=N
//! ```
//!
//! `ops` counts the operations the runner executed (`RunStats::ops`); `nanos` is the wall time
//! of the whole sample and `cpu` the time the process was on a CPU meanwhile (left out where
//! the system does not say), both in nanoseconds. The phase fields are nanoseconds per input of
//! nested loops (CPU time where there is one, else wall time); `src/phases.rs` says which. Apart from the phase split (which uses
//! `Runner`, `Runner::step_unchecked` and the built-in tables), the runner uses only `ptdiff::scenario::decode::decode`, `ptdiff::run`, `Scenario`,
//! `Op` and `Plant`, so it builds against older revisions of the engine too.

mod long;
#[cfg(feature = "phases")]
mod phases;
#[cfg(feature = "phases")]
mod tables;

use ptdiff::scenario::decode::decode;
use ptdiff::{run, Plant, Scenario};
use std::hint::black_box;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Wall and on-CPU time since a start.
pub struct Clock {
    wall: Instant,
    cpu: Option<u128>,
}

impl Clock {
    pub fn start() -> Clock {
        Clock { wall: Instant::now(), cpu: cpu_nanos() }
    }

    pub fn elapsed(&self) -> Duration {
        self.wall.elapsed()
    }

    /// CPU nanoseconds since the start, or wall nanoseconds where there is no CPU time.
    pub fn nanos(&self) -> u128 {
        match (self.cpu, cpu_nanos()) {
            (Some(a), Some(b)) => b.saturating_sub(a),
            _ => self.wall.elapsed().as_nanos(),
        }
    }

    /// `nanos=N cpu=N` (or only `nanos=N`) since the start.
    pub fn fields(&self) -> String {
        let wall = self.wall.elapsed().as_nanos();
        match (self.cpu, cpu_nanos()) {
            (Some(a), Some(b)) => format!("nanos={wall} cpu={}", b.saturating_sub(a)),
            _ => format!("nanos={wall}"),
        }
    }
}

/// Nanoseconds this thread has been on a CPU, so that a busy machine slows the figures less.
#[cfg(unix)]
fn cpu_nanos() -> Option<u128> {
    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `now` is a valid, writable timespec; the call only writes it.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    let secs = u128::try_from(now.tv_sec).ok()?;
    let nanos = u128::try_from(now.tv_nsec).ok()?;
    (status == 0).then_some(secs * 1_000_000_000 + nanos)
}

/// No CPU clock here: wall time only.
#[cfg(not(unix))]
fn cpu_nanos() -> Option<u128> {
    None
}

/// Lengths, in operations, of the inputs timed one by one.
pub const LENGTHS: [usize; 4] = [16, 64, 256, 1024];

const USAGE: &str = "usage: ptdiff-bench-runner (replay | lengths | phases | ceiling) DIR SECONDS";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match dispatch(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("ptdiff-bench-runner: {message}");
            ExitCode::FAILURE
        }
    }
}

fn dispatch(args: &[String]) -> Result<(), String> {
    let [command, dir, seconds] = args else { return Err(USAGE.to_string()) };
    let seconds: f64 = seconds.parse().map_err(|_| format!("bad SECONDS `{seconds}`"))?;
    let budget = Duration::try_from_secs_f64(seconds).map_err(|e| format!("SECONDS: {e}"))?;
    let inputs = read_inputs(Path::new(dir))?;
    match command.as_str() {
        "replay" => replay(&inputs, budget),
        "lengths" => lengths(&inputs, budget),
        #[cfg(feature = "phases")]
        "phases" => phases::main(&inputs, budget),
        #[cfg(feature = "phases")]
        "ceiling" => phases::ceiling(&inputs, budget),
        other => Err(format!("unknown command `{other}`\n{USAGE}")),
    }
}

/// Every file of `dir`, in name order.
fn read_inputs(dir: &Path) -> Result<Vec<Vec<u8>>, String> {
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(format!("{}: no inputs", dir.display()));
    }
    paths.iter().map(|p| std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))).collect()
}

/// Runs `scenario` with every check; returns the operations executed and whether it found
/// something (nothing is planted, so a finding means a bug or a stale input set).
fn run_checked(scenario: &Scenario) -> Result<(u64, bool), String> {
    let report = run(scenario, Plant::NONE).map_err(|e| format!("invalid scenario: {e}"))?;
    // `RunStats::ops` was a u32 before it became a u64.
    #[allow(clippy::useless_conversion)]
    let ops = u64::from(report.stats.ops);
    Ok((ops, black_box(report).finding.is_some()))
}

/// `replay`: whole passes over the inputs, each decoded and run, until `budget` has passed.
fn replay(inputs: &[Vec<u8>], budget: Duration) -> Result<(), String> {
    let (mut runs, mut ops, mut findings) = (0u64, 0u64, 0u64);
    let start = Clock::start();
    while runs == 0 || start.elapsed() < budget {
        for input in inputs {
            let scenario = decode(black_box(input));
            let (executed, found) = run_checked(&scenario)?;
            ops += executed;
            findings += u64::from(found);
            runs += 1;
        }
    }
    println!("replay inputs={runs} ops={ops} {} findings={findings}", start.fields());
    Ok(())
}

/// `lengths`: for each length, the long inputs cut to it, run in passes for `budget`.
fn lengths(inputs: &[Vec<u8>], budget: Duration) -> Result<(), String> {
    for length in LENGTHS {
        let scenarios = long::scenarios(inputs, length)?;
        let (mut runs, mut findings) = (0u64, 0u64);
        let start = Clock::start();
        while runs == 0 || start.elapsed() < budget {
            for scenario in &scenarios {
                let (_, found) = run_checked(scenario)?;
                findings += u64::from(found);
                runs += 1;
            }
        }
        println!("length ops={length} inputs={runs} {} findings={findings}", start.fields());
    }
    Ok(())
}
