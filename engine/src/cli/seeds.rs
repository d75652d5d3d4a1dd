//! `ptdiff seeds`: compile the readable scenarios into the fuzz targets' seed corpora.

use crate::cli::args::SeedsArgs;
use crate::cli::{EXIT_BAD_INPUT, EXIT_FINDING, EXIT_PASS};
use crate::repro::seeds;
use std::io::Write;

/// Writes the seeds of `args.corpus`, or with `--check` only lists the stale ones (exit 1).
pub fn seeds_command(args: &SeedsArgs, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    let corpus = &args.corpus;
    let plan = match seeds::plan(corpus) {
        Ok(plan) => plan,
        Err(e) => {
            let _ = writeln!(err, "ptdiff seeds: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    if args.check {
        let stale = seeds::stale(&plan);
        for file in &stale {
            let _ = writeln!(out, "out of date: {}", file.display());
        }
        if stale.is_empty() {
            let _ = writeln!(out, "{} seed files up to date", plan.len());
            EXIT_PASS
        } else {
            let _ = writeln!(out, "run `cargo run -p ptdiff -- seeds` to regenerate");
            EXIT_FINDING
        }
    } else {
        match seeds::write(&plan) {
            Ok(written) => {
                let _ = writeln!(
                    out,
                    "{written} of {} seed files written under {}",
                    plan.len(),
                    corpus.display()
                );
                EXIT_PASS
            }
            Err(e) => {
                let _ = writeln!(err, "ptdiff seeds: {e}");
                EXIT_BAD_INPUT
            }
        }
    }
}
