//! The one table of operation kinds, [`OPS`]: for each kind its text keyword, the fuzz-decoder
//! codes that select it and its operands with their kinds. The text parser and printer
//! ([`crate::scenario::text`]), the fuzz decoder and encoder ([`crate::scenario::decode`],
//! [`crate::scenario::encode`]), validation ([`crate::scenario::Scenario::validate`]), the fuzz
//! dictionary and [`Op::keyword`] all read it, so an op kind is declared once.
//!
//! # Append-only
//!
//! Saved fuzz inputs (`corpus/differential/`, fuzz corpora, crash files) are decoded through
//! this table, so changing a row changes what they mean. Rows and their operands are never
//! edited, reordered or removed; kinds, operands and codes are only appended.
//! `engine/tests/decode_golden.rs` fails when recorded inputs change meaning.
//!
//! # How the decoder reads a row
//!
//! The op byte modulo 64 selects one of the first rows ([`Codes::Mod64`], [`Codes::Rare`]);
//! all 64 codes are taken. A row appended later claims whole op-byte values of 64 and above
//! ([`Codes::Bytes`]), aliases the encoder never writes: inputs the encoder wrote (the seeds)
//! keep their meaning, random inputs that used those bytes change (re-record the golden hashes
//! in the same commit and say so). The decoder reads a row's [`OperandKind::Order`] operand
//! first (DFNs and MFNs are aligned to it), then the others in row order, see
//! [`OpSpec::decode_order`]. An operand whose gate is off is not read and takes its default.
//!
//! # Adding an op kind
//!
//! 1. a variant of [`Op`], and its arm in [`Op::operands`] (the compiler asks for it);
//! 2. a row appended to [`OPS`]: keyword, [`Codes::Bytes`], operands, `build`;
//! 3. its meaning in the runner (`crate::run`).
//!
//! Parsing, printing, decoding, encoding, validation and the dictionary follow from the row.
//!
//! # Adding an operand to a kind
//!
//! Append it to the row as [`Operand::optional`] and, for the decoder, [`Operand::gated`] by a
//! config switch that the seeds decode as off (one read from bits the encoder writes as 0, see
//! `Decoder::config` in `decode.rs`): older text still parses (the operand takes its default),
//! older printed scenarios keep their form (an optional operand at its default is not printed)
//! and the seeds keep their meaning (a gated-off operand reads no byte).
//!
//! A new [`OperandKind`] needs its parsing, printing, decoding, encoding and checks; the
//! compiler lists the matches to extend. A config key is added in [`crate::scenario::config`].
//! The code table is checked at compile time: two rows sharing a code, or an op byte selecting
//! nothing, do not build.

use crate::scenario::config::{str_eq, switch_index, Config, CONFIG_KEYS};
use crate::scenario::{InvalidOp, Op};
use ptdiff_reference::Perm;

/// Most operands a row may have.
pub const MAX_OPERANDS: usize = 8;

/// Most pages one range operation may have (work per operation stays bounded).
pub const MAX_COUNT: u64 = 4096;

/// Op-byte codes the first rows share out ([`Codes::Mod64`]): the decoder takes the op byte
/// modulo this.
pub const OP_CODES: u8 = 64;

/// What an operand is: decides how it is parsed, printed, decoded, encoded and checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OperandKind {
    /// A device frame number (IOVA >> 12).
    Dfn,
    /// A machine frame number (physical address >> 12).
    Mfn,
    /// log2 of a page's size in 4 KiB frames.
    Order,
    /// A mapping's permission: read, write, both or none.
    Perm,
    /// A DMA's access: read, write or both, never none.
    Access,
    /// A device ID, below the config's `devices`.
    Dev,
    /// A 1-based count of table allocations.
    Nth,
    /// The number of pages of a range, 1 to [`MAX_COUNT`].
    Count,
    /// How many more times an operation runs (`repeat`), at least 1.
    Repeats,
    /// A word present (1) or absent (0) at the end of the line, such as `missed`.
    Flag(&'static str),
}

impl OperandKind {
    /// The largest value the kind holds (permissions as [`perm_value`], flags as 0 or 1).
    pub fn max(self) -> u64 {
        match self {
            OperandKind::Dfn | OperandKind::Mfn => u64::MAX,
            OperandKind::Order | OperandKind::Nth | OperandKind::Repeats => u32::MAX.into(),
            OperandKind::Count => MAX_COUNT,
            OperandKind::Dev => u16::MAX.into(),
            OperandKind::Perm | OperandKind::Access => 3,
            OperandKind::Flag(_) => 1,
        }
    }

    /// Short name, as in "order 9".
    pub fn name(self) -> &'static str {
        match self {
            OperandKind::Dfn => "dfn",
            OperandKind::Mfn => "mfn",
            OperandKind::Order => "order",
            OperandKind::Perm => "perm",
            OperandKind::Access => "access",
            OperandKind::Dev => "dev",
            OperandKind::Nth => "n",
            OperandKind::Count => "count",
            OperandKind::Repeats => "repeats",
            OperandKind::Flag(word) => word,
        }
    }
}

/// A config switch an operand depends on (an index in [`CONFIG_KEYS`]). While it is off the
/// operand must hold its default, and the decoder reads no byte for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gate(usize);

impl Gate {
    /// The switch `key` of [`CONFIG_KEYS`]; a compile error in a constant when it is none.
    pub const fn switch(key: &str) -> Gate {
        Gate(switch_index(key))
    }

    /// The switch's config key.
    pub fn key(self) -> &'static str {
        CONFIG_KEYS[self.0].key
    }

    pub fn is_on(self, config: &Config) -> bool {
        (CONFIG_KEYS[self.0].get)(config) != 0
    }
}

/// One operand of a row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Operand {
    pub kind: OperandKind,
    /// Whether a text line may leave it out (only after every required operand).
    pub optional: bool,
    /// Its value when left out, or when its gate is off.
    pub default: u64,
    pub gate: Option<Gate>,
}

impl Operand {
    /// A required operand.
    pub const fn of(kind: OperandKind) -> Operand {
        Operand { kind, optional: false, default: 0, gate: None }
    }

    /// A flag word: optional, absent by default.
    pub const fn flag(word: &'static str) -> Operand {
        Operand::of(OperandKind::Flag(word)).optional(0)
    }

    /// The same operand, optional with `default`.
    pub const fn optional(self, default: u64) -> Operand {
        Operand { optional: true, default, ..self }
    }

    /// The same operand, depending on the config switch `key`.
    pub const fn gated(self, key: &str) -> Operand {
        Operand { gate: Some(Gate::switch(key)), ..self }
    }
}

/// Which op bytes select a row in the decoder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Codes {
    /// The op byte modulo [`OP_CODES`] is in `first..=last`. The encoder writes `first`.
    Mod64 { first: u8, last: u8 },
    /// The op byte modulo [`OP_CODES`] is `code`; the next byte then picks this row when it is
    /// a multiple of `one_in`, else the row keyworded `otherwise` (this keeps the row rare).
    /// From line [`RARER_FROM`](crate::scenario::decode::RARER_FROM) of a scenario on, the
    /// byte after it must be a multiple too. The encoder writes `code, 0` (`code, 0, 0` from
    /// that line on).
    Rare { code: u8, one_in: u8, otherwise: &'static str },
    /// The op byte is in `first..=last`, all at least [`OP_CODES`]: for rows appended later,
    /// which take these bytes over from the rows above. The encoder writes `first`.
    Bytes { first: u8, last: u8 },
}

/// One kind of operation.
#[derive(Clone, Copy, Debug)]
pub struct OpSpec {
    /// The first word of its text line.
    pub keyword: &'static str,
    pub codes: Codes,
    /// In text order.
    pub operands: &'static [Operand],
    /// The op from operand values in row order, each within its kind's [`OperandKind::max`].
    pub build: fn(&Operands) -> Op,
}

impl OpSpec {
    /// The operand slots in the order the decoder reads (and the encoder writes) them: the
    /// order first, then the others in row order.
    pub fn decode_order(&self) -> impl Iterator<Item = usize> + '_ {
        let is_order = |o: &Operand| o.kind == OperandKind::Order;
        let first = self.operands.iter().position(is_order);
        first.into_iter().chain((0..self.operands.len()).filter(move |&i| Some(i) != first))
    }

    /// Checks operand `values` against `config`: on failure, the slot at fault and why.
    pub fn check(&self, values: &Operands, config: &Config) -> Result<(), (usize, InvalidOp)> {
        for (slot, operand) in self.operands.iter().enumerate() {
            let value = values.get(slot);
            let problem = match (operand.kind, operand.gate) {
                (_, Some(gate)) if value != operand.default && !gate.is_on(config) => {
                    Some(InvalidOp::SwitchOff {
                        operand: describe(operand.kind, value),
                        key: gate.key(),
                    })
                }
                (OperandKind::Dev, _) if value >= u64::from(config.devices) => {
                    Some(InvalidOp::NoSuchDevice { dev: values.u16(slot), devices: config.devices })
                }
                (OperandKind::Nth, _) if value == 0 => Some(InvalidOp::NthZero),
                (OperandKind::Count, _) if value == 0 => Some(InvalidOp::CountZero),
                (OperandKind::Repeats, _) if value == 0 => Some(InvalidOp::RepeatsZero),
                (OperandKind::Access, _) if value == 0 => Some(InvalidOp::NoAccess),
                _ => None,
            };
            if let Some(problem) = problem {
                return Err((slot, problem));
            }
        }
        Ok(())
    }
}

/// `order 9`, `` `missed` ``, `perm rw`: an operand and its value, for messages.
fn describe(kind: OperandKind, value: u64) -> String {
    match kind {
        OperandKind::Flag(word) => format!("`{word}`"),
        OperandKind::Perm | OperandKind::Access => format!("{} {}", kind.name(), perm(value)),
        _ => format!("{} {value}", kind.name()),
    }
}

/// Every kind of operation. Append-only (see the module doc).
pub const OPS: &[OpSpec] = &[
    OpSpec {
        keyword: "map",
        codes: Codes::Mod64 { first: 0, last: 23 },
        operands: &[
            Operand::of(OperandKind::Dfn),
            Operand::of(OperandKind::Mfn),
            Operand::of(OperandKind::Order).gated("superpages"),
            Operand::of(OperandKind::Perm),
            Operand::flag("missed").gated("missed_notifications"),
            Operand::of(OperandKind::Count).optional(1).gated("ranges"),
        ],
        build: |v| Op::Map {
            dfn: v.get(0),
            mfn: v.get(1),
            order: v.u32(2),
            perm: v.perm(3),
            missed: v.flag(4),
            count: v.get(5),
        },
    },
    OpSpec {
        keyword: "unmap",
        codes: Codes::Mod64 { first: 24, last: 34 },
        operands: &[
            Operand::of(OperandKind::Dfn),
            Operand::of(OperandKind::Order),
            Operand::of(OperandKind::Count).optional(1).gated("ranges"),
        ],
        build: |v| Op::Unmap { dfn: v.get(0), order: v.u32(1), count: v.get(2) },
    },
    OpSpec {
        keyword: "notify",
        codes: Codes::Mod64 { first: 35, last: 39 },
        operands: &[Operand::of(OperandKind::Dfn)],
        build: |v| Op::Notify { dfn: v.get(0) },
    },
    OpSpec {
        keyword: "assign",
        codes: Codes::Mod64 { first: 40, last: 43 },
        operands: &[Operand::of(OperandKind::Dev)],
        build: |v| Op::Assign { dev: v.u16(0) },
    },
    OpSpec {
        keyword: "deassign",
        codes: Codes::Mod64 { first: 44, last: 46 },
        operands: &[Operand::of(OperandKind::Dev)],
        build: |v| Op::Deassign { dev: v.u16(0) },
    },
    OpSpec {
        keyword: "translate",
        codes: Codes::Mod64 { first: 47, last: 52 },
        operands: &[Operand::of(OperandKind::Dev), Operand::of(OperandKind::Dfn)],
        build: |v| Op::Translate { dev: v.u16(0), dfn: v.get(1) },
    },
    OpSpec {
        keyword: "dma",
        codes: Codes::Mod64 { first: 53, last: 58 },
        operands: &[
            Operand::of(OperandKind::Dev),
            Operand::of(OperandKind::Dfn),
            Operand::of(OperandKind::Access),
        ],
        build: |v| Op::Dma { dev: v.u16(0), dfn: v.get(1), access: v.perm(2) },
    },
    OpSpec {
        keyword: "fail",
        codes: Codes::Mod64 { first: 59, last: 62 },
        operands: &[Operand::of(OperandKind::Nth)],
        build: |v| Op::FailAlloc { nth: v.u32(0) },
    },
    OpSpec {
        keyword: "teardown",
        // Teardown ends the useful part of a scenario: keep it rare (1/256 of ops, 1/1024 from
        // line 64 on).
        codes: Codes::Rare { code: 63, one_in: 4, otherwise: "notify" },
        operands: &[],
        build: |_| Op::Teardown,
    },
    OpSpec {
        keyword: "repeat",
        // Two op bytes in 256: a repeat may run the decoder's whole budget of operations.
        codes: Codes::Bytes { first: 0x9a, last: 0x9b },
        operands: &[Operand::of(OperandKind::Repeats)],
        build: |v| Op::Repeat { count: v.u32(0) },
    },
];

impl Op {
    /// The op's row of [`OPS`] and its operand values in row order.
    pub fn operands(&self) -> (&'static OpSpec, Operands) {
        match *self {
            Op::Map { dfn, mfn, order, perm, missed, count } => (
                const { row("map") },
                Operands::of(&[dfn, mfn, order.into(), perm_value(perm), missed.into(), count]),
            ),
            Op::Unmap { dfn, order, count } => {
                (const { row("unmap") }, Operands::of(&[dfn, order.into(), count]))
            }
            Op::Notify { dfn } => (const { row("notify") }, Operands::of(&[dfn])),
            Op::Assign { dev } => (const { row("assign") }, Operands::of(&[dev.into()])),
            Op::Deassign { dev } => (const { row("deassign") }, Operands::of(&[dev.into()])),
            Op::Translate { dev, dfn } => {
                (const { row("translate") }, Operands::of(&[dev.into(), dfn]))
            }
            Op::Dma { dev, dfn, access } => {
                (const { row("dma") }, Operands::of(&[dev.into(), dfn, perm_value(access)]))
            }
            Op::FailAlloc { nth } => (const { row("fail") }, Operands::of(&[nth.into()])),
            Op::Teardown => (const { row("teardown") }, Operands::default()),
            Op::Repeat { count } => (const { row("repeat") }, Operands::of(&[count.into()])),
        }
    }

    /// The op's keyword in the text format.
    pub fn keyword(&self) -> &'static str {
        self.operands().0.keyword
    }
}

/// An op's operand values in row order (permissions as [`perm_value`], flags as 0 or 1);
/// unused slots hold 0.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Operands([u64; MAX_OPERANDS]);

impl Operands {
    /// The first slots set to `values` (at most [`MAX_OPERANDS`] are kept).
    pub fn of(values: &[u64]) -> Operands {
        let mut out = Operands::default();
        for (slot, &value) in out.0.iter_mut().zip(values) {
            *slot = value;
        }
        out
    }

    /// Slot `slot`, or 0 beyond [`MAX_OPERANDS`].
    pub fn get(&self, slot: usize) -> u64 {
        self.0.get(slot).copied().unwrap_or(0)
    }

    /// Sets slot `slot` (ignored beyond [`MAX_OPERANDS`]).
    pub fn set(&mut self, slot: usize, value: u64) {
        if let Some(s) = self.0.get_mut(slot) {
            *s = value;
        }
    }

    /// Slot `slot` as a `u32`, saturating.
    pub fn u32(&self, slot: usize) -> u32 {
        u32::try_from(self.get(slot)).unwrap_or(u32::MAX)
    }

    /// Slot `slot` as a `u16`, saturating.
    pub fn u16(&self, slot: usize) -> u16 {
        u16::try_from(self.get(slot)).unwrap_or(u16::MAX)
    }

    pub fn perm(&self, slot: usize) -> Perm {
        perm(self.get(slot))
    }

    pub fn flag(&self, slot: usize) -> bool {
        self.get(slot) != 0
    }
}

/// A permission as an operand value: read is bit 0, write bit 1.
pub fn perm_value(perm: Perm) -> u64 {
    u64::from(perm.read) | u64::from(perm.write) << 1
}

fn perm(value: u64) -> Perm {
    Perm { read: value & 1 != 0, write: value & 2 != 0 }
}

/// The row keyworded `keyword`, if any.
pub fn by_keyword(keyword: &str) -> Option<&'static OpSpec> {
    OPS.iter().find(|spec| spec.keyword == keyword)
}

/// The row keyworded `keyword`; a compile error in a constant when there is none.
const fn row(keyword: &str) -> &'static OpSpec {
    &OPS[row_index(OPS, keyword)]
}

const fn row_index(rows: &[OpSpec], keyword: &str) -> usize {
    let mut i = 0;
    while i < rows.len() {
        if str_eq(rows[i].keyword, keyword) {
            return i;
        }
        i += 1;
    }
    panic!("no row has this keyword")
}

/// What an op byte selects: a row, and for a [`Codes::Rare`] row, `one_in` and the row the
/// next byte selects otherwise.
#[derive(Clone, Copy, Debug)]
pub struct Selection {
    pub row: &'static OpSpec,
    pub rare: Option<(u8, &'static OpSpec)>,
}

/// The row each op byte selects, and the `otherwise` row of rare ones (row indices).
const SELECT: [(u8, u8); 256] = selection(OPS);

/// The decoder's choice for op byte `byte`.
pub fn select(byte: u8) -> Selection {
    let (row, otherwise) = SELECT[usize::from(byte)];
    let spec = &OPS[usize::from(row)];
    let rare = match spec.codes {
        Codes::Rare { one_in, .. } => Some((one_in, &OPS[usize::from(otherwise)])),
        _ => None,
    };
    Selection { row: spec, rare }
}

/// For every op byte, the row it selects and that row's `otherwise` row (itself when not
/// rare). Fails to compile when two rows share a code, a byte selects nothing, or a code is
/// out of its range.
const fn selection(rows: &[OpSpec]) -> [(u8, u8); 256] {
    const NONE: u8 = u8::MAX;
    assert!(rows.len() < NONE as usize, "too many rows");
    let mut by_byte = [(NONE, NONE); 256];
    let mut r = 0;
    while r < rows.len() {
        let (first, last, otherwise) = match rows[r].codes {
            Codes::Mod64 { first, last } => (first, last, r),
            Codes::Rare { code, one_in, otherwise } => {
                assert!(one_in > 1, "a rare row needs one_in above 1");
                (code, code, row_index(rows, otherwise))
            }
            Codes::Bytes { .. } => (1, 0, r),
        };
        assert!(last < OP_CODES, "Mod64 and Rare codes are below 64");
        let mut code = first;
        while code <= last {
            let mut byte = code as usize;
            while byte < 256 {
                assert!(by_byte[byte].0 == NONE, "two rows share an op code");
                by_byte[byte] = (r as u8, otherwise as u8);
                byte += OP_CODES as usize;
            }
            code += 1;
        }
        r += 1;
    }
    // Rows appended later take their bytes over, the latest winning.
    r = 0;
    while r < rows.len() {
        if let Codes::Bytes { first, last } = rows[r].codes {
            assert!(first >= OP_CODES && first <= last, "Bytes codes are 64..=255");
            let mut byte = first as usize;
            while byte <= last as usize {
                by_byte[byte] = (r as u8, r as u8);
                byte += 1;
            }
        }
        r += 1;
    }
    let mut byte = 0;
    while byte < 256 {
        assert!(by_byte[byte].0 != NONE, "an op byte selects no row");
        byte += 1;
    }
    by_byte
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One op of every kind; the match fails to compile when a kind is added, so the tests
    /// below cover it.
    fn one_of_each() -> Vec<Op> {
        let ops = vec![
            Op::Map { dfn: 1, mfn: 2, order: 9, perm: Perm::W, missed: true, count: 3 },
            Op::Unmap { dfn: 3, order: 18, count: 2 },
            Op::Notify { dfn: 4 },
            Op::Assign { dev: 1 },
            Op::Deassign { dev: 1 },
            Op::Translate { dev: 1, dfn: 5 },
            Op::Dma { dev: 1, dfn: 6, access: Perm::R },
            Op::FailAlloc { nth: 2 },
            Op::Teardown,
            Op::Repeat { count: 7 },
        ];
        for op in &ops {
            match op {
                Op::Map { .. }
                | Op::Unmap { .. }
                | Op::Notify { .. }
                | Op::Assign { .. }
                | Op::Deassign { .. }
                | Op::Translate { .. }
                | Op::Dma { .. }
                | Op::FailAlloc { .. }
                | Op::Teardown
                | Op::Repeat { .. } => {}
            }
        }
        ops
    }

    #[test]
    fn every_op_builds_back_from_its_operands() {
        let ops = one_of_each();
        for op in &ops {
            let (spec, values) = op.operands();
            assert_eq!((spec.build)(&values), *op);
            assert!(spec.operands.len() <= MAX_OPERANDS);
            for (slot, operand) in spec.operands.iter().enumerate() {
                assert!(values.get(slot) <= operand.kind.max(), "{op:?} slot {slot}");
            }
        }
        let keywords: Vec<_> = ops.iter().map(Op::keyword).collect();
        let rows: Vec<_> = OPS.iter().map(|s| s.keyword).collect();
        assert_eq!(keywords, rows, "one row per kind, in the same order");
    }

    #[test]
    fn codes_select_the_original_rows() {
        let keyword = |b: u8| select(b).row.keyword;
        assert_eq!(keyword(0), "map");
        assert_eq!(keyword(23 + 128), "map");
        assert_eq!(keyword(24), "unmap");
        assert_eq!(keyword(34), "unmap");
        assert_eq!(keyword(35 + 64), "notify");
        assert_eq!(keyword(43), "assign");
        assert_eq!(keyword(44), "deassign");
        assert_eq!(keyword(52), "translate");
        assert_eq!(keyword(58), "dma");
        assert_eq!(keyword(59), "fail");
        assert_eq!(keyword(255), "teardown");
        assert_eq!(keyword(0x9a), "repeat");
        assert_eq!(keyword(0x9b), "repeat");
        assert_eq!((keyword(0x99), keyword(0x9c), keyword(0x9a - 64)), ("unmap", "unmap", "unmap"));
        let rare = select(63).rare.map(|(n, otherwise)| (n, otherwise.keyword));
        assert_eq!(rare, Some((4, "notify")));
        assert!(select(62).rare.is_none());
    }

    /// The rows after the first nine, the way a later row would be appended.
    const APPENDED: &[OpSpec] = &[
        OpSpec {
            keyword: "a",
            codes: Codes::Mod64 { first: 0, last: 62 },
            operands: &[],
            build: |_| Op::Teardown,
        },
        OpSpec {
            keyword: "b",
            codes: Codes::Rare { code: 63, one_in: 2, otherwise: "a" },
            operands: &[],
            build: |_| Op::Teardown,
        },
        OpSpec {
            keyword: "c",
            codes: Codes::Bytes { first: 200, last: 255 },
            operands: &[],
            build: |_| Op::Teardown,
        },
        OpSpec {
            keyword: "d",
            codes: Codes::Bytes { first: 255, last: 255 },
            operands: &[],
            build: |_| Op::Teardown,
        },
    ];

    #[test]
    fn appended_rows_take_over_their_bytes_and_leave_the_rest() {
        let table = selection(APPENDED);
        assert_eq!(table[0], (0, 0));
        assert_eq!(table[62 + 64], (0, 0));
        assert_eq!(table[63], (1, 0));
        assert_eq!(table[63 + 128], (1, 0));
        assert_eq!(table[199], (0, 0));
        assert_eq!(table[200], (2, 2));
        assert_eq!(table[254], (2, 2));
        assert_eq!(table[255], (3, 3));
    }

    #[test]
    fn decode_order_reads_the_order_first() {
        let order = |k| by_keyword(k).unwrap().decode_order().collect::<Vec<_>>();
        assert_eq!(order("map"), vec![2, 0, 1, 3, 4, 5]);
        assert_eq!(order("unmap"), vec![1, 0, 2]);
        assert_eq!(order("dma"), vec![0, 1, 2]);
        assert_eq!(order("teardown"), Vec::<usize>::new());
    }

    #[test]
    fn check_names_the_slot_and_the_problem() {
        let config = Config { superpages: false, devices: 2, ..Config::default() };
        let check = |op: Op| {
            let (spec, values) = op.operands();
            spec.check(&values, &config)
        };
        assert_eq!(
            check(Op::Map { dfn: 0, mfn: 0, order: 9, perm: Perm::RW, missed: false, count: 1 }),
            Err((2, InvalidOp::SwitchOff { operand: "order 9".into(), key: "superpages" }))
        );
        assert_eq!(
            check(Op::Map { dfn: 0, mfn: 0, order: 0, perm: Perm::RW, missed: true, count: 1 }),
            Err((
                4,
                InvalidOp::SwitchOff { operand: "`missed`".into(), key: "missed_notifications" }
            ))
        );
        assert_eq!(check(Op::Unmap { dfn: 0, order: 9, count: 1 }), Ok(()));
        assert_eq!(
            check(Op::Unmap { dfn: 0, order: 9, count: 2 }),
            Err((2, InvalidOp::SwitchOff { operand: "count 2".into(), key: "ranges" }))
        );
        let ranges = Config { ranges: true, ..config };
        let check_ranges = |op: Op| {
            let (spec, values) = op.operands();
            spec.check(&values, &ranges)
        };
        assert_eq!(check_ranges(Op::Unmap { dfn: 0, order: 9, count: 2 }), Ok(()));
        assert_eq!(
            check_ranges(Op::Unmap { dfn: 0, order: 9, count: 0 }),
            Err((2, InvalidOp::CountZero))
        );
        assert_eq!(
            check(Op::Translate { dev: 2, dfn: 0 }),
            Err((0, InvalidOp::NoSuchDevice { dev: 2, devices: 2 }))
        );
        assert_eq!(check(Op::FailAlloc { nth: 0 }), Err((0, InvalidOp::NthZero)));
        assert_eq!(check(Op::Repeat { count: 0 }), Err((0, InvalidOp::RepeatsZero)));
        assert_eq!(
            check(Op::Dma { dev: 1, dfn: 0, access: Perm::NONE }),
            Err((2, InvalidOp::NoAccess))
        );
        assert_eq!(check(Op::Dma { dev: 1, dfn: 0, access: Perm::RW }), Ok(()));
    }

    #[test]
    fn operands_saturate_and_ignore_slots_beyond_the_last() {
        let mut v = Operands::of(&[u64::MAX, 3, 1, 2, 0, 0, 0, 0, 9]);
        v.set(MAX_OPERANDS, 5);
        assert_eq!(
            (v.u32(0), v.u16(0), v.perm(1), v.perm(3), v.flag(2)),
            (u32::MAX, u16::MAX, Perm::RW, Perm::W, true)
        );
        assert_eq!(v.get(MAX_OPERANDS), 0);
        assert_eq!(perm_value(Perm::R), 1);
        assert_eq!(describe(OperandKind::Perm, 3), "perm rw");
    }
}
