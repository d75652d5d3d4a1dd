//! The one decoder from fuzzer bytes to a [`Scenario`], shared by every engine (libFuzzer, AFL,
//! tests, the CLI's `repro`): the same bytes always mean the same scenario.
//!
//! Decoding never fails: when the bytes run out, the scenario ends. Values are biased towards
//! what finds page-table bugs: level boundaries `2^(9k) +- 1`, the `2^36` edge of the 4-level
//! span, DFNs used earlier in the scenario and their one-level aliases, aligned superpages,
//! repeats that fill a table to its end; with `ranges`, page counts that cross a table (`511..=513`) as well as small ones; with
//! `all_page_sizes`, the NL = 7 orders at the edges of each level's window and DFNs at the
//! edges and inside of pages of every size. Every decoded scenario passes
//! [`Scenario::validate`].
//!
//! # The bytes
//!
//! Two config bytes `a` and `b` (`Decoder::config`), a byte whose value modulo 8 is not 0
//! to start with `assign 0`, then operations until the bytes run out or the scenario runs
//! [`MAX_DECODED_OPS`] operations (a `repeat` counting each repetition,
//! [`crate::scenario::repeat::run_length`]). The op byte picks a row of the op table
//! ([`crate::scenario::op_table`]), whose operands are then read by kind, in
//! [`OpSpec::decode_order`].
//!
//! Config values the encoder writes as 0 (so every seed keeps its meaning) are free for
//! settings added later: `(a & 0xf) / 6` (0..=2), bit 7 of `b` (bit 6 announces a third
//! config byte, whose bits 3 to 7 are free too; bit 2 is `growth=in-map`), and `(a >> 4) / 3`
//! other than [`PLACED`] (which reads a placement byte after `b`: tables placed other than
//! low, added after the first seeds, in 3 inputs in 16).

use crate::scenario::config::TablePlacement;
use crate::scenario::op_table::{
    perm_value, select, OpSpec, Operand, OperandKind, Operands, MAX_COUNT,
};
use crate::scenario::{Config, Op, Scenario};
use crate::table::MAX_ORDER;
use arbitrary::Unstructured;
use ptdiff_reference::Perm;

/// Most operations a decoded scenario runs (each repetition of a `repeat` counted), and most
/// lines it holds: work per fuzz input stays bounded.
pub const MAX_DECODED_OPS: usize = 1024;

/// `(a >> 4) / 3` of the first config byte `a` that places the tables elsewhere than low;
/// a placement byte then follows `b`, selecting one of [`PLACEMENTS`] (modulo 3).
pub const PLACED: u8 = 4;

/// The placements other than low, selected by the placement byte modulo 3.
pub const PLACEMENTS: [TablePlacement; 3] =
    [TablePlacement::High, TablePlacement::Spread, TablePlacement::Adversarial];

/// The line from which rare rows (teardown) are rarer still; the decoder's op limit was this
/// many ops before scenarios grew long.
pub const RARER_FROM: usize = 64;

/// How many earlier DFNs the decoder remembers for reuse.
const MEMORY: usize = 16;

/// Most table entries a decoded scenario may write ([`crate::scenario::repeat::run_entries`]):
/// work per fuzz input stays bounded when ranges are repeated.
pub const MAX_DECODED_ENTRIES: u64 = 1 << 16;

/// Bit of the second config byte: a third config byte follows (the seeds of the first format
/// have it clear, so they read no third byte).
pub(crate) const MORE_CONFIG: u8 = 1 << 6;
/// Bits of the third config byte.
pub(crate) const RANGES: u8 = 1 << 0;
pub(crate) const ALL_PAGE_SIZES: u8 = 1 << 1;
/// `growth=in-map` (added after the first concurrent seeds, which have it clear).
pub(crate) const GROWTH_IN_MAP: u8 = 1 << 2;

/// `count()` choice 13: any count, from a raw u16.
pub(crate) const COUNT_RAW: u8 = 13;

/// The largest count the decoder gives pages of `order`: a page of order `o` is written as
/// `2^(o mod 9)` entries (NL = 7 replicas), and a range's entries are kept within
/// [`MAX_COUNT`].
pub fn count_limit(order: u32) -> u64 {
    (MAX_COUNT >> (order % 9)).max(1)
}

/// Decodes `data` into a valid scenario of at most [`MAX_DECODED_OPS`] ops, running at most
/// as many.
pub fn decode(data: &[u8]) -> Scenario {
    decode_limited(data, MAX_DECODED_OPS)
}

/// Decodes `data` as [`decode`] does, but into at most `max_ops` ops running at most as many
/// (`max_ops` is taken within `1..=`[`MAX_DECODED_OPS`]): the scenario [`decode`] gives, cut
/// where it would pass `max_ops` (a `repeat` that would is shortened). The `differential`
/// fuzz target decodes so under `PTDIFF_MAX_OPS` ([`crate::fuzz::max_ops_from_env`]).
pub fn decode_limited(data: &[u8], max_ops: usize) -> Scenario {
    let max_ops = max_ops.clamp(1, MAX_DECODED_OPS);
    let mut d = Decoder::new(data);
    let config = d.config();
    let mut ops = Vec::new();
    let mut budget = Budget::new(max_ops, MAX_DECODED_ENTRIES);
    d.leading_assign(&mut ops, &mut budget);
    while !d.is_empty() && ops.len() < max_ops && budget.runs < max_ops {
        match d.budgeted_op(&config, ops.len(), &mut budget) {
            Next::Op(op) => ops.push(op),
            Next::Skip => continue,
            Next::Stop => break,
        }
    }
    Scenario { config, ops }
}

/// What a decoder may still spend: operations run (each repetition of a `repeat` counted) and
/// table entries they may write, as [`crate::scenario::repeat::run_length`] and
/// [`crate::scenario::repeat::run_entries`] count them.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Budget {
    pub runs: usize,
    pub entries: u64,
    max_runs: usize,
    max_entries: u64,
}

impl Budget {
    pub fn new(max_runs: usize, max_entries: u64) -> Budget {
        Budget { runs: 0, entries: 0, max_runs, max_entries }
    }

    pub fn spend(&mut self, runs: usize, entries: u64) {
        self.runs += runs;
        self.entries += entries;
    }

    /// The entries left.
    pub fn entries_left(&self) -> u64 {
        self.max_entries.saturating_sub(self.entries)
    }
}

/// The next decoded operation within a [`Budget`].
pub(crate) enum Next {
    Op(Op),
    /// A `repeat` with nothing left to run: its bytes are read, it is left out.
    Skip,
    /// An operation that would write more entries than are left: the ops end.
    Stop,
}

/// The decoder's state: the bytes left, the DFNs used so far and what a `repeat` repeats.
pub(crate) struct Decoder<'a> {
    u: Unstructured<'a>,
    used: Vec<u64>,
    /// The last op decoded that is not a `repeat`: what a `repeat` repeats.
    base: Option<Op>,
}

impl<'a> Decoder<'a> {
    pub fn new(data: &'a [u8]) -> Decoder<'a> {
        Decoder::remembering(data, Vec::new())
    }

    /// A decoder of `data` that remembers the DFNs `used` (the latest last) for reuse.
    pub fn remembering(data: &'a [u8], used: Vec<u64>) -> Decoder<'a> {
        Decoder { u: Unstructured::new(data), used, base: None }
    }

    /// The DFNs remembered for reuse, the latest last.
    pub fn used(&self) -> &[u64] {
        &self.used
    }

    pub fn is_empty(&self) -> bool {
        self.u.is_empty()
    }

    /// Reads the byte that starts `ops` with `assign 0` when it is not a multiple of 8 (7
    /// inputs in 8: most bugs need an assigned device).
    pub fn leading_assign(&mut self, ops: &mut Vec<Op>, budget: &mut Budget) {
        if self.byte() % 8 != 0 {
            let assign = Op::Assign { dev: 0 };
            ops.push(assign);
            self.base = Some(assign);
            budget.spend(1, assign.entries());
        }
    }

    /// The op at line `line` within `budget` (spent by it): a `repeat` is cut to the runs
    /// and entries left.
    pub fn budgeted_op(&mut self, config: &Config, line: usize, budget: &mut Budget) -> Next {
        match self.op(config, line) {
            Op::Repeat { count } => match self.base {
                Some(base) => {
                    let left = budget.entries_left() / base.entries().max(1);
                    let runs_left = budget.max_runs.saturating_sub(budget.runs) as u64;
                    let count = u64::from(count).min(runs_left).min(left);
                    let Ok(count @ 1..) = u32::try_from(count) else { return Next::Skip };
                    budget.spend(count as usize, base.entries() * u64::from(count));
                    Next::Op(Op::Repeat { count })
                }
                None => Next::Op(Op::Repeat { count }),
            },
            op if op.entries() > budget.entries_left() => Next::Stop,
            op => {
                budget.spend(1, op.entries());
                self.base = Some(op);
                Next::Op(op)
            }
        }
    }
}

impl Decoder<'_> {
    pub(crate) fn byte(&mut self) -> u8 {
        self.u.arbitrary().unwrap_or(0)
    }

    pub(crate) fn u64(&mut self) -> u64 {
        self.u.arbitrary().unwrap_or(0)
    }

    pub(crate) fn u16(&mut self) -> u16 {
        self.u.arbitrary().unwrap_or(0)
    }

    /// The config from two bytes `a` and `b`; a third ([`MORE_CONFIG`]) when bit 6 of `b` is
    /// set; when `(a >> 4) / 3` is [`PLACED`], a placement byte, and for `tables=spread` a
    /// byte of seed. The values the encoder writes as 0 (see the module doc: bit 7 of `b`, bits
    /// 3 to 7 of the third byte; bit 2 is `growth=in-map`) are free: a switch added later can
    /// be read there and still be off for every seed.
    pub(crate) fn config(&mut self) -> Config {
        let a = self.byte();
        let b = self.byte();
        let more = if b & MORE_CONFIG != 0 { self.byte() } else { 0 };
        let max_levels = 4 + (a >> 4) % 3;
        let tables = match (a >> 4) / 3 {
            PLACED => PLACEMENTS[usize::from(self.byte() % 3)],
            _ => TablePlacement::Low,
        };
        let table_seed = match tables {
            TablePlacement::Spread => self.byte().into(),
            _ => 0,
        };
        Config {
            initial_levels: (1 + (a & 0xf) % 6).min(max_levels),
            max_levels,
            devices: 1 + b % 4,
            superpages: (b >> 2) % 4 != 0,
            missed_notifications: (b >> 4) % 4 == 0,
            tables,
            table_seed,
            ranges: more & RANGES != 0,
            all_page_sizes: more & ALL_PAGE_SIZES != 0,
            growth: match more & GROWTH_IN_MAP {
                0 => crate::tables::Growth::Notify,
                _ => crate::tables::Growth::InMap,
            },
        }
    }

    /// The op at line `line`. From line [`RARER_FROM`] on, a rare row takes two draws
    /// instead of one: a long scenario rarely ends early in a teardown.
    pub(crate) fn op(&mut self, config: &Config, line: usize) -> Op {
        let selection = select(self.byte());
        let spec = match selection.rare {
            Some((one_in, otherwise)) if self.byte() % one_in != 0 => otherwise,
            Some((one_in, otherwise)) if line >= RARER_FROM && self.byte() % one_in != 0 => {
                otherwise
            }
            _ => selection.row,
        };
        self.operands(spec, config)
    }

    /// Reads `spec`'s operands; DFNs and MFNs are aligned (mostly) to the order, read first.
    pub(crate) fn operands(&mut self, spec: &OpSpec, config: &Config) -> Op {
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
            OperandKind::Repeats => self.repeats(),
        }
    }

    /// A repeat count: mostly a few, else up to the end of the table the repeated op's DFN
    /// is in (at its order's level), through the whole next table, a table's worth, half of
    /// one, or any count up to [`MAX_DECODED_OPS`] (the decoder then cuts it to the
    /// operations left).
    fn repeats(&mut self) -> u64 {
        let choice = self.byte();
        match choice % 8 {
            0..=2 => 1 + u64::from(choice >> 3) % 8,
            3 => self.to_table_end().max(1),
            4 => self.to_table_end() + 512,
            5 => 511,
            6 => 255,
            _ => 1 + u64::from(self.u16()) % MAX_DECODED_OPS as u64,
        }
    }

    /// Repetitions that take the repeated op's DFN (moved by `2^order` each time) to the last
    /// entry of its table at its order's level; 511 for an op without a DFN.
    fn to_table_end(&self) -> u64 {
        let Some(base) = self.base else { return 511 };
        let (spec, values) = base.operands();
        let slot = |kind| spec.operands.iter().position(|o| o.kind == kind);
        let Some(dfn) = slot(OperandKind::Dfn).map(|s| values.get(s)) else { return 511 };
        let order = slot(OperandKind::Order).map_or(0, |s| values.get(s));
        511 - (dfn.checked_shr(u32::try_from(order).unwrap_or(u32::MAX)).unwrap_or(0) & 511)
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
    pub(crate) fn dfn(&mut self, order: u32, all_sizes: bool) -> u64 {
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

    pub(crate) fn perm(&mut self) -> Perm {
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
        let mut rng = fastrand::Rng::with_seed(0x1234_5678_9abc_def0);
        for round in 0..500 {
            let len = rng.usize(..if round % 10 == 0 { 6000 } else { 300 });
            let mut bytes = vec![0u8; len];
            rng.fill(&mut bytes);
            let a = decode(&bytes);
            assert_eq!(a, decode(&bytes));
            assert_eq!(a.validate(), Ok(()), "{a}");
            assert!(a.ops.len() <= MAX_DECODED_OPS);
            assert!(crate::scenario::repeat::run_length(&a.ops) <= MAX_DECODED_OPS as u64);
        }
    }

    #[test]
    fn a_limited_decode_is_the_full_decode_cut_at_the_limit() {
        use crate::scenario::repeat::run_length;
        let mut rng = fastrand::Rng::with_seed(0x006d_6178_5f6f_7073);
        let mut cut = 0;
        for _ in 0..500 {
            let mut bytes = vec![0u8; rng.usize(..2000)];
            rng.fill(&mut bytes);
            let full = decode(&bytes);
            assert_eq!(decode_limited(&bytes, MAX_DECODED_OPS), full);
            assert_eq!(decode_limited(&bytes, 5000), full);
            for limit in [1, 16, 64] {
                let s = decode_limited(&bytes, limit);
                assert_eq!(s.validate(), Ok(()), "{s}");
                assert_eq!(s.config, full.config);
                assert!(s.ops.len() <= limit && run_length(&s.ops) <= limit as u64, "{s}");
                // Every op but the last is the full decode's; the last may be a repeat cut
                // short.
                let n = s.ops.len();
                assert_eq!(s.ops[..n.saturating_sub(1)], full.ops[..n.saturating_sub(1)]);
                match (s.ops.last(), full.ops.get(n.wrapping_sub(1))) {
                    (Some(Op::Repeat { count: a }), Some(Op::Repeat { count: b })) => {
                        assert!(a <= b)
                    }
                    (last, full_last) => assert_eq!(last, full_last),
                }
                cut += u32::from(run_length(&s.ops) < run_length(&full.ops));
            }
            assert_eq!(decode_limited(&bytes, 0), decode_limited(&bytes, 1));
        }
        assert!(cut > 500, "{cut}");
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
                ..Config::default()
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
        let mut rng = fastrand::Rng::with_seed(7);
        let mut crossing = 0;
        for _ in 0..2000 {
            let mut bytes = [0u8; 16];
            rng.fill(&mut bytes);
            let mut d = Decoder { u: Unstructured::new(&bytes), used: Vec::new(), base: None };
            let order = u32::from(bytes[0] % 41);
            let count = d.count(order);
            assert!((1..=MAX_COUNT).contains(&count));
            assert!(count <= count_limit(order) && count << (order % 9) <= MAX_COUNT);
            crossing += u32::from((511..=513).contains(&count));
        }
        assert!(crossing > 50, "{crossing}");
    }

    #[test]
    fn the_first_byte_places_the_tables() {
        let tables = |a: u8, p: u8| decode(&[a, 0x05, p]).config.tables;
        for a in [0x21, 0x31, 0x91, 0xb1, 0xf1] {
            assert_eq!(tables(a, 0), TablePlacement::Low, "{a:#x}");
        }
        assert_eq!(tables(0xc1, 0), TablePlacement::High);
        assert_eq!(tables(0xe1, 5), TablePlacement::Adversarial);
        // h = 13: max 4 + 13 % 3 = 5, placement byte 4: spread; its seed byte follows.
        let s = decode(&[0xd1, 0x05, 0x04, 0x2a, 0x01]);
        assert_eq!((s.config.tables, s.config.table_seed), (TablePlacement::Spread, 42));
        assert_eq!((s.config.max_levels, s.ops.len()), (5, 1));
    }

    #[test]
    fn repeats_fill_to_the_table_end_and_stop_at_the_budget() {
        // 4 levels, 1 device, superpages on, no missed notifications, no leading assign.
        let mut bytes = vec![0x03, 0x14, 0x00];
        // map 0x40005 0x1000 0 rw: map code, order 0, raw dfn, raw mfn, rw.
        bytes.extend([0, 0, 14]);
        bytes.extend(0x40005u64.to_le_bytes());
        bytes.push(0);
        bytes.extend(0x1000u64.to_le_bytes());
        bytes.push(0);
        bytes.extend([0x9a, 3]); // repeat to the end of the level-1 table
        bytes.extend([0x9b, 7, 0xff, 0xff]); // repeat 1024, cut to the 517 left
        bytes.extend([40, 0]); // beyond the budget: not decoded
        let s = decode(&bytes);
        assert_eq!(
            s.ops,
            vec![
                Op::Map {
                    dfn: 0x40005,
                    mfn: 0x1000,
                    order: 0,
                    perm: Perm::RW,
                    missed: false,
                    count: 1
                },
                Op::Repeat { count: 506 },
                Op::Repeat { count: 517 },
            ]
        );
        assert_eq!(crate::scenario::repeat::run_length(&s.ops), MAX_DECODED_OPS as u64);
        // Through the next table: to the end of this one, then 512 more.
        let mut next = bytes[..bytes.len() - 6].to_vec();
        let last = next.len() - 1;
        next[last] = 4;
        assert_eq!(decode(&next).ops[1], Op::Repeat { count: 506 + 512 });
        // A repeat with nothing to repeat runs nothing and costs nothing.
        let s = decode(&[0x03, 0x14, 0x00, 0x9a, 5, 40, 0]);
        assert_eq!(s.ops, vec![Op::Repeat { count: 511 }, Op::Assign { dev: 0 }]);
    }
}
