//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

/// The repository's `corpus/` directory.
pub fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../corpus")
}

/// Deterministic pseudo-random bytes (xorshift64*), so property tests replay exactly.
pub struct Bytes(u64);

impl Bytes {
    pub fn seeded(seed: u64) -> Bytes {
        Bytes(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A byte string of length 0..max_len.
    pub fn input(&mut self, max_len: usize) -> Vec<u8> {
        let len = (self.next_u64() % max_len as u64) as usize;
        (0..len).map(|_| (self.next_u64() >> 56) as u8).collect()
    }
}
