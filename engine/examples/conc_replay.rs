//! Replay throughput of the `concurrent` fuzz target over a corpus folder (run by hand):
//! `cargo run --release -p ptdiff --example conc_replay -- DIR [ROUNDS] [SLOWEST]`.
//!
//! Runs every file of `DIR` through the target's entry point (`ptdiff::fuzz::concurrent_run`,
//! the built-in tables, no planted bug) `ROUNDS` times (default 3) and prints the inputs per
//! second of each round, the median, and the `SLOWEST` (default 0) slowest inputs with their
//! scenario's size and the time of its setup alone (its threads, walks and preemptions left
//! out).

use ptdiff::conc::decode::decode;
use ptdiff::conc::runner::run_concurrent_on;
use ptdiff::conc::{Site, ThreadOp};
use ptdiff::fuzz::concurrent_run;
use ptdiff::plant::Plant;
use ptdiff::Lineup;
use std::time::{Duration, Instant};

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next() else {
        eprintln!("usage: conc_replay DIR [ROUNDS] [SLOWEST]");
        std::process::exit(2);
    };
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(3);
    let slowest: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(0);
    let mut inputs: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .expect("readable corpus folder")
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            Some((e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).ok()?))
        })
        .collect();
    inputs.sort();
    let lineup = Lineup::built_in();
    let mut rates = Vec::new();
    let mut times = vec![Duration::ZERO; inputs.len()];
    let mut findings = 0;
    for round in 0..rounds {
        let start = Instant::now();
        for (k, (_, data)) in inputs.iter().enumerate() {
            let t = Instant::now();
            let (_, result) = concurrent_run(data, &lineup, Plant::NONE);
            times[k] += t.elapsed();
            if round == 0 && result.map_or(true, |r| r.finding.is_some()) {
                findings += 1;
            }
        }
        let rate = inputs.len() as f64 / start.elapsed().as_secs_f64();
        println!("round {round}: {} inputs, {rate:.0} inputs/s", inputs.len());
        rates.push(rate);
    }
    rates.sort_by(|a, b| a.total_cmp(b));
    println!("median {:.0} inputs/s; {findings} with a finding", rates[rates.len() / 2]);
    let mut order: Vec<usize> = (0..inputs.len()).collect();
    order.sort_by_key(|&k| std::cmp::Reverse(times[k]));
    for &k in order.iter().take(slowest) {
        let per = times[k] / rounds.max(1) as u32;
        let s = decode(&inputs[k].1);
        let setup_entries: u64 = s.setup.iter().map(|op| op.entries()).sum();
        let thread_entries: u64 = s.threads.iter().flatten().map(|t| t.op.entries()).sum();
        let mut alone = s.clone();
        // One thread, one read of the translations: the least a valid scenario runs.
        let translate = ThreadOp { site: Site::P2m, op: ptdiff::Op::Translate { dev: 0, dfn: 0 } };
        alone.threads = vec![vec![translate]];
        alone.walks.clear();
        alone.preempts.clear();
        let t = Instant::now();
        let alone_ok = run_concurrent_on(&alone, &lineup, Plant::NONE).is_ok();
        assert!(alone_ok, "the setup alone is a valid scenario");
        let setup_ms = t.elapsed().as_secs_f64() * 1e3;
        println!(
            "{:>9.3} ms  {} ({} bytes): setup {} ops {} entries ({setup_ms:.3} ms alone), \
             threads {} ops {} entries, {} walks, {} preemptions",
            per.as_secs_f64() * 1e3,
            inputs[k].0,
            inputs[k].1.len(),
            s.setup.len(),
            setup_entries,
            s.threads.iter().map(Vec::len).sum::<usize>(),
            thread_entries,
            s.walks.len(),
            s.preempts.len(),
        );
    }
}
