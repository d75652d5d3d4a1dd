//! A second AMD-Vi v1 walk, written from amd-vi.md section 3 apart from the oracle: it shares
//! no code with `ptdiff-reference` beyond the plain types of the [`Walker`] contract (no entry
//! decoder, no size-code decoder, no bit layout; see [`super::layout`]).
//!
//! Its shape follows the strict spec-annotated emulator model (amd-vi.md section 7): the DTE is
//! treated as the first "page-table entity", whose Next Level is the Mode, and each step reads
//! the entry the IOVA selects in the table the current entity points to.

use super::layout::*;
use super::{Translated, Walker};
use ptdiff_reference::{Dte, FaultClass, Perm, PhysMem, Tv0Policy, WalkConfig};

/// The built-in second walker: the `walker` fuzz target compares it with the oracle on every
/// IOVA it walks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IndependentWalker {
    cfg: WalkConfig,
}

impl IndependentWalker {
    /// A walker modelling hardware with configuration `cfg`.
    pub fn new(cfg: WalkConfig) -> IndependentWalker {
        IndependentWalker { cfg }
    }
}

/// Every fault of the walk that is not a hardware error is an IO_PAGE_FAULT.
const PAGE_FAULT: FaultClass = FaultClass::IoPageFault;

/// IR/IW of a DTE, PDE or PTE.
fn granted(qword: u64) -> Perm {
    Perm { read: qword & READ != 0, write: qword & WRITE != 0 }
}

/// An access that passes without translation.
fn untranslated(iova: u64, perm: Perm) -> Translated {
    Translated { spa: iova, perm, page_size_log2: 12 }
}

/// The IOVA bits `[low, low + bits)`, for `low < 64` and `bits < 64` (every caller's are at
/// most 57 and 36).
fn iova_bits(iova: u64, low: u32, bits: u32) -> u64 {
    (iova >> (low & 63)) & ((1u64 << (bits & 63)) - 1)
}

impl Walker for IndependentWalker {
    fn config(&self) -> WalkConfig {
        self.cfg
    }

    fn walk(
        &self,
        mem: &dyn PhysMem,
        dte: &Dte,
        iova: u64,
        access: Perm,
    ) -> Result<Translated, FaultClass> {
        let q0 = dte.0[0];
        // Steps 2-5: what the DTE alone decides.
        if q0 & DTE_VALID == 0 {
            return Ok(untranslated(iova, Perm::RW));
        }
        if q0 & DTE_RESERVED != 0 {
            return Err(FaultClass::IllegalDevTableEntry);
        }
        let dte_perm = granted(q0);
        let has_tables = q0 & DTE_TRANSLATION_VALID != 0;
        if !has_tables && self.cfg.tv0 == Tv0Policy::Fault {
            return Err(PAGE_FAULT);
        }
        if !dte_perm.allows(access) {
            return Err(PAGE_FAULT);
        }
        let mode = level_field(q0);
        if !has_tables || mode == 0 {
            return Ok(untranslated(iova, dte_perm));
        }
        if mode > TOP_LEVEL || mode > u64::from(self.cfg.max_levels) {
            return Err(PAGE_FAULT);
        }
        // Step 6: the root covers the IOVA bits its levels index, nothing above.
        if mode < TOP_LEVEL && iova >> (12 + 9 * mode as u32) != 0 {
            return Err(PAGE_FAULT);
        }

        // Step 7: `entity` points at a level-`level` table; the DTE is the first entity.
        let mut entity = q0;
        let mut level = mode;
        let mut perm = dte_perm;
        loop {
            let index = iova_bits(iova, entry_span_log2(level), 9);
            let at = (entity & ADDRESS_BITS) + 8 * index;
            let entry = mem.read_u64(at).ok_or(FaultClass::PageTabHardwareError)?;
            if entry & PRESENT == 0 {
                return Err(PAGE_FAULT);
            }
            let next_level = level_field(entry);
            let is_leaf = next_level == NL_PAGE || next_level == NL_SIZED_PAGE;
            let reserved = if is_leaf { LEAF_RESERVED } else { PDE_RESERVED };
            if entry & reserved != 0 {
                return Err(PAGE_FAULT);
            }
            perm = perm.intersect(granted(entry));
            if !perm.allows(access) {
                return Err(PAGE_FAULT);
            }
            if is_leaf {
                if level == TOP_LEVEL {
                    return Err(PAGE_FAULT);
                }
                let page_size_log2 = if next_level == NL_PAGE {
                    entry_span_log2(level)
                } else {
                    sized_page_log2(entry, level).ok_or(PAGE_FAULT)?
                };
                let offset_mask = (1u64 << page_size_log2) - 1;
                let base = entry & ADDRESS_BITS & !offset_mask;
                return Ok(Translated { spa: base | (iova & offset_mask), perm, page_size_log2 });
            }
            if next_level >= level {
                return Err(PAGE_FAULT);
            }
            // Levels between `level` and `next_level` are skipped: the IOVA bits they would
            // have indexed must be zero.
            let skipped = (level - 1 - next_level) as u32;
            if iova_bits(iova, entry_span_log2(next_level + 1), 9 * skipped) != 0 {
                return Err(PAGE_FAULT);
            }
            entity = entry;
            level = next_level;
        }
    }
}

/// The page size (log2) of an NL = 7 leaf in a level-`level` table, when legal there.
///
/// "The size of the page is determined by the first zero bit in the page address, starting
/// from bit 12": with that bit at `z`, the page is `2^(z + 1)` bytes. It must lie strictly
/// between the default page sizes of `level` and `level + 1`, and fit the 52-bit address
/// field (an all-ones address field describes no page).
fn sized_page_log2(entry: u64, level: u64) -> Option<u32> {
    let first_zero = (entry | 0xfff).trailing_ones();
    let size_log2 = first_zero + 1;
    let larger_than_default = size_log2 > entry_span_log2(level);
    let smaller_than_next = size_log2 < entry_span_log2(level + 1);
    (larger_than_default && smaller_than_next && size_log2 <= SPA_BITS).then_some(size_log2)
}

#[cfg(test)]
mod tests {
    //! Vectors from amd-vi.md sections 2, 3 and 8, with expected values worked out from the
    //! text (not from the oracle).
    use super::*;
    use crate::walker::FrameArray;

    const R: Perm = Perm::R;
    const W: Perm = Perm::W;
    const RW: Perm = Perm::RW;

    /// Frames at pfns 1..=6 (SPA 0x1000..0x7000).
    type Mem = FrameArray<6>;

    fn pde(table_pfn: u64, nl: u64) -> u64 {
        PRESENT | nl << 9 | table_pfn << 12 | READ | WRITE
    }

    fn pte(addr: u64, perm: Perm) -> u64 {
        PRESENT | addr | if perm.read { READ } else { 0 } | if perm.write { WRITE } else { 0 }
    }

    fn dte(root_pfn: u64, mode: u64, perm: Perm) -> Dte {
        let perm_bits = if perm.read { READ } else { 0 } | if perm.write { WRITE } else { 0 };
        Dte([DTE_VALID | DTE_TRANSLATION_VALID | mode << 9 | root_pfn << 12 | perm_bits, 0, 0, 0])
    }

    fn walk(mem: &Mem, dte: &Dte, iova: u64, access: Perm) -> Result<Translated, FaultClass> {
        IndependentWalker::default().walk(mem, dte, iova, access)
    }

    fn ok(spa: u64, perm: Perm, page_size_log2: u32) -> Result<Translated, FaultClass> {
        Ok(Translated { spa, perm, page_size_log2 })
    }

    #[test]
    fn mode_3_faults_on_iova_bit_39_mode_4_walks_index_1() {
        let mut mem = Mem::new(1);
        // Mode 4: root at pfn 1, index 1 -> L3 at pfn 2 -> L2 at pfn 3 -> L1 at pfn 4.
        mem.write(0x1000 + 8, pde(2, 3));
        mem.write(0x2000, pde(3, 2));
        mem.write(0x3000, pde(4, 1));
        mem.write(0x4000, pte(0xabc000, RW));
        let iova = 0x80_0000_0000;
        assert_eq!(walk(&mem, &dte(1, 4, RW), iova | 0x123, R), ok(0xabc123, RW, 12));
        assert_eq!(walk(&mem, &dte(1, 3, RW), iova, R), Err(PAGE_FAULT));
    }

    #[test]
    fn mode_6_indexes_the_root_with_bits_63_57() {
        let mut mem = Mem::new(1);
        mem.write(0x1000 + 8 * 127, pde(2, 5));
        // L5 index from bits 56:48 = 0 ... an L5 default leaf maps 2^48 bytes.
        mem.write(0x2000, pte(0x5_0000_0000_0000, R));
        let iova = 0xfe00_0000_0000_1234;
        assert_eq!(walk(&mem, &dte(1, 6, RW), iova, R), ok(0x5_0000_0000_1234, R, 48));
    }

    #[test]
    fn sized_leaves_at_level_1() {
        let mut mem = Mem::new(1);
        let nl7 = NL_SIZED_PAGE << 9;
        // Bit 12 clear: 8 KiB, replicated in slots 0 and 1.
        for slot in 0..2 {
            mem.write(0x1000 + 8 * slot, pte(0x1234_6000, RW) | nl7);
        }
        // Bits 12, 13 set, bit 14 clear: 32 KiB at 0x50000, in slots 8..16 (only 9 written).
        mem.write(0x1000 + 8 * 9, pte(0x5_3000, RW) | nl7);
        // Bits 12..=19 set: 2 MiB, too large for level 1.
        mem.write(0x1000 + 8 * 16, pte(0x4000_0000 | 0xf_f000, RW) | nl7);
        let d = dte(1, 1, RW);
        assert_eq!(walk(&mem, &d, 0xfff, R), ok(0x1234_6fff, RW, 13));
        assert_eq!(walk(&mem, &d, 0x1fff, R), ok(0x1234_7fff, RW, 13));
        assert_eq!(walk(&mem, &d, 0x9004, R), ok(0x5_1004, RW, 15));
        assert_eq!(walk(&mem, &d, 0x8004, R), Err(PAGE_FAULT), "slot 8 is empty");
        assert_eq!(walk(&mem, &d, 0x1_0000, R), Err(PAGE_FAULT));
    }

    #[test]
    fn sized_leaf_of_the_default_size_faults() {
        let mut mem = Mem::new(1);
        // A 2 MiB size code in a level-2 table must be written with NL = 0.
        mem.write(0x1000, pte(0x4000_0000 | 0xf_f000, RW) | NL_SIZED_PAGE << 9);
        assert_eq!(walk(&mem, &dte(1, 2, RW), 0x1000, R), Err(PAGE_FAULT));
        // 4 MiB is legal there.
        mem.write(0x1000, pte(0x4000_0000 | 0x1f_f000, RW) | NL_SIZED_PAGE << 9);
        assert_eq!(walk(&mem, &dte(1, 2, RW), 0x10_0000, R), ok(0x4010_0000, RW, 22));
    }

    #[test]
    fn skipping_level_2_needs_its_iova_bits_zero() {
        let mut mem = Mem::new(1);
        mem.write(0x1000, pde(2, 1)); // L3 -> L1
        mem.write(0x2000 + 8 * 5, pte(0x9000, RW));
        let d = dte(1, 3, RW);
        assert_eq!(walk(&mem, &d, 0x5000, W), ok(0x9000, RW, 12));
        assert_eq!(walk(&mem, &d, 0x20_5000, W), Err(PAGE_FAULT));
    }

    #[test]
    fn read_only_pde_above_read_write_leaf() {
        let mut mem = Mem::new(1);
        mem.write(0x1000, pde(2, 1) & !WRITE);
        mem.write(0x2000, pte(0x9000, RW));
        let d = dte(1, 2, RW);
        assert_eq!(walk(&mem, &d, 0x10, R), ok(0x9010, R, 12));
        assert_eq!(walk(&mem, &d, 0x10, Perm::NONE), ok(0x9010, R, 12));
        assert_eq!(walk(&mem, &d, 0x10, W), Err(PAGE_FAULT));
        assert_eq!(walk(&mem, &d, 0x10, RW), Err(PAGE_FAULT));
    }

    #[test]
    fn next_level_not_below_the_table_faults() {
        let mut mem = Mem::new(1);
        mem.write(0x1000, pde(2, 3)); // an L1 entry with NL = 3
        assert_eq!(walk(&mem, &dte(1, 1, RW), 0, Perm::NONE), Err(PAGE_FAULT));
        mem.write(0x1000, pde(2, 2)); // an L2 entry with NL = 2
        assert_eq!(walk(&mem, &dte(1, 2, RW), 0, Perm::NONE), Err(PAGE_FAULT));
    }

    #[test]
    fn leaves_in_a_level_6_table_fault() {
        let mut mem = Mem::new(1);
        mem.write(0x1000, pte(0, RW));
        assert_eq!(walk(&mem, &dte(1, 6, RW), 0, Perm::NONE), Err(PAGE_FAULT));
    }

    #[test]
    fn reserved_bits_depend_on_the_entry_kind() {
        let mut mem = Mem::new(1);
        // Bit 60 (FC) is allowed in a leaf, reserved in a PDE.
        mem.write(0x1000, pte(0x9000, RW) | 1 << 60);
        assert_eq!(walk(&mem, &dte(1, 1, RW), 0, R), ok(0x9000, RW, 12));
        mem.write(0x1000, pde(2, 1) | 1 << 60);
        mem.write(0x2000, pte(0x9000, RW));
        assert_eq!(walk(&mem, &dte(1, 2, RW), 0, R), Err(PAGE_FAULT));
        mem.write(0x1000, pde(2, 1) | 1 << 63); // bit 63 is ignored
        assert_eq!(walk(&mem, &dte(1, 2, RW), 0, R), ok(0x9000, RW, 12));
    }

    #[test]
    fn dte_rules() {
        let mem = Mem::new(1);
        let mut d = dte(1, 3, R);
        // V = 0: untranslated read/write whatever the rest says.
        d.0[0] &= !DTE_VALID;
        assert_eq!(walk(&mem, &d, 0x1234, RW), ok(0x1234, RW, 12));
        // Reserved bit with V = 1: an illegal DTE, before anything else.
        let illegal = Dte([dte(1, 3, R).0[0] | 1 << 4, 0, 0, 0]);
        assert_eq!(walk(&mem, &illegal, 0, R), Err(FaultClass::IllegalDevTableEntry));
        // Mode 0: untranslated with the DTE's permissions, which gate the access.
        assert_eq!(walk(&mem, &dte(1, 0, R), 0x77, R), ok(0x77, R, 12));
        assert_eq!(walk(&mem, &dte(1, 0, R), 0x77, W), Err(PAGE_FAULT));
        // Mode 7 is reserved; a mode above the hardware's maximum faults.
        assert_eq!(walk(&mem, &dte(1, 7, RW), 0, R), Err(PAGE_FAULT));
        let hats0 = IndependentWalker::new(WalkConfig { max_levels: 4, ..WalkConfig::default() });
        assert_eq!(hats0.walk(&mem, &dte(1, 5, RW), 0, R), Err(PAGE_FAULT));
        // No memory at the root: a page-table hardware error.
        assert_eq!(walk(&mem, &dte(9, 1, RW), 0, R), Err(FaultClass::PageTabHardwareError));
    }

    #[test]
    fn tv0_follows_the_policy() {
        let mem = Mem::new(1);
        let mut d = dte(1, 2, R);
        d.0[0] &= !DTE_TRANSLATION_VALID;
        assert_eq!(walk(&mem, &d, 0x10, R), Err(PAGE_FAULT));
        let pass = IndependentWalker::new(WalkConfig {
            tv0: Tv0Policy::Untranslated,
            ..WalkConfig::default()
        });
        assert_eq!(pass.walk(&mem, &d, 0x10, R), ok(0x10, R, 12));
        assert_eq!(pass.walk(&mem, &d, 0x10, W), Err(PAGE_FAULT));
    }
}
