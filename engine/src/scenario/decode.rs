//! The one decoder from fuzzer bytes to a [`Scenario`], shared by every engine (libFuzzer, AFL,
//! tests, the CLI's `repro`): the same bytes always mean the same scenario.
//!
//! Decoding never fails: when the bytes run out, the scenario ends. Values are biased towards
//! what finds page-table bugs: level boundaries `2^(9k) +- 1`, the `2^36` edge of the 4-level
//! span, DFNs used earlier in the scenario and their one-level aliases, aligned superpages.
//! Every decoded scenario passes [`Scenario::validate`].

use crate::scenario::{Config, Op, Scenario};
use arbitrary::Unstructured;
use ptdiff_reference::Perm;

/// Most operations a decoded scenario holds (work per fuzz input stays bounded).
pub const MAX_DECODED_OPS: usize = 64;

/// How many earlier DFNs the decoder remembers for reuse.
const MEMORY: usize = 16;

/// Decodes `data` into a valid scenario of at most [`MAX_DECODED_OPS`] ops.
pub fn decode(data: &[u8]) -> Scenario {
    let mut d = Decoder { u: Unstructured::new(data), used: Vec::new() };
    let config = d.config();
    let mut ops = Vec::new();
    if d.byte() % 8 != 0 {
        ops.push(Op::Assign { dev: 0 });
    }
    while !d.u.is_empty() && ops.len() < MAX_DECODED_OPS {
        ops.push(d.op(&config));
    }
    Scenario { config, ops }
}

struct Decoder<'a> {
    u: Unstructured<'a>,
    used: Vec<u64>,
}

impl Decoder<'_> {
    fn byte(&mut self) -> u8 {
        self.u.arbitrary().unwrap_or(0)
    }

    fn u64(&mut self) -> u64 {
        self.u.arbitrary().unwrap_or(0)
    }

    fn u16(&mut self) -> u16 {
        self.u.arbitrary().unwrap_or(0)
    }

    fn config(&mut self) -> Config {
        let a = self.byte();
        let b = self.byte();
        let max_levels = 4 + (a >> 4) % 3;
        Config {
            initial_levels: (1 + (a & 0xf) % 6).min(max_levels),
            max_levels,
            devices: 1 + b % 4,
            superpages: (b >> 2) % 4 != 0,
            missed_notifications: (b >> 4) % 4 == 0,
        }
    }

    fn op(&mut self, config: &Config) -> Op {
        let devices = u16::from(config.devices);
        match self.byte() % 64 {
            0..=23 => {
                let order = self.order(config.superpages);
                let dfn = self.dfn(order);
                let mfn = self.mfn(order);
                let perm = self.perm();
                let missed = config.missed_notifications && self.byte() % 6 == 0;
                Op::Map { dfn, mfn, order, perm, missed }
            }
            24..=34 => {
                let order = self.order(true);
                Op::Unmap { dfn: self.dfn(order), order }
            }
            35..=39 => Op::Notify { dfn: self.dfn(0) },
            40..=43 => Op::Assign { dev: u16::from(self.byte()) % devices },
            44..=46 => Op::Deassign { dev: u16::from(self.byte()) % devices },
            47..=52 => Op::Translate { dev: u16::from(self.byte()) % devices, dfn: self.dfn(0) },
            53..=58 => {
                let dev = u16::from(self.byte()) % devices;
                let dfn = self.dfn(0);
                let access = match self.perm() {
                    Perm::NONE => Perm::R,
                    p => p,
                };
                Op::Dma { dev, dfn, access }
            }
            59..=62 => Op::FailAlloc { nth: 1 + u32::from(self.byte() % 4) },
            // Teardown ends the useful part of a scenario: keep it rare (1/256 of ops).
            _ if self.byte() % 4 == 0 => Op::Teardown,
            _ => Op::Notify { dfn: self.dfn(0) },
        }
    }

    fn order(&mut self, superpages: bool) -> u32 {
        if !superpages {
            return 0;
        }
        match self.byte() % 16 {
            0..=7 => 0,
            8..=11 => 9,
            12..=14 => 18,
            _ => u32::from(self.byte() % 64),
        }
    }

    /// A DFN, aligned to `order` most of the time, remembered for later reuse.
    fn dfn(&mut self, order: u32) -> u64 {
        let choice = self.byte();
        let raw = match choice % 16 {
            0..=4 if !self.used.is_empty() => {
                let i = usize::from(self.byte()) % self.used.len();
                self.used[i]
            }
            0..=4 | 9..=12 => u64::from(self.u16()),
            5..=7 => {
                let k = 1 + u32::from(self.byte() % 6);
                let edge = 1u64 << (9 * k).min(52);
                match self.byte() % 3 {
                    0 => edge - 1,
                    1 => edge,
                    _ => edge + 1,
                }
            }
            8 => (1u64 << 36).wrapping_add(u64::from(self.byte() % 4)).wrapping_sub(2),
            13 => self.u64() & ((1 << 52) - 1),
            14 => self.u64(),
            _ => {
                let base = self.used.last().copied().unwrap_or(0);
                let k = u32::from(self.byte() % 6);
                base ^ (1u64 << (9 * k))
            }
        };
        let dfn = if choice >= 32 && order < 64 { raw & !((1u64 << order) - 1) } else { raw };
        if self.used.len() == MEMORY {
            self.used.remove(0);
        }
        self.used.push(dfn);
        dfn
    }

    fn mfn(&mut self, order: u32) -> u64 {
        let choice = self.byte();
        let raw = match choice % 16 {
            0 => self.u64(),
            1 => (1u64 << 40) - 1,
            _ => u64::from(self.u16()) << 6 | u64::from(self.byte()),
        };
        if choice >= 16 && order < 64 {
            raw & !((1u64 << order) - 1)
        } else {
            raw
        }
    }

    fn perm(&mut self) -> Perm {
        match self.byte() % 16 {
            0..=7 => Perm::RW,
            8..=11 => Perm::R,
            12..=14 => Perm::W,
            _ => Perm::NONE,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_input_decodes_to_an_empty_valid_scenario() {
        let s = decode(&[]);
        assert_eq!(s.ops, vec![]);
        assert_eq!(s.config.max_levels, 4);
        assert_eq!(s.validate(), Ok(()));
    }

    #[test]
    fn decoding_is_deterministic_and_valid() {
        let mut state = 0x1234_5678_9abc_def0u64;
        for _ in 0..500 {
            let len = (state % 300) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state as u8
                })
                .collect();
            let a = decode(&bytes);
            assert_eq!(a, decode(&bytes));
            assert_eq!(a.validate(), Ok(()), "{a}");
            assert!(a.ops.len() <= MAX_DECODED_OPS);
        }
    }

    #[test]
    fn first_bytes_set_the_config() {
        // a = 0x21: max 4 + (2 % 3) = 6, initial 1 + 1 % 6 = 2; b = 0x05: 2 devices,
        // superpages on, missed notifications on.
        let s = decode(&[0x21, 0x05, 0x00]);
        assert_eq!(
            s.config,
            Config {
                initial_levels: 2,
                max_levels: 6,
                devices: 2,
                superpages: true,
                missed_notifications: true
            }
        );
        assert_eq!(s.ops, vec![]);
        assert_eq!(decode(&[0x21, 0x05, 0x01]).ops, vec![Op::Assign { dev: 0 }]);
    }
}
