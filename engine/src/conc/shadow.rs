//! Shadow walks (`../shared/CONCURRENCY.md` 5.5, item 2): after every store into a table slot
//! reachable from the domain's top or DTEs, and after every DTE store, the oracle walks the
//! DFNs that slot covers through every device — the hardware walker observed at every moment it
//! could look, at the cost of a few walks per store. Each result goes into the [`History`] as a
//! read for the linearizability oracle.
//!
//! Which slots are reachable is kept as a map from table frame to the DFN ranges it serves
//! (`(first DFN, level)`): built from memory when the run starts, extended when a store links
//! a table (a PDE into a reachable slot). Tables filled before they are linked (a correct split,
//! a growth chain) are not reachable while being filled, so their stores cost nothing.
//! Choosing which DFNs to walk is a harness heuristic; what a walk finds is the oracle's.

use super::history::{Cause, Event, History};
use crate::step::{Access, LockSet, Shared, StepObserver, TaskId};
use crate::substrate::device_table::{DEVICE_TABLE_ENTRIES, DEVICE_TABLE_SPA};
use ptdiff_reference::{walk, Perm, WalkConfig};
use std::collections::BTreeMap;

/// Most DFNs walked (per device) after one store.
const DFNS_PER_STORE: usize = 4;
/// Most tables added to the reachable map by one linking store.
const TABLES_PER_LINK: usize = 64;

const PR: u64 = 1;
const NL_SHIFT: u32 = 9;
const ADDR: u64 = 0x000f_ffff_ffff_f000;

/// DFNs one entry of a level-`level` table covers.
fn entry_span(level: u8) -> u64 {
    1u64.checked_shl(9 * u32::from(level.saturating_sub(1))).unwrap_or(0)
}

/// The shadow-walk observer of one implementation's run.
///
/// Invariant: `reach[pfn]` lists every `(first DFN, level)` at which table frame `pfn` was
/// reachable when added (stale entries only cost extra walks).
pub struct Shadow<'h> {
    history: &'h History,
    walk: WalkConfig,
    /// Devices `0..devices` are walked.
    devices: u16,
    reach: BTreeMap<u64, Vec<(u64, u8)>>,
    /// Walks made.
    pub walks: u64,
}

impl<'h> Shadow<'h> {
    /// An observer for a run over `shared`, starting from its top and its DTEs.
    pub fn new(
        history: &'h History,
        walk: WalkConfig,
        devices: u16,
        shared: &Shared,
    ) -> Shadow<'h> {
        let mut shadow = Shadow { history, walk, devices, reach: BTreeMap::new(), walks: 0 };
        if let Some(top) = shared.top {
            shadow.add_tree(shared, top.root, top.levels, 0);
        }
        let devtab = shared.iommu.device_table();
        for dev in 0..devices {
            if let Ok(dte) = devtab.read(shared.iommu.memory(), dev) {
                if dte.valid() && dte.translation_valid() && (1..=6).contains(&dte.mode()) {
                    shadow.add_tree(shared, dte.root(), dte.mode(), 0);
                }
            }
        }
        shadow
    }

    /// Number of table frames known reachable.
    pub fn reachable_tables(&self) -> usize {
        self.reach.len()
    }

    /// Adds the tree under the level-`level` table at `table` serving DFNs from `first`.
    fn add_tree(&mut self, shared: &Shared, table: u64, level: u8, first: u64) {
        let mut stack = vec![(table, level, first)];
        let mut added = 0;
        while let Some((table, level, first)) = stack.pop() {
            let owners = self.reach.entry(table >> 12).or_default();
            if owners.contains(&(first, level)) || added == TABLES_PER_LINK {
                continue;
            }
            owners.push((first, level));
            added += 1;
            for index in 0..512u64 {
                let Ok(raw) = shared.iommu.read_entry(table + 8 * index) else { break };
                let next = ((raw >> NL_SHIFT) & 7) as u8;
                if raw & PR != 0 && (1..level).contains(&next) {
                    let child_first = first.wrapping_add(index.wrapping_mul(entry_span(level)));
                    stack.push((raw & ADDR, next, child_first));
                }
            }
        }
    }

    fn walk_dfns(
        &mut self,
        shared: &Shared,
        devs: std::ops::Range<u16>,
        dfns: &Dfns,
        cause: Cause,
    ) {
        let devtab = shared.iommu.device_table();
        for &dfn in dfns.as_slice() {
            for dev in devs.clone() {
                self.walks += 1;
                let result =
                    walk(shared.iommu.memory(), &self.walk, &devtab, dev, dfn << 12, Perm::NONE);
                self.history.push(Event::Read { dev, dfn, result, cause });
            }
        }
    }

    /// The DFNs to walk for a change of `[first, last]`: its ends, then in-flight DFNs inside.
    fn dfns(&self, first: u64, last: u64) -> Dfns {
        let mut out = Dfns::default();
        out.push(first);
        if last != first {
            out.push(last);
        }
        self.history.for_each_in_flight(|(a, b)| {
            for d in [a, b] {
                if (first..=last).contains(&d) && !out.as_slice().contains(&d) {
                    out.push(d);
                }
            }
        });
        out.retain_below(1 << 52);
        out
    }
}

/// At most [`DFNS_PER_STORE`] DFNs, in the order pushed (pushes past that are dropped); no
/// allocation, as one is chosen after every store.
#[derive(Clone, Copy, Debug, Default)]
struct Dfns {
    dfns: [u64; DFNS_PER_STORE],
    len: usize,
}

impl Dfns {
    fn push(&mut self, dfn: u64) {
        if self.len < DFNS_PER_STORE {
            self.dfns[self.len] = dfn;
            self.len += 1;
        }
    }

    fn as_slice(&self) -> &[u64] {
        &self.dfns[..self.len]
    }

    fn retain_below(&mut self, limit: u64) {
        let mut kept = Dfns::default();
        for &d in self.as_slice().iter().filter(|&&d| d < limit) {
            kept.push(d);
        }
        *self = kept;
    }
}

impl StepObserver for Shadow<'_> {
    fn after(&mut self, task: TaskId, access: &Access, _: LockSet, shared: &Shared) {
        let spa = match *access {
            Access::Store { spa, .. } | Access::Cas { spa, .. } => spa,
            _ => return,
        };
        let cause = Cause::Shadow { task, access: *access };
        let devtab_end = DEVICE_TABLE_SPA + 32 * u64::from(DEVICE_TABLE_ENTRIES);
        if (DEVICE_TABLE_SPA..devtab_end).contains(&spa) {
            let dev = ((spa - DEVICE_TABLE_SPA) / 32) as u16;
            if dev < self.devices {
                let levels = shared
                    .iommu
                    .device_table()
                    .read(shared.iommu.memory(), dev)
                    .map_or(1, |d| d.mode());
                let last = (1u64 << (9 * u32::from(levels.clamp(1, 6))).min(52)) - 1;
                let dfns = self.dfns(0, last);
                self.walk_dfns(shared, dev..dev + 1, &dfns, cause);
                if let Ok(dte) = shared.iommu.device_table().read(shared.iommu.memory(), dev) {
                    if dte.valid() && dte.translation_valid() && (1..=6).contains(&dte.mode()) {
                        self.add_tree(shared, dte.root(), dte.mode(), 0);
                    }
                }
            }
            return;
        }
        let pfn = spa >> 12;
        let Some(count) = self.reach.get(&pfn).map(Vec::len) else { return };
        let value = shared.iommu.read_entry(spa).unwrap_or(0);
        let index = (spa & 0xfff) / 8;
        // The owners known before this store (linking may add more, walked by their own
        // stores); indexed, as linking may extend this very list.
        for k in 0..count {
            let Some(&(first, level)) = self.reach.get(&pfn).and_then(|o| o.get(k)) else {
                break;
            };
            let span = entry_span(level);
            let slot_first = first.wrapping_add(index.wrapping_mul(span));
            let slot_last = slot_first.wrapping_add(span.wrapping_sub(1));
            let next = ((value >> NL_SHIFT) & 7) as u8;
            if value & PR != 0 && (1..level).contains(&next) {
                self.add_tree(shared, value & ADDR, next, slot_first);
            }
            let dfns = self.dfns(slot_first, slot_last);
            self.walk_dfns(shared, 0..self.devices, &dfns, cause);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::step::exec::poll_once;
    use crate::step::{Cx, DEFAULT_STEP_BUDGET};
    use crate::substrate::device_table::DteSetting;
    use crate::substrate::iommu::Iommu;

    const RW: u64 = 3 << 61;

    /// Device 1 translates through a 2-level table: root -> l1 at index 0, dfn 3 mapped.
    fn shared() -> (Shared, u64, u64, u64) {
        let mut iommu = Iommu::new();
        let root = iommu.alloc_table(1).unwrap();
        let l1 = iommu.alloc_table(1).unwrap();
        let spare = iommu.alloc_table(1).unwrap();
        iommu.write_entry(root, l1 | (1 << NL_SHIFT) | RW | PR).unwrap();
        iommu.write_entry(l1 + 3 * 8, (0x77 << 12) | RW | PR).unwrap();
        iommu.set_dte(1, DteSetting::Translate { domain: 1, root, levels: 2 }).unwrap();
        (Shared::new(iommu), root, l1, spare)
    }

    fn reads(events: &[Event]) -> Vec<(u16, u64, Option<u64>)> {
        events
            .iter()
            .filter_map(|e| match e {
                Event::Read { dev, dfn, result, .. } => {
                    // A blocked DTE "translates" with no permission at all: no access.
                    let granted = result.as_ref().ok().filter(|t| !t.perm.is_empty());
                    Some((*dev, *dfn, granted.map(|t| t.spa >> 12)))
                }
                _ => None,
            })
            .collect()
    }

    #[test]
    fn stores_into_reachable_slots_are_walked_and_links_extend_the_map() {
        let (mut shared, root, l1, spare) = shared();
        let history = History::default();
        let cfg = WalkConfig::default();
        let mut shadow = Shadow::new(&history, cfg, 2, &shared);
        assert_eq!(shadow.reachable_tables(), 2);
        {
            let cx = Cx::new(&mut shared, 1, false, DEFAULT_STEP_BUDGET);
            cx.observe(&mut shadow);
            let mut op = Box::pin(async {
                // A leaf store in l1: dfn 3 through devices 0 (blocked) and 1.
                cx.write(l1 + 3 * 8, (0x99 << 12) | RW | PR).await.unwrap();
                // A store into a table nobody reaches: no walk.
                cx.write(spare + 8, (0x55 << 12) | RW | PR).await.unwrap();
                // Linking `spare` at root index 1 (DFNs 512..=1023): it becomes reachable.
                cx.write(root + 8, spare | (1 << NL_SHIFT) | RW | PR).await.unwrap();
                cx.write(spare + 16, (0x66 << 12) | RW | PR).await.unwrap();
            });
            assert!(poll_once(op.as_mut()).is_ready());
        }
        assert_eq!(shadow.reachable_tables(), 3);
        let walks = shadow.walks;
        assert_eq!(
            reads(&history.into_events()),
            vec![
                (0, 3, None),
                (1, 3, Some(0x99)),
                (0, 512, None),
                (1, 512, None),
                (0, 1023, None),
                (1, 1023, None),
                (0, 514, None),
                (1, 514, Some(0x66)),
            ]
        );
        assert_eq!(walks, 8);
    }
}
