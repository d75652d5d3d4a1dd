//! The `concurrent` target's entry point on seeded random inputs, to look for false alarms on
//! the correct tables (run by hand):
//! `cargo run --release -p ptdiff --example conc_random -- [COUNT] [SEED] [MAX_LEN]`.
//!
//! Runs `COUNT` (default 100,000) random byte strings of up to `MAX_LEN` (default 400) bytes,
//! from a generator seeded with `SEED` (default 1), through `ptdiff::fuzz::concurrent_run` on
//! the built-in tables with no planted bug. Every input that raises a finding (or is rejected)
//! is saved as `conc-random-SEED-INDEX` in the current folder, for `ptdiff repro --concurrent`
//! and `ptdiff minimize --concurrent`. Prints a count every 100,000 inputs and at the end.

use ptdiff::fuzz::concurrent_run;
use ptdiff::plant::Plant;
use ptdiff::Lineup;
use std::process::ExitCode;
use std::time::Instant;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<u64>());
    let mut next = |default: u64| match args.next() {
        None => Ok(default),
        Some(Ok(n)) => Ok(n),
        Some(Err(e)) => Err(e),
    };
    let (Ok(count), Ok(seed), Ok(max_len)) = (next(100_000), next(1), next(400)) else {
        eprintln!("usage: conc_random [COUNT] [SEED] [MAX_LEN]   (non-negative integers)");
        return ExitCode::from(2);
    };
    let mut rng = fastrand::Rng::with_seed(seed);
    let lineup = Lineup::built_in();
    let start = Instant::now();
    let mut failed = 0u64;
    for index in 0..count {
        let mut input = vec![0u8; rng.usize(..=max_len as usize)];
        rng.fill(&mut input);
        let (scenario, result) = concurrent_run(&input, &lineup, Plant::NONE);
        let finding = match result {
            Ok(report) => report.finding.map(|f| f.to_string()),
            Err(error) => Some(format!("rejected: {error}")),
        };
        if let Some(finding) = finding {
            failed += 1;
            let name = format!("conc-random-{seed}-{index}");
            if let Err(e) = std::fs::write(&name, &input) {
                eprintln!("{name}: {e}");
            }
            println!("{name}:\n{scenario}\n{finding}\n");
        }
        if (index + 1) % 100_000 == 0 {
            println!("{} inputs, {failed} with a finding", index + 1);
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "{count} random inputs (seed {seed}, up to {max_len} bytes): {failed} with a finding, \
         {:.0} inputs/s",
        count as f64 / seconds
    );
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
