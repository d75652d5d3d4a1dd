//! What the walker fuzz targets make of their input bytes: table memory, a DTE, a hardware
//! configuration and IOVAs. One decoder for `walker` and every `walker_with` target, so an
//! input means the same thing to each.

use super::frames::FrameArray;
use arbitrary::Unstructured;
use ptdiff_reference::{Dte, Tv0Policy, WalkConfig};

/// Frames the tables are built in: pfns 1..=WALKER_FRAMES (SPA 0x1000..0x7000).
pub const WALKER_FRAMES: usize = 6;
/// First pfn of the table frames.
const FIRST_PFN: u64 = 1;
/// Most entries an input writes.
const MAX_ENTRIES: usize = 64;
/// IOVAs taken from the input bytes (zero once the bytes run out).
pub const INPUT_IOVAS: usize = 16;

/// A decoded walker input. Every byte string decodes, to the same input every time.
///
/// Layout of the bytes (little-endian; missing bytes read as zero): a *value* for DTE qword 0
/// (V and TV then forced on), one byte for the highest mode (`4 + b % 3`), one for the TV = 0
/// policy (odd: untranslated), eight for DTE qword 1, one for the number of entries
/// (`b % 64`), then per entry a pfn byte (`1 + b % 6`), an index (`u16 % 512`) and a *value*,
/// then the IOVAs, eight bytes each. A *value* is eight raw bytes and a selector byte: selector
/// `% 4 == 0` keeps the raw qword; otherwise it becomes a plausible entry, present, with a
/// next level 0..=3 (any level when selector bit 7 is set), an address in the table frames or
/// the frame just past them, and the raw qword's IR/IW.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WalkerInput {
    /// The hardware configuration the walks model.
    pub cfg: WalkConfig,
    /// The device's DTE (qwords 2 and 3 are zero).
    pub dte: Dte,
    /// The table memory.
    pub mem: FrameArray<WALKER_FRAMES>,
    /// IOVAs to walk.
    pub iovas: [u64; INPUT_IOVAS],
    /// Where the entries were written, in input order (`written_count` of them).
    written: [u64; MAX_ENTRIES],
    written_count: usize,
}

impl WalkerInput {
    /// Decodes `data` (any bytes).
    pub fn decode(data: &[u8]) -> WalkerInput {
        let mut u = Unstructured::new(data);
        let mut mem = FrameArray::new(FIRST_PFN);
        let dte_q0 = value(&mut u) | 0b11;
        let cfg = WalkConfig {
            max_levels: 4 + u.arbitrary::<u8>().unwrap_or(0) % 3,
            tv0: if u.arbitrary::<bool>().unwrap_or(false) {
                Tv0Policy::Untranslated
            } else {
                Tv0Policy::Fault
            },
        };
        let dte = Dte([dte_q0, u.arbitrary().unwrap_or(0), 0, 0]);
        let entries = usize::from(u.arbitrary::<u8>().unwrap_or(0)) % MAX_ENTRIES;
        let mut written = [0; MAX_ENTRIES];
        for at in written.iter_mut().take(entries) {
            let pfn = FIRST_PFN + u64::from(u.arbitrary::<u8>().unwrap_or(0)) % frames();
            let index = u64::from(u.arbitrary::<u16>().unwrap_or(0) % 512);
            let v = value(&mut u);
            *at = pfn << 12 | index << 3;
            mem.write(*at, v);
        }
        let mut iovas = [0; INPUT_IOVAS];
        for iova in &mut iovas {
            *iova = u.arbitrary().unwrap_or(0);
        }
        WalkerInput { cfg, dte, mem, iovas, written, written_count: entries }
    }

    /// The SPAs the input wrote entries at, in input order (a place written twice is listed
    /// twice; the later value is the one in memory).
    pub fn written(&self) -> &[u64] {
        &self.written[..self.written_count]
    }
}

/// The number of table frames, as a pfn count.
fn frames() -> u64 {
    WALKER_FRAMES as u64
}

/// A *value* (see [`WalkerInput`]): raw, or a plausible entry.
fn value(u: &mut Unstructured) -> u64 {
    let raw: u64 = u.arbitrary().unwrap_or(0);
    let selector: u8 = u.arbitrary().unwrap_or(0);
    if selector & 3 == 0 {
        return raw;
    }
    let pfn = FIRST_PFN + u64::from(selector >> 2) % (frames() + 1);
    let nl_mask = if selector & 0x80 != 0 { 0xe00 } else { 0x600 };
    (raw & nl_mask) | pfn << 12 | (raw & 0x6000_0000_0000_0000) | 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use ptdiff_reference::PhysMem;

    #[test]
    fn decodes_the_documented_layout() {
        let mut data = Vec::new();
        // DTE qword 0: raw (selector 0), mode 4, root pfn 1, IR|IW.
        data.extend((0x6000_0000_0000_1800u64).to_le_bytes());
        data.push(0);
        data.push(2); // max levels 4 + 2
        data.push(1); // TV = 0 passes through
        data.extend(7u64.to_le_bytes()); // qword 1: domain 7
        data.push(65); // 65 % 64 = 1 entry
        data.push(6); // pfn 1 + 6 % 6 = 1
        data.extend(513u16.to_le_bytes()); // index 1
                                           // A plausible value: selector 0b1000_0101: pfn 1 + (0b10_0001 % 7) = 6, any level.
        data.extend((0x4000_0000_0000_0e00u64).to_le_bytes());
        data.push(0b1000_0101);
        data.extend(0x1234u64.to_le_bytes()); // first IOVA; the rest are zero
        let input = WalkerInput::decode(&data);
        assert_eq!(input.cfg, WalkConfig { max_levels: 6, tv0: Tv0Policy::Untranslated });
        assert_eq!(input.dte, Dte([0x6000_0000_0000_1803, 7, 0, 0]));
        assert_eq!(input.mem.nonzero().collect::<Vec<_>>(), vec![(0x1008, 0x4000_0000_0000_6e01)]);
        assert_eq!(input.iovas[0], 0x1234);
        assert_eq!(input.written(), &[0x1008]);
        assert!(input.iovas[1..].iter().all(|&i| i == 0));
        assert_eq!(input.mem.read_u64(0x7000), None);
    }

    #[test]
    fn empty_input_is_a_dte_over_empty_tables() {
        let input = WalkerInput::decode(&[]);
        assert_eq!(input.dte, Dte([0b11, 0, 0, 0]));
        assert_eq!(input.cfg, WalkConfig { max_levels: 4, tv0: Tv0Policy::Fault });
        assert_eq!(input.mem.nonzero().count(), 0);
    }
}
