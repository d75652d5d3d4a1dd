//! The human-readable scenario format: one operation per line, `#` starts a comment.
//!
//! ```text
//! # Growth through notify, two devices.
//! config initial_levels=2 max_levels=4 devices=2 superpages=on missed_notifications=off ranges=on
//! assign 0
//! map 0x40000 0x1234 0 rw        # dfn mfn order perm; the runner notifies 0x40000 first
//! map 0x80000 0x200 9 r missed   # no notification (needs missed_notifications=on)
//! map 0x1ff 0x300 0 rw 4         # a range of 4 pages, across a table (needs ranges=on)
//! unmap 0x200 0 2                # unmaps 2 pages of the range
//! unmap 0x40000 0
//! notify 0x3ffff
//! translate 1 0x40000            # device 1's DMA to that dfn must match the model
//! dma 0 0x40000 w                # device 0 writes there, through the IOMMU's caches
//! fail 2                         # the 2nd table allocation of the next op fails
//! map 0x8000000 0x9 0 rw         # ... so this may fail with NoMemory, changing nothing
//! map 0x100000 0x300 0 rw
//! repeat 511                     # that map 511 more times, each 2^order frames on: a full table
//! deassign 0
//! teardown
//! ```
//!
//! The `config` line is optional (defaults: [`Config::default`]), appears at most once, before
//! the first operation, and sets each key at most once; every key is optional. Numbers are
//! decimal or `0x` hexadecimal, `_` allowed, without sign. Permissions are `r`, `w`, `rw` or
//! `-` (none, which map rejects). Keywords, operands and config keys come from the op table
//! ([`crate::scenario::op_table`]) and [`crate::scenario::config::CONFIG_KEYS`].
//!
//! Files are UTF-8; a byte-order mark at the very start is accepted and ignored, lines end in
//! `\n` or `\r\n`. Every error is a [`ParseError`] at a 1-based line and column (columns count
//! characters), and quotes at most a short prefix of the offending word.
//!
//! [`print()`] writes the canonical form; `parse(&print(s)) == Ok(s)` for every valid scenario.

mod dictionary;
pub(crate) mod line;
pub(crate) mod value;

pub use dictionary::dictionary;

use crate::scenario::config::{config_key, ConfigKind, CONFIG_KEYS};
use crate::scenario::op_table::{
    by_keyword, perm_value, OpSpec, OperandKind, Operands, MAX_OPERANDS, OPS,
};
use crate::scenario::{Config, Op, Scenario, ScenarioError, MAX_OPS};
use line::{echo, Line};
use std::fmt::{self, Write};
use thiserror::Error;

/// A UTF-8 byte-order mark, accepted at the start of a file.
pub(crate) const BOM: &[u8] = b"\xef\xbb\xbf";

/// A scenario file that cannot be parsed, at the 1-based line and column (in characters) of
/// the problem. Displays as `LINE:COL: message`, so a caller prints `path:LINE:COL: message`.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("{line}:{column}: {message}")]
pub struct ParseError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// Parses a scenario file and validates it; see [`parse_bytes`].
pub fn parse(source: &str) -> Result<Scenario, ParseError> {
    parse_bytes(source.as_bytes())
}

/// Parses a scenario file given as bytes (invalid UTF-8 is an error at its line and byte) and
/// validates it: each op against the config, at the line and column of the operand at fault.
pub fn parse_bytes(source: &[u8]) -> Result<Scenario, ParseError> {
    let source = source.strip_prefix(BOM).unwrap_or(source);
    let mut config: Option<(Config, usize)> = None;
    let mut first_op_line = None;
    let mut ops = Vec::new();
    for (i, raw) in source.split(|&b| b == b'\n').enumerate() {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let line = Line::split(i + 1, raw)?;
        let Some(first) = line.words.first() else { continue };
        if first.text == "config" {
            if let Some((_, at)) = config {
                return Err(line.error(
                    first.column,
                    format!("a second `config` line (the first is line {at})"),
                ));
            }
            if let Some(at) = first_op_line {
                return Err(line.error(
                    first.column,
                    format!("`config` must come before the first operation (line {at})"),
                ));
            }
            config = Some((parse_config(&line)?, line.number));
            continue;
        }
        if ops.len() == MAX_OPS {
            return Err(
                line.error(first.column, ScenarioError::TooManyOps(ops.len() + 1).to_string())
            );
        }
        let config = config.map(|(c, _)| c).unwrap_or_default();
        ops.push(parse_op(&line, &config)?);
        first_op_line.get_or_insert(line.number);
    }
    Ok(Scenario { config: config.map(|(c, _)| c).unwrap_or_default(), ops })
}

pub(crate) fn parse_config(line: &Line<'_>) -> Result<Config, ParseError> {
    let mut config = Config::default();
    let mut seen: Vec<(&str, usize)> = Vec::new();
    for w in line.words.get(1..).unwrap_or_default() {
        let (key, value) = w.text.split_once('=').ok_or_else(|| {
            line.error(w.column, format!("expected key=value, found {}", echo(w.text)))
        })?;
        let spec = config_key(key).ok_or_else(|| {
            let known: Vec<_> = CONFIG_KEYS.iter().map(|k| k.key).collect();
            line.error(
                w.column,
                format!("unknown config key {} (known: {})", echo(key), known.join(", ")),
            )
        })?;
        if let Some((_, at)) = seen.iter().find(|(k, _)| *k == spec.key) {
            return Err(line.error(
                w.column,
                format!("duplicate config key `{key}` (first set at column {at})"),
            ));
        }
        let value_column = w.column + key.chars().count() + 1;
        let parsed = match spec.kind {
            ConfigKind::Number { what, max } => value::number(value, what, max),
            ConfigKind::Switch => value::switch(value)
                .map(u64::from)
                .ok_or_else(|| format!("expected on/off, found {}", echo(value))),
            ConfigKind::Choice { words } => value::choice(value, words),
        };
        let parsed = parsed.map_err(|m| line.error(value_column, format!("{key}: {m}")))?;
        (spec.set)(&mut config, parsed);
        seen.push((spec.key, w.column));
    }
    config.validate().map_err(|e| {
        let key = match e {
            ScenarioError::InitialLevels(_) | ScenarioError::InitialAboveMax { .. } => {
                "initial_levels"
            }
            ScenarioError::MaxLevels(_) => "max_levels",
            ScenarioError::TableSeed(_) => "table_seed",
            _ => "devices",
        };
        let config_column = line.words.first().map_or(1, |w| w.column);
        let column = seen.iter().find(|(k, _)| *k == key).map_or(config_column, |&(_, c)| c);
        line.error(column, e.to_string())
    })?;
    Ok(config)
}

/// What an operand should be, for messages: `a dfn`.
fn what(kind: OperandKind) -> String {
    match kind {
        OperandKind::Dfn => "a dfn".into(),
        OperandKind::Mfn => "an mfn".into(),
        OperandKind::Order => "an order".into(),
        OperandKind::Perm => format!("a permission ({})", value::perm_list(true)),
        OperandKind::Access => format!("an access ({})", value::perm_list(false)),
        OperandKind::Dev => "a device".into(),
        OperandKind::Nth => "an allocation number".into(),
        OperandKind::Count => "a page count".into(),
        OperandKind::Repeats => "a repeat count".into(),
        OperandKind::Flag(word) => format!("`{word}`"),
    }
}

/// `map DFN MFN ORDER PERM [missed]`.
fn usage(spec: &OpSpec) -> String {
    let mut out = spec.keyword.to_string();
    for operand in spec.operands {
        let name = match operand.kind {
            OperandKind::Flag(word) => word.to_string(),
            kind => kind.name().to_uppercase(),
        };
        let _ = if operand.optional { write!(out, " [{name}]") } else { write!(out, " {name}") };
    }
    out
}

/// One op line, checked against `config` at the column of the operand at fault.
pub(crate) fn parse_op(line: &Line<'_>, config: &Config) -> Result<Op, ParseError> {
    let Some(&keyword) = line.words.first() else {
        return Err(line.error(1, "expected an operation"));
    };
    let spec = by_keyword(keyword.text).ok_or_else(|| {
        let known: Vec<_> = OPS.iter().map(|s| s.keyword).collect();
        line.error(
            keyword.column,
            format!(
                "unknown operation {} (known: config, {})",
                echo(keyword.text),
                known.join(", ")
            ),
        )
    })?;
    let (values, columns) = parse_operands(line, spec)?;
    spec.check(&values, config).map_err(|(slot, problem)| {
        let column = columns.get(slot).copied().unwrap_or(keyword.column);
        line.error(column, problem.to_string())
    })?;
    Ok((spec.build)(&values))
}

/// The operands of `spec` from the words after the keyword, with each one's column (the
/// keyword's for one left out). Required operands take the next word; an optional one takes
/// it when it fits (a flag its own word, anything else a word that is no later flag of the
/// row) and otherwise its default.
fn parse_operands(
    line: &Line<'_>,
    spec: &OpSpec,
) -> Result<(Operands, [usize; MAX_OPERANDS]), ParseError> {
    let words = line.words.get(1..).unwrap_or_default();
    let mut values = Operands::default();
    let mut columns = [line.words.first().map_or(1, |w| w.column); MAX_OPERANDS];
    let mut next = 0;
    for (slot, operand) in spec.operands.iter().enumerate() {
        let word = words.get(next).filter(|w| match operand.kind {
            OperandKind::Flag(flag) => w.text == flag,
            _ => !operand.optional || !is_later_flag(spec, slot, w.text),
        });
        let Some(word) = word else {
            if operand.optional {
                values.set(slot, operand.default);
                continue;
            }
            return Err(line.error(line.end_column, format!("expected {}", what(operand.kind))));
        };
        let value = match operand.kind {
            OperandKind::Perm | OperandKind::Access => value::perm(word.text)
                .filter(|p| operand.kind == OperandKind::Perm || !p.is_empty())
                .map(perm_value)
                .ok_or_else(|| {
                    format!("expected {}, found {}", what(operand.kind), echo(word.text))
                }),
            OperandKind::Flag(_) => Ok(1),
            kind => value::number(word.text, &what(kind), kind.max()),
        };
        values.set(slot, value.map_err(|m| line.error(word.column, m))?);
        if let Some(column) = columns.get_mut(slot) {
            *column = word.column;
        }
        next += 1;
    }
    if let Some(extra) = words.get(next) {
        return Err(line.error(
            extra.column,
            format!("unexpected {} (usage: {})", echo(extra.text), usage(spec)),
        ));
    }
    Ok((values, columns))
}

/// Whether `text` is the word of a flag of `spec` after `slot`.
fn is_later_flag(spec: &OpSpec, slot: usize, text: &str) -> bool {
    spec.operands[slot..].iter().any(|o| matches!(o.kind, OperandKind::Flag(w) if w == text))
}

/// Writes one op in the canonical text form (no newline): its operands in row order, leaving
/// out optional ones at their default after the last one that is not.
pub fn print_op(op: &Op) -> String {
    let (spec, values) = op.operands();
    print_operands(spec, &values)
}

fn print_operands(spec: &OpSpec, values: &Operands) -> String {
    let mut out = spec.keyword.to_string();
    let shown = spec
        .operands
        .iter()
        .enumerate()
        .rposition(|(slot, o)| !o.optional || values.get(slot) != o.default)
        .map_or(0, |last| last + 1);
    for (slot, operand) in spec.operands.iter().enumerate().take(shown) {
        let value = values.get(slot);
        let _ = match operand.kind {
            OperandKind::Flag(word) if value != 0 => write!(out, " {word}"),
            OperandKind::Flag(_) => Ok(()),
            OperandKind::Dfn | OperandKind::Mfn => write!(out, " {value:#x}"),
            OperandKind::Perm | OperandKind::Access => write!(out, " {}", values.perm(slot)),
            OperandKind::Order
            | OperandKind::Dev
            | OperandKind::Nth
            | OperandKind::Count
            | OperandKind::Repeats => {
                write!(out, " {value}")
            }
        };
    }
    out
}

/// Writes the config line in canonical form (no newline): every key of the first format, and
/// any later key that is not at its default.
pub fn print_config(c: &Config) -> String {
    let default = Config::default();
    let mut out = String::from("config");
    for key in CONFIG_KEYS {
        let value = (key.get)(c);
        if !key.always_printed && value == (key.get)(&default) {
            continue;
        }
        let _ = match key.kind {
            ConfigKind::Number { .. } => write!(out, " {}={value}", key.key),
            ConfigKind::Switch => write!(out, " {}={}", key.key, value::on_off(value != 0)),
            ConfigKind::Choice { words } => {
                write!(out, " {}={}", key.key, words.get(value as usize).unwrap_or(&"?"))
            }
        };
    }
    out
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
mod tests;
