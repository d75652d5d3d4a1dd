//! Template: your own AMD-Vi walk (an emulator's IOMMU model, say) against ptdiff's oracle.
//!
//! 1. Implement [`Walker`] for your walk: hand it the DTE, the IOVA and the access, let it read
//!    table memory through the [`PhysMem`] it is given, and return what it would do (see the
//!    contract on [`Walker`]). Below, `ToyEmulator` stands for your code.
//! 2. Run it here over seeded inputs: `cargo run -p ptdiff --example own_walker` (it prints the
//!    first disagreement and exits 1; `-- --fixed` runs the toy walk without its bug).
//! 3. Fuzz it: in `fuzz/`, add a target `fuzz/fuzz_targets/my_walker.rs` holding
//!
//!    ```text
//!    #![no_main]
//!    libfuzzer_sys::fuzz_target!(|data: &[u8]| ptdiff::fuzz::walker_with(data, &MyWalker));
//!    ```
//!
//!    (with your walker type in scope), a `[[bin]]` entry for it in `fuzz/Cargo.toml` like the
//!    `walker` one, and run `cargo fuzz run -s none -O my_walker ../corpus/walker`. A
//!    disagreement panics with a report: the DTE, the IOVA, the entries on the path, the
//!    oracle's answer (with the rule that decided it) and yours.
//!
//! The toy walk below is complete apart from one historical emulator bug, selectable: it
//! checks each level's permissions but reports the leaf's own IR/IW as the translation's
//! permissions instead of the AND along the path (amd-vi.md section 6, QEMU's old walker).

use ptdiff::walker::{
    check, seeded_input, Dte, FaultClass, Perm, PhysMem, Translated, WalkConfig, Walker,
    WalkerInput,
};

/// Your walker: here an adapter around the toy emulator walk.
pub struct MyWalker {
    /// The emulator under test.
    pub emulator: ToyEmulator,
}

impl Walker for MyWalker {
    /// The hardware the emulator models: 6 levels, V = 1 with TV = 0 faults.
    fn config(&self) -> WalkConfig {
        WalkConfig::default()
    }

    fn walk(
        &self,
        mem: &dyn PhysMem,
        dte: &Dte,
        iova: u64,
        access: Perm,
    ) -> Result<Translated, FaultClass> {
        self.emulator.translate(mem, dte.0[0], iova, access)
    }

    fn name(&self) -> String {
        "toy emulator walk".to_string()
    }
}

/// A stand-in for an emulator's IOMMU translation code.
pub struct ToyEmulator {
    /// False reproduces the bug: the result carries the leaf's permissions only.
    pub and_table_permissions: bool,
}

const PR: u64 = 1;
const IR: u64 = 1 << 61;
const IW: u64 = 1 << 62;
const ADDR: u64 = 0x000f_ffff_ffff_f000;

fn perm_of(e: u64) -> Perm {
    Perm { read: e & IR != 0, write: e & IW != 0 }
}

impl ToyEmulator {
    /// Translates `iova` through the DTE whose first qword is `dte0`.
    pub fn translate(
        &self,
        mem: &dyn PhysMem,
        dte0: u64,
        iova: u64,
        access: Perm,
    ) -> Result<Translated, FaultClass> {
        let fault = Err(FaultClass::IoPageFault);
        if dte0 & 1 == 0 {
            return Ok(Translated { spa: iova, perm: Perm::RW, page_size_log2: 12 });
        }
        if dte0 & (0x7c | 1 << 63) != 0 {
            return Err(FaultClass::IllegalDevTableEntry);
        }
        let mut perm = perm_of(dte0);
        if dte0 & 2 == 0 || !perm.allows(access) {
            return fault;
        }
        let mode = (dte0 >> 9) & 7;
        if mode == 0 {
            return Ok(Translated { spa: iova, perm, page_size_log2: 12 });
        }
        if mode == 7 || (mode < 6 && iova >> (12 + 9 * mode) != 0) {
            return fault;
        }
        let shift = |level: u64| 12 + 9 * (level as u32 - 1);
        let (mut level, mut table) = (mode, dte0 & ADDR);
        loop {
            let pte_addr = table + 8 * ((iova >> shift(level)) & 0x1ff);
            let pte = mem.read_u64(pte_addr).ok_or(FaultClass::PageTabHardwareError)?;
            let nl = (pte >> 9) & 7;
            let leaf = nl == 0 || nl == 7;
            let reserved = if leaf { 0x7f << 52 } else { 0x1ff << 52 };
            if pte & PR == 0 || pte & reserved != 0 {
                return fault;
            }
            perm = perm.intersect(perm_of(pte));
            if !perm.allows(access) {
                return fault;
            }
            if leaf {
                let size_log2 =
                    if nl == 0 { shift(level) } else { (pte | 0xfff).trailing_ones() + 1 };
                let fits = nl == 0 || (shift(level) < size_log2 && size_log2 < shift(level + 1));
                if level == 6 || !fits || size_log2 > 52 {
                    return fault;
                }
                let mask = (1u64 << size_log2) - 1;
                let perm = if self.and_table_permissions { perm } else { perm_of(pte) };
                let spa = (pte & ADDR & !mask) | (iova & mask);
                return Ok(Translated { spa, perm, page_size_log2: size_log2 });
            }
            if nl >= level {
                return fault;
            }
            // Levels between `level` and `nl` are skipped: their IOVA bits must be zero.
            let skipped = (iova >> shift(nl + 1)) & ((1u64 << (9 * (level - 1 - nl))) - 1);
            if skipped != 0 {
                return fault;
            }
            level = nl;
            table = pte & ADDR;
        }
    }
}

fn main() {
    let fixed = std::env::args().any(|a| a == "--fixed");
    let walker = MyWalker { emulator: ToyEmulator { and_table_permissions: fixed } };
    const INPUTS: u64 = 20_000;
    for seed in 0..INPUTS {
        if let Err(finding) = check(&WalkerInput::decode(&seeded_input(seed)), &walker) {
            println!("seeded input {seed}:\n{finding}");
            std::process::exit(1);
        }
    }
    println!("{INPUTS} seeded inputs: the walk agrees with the oracle");
}
