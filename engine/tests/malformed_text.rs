//! The malformed scenario files of `tests/malformed/`, parsed as bytes by the library: each
//! must fail at the line and column `expect.txt` gives, with a message containing its text
//! (concurrent ones through the concurrent parser).
//! (`expect.txt`: `FILE<TAB>LINE:COL<TAB>substring of the message`, one line per file.)
//! Files the command line refuses before parsing (raw fuzz bytes, UTF-16) are checked by
//! `tests/malformed.rs` only.

use ptdiff::cli::args::Format;
use ptdiff::cli::content::{recognise, Reason};
use ptdiff::conc;
use ptdiff::scenario::text::parse_bytes;
use std::path::PathBuf;

fn folder() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/malformed")
}

/// The `.scn` entries of `expect.txt`: file, `LINE:COL`, message substring.
fn expectations() -> Vec<(String, String, String)> {
    let text = std::fs::read_to_string(folder().join("expect.txt")).unwrap();
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let fields: Vec<&str> = l.split('\t').collect();
            assert_eq!(fields.len(), 3, "expect.txt: `{l}` is not FILE<TAB>LINE:COL<TAB>TEXT");
            (fields[0].to_string(), fields[1].to_string(), fields[2].to_string())
        })
        .filter(|(file, _, _)| file.ends_with(".scn"))
        .filter(|(file, _, _)| {
            let bytes = std::fs::read(folder().join(file)).unwrap();
            !matches!(recognise(&bytes), (Format::Bytes, _) | (_, Reason::Utf16))
        })
        .collect()
}

#[test]
fn every_malformed_file_fails_where_expected() {
    let expected = expectations();
    assert!(expected.len() >= 10, "{} entries", expected.len());
    for (file, position, message) in &expected {
        let bytes = std::fs::read(folder().join(file)).unwrap();
        let error = match conc::text::is_concurrent(&bytes) {
            true => conc::text::parse_bytes(&bytes).map(drop).expect_err(file),
            false => parse_bytes(&bytes).map(drop).expect_err(file),
        };
        assert_eq!(&format!("{}:{}", error.line, error.column), position, "{file}: {error}");
        assert!(error.message.contains(message.as_str()), "{file}: {error}");
        assert!(error.to_string().starts_with(&format!("{position}: ")), "{file}: {error}");
    }
}

#[test]
fn every_malformed_file_is_listed() {
    let manifest = std::fs::read_to_string(folder().join("expect.txt")).unwrap();
    let listed: Vec<&str> = manifest.lines().filter_map(|l| l.split('\t').next()).collect();
    for entry in std::fs::read_dir(folder()).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if name.ends_with(".scn") {
            assert!(listed.contains(&name.as_str()), "{name} has no line in expect.txt");
        }
    }
}
