//! The human-readable scenario format: one operation per line, `#` starts a comment.
//!
//! ```text
//! # Growth through notify, two devices.
//! config initial_levels=2 max_levels=4 devices=2 superpages=on missed_notifications=off
//! assign 0
//! map 0x40000 0x1234 0 rw        # dfn mfn order perm; the runner notifies 0x40000 first
//! map 0x80000 0x200 9 r missed   # no notification (needs missed_notifications=on)
//! unmap 0x40000 0
//! notify 0x3ffff
//! translate 1 0x40000            # device 1's DMA to that dfn must match the model
//! dma 0 0x40000 w                # device 0 writes there, through the IOMMU's caches
//! fail 2                         # the 2nd table allocation of the next op fails
//! map 0x8000000 0x9 0 rw         # ... so this may fail with NoMemory, changing nothing
//! deassign 0
//! teardown
//! ```
//!
//! The `config` line is optional (defaults: [`Config::default`]), must come before the first
//! operation, and each key is optional. Numbers are decimal or `0x` hexadecimal, `_` allowed.
//! Permissions are `r`, `w`, `rw` or `-` (none, which map rejects). [`print()`] writes the
//! canonical form; `parse(&print(s)) == Ok(s)` for every valid scenario.

use crate::scenario::{Config, Op, Scenario, ScenarioError};
use ptdiff_reference::Perm;
use std::fmt::{self, Write};

/// A scenario file that cannot be parsed, with the 1-based position of the problem.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}: {}", self.line, self.column, self.message)
    }
}

impl std::error::Error for ParseError {}

/// One whitespace-separated word and its 1-based column.
#[derive(Clone, Copy)]
struct Word<'a> {
    text: &'a str,
    column: usize,
}

/// The words of one line, with the line number for errors.
struct Line<'a> {
    number: usize,
    words: Vec<Word<'a>>,
    end_column: usize,
}

impl<'a> Line<'a> {
    fn split(number: usize, raw: &'a str) -> Line<'a> {
        let content = raw.split('#').next().unwrap_or("");
        let mut words = Vec::new();
        let mut start = None;
        for (i, c) in content.char_indices().chain(std::iter::once((content.len(), ' '))) {
            match (c.is_whitespace(), start) {
                (false, None) => start = Some(i),
                (true, Some(s)) => {
                    words.push(Word { text: &content[s..i], column: s + 1 });
                    start = None;
                }
                _ => {}
            }
        }
        Line { number, words, end_column: content.trim_end().len() + 1 }
    }

    fn error(&self, column: usize, message: impl Into<String>) -> ParseError {
        ParseError { line: self.number, column, message: message.into() }
    }

    /// The `i`-th word, or an error naming what was expected there.
    fn word(&self, i: usize, what: &str) -> Result<Word<'a>, ParseError> {
        self.words
            .get(i)
            .copied()
            .ok_or_else(|| self.error(self.end_column, format!("expected {what}")))
    }

    fn number(&self, i: usize, what: &str) -> Result<u64, ParseError> {
        let w = self.word(i, what)?;
        parse_number(w.text).ok_or_else(|| {
            self.error(w.column, format!("expected {what} (a number), found `{}`", w.text))
        })
    }

    fn small<T: TryFrom<u64>>(&self, i: usize, what: &str) -> Result<T, ParseError> {
        let value = self.number(i, what)?;
        let column = self.words[i].column;
        T::try_from(value)
            .map_err(|_| self.error(column, format!("`{value}` is too large for {what}")))
    }

    fn expect_len(&self, n: usize, usage: &str) -> Result<(), ParseError> {
        match self.words.get(n) {
            Some(extra) => {
                Err(self
                    .error(extra.column, format!("unexpected `{}` (usage: {usage})", extra.text)))
            }
            None => Ok(()),
        }
    }
}

fn parse_number(text: &str) -> Option<u64> {
    let clean: String = text.chars().filter(|&c| c != '_').collect();
    if let Some(hex) = clean.strip_prefix("0x").or_else(|| clean.strip_prefix("0X")) {
        u64::from_str_radix(hex, 16).ok()
    } else {
        clean.parse().ok()
    }
}

fn parse_perm(text: &str) -> Option<Perm> {
    match text {
        "r" => Some(Perm::R),
        "w" => Some(Perm::W),
        "rw" => Some(Perm::RW),
        "-" => Some(Perm::NONE),
        _ => None,
    }
}

fn parse_switch(text: &str) -> Option<bool> {
    match text {
        "on" | "true" | "yes" => Some(true),
        "off" | "false" | "no" => Some(false),
        _ => None,
    }
}

fn parse_config(line: &Line<'_>) -> Result<Config, ParseError> {
    let mut config = Config::default();
    for w in &line.words[1..] {
        let (key, value) = w.text.split_once('=').ok_or_else(|| {
            line.error(w.column, format!("expected key=value, found `{}`", w.text))
        })?;
        let value_column = w.column + key.len() + 1;
        let bad = |what: &str| {
            line.error(value_column, format!("{key}: expected {what}, found `{value}`"))
        };
        let level = || parse_number(value).and_then(|v| u8::try_from(v).ok());
        match key {
            "initial_levels" => config.initial_levels = level().ok_or_else(|| bad("a level"))?,
            "max_levels" => config.max_levels = level().ok_or_else(|| bad("a level"))?,
            "devices" => config.devices = level().ok_or_else(|| bad("a device count"))?,
            "superpages" => config.superpages = parse_switch(value).ok_or_else(|| bad("on/off"))?,
            "missed_notifications" => {
                config.missed_notifications = parse_switch(value).ok_or_else(|| bad("on/off"))?
            }
            _ => {
                return Err(line.error(
                    w.column,
                    format!(
                        "unknown config key `{key}` (known: initial_levels, max_levels, devices, \
                         superpages, missed_notifications)"
                    ),
                ))
            }
        }
    }
    config.validate().map_err(|e| line.error(line.words[0].column, e.to_string()))?;
    Ok(config)
}

fn parse_op(line: &Line<'_>) -> Result<Op, ParseError> {
    let keyword = line.words[0];
    let op = match keyword.text {
        "map" => {
            let usage = "map DFN MFN ORDER PERM [missed]";
            let perm_word = line.word(4, "a permission (r, w, rw or -)")?;
            let perm = parse_perm(perm_word.text).ok_or_else(|| {
                line.error(
                    perm_word.column,
                    format!("expected a permission (r, w, rw or -), found `{}`", perm_word.text),
                )
            })?;
            let missed = match line.words.get(5) {
                Some(w) if w.text == "missed" => true,
                Some(w) => {
                    return Err(
                        line.error(w.column, format!("expected `missed`, found `{}`", w.text))
                    )
                }
                None => false,
            };
            line.expect_len(if missed { 6 } else { 5 }, usage)?;
            Op::Map {
                dfn: line.number(1, "a dfn")?,
                mfn: line.number(2, "an mfn")?,
                order: line.small(3, "an order")?,
                perm,
                missed,
            }
        }
        "unmap" => {
            line.expect_len(3, "unmap DFN ORDER")?;
            Op::Unmap { dfn: line.number(1, "a dfn")?, order: line.small(2, "an order")? }
        }
        "notify" => {
            line.expect_len(2, "notify DFN")?;
            Op::Notify { dfn: line.number(1, "a dfn")? }
        }
        "assign" => {
            line.expect_len(2, "assign DEV")?;
            Op::Assign { dev: line.small(1, "a device")? }
        }
        "deassign" => {
            line.expect_len(2, "deassign DEV")?;
            Op::Deassign { dev: line.small(1, "a device")? }
        }
        "teardown" => {
            line.expect_len(1, "teardown")?;
            Op::Teardown
        }
        "translate" => {
            line.expect_len(3, "translate DEV DFN")?;
            Op::Translate { dev: line.small(1, "a device")?, dfn: line.number(2, "a dfn")? }
        }
        "dma" => {
            line.expect_len(4, "dma DEV DFN ACCESS")?;
            let access_word = line.word(3, "an access (r, w or rw)")?;
            let access =
                parse_perm(access_word.text).filter(|p| !p.is_empty()).ok_or_else(|| {
                    line.error(
                        access_word.column,
                        format!("expected an access (r, w or rw), found `{}`", access_word.text),
                    )
                })?;
            Op::Dma { dev: line.small(1, "a device")?, dfn: line.number(2, "a dfn")?, access }
        }
        "fail" => {
            line.expect_len(2, "fail N")?;
            Op::FailAlloc { nth: line.small(1, "an allocation number")? }
        }
        other => {
            return Err(line.error(
                keyword.column,
                format!(
                    "unknown operation `{other}` (known: config, map, unmap, notify, assign, \
                     deassign, teardown, translate, dma, fail)"
                ),
            ))
        }
    };
    Ok(op)
}

/// Parses a scenario file and validates it; errors carry line and column.
pub fn parse(source: &str) -> Result<Scenario, ParseError> {
    let mut config: Option<Config> = None;
    let mut scenario = Scenario::default();
    let mut op_lines = Vec::new();
    for (i, raw) in source.lines().enumerate() {
        let line = Line::split(i + 1, raw);
        let Some(first) = line.words.first() else { continue };
        if first.text == "config" {
            if config.is_some() || !scenario.ops.is_empty() {
                return Err(line
                    .error(first.column, "`config` must appear once, before the first operation"));
            }
            config = Some(parse_config(&line)?);
            continue;
        }
        if scenario.ops.len() == crate::scenario::MAX_OPS {
            return Err(line.error(
                first.column,
                ScenarioError::TooManyOps(scenario.ops.len() + 1).to_string(),
            ));
        }
        scenario.ops.push(parse_op(&line)?);
        op_lines.push(line);
    }
    scenario.config = config.unwrap_or_default();
    for (index, op) in scenario.ops.iter().enumerate() {
        scenario.validate_op(index, op).map_err(|e| {
            let line = &op_lines[index];
            line.error(line.words[0].column, e.to_string())
        })?;
    }
    Ok(scenario)
}

fn on_off(b: bool) -> &'static str {
    if b {
        "on"
    } else {
        "off"
    }
}

/// Writes one op in the canonical text form (no newline).
pub fn print_op(op: &Op) -> String {
    match *op {
        Op::Map { dfn, mfn, order, perm, missed } => {
            format!("map {dfn:#x} {mfn:#x} {order} {perm}{}", if missed { " missed" } else { "" })
        }
        Op::Unmap { dfn, order } => format!("unmap {dfn:#x} {order}"),
        Op::Notify { dfn } => format!("notify {dfn:#x}"),
        Op::Assign { dev } => format!("assign {dev}"),
        Op::Deassign { dev } => format!("deassign {dev}"),
        Op::Teardown => "teardown".to_string(),
        Op::Translate { dev, dfn } => format!("translate {dev} {dfn:#x}"),
        Op::Dma { dev, dfn, access } => format!("dma {dev} {dfn:#x} {access}"),
        Op::FailAlloc { nth } => format!("fail {nth}"),
    }
}

/// Writes the config line in canonical form (no newline).
pub fn print_config(c: &Config) -> String {
    format!(
        "config initial_levels={} max_levels={} devices={} superpages={} missed_notifications={}",
        c.initial_levels,
        c.max_levels,
        c.devices,
        on_off(c.superpages),
        on_off(c.missed_notifications)
    )
}

/// Writes a scenario in canonical text form, one line per op.
pub fn print(scenario: &Scenario) -> String {
    let mut out = print_config(&scenario.config);
    out.push('\n');
    for op in &scenario.ops {
        let _ = writeln!(out, "{}", print_op(op));
    }
    out
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&print_op(self))
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&print(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
# a comment line
config initial_levels=3 max_levels=5 devices=3 superpages=on missed_notifications=on
assign 2
map 0x40000 0x1_234 0 rw   # trailing comment
map 512 0x200 9 r missed
unmap 0x40000 0
notify 0x3ffff
translate 1 0x40000
dma 1 0x40000 w
fail 3
deassign 2
teardown
";

    #[test]
    fn parses_every_op() {
        let s = parse(SAMPLE).unwrap();
        assert_eq!(
            s.config,
            Config {
                initial_levels: 3,
                max_levels: 5,
                devices: 3,
                superpages: true,
                missed_notifications: true
            }
        );
        assert_eq!(
            s.ops,
            vec![
                Op::Assign { dev: 2 },
                Op::Map { dfn: 0x40000, mfn: 0x1234, order: 0, perm: Perm::RW, missed: false },
                Op::Map { dfn: 512, mfn: 0x200, order: 9, perm: Perm::R, missed: true },
                Op::Unmap { dfn: 0x40000, order: 0 },
                Op::Notify { dfn: 0x3ffff },
                Op::Translate { dev: 1, dfn: 0x40000 },
                Op::Dma { dev: 1, dfn: 0x40000, access: Perm::W },
                Op::FailAlloc { nth: 3 },
                Op::Deassign { dev: 2 },
                Op::Teardown,
            ]
        );
    }

    #[test]
    fn print_then_parse_is_identity() {
        let s = parse(SAMPLE).unwrap();
        let text = print(&s);
        assert!(text.starts_with("config initial_levels=3 max_levels=5 devices=3"));
        assert!(text.contains("\nmap 0x200 0x200 9 r missed\n"));
        assert_eq!(parse(&text).unwrap(), s);
    }

    #[test]
    fn config_is_optional() {
        let s = parse("assign 0\n").unwrap();
        assert_eq!(s.config, Config::default());
    }

    fn error_at(source: &str) -> (usize, usize, String) {
        let e = parse(source).unwrap_err();
        (e.line, e.column, e.message)
    }

    #[test]
    fn errors_carry_line_and_column() {
        assert_eq!(
            error_at("assign 0\nmap 0x1 zz 0 rw\n"),
            (2, 9, "expected an mfn (a number), found `zz`".to_string())
        );
        assert_eq!(error_at("  frob 1\n").0..=error_at("  frob 1\n").1, 1..=3);
        assert_eq!(
            error_at("map 1 2 0 rx\n"),
            (1, 11, "expected a permission (r, w, rw or -), found `rx`".to_string())
        );
        assert_eq!(error_at("unmap 1\n"), (1, 8, "expected an order".to_string()));
        assert_eq!(error_at("teardown now\n").1, 10);
        assert_eq!(
            error_at("assign 70000\n"),
            (1, 8, "`70000` is too large for a device".to_string())
        );
        assert_eq!(
            error_at("config max_levels=9\n"),
            (1, 1, "max_levels must be 4..=6, got 9".to_string())
        );
        assert_eq!(error_at("config colour=blue\n").1, 8);
        assert_eq!(
            error_at("config superpages=maybe\n"),
            (1, 19, "superpages: expected on/off, found `maybe`".to_string())
        );
        assert_eq!(error_at("assign 0\nconfig devices=2\n").0, 2);
        assert_eq!(
            error_at("config devices=2\n\nassign 5\n"),
            (3, 1, "op 0: device 5 is not below `devices` = 2".to_string())
        );
        assert_eq!(error_at("map 1 2 0 rw missed\n").0, 1);
        assert_eq!(
            error_at("dma 0 0x1 -\n"),
            (1, 11, "expected an access (r, w or rw), found `-`".to_string())
        );
        assert_eq!(
            error_at("fail 0\n"),
            (1, 1, "op 0: `fail 0`; allocations are counted from 1".to_string())
        );
    }
}
