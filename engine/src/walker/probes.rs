//! IOVAs aimed at the entries an input wrote, valid or not, so that every entry a walk can
//! reach is walked: the enumeration finds only the valid leaves, and random IOVAs almost never
//! land on a written entry.

use super::input::WalkerInput;
use super::layout::{entry_span_log2, level_field, ADDRESS_BITS, PRESENT, TOP_LEVEL};
use ptdiff_reference::PhysMem;

/// Most IOVAs aimed at entries per input.
const MAX_PROBES: usize = 64;
/// Most tables entered per input (frames may point at each other in cycles).
const MAX_TABLES: usize = 32;

/// For each written entry reachable from the DTE's root through present PDEs whose next level
/// is below their own, the first IOVA whose walk reads it (skipped-level bits zero), depth
/// first in input order, at most [`MAX_PROBES`] of them from at most [`MAX_TABLES`] tables.
/// Nothing when the DTE's mode is not 1..=6.
pub(crate) struct EntryProbes {
    iovas: [u64; MAX_PROBES],
    len: usize,
    tables: usize,
}

impl EntryProbes {
    pub(crate) fn of(input: &WalkerInput) -> EntryProbes {
        let mut probes = EntryProbes { iovas: [0; MAX_PROBES], len: 0, tables: 0 };
        let q0 = input.dte.0[0];
        let mode = level_field(q0);
        if (1..=TOP_LEVEL).contains(&mode) {
            probes.table(input, q0 & ADDRESS_BITS, mode, 0);
        }
        probes
    }

    /// The IOVAs found.
    pub(crate) fn iovas(&self) -> &[u64] {
        &self.iovas[..self.len]
    }

    /// Visits the level-`level` table at `table`, whose entry `i` is read for IOVA
    /// `prefix | i << entry_span_log2(level)`. Recursion depth is at most 6: levels decrease.
    fn table(&mut self, input: &WalkerInput, table: u64, level: u64, prefix: u64) {
        if self.tables >= MAX_TABLES {
            return;
        }
        self.tables += 1;
        for &spa in input.written() {
            if spa & !0xfff != table {
                continue;
            }
            let index = (spa & 0xfff) / 8;
            if level == TOP_LEVEL && index >= 128 {
                continue; // a level-6 table is indexed by IOVA bits 63:57 only
            }
            if self.len == MAX_PROBES {
                return;
            }
            let iova = prefix | index << entry_span_log2(level);
            self.iovas[self.len] = iova;
            self.len += 1;
            let Some(entry) = input.mem.read_u64(spa) else { continue };
            let next = level_field(entry);
            if entry & PRESENT != 0 && (1..level).contains(&next) {
                self.table(input, entry & ADDRESS_BITS, next, iova);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_reach_written_entries_through_pdes() {
        let mut data = Vec::new();
        // DTE: plausible (selector 1): mode 2 (raw NL bits 0x400), root pfn 1.
        data.extend(0x400u64.to_le_bytes());
        data.push(0b0000_0001);
        data.extend([0, 0]);
        data.extend(0u64.to_le_bytes());
        data.push(3); // three entries
                      // Entry 1: frame 1 index 5 = PDE to pfn 2 with NL = 1 (selector pfn 1 + 1 = 2).
        data.extend([0, 5, 0]);
        data.extend(0x200u64.to_le_bytes());
        data.push(0b0000_0101);
        // Entry 2: frame 2 index 7 = raw junk (reserved bits): still probed.
        data.extend([1, 7, 0]);
        data.extend(0xfff0_0000_0000_0001u64.to_le_bytes());
        data.push(0);
        // Entry 3: frame 3 index 9: not reachable from the root.
        data.extend([2, 9, 0]);
        data.extend(0x1u64.to_le_bytes());
        data.push(0);
        let input = WalkerInput::decode(&data);
        assert_eq!(input.written(), &[0x1028, 0x2038, 0x3048]);
        let probes = EntryProbes::of(&input);
        assert_eq!(probes.iovas(), &[5 << 21, 5 << 21 | 7 << 12]);
    }
}
