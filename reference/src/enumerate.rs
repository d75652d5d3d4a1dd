//! The leaf enumerator: every translation reachable from a DTE, consistent with [`crate::walk()`].
//!
//! Contract: for every IOVA, `walk_dte(.., iova, Perm::NONE)` succeeds with kind `Table` iff
//! exactly one returned [`Leaf`] covers it, and then `spa == leaf.spa + (iova - leaf.iova)`,
//! `perm == leaf.perm`, `page_size_log2 == leaf.page_size_log2` and
//! `leaf_level == leaf.level`. For [`Reach::Blocked`] the walk returns that fault for every
//! IOVA; for [`Reach::Untranslated`] it returns `spa == iova` with those permissions. Work is
//! bounded by a budget (see [`enumerate`]); garbage memory never panics.

use crate::dte::Dte;
use crate::entry::{self, Decoded};
use crate::fault::Fault;
use crate::format::{entry_size_log2, ENTRIES, MAX_LEVEL, PR};
use crate::memory::PhysMem;
use crate::perm::Perm;
use crate::sized_leaf::low_mask;
use crate::walk::{dte_stage, DteStage, WalkConfig};
use thiserror::Error;

/// One present, valid leaf entry as seen from the DTE: the slot it occupies in IOVA space.
///
/// For an NL = 7 leaf replicated over several slots, each replica is its own `Leaf` covering
/// its own slot (hardware reads only the replica the IOVA indexes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Leaf {
    /// First IOVA of the slot.
    pub iova: u64,
    /// log2 of the slot's size in bytes (the entry size of its level).
    pub slot_log2: u32,
    /// SPA that `iova` translates to.
    pub spa: u64,
    /// log2 of the page size the entry encodes (`slot_log2` for NL = 0, larger for NL = 7).
    pub page_size_log2: u32,
    /// Effective permissions (AND of DTE and every entry on the path).
    pub perm: Perm,
    /// Level of the table holding the entry.
    pub level: u8,
}

/// What a DTE lets a device reach, as seen by accesses with [`Perm::NONE`] (which no
/// permission rule can stop).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reach {
    /// Every access faults with this fault, decided by the DTE alone before any table is read:
    /// an illegal DTE, V = 1 with TV = 0 under [`crate::Tv0Policy::Fault`], the reserved mode 7,
    /// or a mode above [`WalkConfig::max_levels`]. A DTE whose IR/IW grant nothing is not
    /// `Blocked`: its leaves are still enumerated, each with effective permissions
    /// [`Perm::NONE`], because a walk for [`Perm::NONE`] through it translates.
    Blocked(Fault),
    /// No access is translated: SPA = IOVA for every IOVA, with these permissions (RW for
    /// V = 0; the DTE's IR/IW for mode 0 and for TV = 0 under
    /// [`crate::Tv0Policy::Untranslated`]).
    Untranslated(Perm),
    /// Translated by these leaves, sorted by IOVA, non-overlapping; every IOVA no leaf covers
    /// faults.
    Table(Vec<Leaf>),
}

/// Enumeration could not complete.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum EnumerateError {
    /// The work budget was exceeded: more than `budget` leaves would be produced, or more than
    /// `budget` tables below the root would be visited (garbage trees can alias a frame at many
    /// places, or chain many empty tables).
    #[error("enumeration budget exceeded: more than {budget} leaves or tables")]
    TooManyLeaves { budget: usize },
}

/// Enumerates every leaf reachable from `dte`, as [`crate::walk_dte`] with [`Perm::NONE`]
/// would find them.
///
/// The tree is walked depth first in index order, so leaves come out sorted by IOVA. An entry
/// the walk would fault on (not present, unreadable, reserved bits, invalid NL, invalid page
/// size, leaf at level 6) yields no leaf and, for a PDE, its subtree is not entered. A root of
/// mode `m < 6` covers only IOVAs below `2^(12 + 9 m)`; a level-6 table only its entries
/// 0..128 (IOVA bits 63:57). Below a PDE that skips levels, only IOVAs whose skipped bits are
/// zero are reachable, so the child's entries are placed there and nowhere else.
///
/// Budget (`leaf_budget`): at most `leaf_budget` leaves are produced and at most `leaf_budget`
/// tables below the root are visited (each followed PDE counts once, even when it points at a
/// table already visited: nothing is memoised); exceeding either stops with
/// [`EnumerateError::TooManyLeaves`]. Work is therefore at most `512 (leaf_budget + 1)` entry
/// reads. A well-formed tree with `n` leaves has at most `n` leaves and, unless it keeps empty
/// tables around, few tables per leaf; pick the budget with headroom for both.
pub fn enumerate(
    mem: &impl PhysMem,
    cfg: &WalkConfig,
    dte: &Dte,
    leaf_budget: usize,
) -> Result<Reach, EnumerateError> {
    enumerate_tree(mem, cfg, dte, leaf_budget).map(|tree| tree.reach)
}

/// A table the enumeration entered: its level and SPA.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TableRef {
    pub level: u8,
    pub spa: u64,
}

/// Everything reachable from a DTE: the leaves, and every table entered (root first, then in
/// depth-first order; a table reached twice is listed twice).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tree {
    pub reach: Reach,
    /// Empty unless `reach` is [`Reach::Table`].
    pub tables: Vec<TableRef>,
}

/// [`enumerate`], also listing every table entered, for ledger checks (every reachable table
/// must be a live table frame; every live table frame must be reachable). Same budget.
pub fn enumerate_tree(
    mem: &impl PhysMem,
    cfg: &WalkConfig,
    dte: &Dte,
    leaf_budget: usize,
) -> Result<Tree, EnumerateError> {
    let (mode, root, perm) = match dte_stage(cfg, dte, Perm::NONE) {
        Err(fault) => return Ok(Tree { reach: Reach::Blocked(fault), tables: Vec::new() }),
        Ok(DteStage::Untranslated { perm, .. }) => {
            return Ok(Tree { reach: Reach::Untranslated(perm), tables: Vec::new() })
        }
        Ok(DteStage::Walk { mode, root, perm }) => (mode, root, perm),
    };
    let mut walker = Enumerator {
        mem,
        budget: leaf_budget,
        tables_left: leaf_budget,
        leaves: Vec::new(),
        tables: vec![TableRef { level: mode, spa: root }],
    };
    walker.table(root, mode, 0, perm)?;
    Ok(Tree { reach: Reach::Table(walker.leaves), tables: walker.tables })
}

/// Depth-first enumeration state.
struct Enumerator<'m, M: PhysMem> {
    mem: &'m M,
    budget: usize,
    /// Tables below the root that may still be visited.
    tables_left: usize,
    leaves: Vec<Leaf>,
    tables: Vec<TableRef>,
}

impl<M: PhysMem> Enumerator<'_, M> {
    /// Visits the level-`level` table at `table`, whose entry `i` covers IOVA
    /// `prefix + (i << entry_size_log2(level))`, reached with path permissions `perm`.
    /// Recursion depth is at most 6: `level` strictly decreases.
    fn table(
        &mut self,
        table: u64,
        level: u8,
        prefix: u64,
        perm: Perm,
    ) -> Result<(), EnumerateError> {
        // Level 6 is indexed by IOVA bits 63:57 only.
        let reachable = if level >= MAX_LEVEL { ENTRIES >> 2 } else { ENTRIES };
        // Tables are 4 KiB aligned (they come from bits 51:12), so the whole table is one frame.
        if let Some(entries) = self.mem.table(table) {
            // Skip runs of 16 entries none of which is present with one test per run.
            for (run, entries) in (0..reachable / 16).zip(entries.chunks_exact(16)) {
                if entries.iter().fold(0, |any, &e| any | e) & PR == 0 {
                    continue;
                }
                for (index, &e) in (run * 16..).zip(entries) {
                    self.entry(e, index, level, prefix, perm)?;
                }
            }
        } else {
            for index in 0..reachable {
                if let Some(e) = self.mem.read_u64(table.wrapping_add(index * 8)) {
                    self.entry(e, index, level, prefix, perm)?;
                }
            }
        }
        Ok(())
    }

    /// Entry `index` of a level-`level` table visited by [`Enumerator::table`], holding `e`.
    fn entry(
        &mut self,
        e: u64,
        index: u64,
        level: u8,
        prefix: u64,
        perm: Perm,
    ) -> Result<(), EnumerateError> {
        if !entry::present(e) || entry::reserved_bits(e) != 0 {
            return Ok(());
        }
        let slot_log2 = entry_size_log2(level);
        let slot_iova = prefix | (index << slot_log2);
        let perm = perm.intersect(entry::perm(e));
        match entry::decode(e, level) {
            Err(_) => {}
            Ok(Decoded::Leaf { base, size_log2 }) => {
                if self.leaves.len() >= self.budget {
                    return Err(EnumerateError::TooManyLeaves { budget: self.budget });
                }
                self.leaves.push(Leaf {
                    iova: slot_iova,
                    slot_log2,
                    spa: base | (slot_iova & low_mask(size_log2)),
                    page_size_log2: size_log2,
                    perm,
                    level,
                });
            }
            Ok(Decoded::Table { level: next, table: next_table }) => {
                // Skipped IOVA bits are zero in `slot_iova`, as the walk requires.
                if self.tables_left == 0 {
                    return Err(EnumerateError::TooManyLeaves { budget: self.budget });
                }
                self.tables_left -= 1;
                self.tables.push(TableRef { level: next, spa: next_table });
                self.table(next_table, next, slot_iova, perm)?;
            }
        }
        Ok(())
    }
}
