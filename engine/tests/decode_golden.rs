//! The fuzz decoder's meaning, pinned: the same bytes must always decode to the same scenario,
//! or every saved fuzz corpus and crash file silently changes meaning.
//!
//! `tests/golden/decode.txt` records (1) the bytes of every seed that was in
//! `corpus/differential/` when it was written, with the scenario each decodes to, and (2) a hash
//! of the printed scenarios of a few thousand seeded random byte strings, per block of inputs.
//! The test decodes the recorded bytes (not the files, which may be regenerated) and recomputes
//! the hashes.
//!
//! A failure means the decoder (or the canonical printed form) changed. If, and only if, that
//! change is intended, regenerate with `PTDIFF_BLESS=1 cargo test -p ptdiff --test decode_golden`
//! and say in the commit which inputs changed meaning.

mod common;

use ptdiff::scenario::decode::decode;
use std::fmt::Write;
use std::path::PathBuf;

/// Random inputs hashed, and how many share one hash line.
const RANDOM_INPUTS: u64 = 4096;
const BLOCK: u64 = 128;
/// Random inputs are shorter than this (long enough to reach the decoder's op limit).
const MAX_LEN: u64 = 400;

fn golden_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/decode.txt")
}

/// SplitMix64. Hand-rolled on purpose: the golden hashes depend on this exact stream, which no
/// library promises to keep across versions. Never change it.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// Random input `n`: a length below [`MAX_LEN`], then that many bytes.
fn random_input(n: u64) -> Vec<u8> {
    let mut rng = SplitMix(n);
    let len = rng.next() % MAX_LEN;
    (0..len).map(|_| (rng.next() >> 56) as u8).collect()
}

/// FNV-1a, 64-bit (stable by definition, unlike `DefaultHasher`).
fn fnv1a(hash: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(hash, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}
const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("golden: bad hex"))
        .collect()
}

/// The hash lines: `random FIRST..END HASH`.
fn random_lines() -> Vec<String> {
    (0..RANDOM_INPUTS)
        .step_by(BLOCK as usize)
        .map(|first| {
            let end = first + BLOCK;
            let hash = (first..end)
                .fold(FNV_OFFSET, |h, n| fnv1a(h, decode(&random_input(n)).to_string().as_bytes()));
            format!("random {first}..{end} {hash:016x}")
        })
        .collect()
}

/// The golden file as it would be written now, from `corpus/differential/`.
fn render() -> String {
    let mut out = String::from(
        "# What the fuzz decoder makes of fixed inputs; checked by tests/decode_golden.rs.\n\
         # Never edit by hand; a change here changes the meaning of saved fuzz corpora.\n",
    );
    let dir = common::corpus_dir().join("differential");
    let mut seeds: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    seeds.sort();
    for path in seeds {
        let bytes = std::fs::read(&path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy();
        let _ = write!(out, "\n== seed {name}\nbytes {}\n{}", hex(&bytes), decode(&bytes));
    }
    out.push('\n');
    for line in random_lines() {
        let _ = writeln!(out, "{line}");
    }
    out
}

/// A recorded seed: its name, bytes and printed scenario.
struct Seed {
    name: String,
    bytes: Vec<u8>,
    printed: String,
}

fn recorded() -> (Vec<Seed>, Vec<String>) {
    let text = std::fs::read_to_string(golden_path())
        .expect("tests/golden/decode.txt missing (PTDIFF_BLESS=1 writes it)");
    let mut seeds: Vec<Seed> = Vec::new();
    let mut random = Vec::new();
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("== seed ") {
            seeds.push(Seed { name: name.to_string(), bytes: Vec::new(), printed: String::new() });
        } else if line.starts_with("random ") {
            random.push(line.to_string());
        } else if let (Some(seed), false) = (seeds.last_mut(), line.is_empty()) {
            match line.strip_prefix("bytes ") {
                Some(h) => seed.bytes = unhex(h),
                None => seed.printed.push_str(&format!("{line}\n")),
            }
        }
    }
    (seeds, random)
}

fn bless() -> bool {
    std::env::var_os("PTDIFF_BLESS").is_some_and(|v| v == "1")
}

#[test]
fn recorded_seeds_decode_as_recorded() {
    if bless() {
        let path = golden_path();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, render()).unwrap();
    }
    let (seeds, _) = recorded();
    assert!(seeds.len() >= 14, "only {} seeds recorded", seeds.len());
    for seed in seeds {
        assert!(!seed.bytes.is_empty(), "{}: no bytes recorded", seed.name);
        assert_eq!(decode(&seed.bytes).to_string(), seed.printed, "seed {}", seed.name);
    }
}

#[test]
fn random_inputs_decode_as_recorded() {
    if bless() {
        return; // written by the other test
    }
    let (_, recorded) = recorded();
    assert_eq!(recorded.len() as u64, RANDOM_INPUTS / BLOCK);
    for (now, then) in random_lines().iter().zip(&recorded) {
        assert_eq!(now, then, "random inputs in this block now decode differently");
    }
}

/// The encoder (table-driven like the decoder) inverts it on every scenario the decoder makes.
#[test]
fn encoder_inverts_the_decoder_on_random_inputs() {
    for n in 0..RANDOM_INPUTS {
        let scenario = decode(&random_input(n));
        let bytes = ptdiff::scenario::encode::encode(&scenario)
            .unwrap_or_else(|e| panic!("input {n}: {e}\n{scenario}"));
        assert_eq!(decode(&bytes), scenario, "input {n}");
    }
}
