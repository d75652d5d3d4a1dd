//! The text form of a concurrent scenario: a scenario file is concurrent when it has a
//! `thread` line ([`is_concurrent`]).
//!
//! ```text
//! # Section 6a of the design: assign racing a growing map.
//! config initial_levels=2 max_levels=4 devices=2 superpages=on missed_notifications=off
//! assign 0                                # setup: ordinary ops, run first, every check
//! thread 0 pci assign 1                   # thread N SITE OP: thread N's ops, in order
//! thread 1 notify-site notify 0x40000
//! thread 1 p2m map 0x40000 0x11 0 rw      # grows 2 -> 3 levels
//! preempt t0.0#2 -> t1                    # t0, in its op 0, about to make its 2nd access
//! walk t1.1#9 dev 1 dfn 0x40000 rw        # walk w0 starts when t1 reaches t1.1#9
//! walk dev 0 dfn 0x40000 r                # walk w1 runs when nothing else can
//! shadow off                              # no walks after each store (default on)
//! ```
//!
//! The optional `config` line comes first, then the setup (lines of the sequential format,
//! [`crate::scenario::text`]), then `thread`, `walk`, `preempt` and `shadow` lines in any
//! order. Threads are numbered from 0 without gaps; walk `wI` is the `I`-th `walk` line
//! (from 0). Sites are `p2m`, `pci`, `notify-site` and `rogue` ([`crate::conc::Site`]). An anchor is
//! `TASK.OP#ACCESS` ([`crate::conc::Anchor`]); a task is `t0`..`t2` or `w0`..`w3`. A `#` starts a comment
//! at the start of a word only (anchors hold one). The limits and rules are those of
//! [`ConcScenario::validate`]; every error is a [`ParseError`] at the line and column of the
//! word at fault, as in the sequential format.
//!
//! [`print()`] writes the canonical form (threads in order, then walks, preemptions and
//! `shadow off`); `parse(&print(s)) == Ok(s)` for every valid scenario.

mod parser;

use crate::conc::scenario::{ConcScenario, ThreadOp, WalkSpec};
use crate::scenario::text::line::{Comments, Line};
use crate::scenario::text::{print_config, print_op, ParseError, BOM};
use parser::Parser;
use std::fmt::{self, Write};

/// Whether `source` is a concurrent scenario: some line's first word is `thread`.
pub fn is_concurrent(source: &[u8]) -> bool {
    let source = source.strip_prefix(BOM).unwrap_or(source);
    source.split(|&b| b == b'\n').any(|raw| {
        let text = String::from_utf8_lossy(raw);
        let content = &text[..Comments::AtWordStart.start(&text)];
        content.split_whitespace().next() == Some("thread")
    })
}

/// Parses a concurrent scenario file and validates it; see [`parse_bytes`].
pub fn parse(source: &str) -> Result<ConcScenario, ParseError> {
    parse_bytes(source.as_bytes())
}

/// Parses a concurrent scenario file given as bytes (UTF-8, a byte-order mark at the start
/// ignored) and validates it, every error at the line and column of the word at fault.
pub fn parse_bytes(source: &[u8]) -> Result<ConcScenario, ParseError> {
    let source = source.strip_prefix(BOM).unwrap_or(source);
    let mut p = Parser::default();
    for (i, raw) in source.split(|&b| b == b'\n').enumerate() {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let line = Line::split_with(i + 1, raw, Comments::AtWordStart)?;
        p.line(&line)?;
    }
    p.finish()
}

/// Writes a concurrent scenario in canonical text form.
pub fn print(s: &ConcScenario) -> String {
    let mut out = print_config(&s.config);
    out.push('\n');
    for op in &s.setup {
        let _ = writeln!(out, "{}", print_op(op));
    }
    for (t, ops) in s.threads.iter().enumerate() {
        for op in ops {
            let _ = writeln!(out, "thread {t} {op}");
        }
    }
    for walk in &s.walks {
        let _ = writeln!(out, "walk {walk}");
    }
    for preempt in &s.preempts {
        let _ = writeln!(out, "preempt {preempt}");
    }
    if !s.shadow_walks {
        out.push_str("shadow off\n");
    }
    out
}

impl fmt::Display for ConcScenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&print(self))
    }
}

impl fmt::Display for ThreadOp {
    /// `p2m map 0x40000 0x11 0 rw`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.site, self.op)
    }
}

impl fmt::Display for WalkSpec {
    /// `t1.0#9 dev 1 dfn 0x40000 rw`, or without the anchor.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(at) = self.at {
            write!(f, "{at} ")?;
        }
        write!(f, "dev {} dfn {:#x} {}", self.dev, self.dfn, self.access)
    }
}

#[cfg(test)]
mod tests;
