//! The inverse of [`crate::scenario::decode`]: turns a scenario into fuzzer bytes that decode back to
//! it, so seeds are written as readable `.scn` files and compiled to bytes
//! (`ptdiff seeds`). Every value is encoded through the decoder's raw (unbiased) choices.

use crate::scenario::decode::{decode, MAX_DECODED_OPS};
use crate::scenario::{Op, Scenario, MAX_DEVICES};
use ptdiff_reference::Perm;
use thiserror::Error;

/// A scenario the decoder cannot produce.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum EncodeError {
    #[error("{0} ops; a fuzz input decodes to at most {MAX_DECODED_OPS}")]
    TooManyOps(usize),
    #[error("{0} devices; a fuzz input has at most 4")]
    TooManyDevices(u8),
    #[error("op {index}: order {order}; a fuzz input has orders below 64")]
    Order { index: usize, order: u32 },
    #[error("op {index}: `fail {nth}`; a fuzz input fails allocations 1 to 4")]
    FailNth { index: usize, nth: u32 },
    #[error("the bytes decode to a different scenario (an encoder bug):\n{0}")]
    RoundTrip(String),
}

/// Decoder choice bytes for each raw path (see `decode.rs`).
const KIND_MAP: u8 = 0;
const KIND_UNMAP: u8 = 24;
const KIND_NOTIFY: u8 = 35;
const KIND_ASSIGN: u8 = 40;
const KIND_DEASSIGN: u8 = 44;
const KIND_TRANSLATE: u8 = 47;
const KIND_DMA: u8 = 53;
const KIND_FAIL: u8 = 59;
const KIND_TEARDOWN: u8 = 63;
/// `dfn()` choice 14: a raw u64, not aligned.
const DFN_RAW: u8 = 14;
/// `mfn()` choice 0: a raw u64, not aligned.
const MFN_RAW: u8 = 0;

/// Bytes that [`decode`] turns into exactly `scenario`. The result is checked by decoding it.
pub fn encode(scenario: &Scenario) -> Result<Vec<u8>, EncodeError> {
    let c = &scenario.config;
    if c.devices > 4 || c.devices > MAX_DEVICES {
        return Err(EncodeError::TooManyDevices(c.devices));
    }
    let mut ops = scenario.ops.as_slice();
    let mut out = vec![
        ((c.max_levels - 4) << 4) | (c.initial_levels - 1),
        (c.devices - 1) | u8::from(c.superpages) << 2 | u8::from(!c.missed_notifications) << 4,
    ];
    // The decoder's leading "assign device 0" switch.
    match ops.first() {
        Some(Op::Assign { dev: 0 }) => {
            out.push(1);
            ops = &ops[1..];
        }
        _ => out.push(0),
    }
    if ops.len() > MAX_DECODED_OPS - usize::from(out[2]) {
        return Err(EncodeError::TooManyOps(scenario.ops.len()));
    }
    for (i, op) in ops.iter().enumerate() {
        let index = i + usize::from(out[2]);
        match *op {
            Op::Map { dfn, mfn, order, perm, missed } => {
                out.push(KIND_MAP);
                if c.superpages {
                    push_order(&mut out, index, order)?;
                }
                push_dfn(&mut out, dfn);
                out.push(MFN_RAW);
                out.extend_from_slice(&mfn.to_le_bytes());
                out.push(perm_byte(perm));
                if c.missed_notifications {
                    out.push(if missed { 0 } else { 1 });
                }
            }
            Op::Unmap { dfn, order } => {
                out.push(KIND_UNMAP);
                push_order(&mut out, index, order)?;
                push_dfn(&mut out, dfn);
            }
            Op::Notify { dfn } => {
                out.push(KIND_NOTIFY);
                push_dfn(&mut out, dfn);
            }
            Op::Assign { dev } => out.extend_from_slice(&[KIND_ASSIGN, dev as u8]),
            Op::Deassign { dev } => out.extend_from_slice(&[KIND_DEASSIGN, dev as u8]),
            Op::Translate { dev, dfn } => {
                out.extend_from_slice(&[KIND_TRANSLATE, dev as u8]);
                push_dfn(&mut out, dfn);
            }
            Op::Teardown => out.extend_from_slice(&[KIND_TEARDOWN, 0]),
            Op::Dma { dev, dfn, access } => {
                out.extend_from_slice(&[KIND_DMA, dev as u8]);
                push_dfn(&mut out, dfn);
                out.push(perm_byte(access));
            }
            Op::FailAlloc { nth } => match nth {
                1..=4 => out.extend_from_slice(&[KIND_FAIL, (nth - 1) as u8]),
                _ => return Err(EncodeError::FailNth { index, nth }),
            },
        }
    }
    let decoded = decode(&out);
    if decoded != *scenario {
        return Err(EncodeError::RoundTrip(decoded.to_string()));
    }
    Ok(out)
}

fn push_order(out: &mut Vec<u8>, index: usize, order: u32) -> Result<(), EncodeError> {
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
fn perm_byte(perm: Perm) -> u8 {
    match perm {
        Perm::RW => 0,
        Perm::R => 8,
        Perm::W => 12,
        _ => 15,
    }
}

fn push_dfn(out: &mut Vec<u8>, dfn: u64) {
    out.push(DFN_RAW);
    out.extend_from_slice(&dfn.to_le_bytes());
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
            },
            ops: vec![
                Op::Assign { dev: 0 },
                Op::Map { dfn: 0x200, mfn: 0x400, order: 9, perm: Perm::R, missed: true },
                Op::Map {
                    dfn: u64::MAX,
                    mfn: u64::MAX,
                    order: 63,
                    perm: Perm::NONE,
                    missed: false,
                },
                Op::Unmap { dfn: 0x40000, order: 18 },
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
                },
                ops: vec![
                    Op::Map { dfn: 7, mfn: 9, order: 0, perm: Perm::W, missed },
                    Op::Unmap { dfn: 0, order: 9 },
                ],
            };
            assert_eq!(decode(&encode(&scenario).unwrap()), scenario);
        }
    }

    #[test]
    fn refuses_what_the_decoder_cannot_produce() {
        let mut s = Scenario::default();
        s.config.devices = 5;
        assert_eq!(encode(&s), Err(EncodeError::TooManyDevices(5)));
        s.config.devices = 1;
        s.ops = vec![Op::Unmap { dfn: 0, order: 64 }];
        assert_eq!(encode(&s), Err(EncodeError::Order { index: 0, order: 64 }));
        s.ops = vec![Op::Teardown; MAX_DECODED_OPS + 1];
        assert_eq!(encode(&s), Err(EncodeError::TooManyOps(MAX_DECODED_OPS + 1)));
    }
}
