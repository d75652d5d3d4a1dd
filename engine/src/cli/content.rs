//! Recognising what an input file holds, a text scenario or a raw fuzz input, by its content
//! (never by its name): a file is text when its first word is `config` or an operation
//! keyword, or when it is printable UTF-8; anything else is a raw fuzz input.

use crate::cli::args::Format;
use crate::scenario::op_table::OPS;
use crate::scenario::text::ParseError;
use std::fmt;

/// The UTF-8 byte-order mark, skipped when looking for the first word.
const BOM: &[u8] = b"\xEF\xBB\xBF";
/// The byte-order marks of UTF-16 text (little- and big-endian): text, in the wrong encoding.
const UTF16_BOMS: [&[u8]; 2] = [b"\xFF\xFE", b"\xFE\xFF"];

/// A 1-based position in a file: line, and column in characters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

/// The first thing in a file that text does not contain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flaw {
    /// A byte that does not continue valid UTF-8.
    InvalidUtf8(u8),
    /// A control character other than tab, line feed, vertical tab, form feed or carriage
    /// return.
    Control(char),
}

impl fmt::Display for Flaw {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Flaw::InvalidUtf8(byte) => write!(f, "invalid UTF-8 byte 0x{byte:02X}"),
            Flaw::Control(c) => write!(f, "control character U+{:04X}", u32::from(*c)),
        }
    }
}

/// Why a file was recognised as it was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// The first word is `config` or this operation keyword.
    Keyword(&'static str),
    /// Valid UTF-8 without control characters (this includes an empty file).
    Printable,
    /// UTF-16 text (it starts with a UTF-16 byte-order mark).
    Utf16,
    /// Not text: the first flaw and where it is.
    NotText(Position, Flaw),
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Keyword(word) => write!(f, "its first word is `{word}`"),
            Reason::Printable => f.write_str("it is printable UTF-8"),
            Reason::Utf16 => f.write_str("it starts with a UTF-16 byte-order mark"),
            Reason::NotText(at, flaw) => {
                write!(f, "not text: {flaw} at {}:{}", at.line, at.column)
            }
        }
    }
}

/// Recognises `bytes` as a text scenario or a raw fuzz input.
pub fn recognise(bytes: &[u8]) -> (Format, Reason) {
    if UTF16_BOMS.iter().any(|bom| bytes.starts_with(bom)) {
        return (Format::Text, Reason::Utf16);
    }
    if let Some(word) = first_word(bytes) {
        if let Some(keyword) = keywords().find(|k| k.as_bytes() == word) {
            return (Format::Text, Reason::Keyword(keyword));
        }
    }
    match first_flaw(bytes) {
        None => (Format::Text, Reason::Printable),
        Some((at, flaw)) => (Format::Bytes, Reason::NotText(at, flaw)),
    }
}

/// An error at 1:1 when `bytes` start with a UTF-16 byte-order mark (the text parser, which
/// reports any other invalid UTF-8 at its line and byte, would only see a bad first byte).
pub fn utf16(bytes: &[u8]) -> Option<ParseError> {
    let bom = UTF16_BOMS.iter().find(|bom| bytes.starts_with(bom))?;
    let message = format!(
        "UTF-16 text (byte-order mark {:02X} {:02X}); scenarios are UTF-8: save the file as UTF-8",
        bom[0], bom[1]
    );
    Some(ParseError { line: 1, column: 1, message })
}

/// `config` and every operation keyword of the text format.
fn keywords() -> impl Iterator<Item = &'static str> {
    std::iter::once("config").chain(OPS.iter().map(|spec| spec.keyword))
}

/// The first whitespace-separated word outside comments, after a byte-order mark.
fn first_word(bytes: &[u8]) -> Option<&[u8]> {
    let bytes = bytes.strip_prefix(BOM).unwrap_or(bytes);
    bytes.split(|&b| b == b'\n').find_map(|line| {
        let content = line.split(|&b| b == b'#').next().unwrap_or_default();
        content.split(u8::is_ascii_whitespace).find(|word| !word.is_empty())
    })
}

/// The first invalid UTF-8 byte or control character, with its position.
fn first_flaw(bytes: &[u8]) -> Option<(Position, Flaw)> {
    let valid_up_to = match std::str::from_utf8(bytes) {
        Ok(_) => bytes.len(),
        Err(e) => e.valid_up_to(),
    };
    let valid = std::str::from_utf8(&bytes[..valid_up_to]).unwrap_or_default();
    let control = valid
        .char_indices()
        .find(|&(_, c)| c.is_control() && !matches!(c, '\t' | '\n' | '\u{b}' | '\u{c}' | '\r'));
    match control {
        Some((offset, c)) => Some((position(valid, offset), Flaw::Control(c))),
        None if valid_up_to < bytes.len() => {
            Some((invalid_at(bytes, valid_up_to).0, Flaw::InvalidUtf8(bytes[valid_up_to])))
        }
        None => None,
    }
}

/// The position of the invalid byte at `offset` (where `bytes[..offset]` is valid UTF-8), and
/// its 1-based byte column in its line.
fn invalid_at(bytes: &[u8], offset: usize) -> (Position, usize) {
    let valid = std::str::from_utf8(&bytes[..offset]).unwrap_or_default();
    let line_start = valid.rfind('\n').map_or(0, |i| i + 1);
    (position(valid, offset), offset - line_start + 1)
}

/// The position of byte `offset` of `text` (a character boundary, or its end).
fn position(text: &str, offset: usize) -> Position {
    let before = &text[..offset];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    Position {
        line: before.matches('\n').count() + 1,
        column: before[line_start..].chars().count() + 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scenario_is_text_whatever_its_name() {
        let scenario = b"# a comment\n\n  config devices=1\nassign 0\n";
        assert_eq!(recognise(scenario), (Format::Text, Reason::Keyword("config")));
        assert_eq!(recognise(b"\xEF\xBB\xBFmap 0 0 0 rw"), (Format::Text, Reason::Keyword("map")));
        assert_eq!(recognise(b"fail 2\n"), (Format::Text, Reason::Keyword("fail")));
    }

    #[test]
    fn a_keyword_wins_over_invalid_utf8_later() {
        let latin1 = b"# caf\xE9\nteardown\n";
        assert_eq!(recognise(latin1), (Format::Text, Reason::Keyword("teardown")));
    }

    #[test]
    fn printable_text_is_text_so_its_errors_are_reported() {
        assert_eq!(recognise(b"mapp 0 0 0 rw\n"), (Format::Text, Reason::Printable));
        assert_eq!(recognise(b""), (Format::Text, Reason::Printable));
    }

    #[test]
    fn binary_is_bytes_with_the_first_flaw() {
        let at = |line, column| Position { line, column };
        assert_eq!(
            recognise(b"\x00\x01\xFF"),
            (Format::Bytes, Reason::NotText(at(1, 1), Flaw::Control('\0')))
        );
        assert_eq!(
            recognise("ab\né\u{1}".as_bytes()),
            (Format::Bytes, Reason::NotText(at(2, 2), Flaw::Control('\u{1}')))
        );
        assert_eq!(
            recognise(b"x\ny\xC3\xA9z\xFF"),
            (Format::Bytes, Reason::NotText(at(2, 4), Flaw::InvalidUtf8(0xFF)))
        );
    }

    #[test]
    fn utf16_is_named() {
        let utf16_text: Vec<u8> = b"\xFF\xFEa\0s\0".to_vec();
        assert_eq!(recognise(&utf16_text), (Format::Text, Reason::Utf16));
        let e = utf16(&utf16_text).unwrap();
        assert_eq!(utf16(b"map 0 0 0 rw"), None);
        assert_eq!((e.line, e.column), (1, 1));
        assert_eq!(
            e.message,
            "UTF-16 text (byte-order mark FF FE); scenarios are UTF-8: save the file as UTF-8"
        );
    }

    #[test]
    fn every_keyword_is_distinct() {
        let mut all: Vec<_> = keywords().collect();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 11);
    }
}
