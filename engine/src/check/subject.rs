//! One implementation under test, with the runner's bookkeeping for it: the state every check
//! reads.

use super::device_set::DeviceSet;
use super::dfn_set::DfnSet;
use super::journaled_model::JournaledModel;
use crate::substrate::commands::Command;
use crate::table::{PageTable, Perm};
use ptdiff_reference::{Caches, Invalidation, WalkConfig};

/// An implementation and what the runner knows it must hold.
pub struct Subject {
    pub table: Box<dyn PageTable>,
    /// What must be mapped (this implementation's own model: models differ only after an
    /// expected divergence), with what the current operation replaced.
    pub model: JournaledModel,
    /// Devices assigned, per the successful assign/deassign calls.
    pub assigned: DeviceSet,
    /// A teardown succeeded.
    pub torn_down: bool,
    /// The IOMMU's caches, fed with the implementation's commands.
    pub caches: Caches,
    /// Commands of the implementation's log already fed to `caches`.
    pub commands_seen: usize,
    /// Length of the implementation's command log when the current operation began.
    pub op_commands: usize,
    /// [`Caches::fills`] when the per-operation checks last passed: the IOTLB entries cached
    /// since are new to `stale-iotlb`.
    pub pages_checked: u64,
    /// The state the DFNs of `verified` were checked in.
    verified_key: Option<StateKey>,
    /// Probe DFNs that passed the per-op checks in the state `verified_key`.
    verified: DfnSet,
}

/// Everything the per-op probe checks read, as counts and values: equal keys mean an equal
/// memory (its generation), model (its generation), device set, top and teardown state, so a
/// probe that passed in one passes in the other. (An implementation's lookup is assumed to be a
/// function of its memory and top, as the contract requires: state kept elsewhere is invisible
/// to hardware.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StateKey {
    memory: u64,
    model: u64,
    assigned: DeviceSet,
    top: (Option<u64>, u8),
    torn_down: bool,
}

impl Subject {
    /// A freshly created table, nothing mapped or assigned.
    pub fn new(table: Box<dyn PageTable>) -> Subject {
        Subject {
            commands_seen: table.iommu().commands().len(),
            op_commands: table.iommu().commands().len(),
            pages_checked: 0,
            table,
            model: JournaledModel::new(),
            assigned: DeviceSet::EMPTY,
            torn_down: false,
            caches: Caches::new(),
            verified_key: None,
            verified: DfnSet::new(),
        }
    }

    /// The state the probe checks read.
    pub fn state_key(&self) -> StateKey {
        StateKey {
            memory: self.table.iommu().memory().generation(),
            model: self.model.generation(),
            assigned: self.assigned,
            top: (self.table.root(), self.table.levels()),
            torn_down: self.torn_down,
        }
    }

    /// When the state did not change since probes were last verified, puts into `fresh` the
    /// probes not verified yet and returns true; otherwise forgets what was verified and
    /// returns false (every probe must be checked).
    pub fn select_unverified(&mut self, probes: &[u64], fresh: &mut Vec<u64>) -> bool {
        let key = self.state_key();
        if self.verified_key != Some(key) {
            self.verified_key = Some(key);
            self.verified.clear();
            return false;
        }
        fresh.clear();
        fresh.extend(probes.iter().filter(|&&d| !self.verified.contains(d)));
        true
    }

    /// Records that `probes` passed the per-op checks in the current state.
    /// At most [`DfnSet::CAPACITY`] are remembered (forgetting only costs walks again).
    pub fn mark_verified(&mut self, probes: &[u64]) {
        if self.verified.len() + probes.len() > DfnSet::CAPACITY {
            self.verified.clear();
        }
        for &dfn in probes {
            self.verified.insert(dfn);
        }
    }

    /// The implementation's name.
    pub fn name(&self) -> &str {
        self.table.name()
    }

    /// Marks the start of an operation: what it replaces in the model and the commands it
    /// issues are recorded from here.
    pub fn begin_op(&mut self) {
        self.model.start_journal();
        self.op_commands = self.table.iommu().commands().len();
    }

    /// Marks the IOTLB entries cached so far as checked (after the per-operation checks).
    pub fn caches_checked(&mut self) {
        self.pages_checked = self.caches.fills();
    }

    /// Feeds the commands the implementation issued since the last call to its caches.
    pub fn sync_caches(&mut self) {
        let log = self.table.iommu().commands();
        for command in log.since(self.commands_seen) {
            self.caches.command(invalidation(command));
        }
        self.commands_seen = log.len();
    }

    /// Device traffic: every assigned device reads `dfns` through the IOMMU and its caches,
    /// filling them as real DMA would (the results are not checked here).
    pub fn device_traffic(&mut self, walk: &WalkConfig, dfns: &[u64]) -> u64 {
        let mut walks = 0;
        let iommu = self.table.iommu();
        let devtab = iommu.device_table();
        for &dfn in dfns {
            for dev in self.assigned.iter() {
                walks += 1;
                let _ = self.caches.dma(iommu.memory(), walk, &devtab, dev, dfn << 12, Perm::NONE);
            }
        }
        walks
    }
}

/// The cache command for an implementation's command.
fn invalidation(command: &Command) -> Invalidation {
    match *command {
        Command::InvalidateDevtabEntry { dev } => Invalidation::DevtabEntry { dev },
        Command::InvalidateIommuPages { domain, dfn, order } => Invalidation::IommuPages {
            domain,
            iova: dfn.wrapping_shl(12),
            size_log2: order.saturating_add(12),
        },
        Command::CompletionWait => Invalidation::CompletionWait,
    }
}
