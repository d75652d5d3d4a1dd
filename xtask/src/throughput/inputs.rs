//! The fixed input set of the replay benchmark, `corpus/bench/`: bytes from a seeded generator,
//! checked in so that every revision is measured on the same inputs.
//!
//! - `replay/input-NNN`: [`REPLAY_INPUTS`] fuzz inputs of 16 to 512 bytes, each decoded by the
//!   fuzz decoder (so at most 64 operations);
//! - `long/long-N`: [`LONG_INPUTS`] inputs of two config bytes and [`LONG_CHUNKS`] chunks of 256
//!   bytes, from which the bench runner builds scenarios of 16 to 1,024 operations
//!   (`xtask/bench-runner/src/long.rs`).
//!
//! `cargo xtask bench --write-inputs` rewrites them; a test checks the files are what the
//! generator writes.

use std::path::Path;

/// Inputs of the replay set.
pub const REPLAY_INPUTS: usize = 256;
/// Long inputs.
pub const LONG_INPUTS: usize = 4;
/// Chunks of 256 bytes in a long input (the runner decodes each into at most 64 operations).
pub const LONG_CHUNKS: usize = 64;
/// Bytes per chunk; must equal `CHUNK` of the bench runner.
const CHUNK: usize = 256;
/// The generator's seed.
const SEED: u64 = 0x7074_6469_6666_0010;

/// SplitMix64: a fixed, well-mixed sequence of 64-bit values from a seed.
pub struct SplitMix(u64);

impl SplitMix {
    pub fn new(seed: u64) -> SplitMix {
        SplitMix(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// Every file of the input set: its path under `corpus/bench/` and its bytes.
pub fn generate() -> Vec<(String, Vec<u8>)> {
    let mut rng = SplitMix::new(SEED);
    let mut files = Vec::new();
    for i in 0..REPLAY_INPUTS {
        let len = 16 + (rng.next() % 497) as usize;
        files.push((format!("replay/input-{i:03}"), rng.bytes(len)));
    }
    for i in 0..LONG_INPUTS {
        files.push((format!("long/long-{i}"), rng.bytes(2 + LONG_CHUNKS * CHUNK)));
    }
    files
}

/// Rewrites `dir` (`corpus/bench/`) with the generated files.
pub fn write(dir: &Path) -> Result<(), String> {
    for sub in ["replay", "long"] {
        let _ = std::fs::remove_dir_all(dir.join(sub));
        std::fs::create_dir_all(dir.join(sub)).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    for (name, bytes) in generate() {
        let path = dir.join(name);
        std::fs::write(&path, bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::root;

    #[test]
    fn splitmix_gives_its_reference_sequence() {
        // SplitMix64 from seed 0 starts with these (the published test vector).
        let mut rng = SplitMix::new(0);
        assert_eq!(rng.next(), 0xe220_a839_7b1d_cdaf);
        assert_eq!(rng.next(), 0x6e78_9e6a_a1b9_65f4);
    }

    #[test]
    fn the_generator_is_deterministic_and_sized() {
        let files = generate();
        assert_eq!(files, generate());
        assert_eq!(files.len(), REPLAY_INPUTS + LONG_INPUTS);
        assert_eq!(files[0].0, "replay/input-000");
        assert_eq!(files[REPLAY_INPUTS].0, "long/long-0");
        assert!(files[..REPLAY_INPUTS].iter().all(|(_, b)| (16..=512).contains(&b.len())));
        assert!(files[REPLAY_INPUTS..].iter().all(|(_, b)| b.len() == 2 + 64 * 256));
    }

    #[test]
    fn checked_in_inputs_are_what_the_generator_writes() {
        let dir = root().join("corpus/bench");
        for (name, bytes) in generate() {
            let on_disk = std::fs::read(dir.join(&name)).unwrap_or_default();
            assert!(
                on_disk == bytes,
                "corpus/bench/{name} is stale: run `cargo xtask bench --write-inputs`"
            );
        }
        let count = |sub: &str| std::fs::read_dir(dir.join(sub)).map(|d| d.count()).unwrap_or(0);
        assert_eq!(count("replay") + count("long"), REPLAY_INPUTS + LONG_INPUTS);
    }
}
