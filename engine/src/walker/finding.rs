//! A disagreement with the oracle's walk, as a value, and its readable report.

use super::input::WalkerInput;
use super::layout::{entry_span_log2, level_field, ADDRESS_BITS, PRESENT, READ, WRITE};
use super::Translated;
use ptdiff_reference::{
    walk_dte_visiting, Dte, Fault, FaultClass, Leaf, Perm, PhysMem, Translation, TranslationKind,
    Tv0Policy, WalkConfig,
};
use std::fmt;

/// What the oracle's leaf enumeration says about an IOVA the walk disagrees with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EnumerationSays {
    /// Every access faults with this fault.
    Blocked(Fault),
    /// Every access passes untranslated with these permissions.
    Untranslated(Perm),
    /// This leaf covers the IOVA.
    Leaf(Leaf),
    /// No leaf covers the IOVA.
    NoLeaf,
    /// These two consecutive leaves are out of order or overlap.
    LeavesOutOfOrder(Leaf, Leaf),
}

/// The side that disagrees with the oracle's walk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OtherSide {
    /// A [`super::Walker`] and its answer.
    Walker { name: String, answer: Result<Translated, FaultClass> },
    /// The oracle's own leaf enumeration (an oracle bug).
    Enumeration(EnumerationSays),
}

/// One table entry the oracle's walk read, root first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PathEntry {
    /// Level of the table.
    pub level: u8,
    /// SPA of the table.
    pub table: u64,
    /// Index the IOVA selects in it.
    pub index: u64,
    /// The entry, or `None` when there is no memory there.
    pub entry: Option<u64>,
}

/// A walk that disagrees with the oracle: everything needed to see why, and to turn it into a
/// unit test of the walker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WalkerFinding {
    /// The hardware configuration both sides modelled.
    pub cfg: WalkConfig,
    /// The device's DTE.
    pub dte: Dte,
    /// The IOVA walked.
    pub iova: u64,
    /// The access walked.
    pub access: Perm,
    /// The oracle's answer.
    pub oracle: Result<Translation, Fault>,
    /// The other side's answer.
    pub other: OtherSide,
    /// The entries the oracle's walk read.
    pub path: Vec<PathEntry>,
    /// Every non-zero qword of table memory, `(spa, value)`, in address order.
    pub memory: Vec<(u64, u64)>,
}

impl WalkerFinding {
    /// The finding for `iova` and `access` on `input`, walked under `cfg`.
    pub(crate) fn new(
        input: &WalkerInput,
        cfg: &WalkConfig,
        iova: u64,
        access: Perm,
        oracle: Result<Translation, Fault>,
        other: OtherSide,
    ) -> Box<WalkerFinding> {
        let mut path = Vec::new();
        let _ = walk_dte_visiting(&input.mem, cfg, &input.dte, iova, access, |level, table| {
            let index = iova.checked_shr(entry_span_log2(u64::from(level))).unwrap_or(0) & 0x1ff;
            let entry = input.mem.read_u64(table.wrapping_add(8 * index));
            path.push(PathEntry { level, table, index, entry });
        });
        Box::new(WalkerFinding {
            cfg: *cfg,
            dte: input.dte,
            iova,
            access,
            oracle,
            other,
            path,
            memory: input.mem.nonzero().collect(),
        })
    }
}

/// `rw`, `r`, `w` or `-`, plus what an empty request means.
fn access_text(access: Perm) -> String {
    if access.is_empty() {
        "none (translation only)".to_string()
    } else {
        access.to_string()
    }
}

/// A PDE/PTE spelled out: PR, NL, address, IR/IW.
fn describe_entry(e: u64) -> String {
    let perm = Perm { read: e & READ != 0, write: e & WRITE != 0 };
    format!(
        "{}NL={} addr {:#x} {}",
        if e & PRESENT != 0 { "PR " } else { "not present, " },
        level_field(e),
        e & ADDRESS_BITS,
        perm
    )
}

fn describe_translation(t: &Translation) -> String {
    let how = match t.kind {
        TranslationKind::DteNotValid => "untranslated: DTE V=0".to_string(),
        TranslationKind::Tv0PassThrough => "untranslated: DTE TV=0".to_string(),
        TranslationKind::Mode0 => "untranslated: mode 0".to_string(),
        TranslationKind::Table { leaf_level } => format!("leaf in a level-{leaf_level} table"),
    };
    format!("spa {:#x}, page 2^{}, perm {} ({how})", t.spa, t.page_size_log2, t.perm)
}

fn describe_translated(t: &Translated) -> String {
    format!("spa {:#x}, page 2^{}, perm {}", t.spa, t.page_size_log2, t.perm)
}

fn class_name(class: FaultClass) -> &'static str {
    match class {
        FaultClass::IoPageFault => "IO_PAGE_FAULT",
        FaultClass::IllegalDevTableEntry => "ILLEGAL_DEV_TABLE_ENTRY",
        FaultClass::DevTabHardwareError => "DEV_TAB_HARDWARE_ERROR",
        FaultClass::PageTabHardwareError => "PAGE_TAB_HARDWARE_ERROR",
    }
}

impl fmt::Display for WalkerFinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let who = match &self.other {
            OtherSide::Walker { name, .. } => name.as_str(),
            OtherSide::Enumeration(_) => "the oracle's leaf enumeration",
        };
        writeln!(f, "# ptdiff walker finding: {who} disagrees with the oracle's walk")?;
        let tv0 = match self.cfg.tv0 {
            Tv0Policy::Fault => "faults",
            Tv0Policy::Untranslated => "passes untranslated",
        };
        writeln!(f, "hardware: up to {} levels; V=1 TV=0 {tv0}", self.cfg.max_levels)?;
        let q0 = self.dte.0[0];
        writeln!(
            f,
            "DTE:      qword0 {q0:#018x} qword1 {:#018x} (V={} TV={} mode {} root {:#x} perm {} \
             domain {:#x})",
            self.dte.0[1],
            self.dte.valid() as u8,
            self.dte.translation_valid() as u8,
            self.dte.mode(),
            self.dte.root(),
            self.dte.perm(),
            self.dte.domain_id()
        )?;
        writeln!(f, "IOVA:     {:#x}, access {}", self.iova, access_text(self.access))?;
        if self.path.is_empty() {
            writeln!(f, "path:     no table entry read")?;
        }
        for (i, p) in self.path.iter().enumerate() {
            let label = if i == 0 { "path:    " } else { "         " };
            let entry = match p.entry {
                Some(e) => format!("{e:#018x} ({})", describe_entry(e)),
                None => "no memory".to_string(),
            };
            writeln!(
                f,
                "{label} L{} table {:#x} [{:3}] @ {:#x} = {entry}",
                p.level,
                p.table,
                p.index,
                p.table.wrapping_add(8 * p.index)
            )?;
        }
        match &self.oracle {
            Ok(t) => writeln!(f, "oracle:   {}", describe_translation(t))?,
            Err(fault) => writeln!(f, "oracle:   {} ({fault})", class_name(fault.class()))?,
        }
        match &self.other {
            OtherSide::Walker { answer: Ok(t), .. } => {
                writeln!(f, "walker:   {}", describe_translated(t))?
            }
            OtherSide::Walker { answer: Err(class), .. } => {
                writeln!(f, "walker:   {}", class_name(*class))?
            }
            OtherSide::Enumeration(says) => writeln!(f, "enumeration: {says:?}")?,
        }
        writeln!(f, "table memory ({} non-zero qwords):", self.memory.len())?;
        for (spa, q) in &self.memory {
            writeln!(f, "  {spa:#07x} = {q:#018x}")?;
        }
        Ok(())
    }
}
