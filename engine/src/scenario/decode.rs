//! The one decoder from fuzzer bytes to a [`Scenario`], shared by every engine (libFuzzer, AFL,
//! tests, the CLI's `repro`): the same bytes always mean the same scenario.
//!
//! Decoding never fails: when the bytes run out, the scenario ends. Values are biased towards
//! what finds page-table bugs: level boundaries `2^(9k) +- 1`, the `2^36` edge of the 4-level
//! span, DFNs used earlier in the scenario and their one-level aliases, aligned superpages;
//! with `ranges`, page counts that cross a table (`511..=513`) as well as small ones; with
//! `all_page_sizes`, the NL = 7 orders at the edges of each level's window and DFNs at the
//! edges and inside of pages of every size. Every decoded scenario passes
//! [`Scenario::validate`].
//!
//! The op byte picks a row of the op table ([`crate::scenario::op_table`]), whose operands are
//! then read by kind, in [`OpSpec::decode_order`].

use crate::scenario::op_table::{
    perm_value, select, OpSpec, Operand, OperandKind, Operands, MAX_COUNT,
};
use crate::scenario::{Config, Op, Scenario};
use crate::table::MAX_ORDER;
use arbitrary::Unstructured;
use ptdiff_reference::Perm;

/// Most operations a decoded scenario holds (work per fuzz input stays bounded).
pub const MAX_DECODED_OPS: usize = 64;

/// How many earlier DFNs the decoder remembers for reuse.
const MEMORY: usize = 16;

/// Bit of the second config byte: a third config byte follows (the seeds of the first format
/// have it clear, so they read no third byte).
pub(crate) const MORE_CONFIG: u8 = 1 << 6;
/// Bits of the third config byte.
pub(crate) const RANGES: u8 = 1 << 0;
pub(crate) const ALL_PAGE_SIZES: u8 = 1 << 1;

/// `count()` choice 13: any count, from a raw u16.
pub(crate) const COUNT_RAW: u8 = 13;

/// The largest count the decoder gives pages of `order`: a page of order `o` is written as
/// `2^(o mod 9)` entries (NL = 7 replicas), and a range's entries are kept within
/// [`MAX_COUNT`].
pub fn count_limit(order: u32) -> u64 {
    (MAX_COUNT >> (order % 9)).max(1)
}

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

    /// The config from two bytes, and a third ([`MORE_CONFIG`]) when bit 6 of the second is
    /// set. Bit 7 of the second and bits 2 to 7 of the third are unused (the encoder writes them
    /// as 0): a switch added later can be read there and still be off for every seed.
    fn config(&mut self) -> Config {
        let a = self.byte();
        let b = self.byte();
        let more = if b & MORE_CONFIG != 0 { self.byte() } else { 0 };
        let max_levels = 4 + (a >> 4) % 3;
        Config {
            initial_levels: (1 + (a & 0xf) % 6).min(max_levels),
            max_levels,
            devices: 1 + b % 4,
            superpages: (b >> 2) % 4 != 0,
            missed_notifications: (b >> 4) % 4 == 0,
            ranges: more & RANGES != 0,
            all_page_sizes: more & ALL_PAGE_SIZES != 0,
        }
    }

    fn op(&mut self, config: &Config) -> Op {
        let selection = select(self.byte());
        let spec = match selection.rare {
            Some((one_in, otherwise)) if self.byte() % one_in != 0 => otherwise,
            _ => selection.row,
        };
        self.operands(spec, config)
    }

    /// Reads `spec`'s operands; DFNs and MFNs are aligned (mostly) to the order, read first.
    fn operands(&mut self, spec: &OpSpec, config: &Config) -> Op {
        let mut values = Operands::default();
        let mut order = 0;
        for slot in spec.decode_order() {
            let Some(operand) = spec.operands.get(slot) else { continue };
            let value = self.operand(operand, order, config);
            if operand.kind == OperandKind::Order {
                order = u32::try_from(value).unwrap_or(u32::MAX);
            }
            values.set(slot, value);
        }
        (spec.build)(&values)
    }

    /// One operand's value; its default, without reading, while its gate is off.
    fn operand(&mut self, operand: &Operand, order: u32, config: &Config) -> u64 {
        if operand.gate.is_some_and(|gate| !gate.is_on(config)) {
            return operand.default;
        }
        let devices = u16::from(config.devices.max(1));
        let all_sizes = config.all_page_sizes;
        match operand.kind {
            OperandKind::Dfn => self.dfn(order, all_sizes),
            OperandKind::Mfn => self.mfn(order),
            OperandKind::Order if all_sizes => self.any_page_order().into(),
            OperandKind::Order => self.order().into(),
            OperandKind::Count => self.count(order),
            OperandKind::Perm => perm_value(self.perm()),
            OperandKind::Access => perm_value(match self.perm() {
                Perm::NONE => Perm::R,
                p => p,
            }),
            OperandKind::Dev => (u16::from(self.byte()) % devices).into(),
            OperandKind::Nth => 1 + u64::from(self.byte() % 4),
            OperandKind::Flag(_) => (self.byte() % 6 == 0).into(),
        }
    }

    fn order(&mut self) -> u32 {
        match self.byte() % 16 {
            0..=7 => 0,
            8..=11 => 9,
            12..=14 => 18,
            _ => u32::from(self.byte() % 64),
        }
    }

    /// Any order AMD-Vi v1 encodes, and some it does not: the base orders 0, 9, 18 (7 times
    /// in 16), an NL = 7 order at the low or high edge of a level's window or inside it
    /// (7 in 16), the NL = 0 orders 27 and 36, or anything below 64.
    fn any_page_order(&mut self) -> u32 {
        match self.byte() % 16 {
            0..=3 => 0,
            4..=5 => 9,
            6 => 18,
            7..=13 => {
                let level = u32::from(self.byte() % 5);
                let (low, high) = (9 * level + 1, (9 * level + 8).min(MAX_ORDER));
                match self.byte() % 4 {
                    0 => low,
                    1 => high,
                    _ => low + u32::from(self.byte()) % (high - low + 1),
                }
            }
            14 => [27, 36][usize::from(self.byte() % 2)],
            _ => u32::from(self.byte() % 64),
        }
    }

    /// A page count for pages of `order`: 1 (6 times in 16), 2 to 16, 511 to 513 (across a
    /// table when the range starts at a table's start or end), any up to [`MAX_COUNT`]
    /// ([`COUNT_RAW`]) or up to 256; at most [`count_limit`].
    fn count(&mut self, order: u32) -> u64 {
        let count = match self.byte() % 16 {
            0..=5 => 1,
            6..=10 => 2 + u64::from(self.byte() % 15),
            11..=12 => 511 + u64::from(self.byte() % 3),
            COUNT_RAW => 1 + u64::from(self.u16()) % MAX_COUNT,
            _ => 1 + u64::from(self.byte()),
        };
        count.min(count_limit(order))
    }

    /// A DFN, aligned to `order` most of the time, remembered for later reuse. With
    /// `all_sizes`, edges are those of every page size (`2^j +- 1`, j up to 40) half the time,
    /// and aliases flip any bit up to 40 (a DFN inside a page of any size).
    fn dfn(&mut self, order: u32, all_sizes: bool) -> u64 {
        let choice = self.byte();
        let raw = match choice % 16 {
            0..=4 if !self.used.is_empty() => {
                let i = usize::from(self.byte()) % self.used.len();
                self.used[i]
            }
            0..=4 | 9..=12 => u64::from(self.u16()),
            5..=7 if all_sizes && self.byte() % 2 == 0 => {
                let edge = 1u64 << (self.byte() % 41);
                match self.byte() % 3 {
                    0 => edge - 1,
                    1 => edge,
                    _ => edge + 1,
                }
            }
            15 if all_sizes => {
                let base = self.used.last().copied().unwrap_or(0);
                base ^ (1u64 << (self.byte() % 41))
            }
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
                missed_notifications: true,
                ranges: false,
                all_page_sizes: false,
            }
        );
        assert_eq!(s.ops, vec![]);
        assert_eq!(decode(&[0x21, 0x05, 0x01]).ops, vec![Op::Assign { dev: 0 }]);
        // Bit 6 of the second byte: the third sets ranges and all page sizes.
        let s = decode(&[0x21, 0x45, 0x03, 0x00]);
        assert_eq!((s.config.ranges, s.config.all_page_sizes), (true, true));
        assert_eq!(
            s.config,
            Config { ranges: true, all_page_sizes: true, ..decode(&[0x21, 0x05]).config }
        );
        let s = decode(&[0x21, 0x45, 0x01, 0x01]);
        assert_eq!((s.config.ranges, s.config.all_page_sizes), (true, false));
        assert_eq!(s.ops, vec![Op::Assign { dev: 0 }]);
    }

    #[test]
    fn counts_stay_within_the_entry_budget() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut crossing = 0;
        for _ in 0..2000 {
            let bytes: Vec<u8> = (0..16)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state as u8
                })
                .collect();
            let mut d = Decoder { u: Unstructured::new(&bytes), used: Vec::new() };
            let order = u32::from(bytes[0] % 41);
            let count = d.count(order);
            assert!((1..=MAX_COUNT).contains(&count));
            assert!(count <= count_limit(order) && count << (order % 9) <= MAX_COUNT);
            crossing += u32::from((511..=513).contains(&count));
        }
        assert!(crossing > 50, "{crossing}");
    }
}
