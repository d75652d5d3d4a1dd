//! The device table in simulated memory: one 256-bit DTE per device ID.
//!
//! This is substrate shared by every implementation (like the real device table is shared by
//! every domain); the oracle decodes DTEs with its own code. Every DTE starts *blocked*
//! (V = 1, TV = 1, mode 0, IR = IW = 0: no access, never pass-through).

/// SPA of the device table (one frame).
pub const DEVICE_TABLE_SPA: u64 = 0x1000;
/// DTEs in the device table; device IDs at or above this do not exist.
pub const DEVICE_TABLE_ENTRIES: u32 = 128;

const V: u64 = 1;
const TV: u64 = 1 << 1;
const MODE_SHIFT: u32 = 9;
const ROOT_MASK: u64 = 0x000f_ffff_ffff_f000;
const IR: u64 = 1 << 61;
const IW: u64 = 1 << 62;

/// What a DTE says, in the terms software programs it with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DteSetting {
    /// The device belongs to `domain`, whose root table (`root` SPA) has `levels` levels.
    Translate { domain: u16, root: u64, levels: u8 },
    /// The device reaches nothing: every DMA faults.
    Blocked,
}

impl DteSetting {
    /// The four qwords of the DTE (qword 0: V, TV, mode, root, IR, IW; qword 1: domain ID).
    pub fn encode(self) -> [u64; 4] {
        match self {
            DteSetting::Translate { domain, root, levels } => [
                V | TV | ((u64::from(levels) & 7) << MODE_SHIFT) | (root & ROOT_MASK) | IR | IW,
                u64::from(domain),
                0,
                0,
            ],
            DteSetting::Blocked => [V | TV, 0, 0, 0],
        }
    }
}

/// SPA of device `dev`'s DTE, if the device exists.
pub fn dte_spa(dev: u16) -> Option<u64> {
    (u32::from(dev) < DEVICE_TABLE_ENTRIES).then(|| DEVICE_TABLE_SPA + 32 * u64::from(dev))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_translating_and_blocked_dtes() {
        let q = DteSetting::Translate { domain: 7, root: 0x4_0000_0000, levels: 4 }.encode();
        assert_eq!(q, [0x6000_0004_0000_0803, 7, 0, 0]);
        assert_eq!(DteSetting::Blocked.encode(), [3, 0, 0, 0]);
        assert_eq!(dte_spa(2), Some(0x1040));
        assert_eq!(dte_spa(128), None);
    }

    #[test]
    fn a_root_anywhere_in_the_52_bit_space_is_kept_whole() {
        for root in [0xf_ffff_ffff_f000, 0x8_0000_0000_0000, 0x1_0000_1000] {
            let q = DteSetting::Translate { domain: 1, root, levels: 6 }.encode();
            let dte = ptdiff_reference::Dte(q);
            assert_eq!((dte.root(), dte.mode(), dte.reserved_bits()), (root, 6, 0));
        }
    }
}
