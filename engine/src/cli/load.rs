//! Loading the scenario of `repro` and `minimize`: a bounded read ([`super::input`]), then
//! text or raw fuzz bytes as recognised by content ([`super::content`]) or forced by `--as`.
//! The interpretation used is always stated. A text scenario with `thread` lines is a
//! concurrent scenario; raw bytes are decoded as the `concurrent` fuzz target decodes them when
//! asked (`--concurrent`), as the `differential` target does otherwise.

use crate::cli::args::{Format, FormatArg};
use crate::cli::content::{self, Reason};
use crate::cli::input;
use crate::conc;
use crate::conc::scenario::ConcScenario;
use crate::scenario::decode::{decode_limited, MAX_DECODED_OPS};
use crate::scenario::text::{self, ParseError};
use crate::scenario::Scenario;
use std::io::Write;
use std::path::Path;

/// What a file holds: a sequential or a concurrent scenario.
pub enum Input {
    Sequential(Scenario),
    Concurrent(ConcScenario),
}

/// A scenario read from a file, and how it was read.
pub struct Loaded {
    pub input: Input,
    pub format: Format,
    /// Why the file was read as `format`: recognised by content, or `None` when forced.
    pub reason: Option<Reason>,
    /// The file's size in bytes.
    pub len: usize,
    /// The op limit raw bytes were decoded under, when lower than the decoder's own.
    pub max_ops: Option<usize>,
}

impl Loaded {
    /// One comment line saying how `path` was read.
    pub fn describe(&self, path: &Path) -> String {
        let why = self.reason.map_or_else(
            || format!("--as {}", format_name(self.format)),
            |reason| reason.to_string(),
        );
        let concurrent = match self.input {
            Input::Sequential(_) => "",
            Input::Concurrent(_) => "concurrent ",
        };
        match self.format {
            Format::Text => format!("# {}: a {concurrent}text scenario ({why})", path.display()),
            Format::Bytes => format!(
                "# {}: a raw {concurrent}fuzz input of {} bytes ({why}), decoded to this \
                 scenario{}; save it as a .scn file to edit it",
                path.display(),
                self.len,
                self.max_ops.map(|n| format!(" of at most {n} operations")).unwrap_or_default()
            ),
        }
    }
}

/// Reads `path` as `how.format`, or as its content says, decoding raw bytes as a concurrent
/// input when `how.concurrent`, else as a differential one of at most `how.max_ops` operations;
/// prints what went wrong to `err`.
pub fn load(path: &Path, how: &FormatArg, err: &mut dyn Write) -> Option<Loaded> {
    let (forced, concurrent) = (how.format, how.concurrent);
    let bytes = match input::read(path) {
        Ok(bytes) => bytes,
        Err(e) => {
            let _ = writeln!(err, "{}: {e}", path.display());
            return None;
        }
    };
    let (format, reason) = match forced {
        Some(format) => (format, None),
        None => {
            let (format, reason) = content::recognise(&bytes);
            (format, Some(reason))
        }
    };
    let parsed = match format {
        Format::Bytes if concurrent => Ok(Input::Concurrent(conc::decode::decode(&bytes))),
        Format::Bytes => Ok(Input::Sequential(decode_limited(&bytes, how.max_ops))),
        Format::Text if conc::text::is_concurrent(&bytes) => {
            parse_concurrent(&bytes).map(Input::Concurrent)
        }
        Format::Text => parse_text(&bytes).map(Input::Sequential),
    };
    let input = match parsed {
        Ok(input) => input,
        Err(e) => {
            print_parse_error(err, path, &e);
            if let Some(reason) = reason {
                let _ = writeln!(
                    err,
                    "{}: read as a text scenario because {reason}; `--as bytes` decodes it as \
                     a raw fuzz input instead",
                    path.display()
                );
            }
            return None;
        }
    };
    let limited = format == Format::Bytes && !concurrent && how.max_ops < MAX_DECODED_OPS;
    let max_ops = limited.then_some(how.max_ops);
    Some(Loaded { input, format, reason, len: bytes.len(), max_ops })
}

/// Parses a text scenario from raw file content.
pub fn parse_text(bytes: &[u8]) -> Result<Scenario, ParseError> {
    match content::utf16(bytes) {
        Some(e) => Err(e),
        None => text::parse_bytes(bytes),
    }
}

/// Parses a concurrent text scenario from raw file content.
pub fn parse_concurrent(bytes: &[u8]) -> Result<ConcScenario, ParseError> {
    match content::utf16(bytes) {
        Some(e) => Err(e),
        None => conc::text::parse_bytes(bytes),
    }
}

/// Prints `PATH:LINE:COL: message`.
pub fn print_parse_error(err: &mut dyn Write, path: &Path, e: &ParseError) {
    let _ = writeln!(err, "{}:{}:{}: {}", path.display(), e.line, e.column, e.message);
}

fn format_name(format: Format) -> &'static str {
    match format {
        Format::Text => "text",
        Format::Bytes => "bytes",
    }
}
