//! Reading libFuzzer's standard error, line by line, into what a fuzzing summary needs.
//!
//! One process (`-fork` absent) reports its progress as `#<runs>\t<event> ... exec/s: N` lines
//! and, with `-print_final_stats=1`, its totals as `stat::` lines. With `-fork=N` the parent
//! reports the total over all its jobs as `#<runs>: cov: ... exec/s: N ... job: J` lines and
//! prints no totals of its own; the `stat::` lines it echoes come from one crashed job and are
//! ignored. Either way a crash, timeout or out-of-memory input is announced as
//! `... Test unit written to <path>`, whether or not a file of that name existed before.

use std::path::PathBuf;

/// What a libFuzzer run printed, as far as a summary needs it.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct LibFuzzerLog {
    /// The run used `-fork=N` (the parent's status lines carry the totals).
    pub fork: bool,
    /// Inputs executed: libFuzzer's final count, else the last status line's.
    pub runs: u64,
    /// libFuzzer's own average executions per second (one process, `-print_final_stats=1`).
    pub exec_per_sec: Option<u64>,
    /// Peak resident memory in MB (one process): `stat::peak_rss_mb`, else the largest `rss:`
    /// of a status line.
    pub peak_rss_mb: Option<u64>,
    /// The last status line, whitespace collapsed (for progress lines).
    pub status: String,
    /// Every input libFuzzer said it wrote, in order, without repeats.
    pub written: Vec<PathBuf>,
    /// ptdiff's `FINDING [...]` line, when a finding stopped the run.
    pub finding: Option<String>,
    /// The panic message and what follows it (at most [`PANIC_LINES`] lines, no `note:`).
    pub panic: Vec<String>,
    /// The first sanitizer or libFuzzer `==PID== ERROR` line.
    pub error: Option<String>,
}

/// How many lines of a panic are kept.
pub const PANIC_LINES: usize = 40;

/// The runs count of a status line: `#123\t...` (one process) or `#123: cov:` (fork parent),
/// with whether it is the fork parent's form.
fn status_runs(line: &str) -> Option<(u64, bool)> {
    let rest = line.strip_prefix('#')?;
    let end = rest.find(|c: char| !c.is_ascii_digit())?;
    let runs = rest[..end].parse().ok()?;
    let tail = &rest[end..];
    if tail.starts_with(": cov:") {
        Some((runs, true))
    } else if tail.starts_with('\t') {
        Some((runs, false))
    } else {
        None
    }
}

/// The `rss: <N>Mb` of a status line.
fn status_rss_mb(line: &str) -> Option<u64> {
    let (_, rest) = line.split_once(" rss: ")?;
    rest.split_once("Mb")?.0.parse().ok()
}

impl LibFuzzerLog {
    /// Reads one line of libFuzzer's standard error.
    pub fn feed(&mut self, line: &str) {
        if line.starts_with("INFO: -fork=") {
            self.fork = true;
        }
        if let Some((runs, fork_form)) = status_runs(line) {
            self.fork |= fork_form;
            if fork_form == self.fork {
                self.runs = runs;
                if let Some(mb) = status_rss_mb(line) {
                    self.peak_rss_mb = self.peak_rss_mb.max(Some(mb));
                }
                if line.contains("exec/s") {
                    self.status = line.split_whitespace().collect::<Vec<_>>().join(" ");
                }
            }
        } else if let Some(v) = line.strip_prefix("stat::number_of_executed_units:") {
            if !self.fork {
                self.runs = v.trim().parse().unwrap_or(self.runs);
            }
        } else if let Some(v) = line.strip_prefix("stat::average_exec_per_sec:") {
            if !self.fork {
                self.exec_per_sec = v.trim().parse().ok();
            }
        } else if let Some(v) = line.strip_prefix("stat::peak_rss_mb:") {
            if !self.fork {
                self.peak_rss_mb = v.trim().parse().ok().or(self.peak_rss_mb);
            }
        }
        if let Some((_, path)) = line.split_once("Test unit written to ") {
            let path = PathBuf::from(path.trim());
            if !self.written.contains(&path) {
                self.written.push(path);
            }
        }
        let trimmed = line.trim();
        if trimmed.starts_with("FINDING") && self.finding.is_none() {
            self.finding = Some(trimmed.to_string());
        }
        let panic_starts = self.panic.is_empty() && line.contains("panicked at");
        let panic_goes_on =
            !self.panic.is_empty() && self.panic.len() < PANIC_LINES && !line.starts_with("note:");
        if panic_starts || panic_goes_on {
            self.panic.push(line.to_string());
        }
        if line.starts_with("==") && line.contains("ERROR") && self.error.is_none() {
            self.error = Some(line.to_string());
        }
    }

    /// The one line that names what stopped the run: ptdiff's finding, else the panic, else
    /// the sanitizer's or libFuzzer's error.
    pub fn headline(&self) -> Option<String> {
        self.finding
            .clone()
            .or_else(|| self.panic.first().map(|l| l.trim().to_string()))
            .or_else(|| self.error.clone())
    }

    /// Whether a verbose run echoes `line` (start, end and ptdiff's statistics).
    pub fn is_notable(line: &str) -> bool {
        ["ptdiff stats", "INITED", "DONE", "Dictionary:", "INFO: -fork="]
            .iter()
            .any(|w| line.contains(w))
    }

    /// Reads a whole captured standard error.
    #[cfg(test)]
    pub fn parse(text: &str) -> LibFuzzerLog {
        let mut log = LibFuzzerLog::default();
        text.lines().for_each(|l| log.feed(l));
        log
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARTIFACTS: &str = "/src/ptdiff/fuzz/artifacts/differential/";
    const FINDING: &str = "FINDING [translation] in `fixed`: a device's DMA, walked in table \
                           memory as hardware does, differs from the model";

    #[test]
    fn one_process_crash_names_the_written_input_and_the_finding() {
        let log = LibFuzzerLog::parse(include_str!("../testdata/libfuzzer/crash.txt"));
        assert!(!log.fork);
        assert_eq!(log.runs, 11);
        assert_eq!(log.exec_per_sec, Some(0));
        assert_eq!(log.peak_rss_mb, Some(148));
        assert_eq!(
            log.written,
            [PathBuf::from(format!("{ARTIFACTS}crash-1d45c815645cf68f9afaff8da49cdaf7e23c9b0b"))]
        );
        assert_eq!(log.finding.as_deref(), Some(FINDING));
        assert_eq!(log.headline().as_deref(), Some(FINDING));
        assert_eq!(
            log.panic.first().map(String::as_str),
            Some("thread '<unnamed>' (31637) panicked at /src/ptdiff/engine/src/fuzz.rs:124:9:")
        );
        assert_eq!(log.error.as_deref(), Some("==31637== ERROR: libFuzzer: deadly signal"));
    }

    #[test]
    fn one_process_clean_run_has_totals_and_nothing_written() {
        let log = LibFuzzerLog::parse(include_str!("../testdata/libfuzzer/clean.txt"));
        assert!(!log.fork);
        assert_eq!(log.runs, 1400);
        assert_eq!(log.exec_per_sec, Some(350));
        assert_eq!(log.peak_rss_mb, Some(262));
        assert_eq!(
            log.status,
            "#1400 DONE cov: 2595 ft: 10878 corp: 369/51Kb lim: 207 exec/s: 350 rss: 262Mb"
        );
        assert!(log.written.is_empty());
        assert_eq!(log.headline(), None);
    }

    #[test]
    fn fork_clean_run_takes_the_parents_total() {
        let log = LibFuzzerLog::parse(include_str!("../testdata/libfuzzer/fork-clean.txt"));
        assert!(log.fork);
        assert_eq!(log.runs, 2339);
        assert_eq!(log.exec_per_sec, None);
        assert_eq!(log.peak_rss_mb, None);
        assert!(log.status.starts_with("#2339: cov: 2615 ft: 10807 corp: 338 exec/s: 98"));
        assert!(log.written.is_empty());
        assert_eq!(log.headline(), None);
    }

    #[test]
    fn fork_crash_ignores_the_jobs_own_counts_and_names_the_input() {
        let log = LibFuzzerLog::parse(include_str!("../testdata/libfuzzer/fork-crash.txt"));
        assert!(log.fork);
        // The crashed job's echoed log has `#42\tNEW` lines and `stat::` totals of its own.
        assert_eq!(log.runs, 43);
        assert_eq!(log.exec_per_sec, None);
        assert_eq!(log.peak_rss_mb, None);
        assert_eq!(
            log.written,
            [PathBuf::from(format!("{ARTIFACTS}crash-9dfa7af2f70ba84bfdd50912611508ae030cca60"))]
        );
        assert_eq!(log.finding.as_deref(), Some(FINDING));
    }

    #[test]
    fn status_lines_are_told_apart_from_other_hash_lines() {
        assert_eq!(status_runs("#15\tINITED cov: 1"), Some((15, false)));
        assert_eq!(status_runs("#43: cov: 2511 ft: 6155"), Some((43, true)));
        assert_eq!(status_runs("###### Recommended dictionary. ######"), None);
        assert_eq!(status_runs("    #0 0x5621914b1661 in f"), None);
        assert_eq!(status_runs("#12 something"), None);
        assert_eq!(status_rss_mb("#16\tNEW    cov: 2468 exec/s: 0 rss: 47Mb L: 186/207"), Some(47));
        assert_eq!(status_rss_mb("#1400\tDONE   cov: 2595 exec/s: 350 rss: 262Mb"), Some(262));
        assert_eq!(status_rss_mb("#15\tINITED cov: 2443 ft: 6127"), None);
    }

    #[test]
    fn a_long_panic_is_cut_and_notes_are_dropped() {
        let mut log = LibFuzzerLog::default();
        log.feed("thread 'main' panicked at src/lib.rs:1:1:");
        log.feed("note: run with `RUST_BACKTRACE=1`");
        for i in 0..100 {
            log.feed(&format!("line {i}"));
        }
        assert_eq!(log.panic.len(), PANIC_LINES);
        assert_eq!(log.panic[1], "line 0");
        assert_eq!(log.headline().as_deref(), Some("thread 'main' panicked at src/lib.rs:1:1:"));
    }
}
