//! The inverse of [`crate::scenario::decode`]: turns a scenario into fuzzer bytes that decode back to
//! it, so seeds are written as readable `.scn` files and compiled to bytes
//! (`ptdiff seeds`). Every op is written as its row's first code (see
//! [`crate::scenario::op_table::Codes`]) and every value through the decoder's raw (unbiased)
//! choices.

use crate::scenario::config::TablePlacement;
use crate::scenario::decode::{
    count_limit, decode, ALL_PAGE_SIZES, COUNT_RAW, GROWTH_IN_MAP, MAX_DECODED_OPS, MORE_CONFIG,
    PLACED, PLACEMENTS, RANGES, RARER_FROM,
};
use crate::scenario::op_table::{Codes, OperandKind};
use crate::scenario::repeat::run_length;
use crate::scenario::{Config, Op, Scenario, MAX_DEVICES};
use crate::tables::Growth;
use ptdiff_reference::Perm;
use thiserror::Error;

/// A scenario the decoder cannot produce. Op numbers count from 1.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum EncodeError {
    #[error("{0} ops; a fuzz input decodes to at most {MAX_DECODED_OPS}, running as many")]
    TooManyOps(usize),
    #[error("table_seed={0}; a fuzz input has seeds up to 255")]
    TableSeed(u64),
    #[error("op {}: `repeat {count}`; a fuzz input repeats 1 to {MAX_DECODED_OPS} times", .index + 1)]
    RepeatCount { index: usize, count: u32 },
    #[error("{0} devices; a fuzz input has at most 4")]
    TooManyDevices(u8),
    #[error("op {}: order {order}; a fuzz input has orders below 64", .index + 1)]
    Order { index: usize, order: u32 },
    #[error("op {}: `fail {nth}`; a fuzz input fails allocations 1 to 4", .index + 1)]
    FailNth { index: usize, nth: u32 },
    #[error(
        "op {}: {count} pages of order {order}; a fuzz input has at most {limit}",
        .index + 1,
        limit = count_limit(*.order)
    )]
    Count { index: usize, order: u32, count: u64 },
    #[error("the bytes decode to a different scenario (an encoder bug):\n{0}")]
    RoundTrip(String),
}

/// `dfn()` choice 14: a raw u64, not aligned.
pub(crate) const DFN_RAW: u8 = 14;
/// `mfn()` choice 0: a raw u64, not aligned.
const MFN_RAW: u8 = 0;
/// `repeats()` choice 7: 1 + a raw u16.
const REPEATS_RAW: u8 = 7;

/// Bytes that [`decode`] turns into exactly `scenario`. The result is checked by decoding it.
pub fn encode(scenario: &Scenario) -> Result<Vec<u8>, EncodeError> {
    let c = &scenario.config;
    let mut ops = scenario.ops.as_slice();
    let runs = run_length(ops);
    if ops.len() > MAX_DECODED_OPS || runs > MAX_DECODED_OPS as u64 {
        return Err(EncodeError::TooManyOps(ops.len().max(runs as usize)));
    }
    let mut out = Vec::new();
    push_config(&mut out, c)?;
    // The decoder's leading "assign device 0" switch.
    let assigns = matches!(ops.first(), Some(Op::Assign { dev: 0 }));
    out.push(u8::from(assigns));
    if assigns {
        ops = &ops[1..];
    }
    let first = usize::from(assigns);
    for (i, op) in ops.iter().enumerate() {
        push_op(&mut out, first + i, op, c)?;
    }
    let decoded = decode(&out);
    if decoded != *scenario {
        return Err(EncodeError::RoundTrip(decoded.to_string()));
    }
    Ok(out)
}

/// Writes the config bytes `Decoder::config` reads back as `c` (`c.devices` at most 4).
pub(crate) fn push_config(out: &mut Vec<u8>, c: &Config) -> Result<(), EncodeError> {
    if c.devices > 4 || c.devices > MAX_DEVICES {
        return Err(EncodeError::TooManyDevices(c.devices));
    }
    let placement = PLACEMENTS.iter().position(|&p| p == c.tables);
    let placed = if placement.is_some() { 3 * PLACED } else { 0 };
    let more = (u8::from(c.ranges) * RANGES)
        | (u8::from(c.all_page_sizes) * ALL_PAGE_SIZES)
        | (u8::from(c.growth == Growth::InMap) * GROWTH_IN_MAP);
    out.extend_from_slice(&[
        ((placed + c.max_levels - 4) << 4) | (c.initial_levels - 1),
        (c.devices - 1)
            | u8::from(c.superpages) << 2
            | u8::from(!c.missed_notifications) << 4
            | if more != 0 { MORE_CONFIG } else { 0 },
    ]);
    if more != 0 {
        out.push(more);
    }
    if let Some(p) = placement {
        out.push(p as u8);
    }
    if c.tables == TablePlacement::Spread {
        out.push(u8::try_from(c.table_seed).map_err(|_| EncodeError::TableSeed(c.table_seed))?);
    }
    Ok(())
}

/// Writes op `index` (0-based, its line): its row's code, then its operands in the decoder's
/// order.
pub(crate) fn push_op(
    out: &mut Vec<u8>,
    index: usize,
    op: &Op,
    config: &Config,
) -> Result<(), EncodeError> {
    let (spec, _) = op.operands();
    match spec.codes {
        Codes::Mod64 { first, .. } | Codes::Bytes { first, .. } => out.push(first),
        // 0 is a multiple of every `one_in`: this row, not `otherwise` (twice from line
        // RARER_FROM on).
        Codes::Rare { code, .. } if index >= RARER_FROM => out.extend_from_slice(&[code, 0, 0]),
        Codes::Rare { code, .. } => out.extend_from_slice(&[code, 0]),
    }
    push_operands(out, index, op, config)
}

/// Writes the operands of op `index` in the decoder's order (`Decoder::operands`), without
/// its row's code.
pub(crate) fn push_operands(
    out: &mut Vec<u8>,
    index: usize,
    op: &Op,
    config: &Config,
) -> Result<(), EncodeError> {
    let (spec, values) = op.operands();
    for slot in spec.decode_order() {
        let Some(operand) = spec.operands.get(slot) else { continue };
        if operand.gate.is_some_and(|gate| !gate.is_on(config)) {
            continue; // not read: the value is the default (or the round trip fails)
        }
        let value = values.get(slot);
        let order = spec.operands.iter().position(|o| o.kind == OperandKind::Order);
        match operand.kind {
            OperandKind::Dfn => {
                out.push(DFN_RAW);
                out.extend_from_slice(&value.to_le_bytes());
            }
            OperandKind::Mfn => {
                out.push(MFN_RAW);
                out.extend_from_slice(&value.to_le_bytes());
            }
            OperandKind::Order => push_order(out, index, values.u32(slot), config.all_page_sizes)?,
            OperandKind::Perm | OperandKind::Access => out.push(perm_byte(values.perm(slot))),
            // The decoder takes the byte modulo `devices` (at most 4 here).
            OperandKind::Dev => out.push(value as u8),
            OperandKind::Nth => match value {
                1..=4 => out.push(value as u8 - 1),
                _ => return Err(EncodeError::FailNth { index, nth: values.u32(slot) }),
            },
            OperandKind::Flag(_) => out.push(if value != 0 { 0 } else { 1 }),
            OperandKind::Repeats => match u16::try_from(value.wrapping_sub(1)) {
                Ok(raw) if value <= MAX_DECODED_OPS as u64 => {
                    out.push(REPEATS_RAW);
                    out.extend_from_slice(&raw.to_le_bytes());
                }
                _ => return Err(EncodeError::RepeatCount { index, count: values.u32(slot) }),
            },
            OperandKind::Count => {
                let order = order.map_or(0, |slot| values.u32(slot));
                match value {
                    1 => out.push(0),
                    _ if (2..=count_limit(order)).contains(&value) => {
                        out.push(COUNT_RAW);
                        out.extend_from_slice(&(value as u16 - 1).to_le_bytes());
                    }
                    _ => return Err(EncodeError::Count { index, order, count: value }),
                }
            }
        }
    }
    Ok(())
}

fn push_order(
    out: &mut Vec<u8>,
    index: usize,
    order: u32,
    all_sizes: bool,
) -> Result<(), EncodeError> {
    if all_sizes {
        // `any_page_order()` choice 15: `byte % 64`.
        match order {
            0 => out.push(0),
            o if o < 64 => out.extend_from_slice(&[15, o as u8]),
            _ => return Err(EncodeError::Order { index, order }),
        }
        return Ok(());
    }
    match order {
        0 => out.push(0),
        9 => out.push(8),
        18 => out.push(12),
        o if o < 64 => out.extend_from_slice(&[15, o as u8]),
        _ => return Err(EncodeError::Order { index, order }),
    }
    Ok(())
}

/// The decoder's `perm()` choice byte for `perm`.
pub(crate) fn perm_byte(perm: Perm) -> u8 {
    match perm {
        Perm::RW => 0,
        Perm::R => 8,
        Perm::W => 12,
        _ => 15,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Config;

    #[test]
    fn encodes_every_op_kind_and_config() {
        let scenario = Scenario {
            config: Config {
                initial_levels: 3,
                max_levels: 6,
                devices: 4,
                superpages: true,
                missed_notifications: true,
                ranges: false,
                all_page_sizes: false,
                ..Config::default()
            },
            ops: vec![
                Op::Assign { dev: 0 },
                Op::Map { dfn: 0x200, mfn: 0x400, order: 9, perm: Perm::R, missed: true, count: 1 },
                Op::Map {
                    dfn: u64::MAX,
                    mfn: u64::MAX,
                    order: 63,
                    perm: Perm::NONE,
                    missed: false,
                    count: 1,
                },
                Op::Unmap { dfn: 0x40000, order: 18, count: 1 },
                Op::Notify { dfn: 1 << 40 },
                Op::Assign { dev: 3 },
                Op::Deassign { dev: 3 },
                Op::Translate { dev: 2, dfn: 0x1234 },
                Op::Dma { dev: 1, dfn: 0x1234, access: Perm::W },
                Op::FailAlloc { nth: 4 },
                Op::Teardown,
            ],
        };
        let bytes = encode(&scenario).unwrap();
        assert_eq!(&bytes[..3], &[0x22, 0x07, 1]);
        assert_eq!(decode(&bytes), scenario);
    }

    #[test]
    fn encodes_configs_without_optional_reads() {
        for (superpages, missed) in [(false, false), (true, false), (false, true)] {
            let scenario = Scenario {
                config: Config {
                    initial_levels: 1,
                    max_levels: 4,
                    devices: 1,
                    superpages,
                    missed_notifications: missed,
                    ranges: false,
                    all_page_sizes: false,
                    ..Config::default()
                },
                ops: vec![
                    Op::Map { dfn: 7, mfn: 9, order: 0, perm: Perm::W, missed, count: 1 },
                    Op::Unmap { dfn: 0, order: 9, count: 1 },
                ],
            };
            assert_eq!(decode(&encode(&scenario).unwrap()), scenario);
        }
    }

    #[test]
    fn encodes_ranges_and_every_page_size() {
        for (ranges, all_page_sizes) in [(true, false), (false, true), (true, true)] {
            let count = |n| if ranges { n } else { 1 };
            let scenario = Scenario {
                config: Config { ranges, all_page_sizes, ..Config::default() },
                ops: vec![
                    Op::Map {
                        dfn: 0x1ff,
                        mfn: 3,
                        order: 0,
                        perm: Perm::RW,
                        missed: false,
                        count: count(4096),
                    },
                    Op::Map {
                        dfn: 0x200,
                        mfn: 0x200,
                        order: 17,
                        perm: Perm::R,
                        missed: false,
                        count: count(16),
                    },
                    Op::Map { dfn: 0, mfn: 0, order: 40, perm: Perm::W, missed: false, count: 1 },
                    Op::Unmap { dfn: 0x1f8, order: 3, count: count(512) },
                    Op::Unmap { dfn: 1, order: 63, count: 1 },
                ],
            };
            let bytes = encode(&scenario).unwrap();
            assert_eq!(bytes[1] & MORE_CONFIG, MORE_CONFIG);
            assert_eq!(decode(&bytes), scenario);
        }
    }

    #[test]
    fn refuses_what_the_decoder_cannot_produce() {
        let mut s = Scenario::default();
        s.config.devices = 5;
        assert_eq!(encode(&s), Err(EncodeError::TooManyDevices(5)));
        s.config.devices = 1;
        s.ops = vec![Op::Unmap { dfn: 0, order: 64, count: 1 }];
        assert_eq!(encode(&s), Err(EncodeError::Order { index: 0, order: 64 }));
        assert_eq!(
            encode(&s).unwrap_err().to_string(),
            "op 1: order 64; a fuzz input has orders below 64"
        );
        s.config.ranges = true;
        s.ops = vec![Op::Unmap { dfn: 0, order: 8, count: 17 }];
        assert_eq!(encode(&s), Err(EncodeError::Count { index: 0, order: 8, count: 17 }));
        assert_eq!(
            encode(&s).unwrap_err().to_string(),
            "op 1: 17 pages of order 8; a fuzz input has at most 16"
        );
        s.ops = vec![Op::Teardown; MAX_DECODED_OPS + 1];
        assert_eq!(encode(&s), Err(EncodeError::TooManyOps(MAX_DECODED_OPS + 1)));
        s.ops = vec![Op::Teardown, Op::Repeat { count: MAX_DECODED_OPS as u32 }];
        assert_eq!(encode(&s), Err(EncodeError::TooManyOps(MAX_DECODED_OPS + 1)));
        s.ops = vec![Op::Repeat { count: 2000 }];
        assert_eq!(encode(&s), Err(EncodeError::RepeatCount { index: 0, count: 2000 }));
        s.ops = vec![];
        s.config.tables = TablePlacement::Spread;
        s.config.table_seed = 256;
        assert_eq!(encode(&s), Err(EncodeError::TableSeed(256)));
    }

    #[test]
    fn encodes_placements_and_repeats() {
        for (tables, table_seed) in [
            (TablePlacement::Low, 0),
            (TablePlacement::High, 0),
            (TablePlacement::Spread, 0),
            (TablePlacement::Spread, 255),
            (TablePlacement::Adversarial, 0),
        ] {
            let scenario = Scenario {
                config: Config { tables, table_seed, max_levels: 6, ..Config::default() },
                ops: vec![
                    Op::Repeat { count: 3 },
                    Op::Map {
                        dfn: 0x200,
                        mfn: 0x1000,
                        order: 0,
                        perm: Perm::RW,
                        missed: false,
                        count: 1,
                    },
                    Op::Repeat { count: 511 },
                    Op::Repeat { count: 1 },
                    Op::Unmap { dfn: 0x200, order: 9, count: 1 },
                    Op::Repeat { count: MAX_DECODED_OPS as u32 - 600 },
                ],
            };
            assert_eq!(decode(&encode(&scenario).unwrap()), scenario, "{tables:?}");
        }
        // Teardown is rarer from line 64 on: two draws.
        let long = Scenario { ops: vec![Op::Teardown; 80], ..Scenario::default() };
        assert_eq!(decode(&encode(&long).unwrap()), long);
    }
}
