//! Lock rules, lockdep and Eraser style (`../shared/CONCURRENCY.md` 5.4): data, not code.
//!
//! An implementation declares a [`LockingProfile`]: for each shared resource (the top, the
//! device list, the DTEs of the domain's devices, the table slots) the set of lock classes
//! that protect it. [`LockRules`], installed in a [`super::Cx`], checks every access a CPU
//! operation makes, on every schedule, whether or not the access is on a rare path:
//!
//! - **resource rule** (`lock-rule`): a write needs *all* of the resource's locks, a read *one*
//!   of them; a read with no lock is allowed only of a top kept in one cell when the profile
//!   says so (an atomic word), never of the spare cells (a top split over two cells);
//! - **entry contract** (`protocol`, blames the call site): `notify_dfn`, `assign` and
//!   `deassign` are called with the devices lock held, checked on every call (Xen's
//!   `update_paging_mode` checked it only when it grew, and only with a debug print);
//! - **lock order** (`lock-order`): acquiring a class while holding one declared after it (the
//!   order is total, `devices -> domain -> iommu`, so every cycle contains such an edge): a
//!   finding even when no deadlock happens;
//! - **hygiene** (`lock-rule`): releasing a lock not held; an operation returning with other
//!   locks held than its caller held when it called.
//!
//! The first broken rule is kept ([`LockRules::violation`]); it is fatal to the run. Teardown is
//! exclusive (the domain is dying and nothing else runs on it) and is not held to the resource
//! rules. Hardware walks are not CPU operations and are not checked.

use super::access::{Access, LockClass, LockSet, TaskId};
use crate::substrate::device_table::{DEVICE_TABLE_ENTRIES, DEVICE_TABLE_SPA};
use std::fmt;

/// A resource shared between operations, as the lock rules see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Resource {
    /// The top cell (root and height in one word).
    Top,
    /// The spare cells: a top split over several words (never read safely without a lock).
    TopCells,
    /// The domain's device list.
    DeviceList,
    /// A device-table entry.
    Dte,
    /// A slot of a page table (and the frames themselves, freed).
    TableSlot,
}

impl Resource {
    /// The resource's name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Resource::Top => "top",
            Resource::TopCells => "two-cell top",
            Resource::DeviceList => "device list",
            Resource::Dte => "DTE",
            Resource::TableSlot => "table slot",
        }
    }

    /// The resource `access` touches and whether it writes it; `None` for accesses no rule
    /// covers (allocation, commands, locks).
    pub fn of(access: &Access) -> Option<(Resource, bool)> {
        let memory = |spa: u64| {
            let dte_end = DEVICE_TABLE_SPA + 32 * u64::from(DEVICE_TABLE_ENTRIES);
            if (DEVICE_TABLE_SPA..dte_end).contains(&spa) {
                Resource::Dte
            } else {
                Resource::TableSlot
            }
        };
        Some(match *access {
            Access::Load { spa } | Access::LoadWide { spa, .. } => (memory(spa), false),
            Access::Store { spa, .. } | Access::Cas { spa, .. } => (memory(spa), true),
            Access::Free { .. } => (Resource::TableSlot, true),
            Access::ReadTop => (Resource::Top, false),
            Access::WriteTop => (Resource::Top, true),
            Access::ReadCell { .. } => (Resource::TopCells, false),
            Access::WriteCell { .. } => (Resource::TopCells, true),
            Access::ReadDevices => (Resource::DeviceList, false),
            Access::WriteDevices => (Resource::DeviceList, true),
            Access::Alloc | Access::Issue { .. } | Access::Lock { .. } | Access::Unlock { .. } => {
                return None
            }
        })
    }
}

/// Which locks protect each shared resource of an implementation, and its caller protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LockingProfile {
    /// The profile's name in reports.
    pub name: &'static str,
    /// Locks protecting the top (and the spare cells).
    pub top: LockSet,
    /// Locks protecting the device list.
    pub device_list: LockSet,
    /// Locks protecting the DTEs.
    pub dte: LockSet,
    /// Locks protecting table slots.
    pub slots: LockSet,
    /// Whether the one-cell top may be read with no lock (one atomic word).
    pub top_read_lock_free: bool,
    /// Whether the table grows only through `notify_dfn`: a map of a DFN beyond the height
    /// must then be preceded by a covering notify (the caller protocol; see the concurrent
    /// runner's `protocol` outcomes).
    pub notify_protocol: bool,
}

impl LockingProfile {
    /// A table that declares nothing: no resource rule (entry contracts, order and hygiene
    /// still hold).
    pub const UNDECLARED: LockingProfile = LockingProfile {
        name: "undeclared",
        top: LockSet::EMPTY,
        device_list: LockSet::EMPTY,
        dte: LockSet::EMPTY,
        slots: LockSet::EMPTY,
        top_read_lock_free: true,
        notify_protocol: false,
    };

    /// Xen 2019 with the `notify_dfn` hook: the top changes only with both the devices lock
    /// (`pcidevs_lock`) and the domain's mapping lock held, so either lets it be read; the
    /// device list and the DTEs belong to the devices lock; table slots to the mapping lock.
    pub const XEN_NOTIFY: LockingProfile = LockingProfile {
        name: "xen-notify",
        top: LockSet::of(&[LockClass::Devices, LockClass::Domain]),
        device_list: LockSet::of(&[LockClass::Devices]),
        dte: LockSet::of(&[LockClass::Devices]),
        slots: LockSet::of(&[LockClass::Domain]),
        top_read_lock_free: false,
        notify_protocol: true,
    };

    /// Xen 2011-2019 before the notify hook: map grows the table itself
    /// (`update_paging_mode` from `amd_iommu_map_page`, holding `mapping_lock`), under Xen's
    /// locks: the same resources as [`LockingProfile::XEN_NOTIFY`], no notify protocol.
    pub const XEN_GROW_IN_MAP: LockingProfile = LockingProfile {
        name: "xen-grow-in-map",
        notify_protocol: false,
        ..LockingProfile::XEN_NOTIFY
    };

    /// Linux 2020 (`increase_address_space` inside map): everything under the domain lock;
    /// the device list also under the devices lock (attach holds both); the top is one atomic
    /// word that lookups read without a lock.
    pub const LINUX_IN_MAP: LockingProfile = LockingProfile {
        name: "linux-in-map",
        top: LockSet::of(&[LockClass::Domain]),
        device_list: LockSet::of(&[LockClass::Devices, LockClass::Domain]),
        dte: LockSet::of(&[LockClass::Domain]),
        slots: LockSet::of(&[LockClass::Domain]),
        top_read_lock_free: true,
        notify_protocol: false,
    };

    /// Xen 4.13 and later (fixed height): the top never changes after creation but is read
    /// by map (mapping lock) and assign (devices lock); devices and DTEs under the devices
    /// lock, slots under the mapping lock: the resources of [`LockingProfile::XEN_NOTIFY`],
    /// no notify protocol.
    pub const XEN_FIXED: LockingProfile =
        LockingProfile { name: "xen-fixed", notify_protocol: false, ..LockingProfile::XEN_NOTIFY };

    /// The locks protecting `resource`.
    pub fn protecting(&self, resource: Resource) -> LockSet {
        match resource {
            Resource::Top | Resource::TopCells => self.top,
            Resource::DeviceList => self.device_list,
            Resource::Dte => self.dte,
            Resource::TableSlot => self.slots,
        }
    }

    /// The rule `access`, made holding `held`, breaks, if any.
    pub fn judge(&self, access: &Access, held: LockSet) -> Option<LockRule> {
        let (resource, write) = Resource::of(access)?;
        let needs = self.protecting(resource);
        if needs.is_empty() {
            return None;
        }
        let ok = if write {
            needs.iter().all(|c| held.contains(c))
        } else {
            needs.iter().any(|c| held.contains(c))
                || (resource == Resource::Top && self.top_read_lock_free)
        };
        (!ok).then_some(LockRule::Resource { resource, write, needs })
    }
}

/// The lock class an operation's caller must hold (`lockdep_assert_held` at entry), if any.
pub fn entry_contract(op: &OpLabel) -> Option<LockClass> {
    op.entry_lock
}

/// A broken lock rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockRule {
    /// `resource` accessed without its locks: a write needs all of `needs`, a read one.
    Resource { resource: Resource, write: bool, needs: LockSet },
    /// The operation was called without `needs` held (blames the call site).
    Entry { needs: LockClass },
    /// `acquired` taken while holding `held`, which the declared order puts after it.
    Order { held: LockClass, acquired: LockClass },
    /// `class` released while not held.
    UnlockNotHeld { class: LockClass },
    /// The operation returned holding `held`; its caller held `caller`.
    ReturnsHolding { held: LockSet, caller: LockSet },
}

impl LockRule {
    /// True for a rule the call site breaks (not the implementation).
    pub fn blames_caller(self) -> bool {
        matches!(self, LockRule::Entry { .. })
    }

    /// True for a lock-order rule.
    pub fn is_order(self) -> bool {
        matches!(self, LockRule::Order { .. })
    }
}

impl fmt::Display for LockRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            LockRule::Resource { resource, write: true, needs } => {
                write!(f, "a {} write needs all of {}", resource.name(), needs)
            }
            LockRule::Resource { resource, write: false, needs } => {
                write!(f, "a {} read needs one of {}", resource.name(), needs)
            }
            LockRule::Entry { needs } => write!(f, "the caller holds {{{}}}", needs.name()),
            LockRule::Order { held, acquired } => write!(
                f,
                "locks are taken in the order devices -> domain -> iommu ({} taken while holding {})",
                acquired.name(),
                held.name()
            ),
            LockRule::UnlockNotHeld { class } => {
                write!(f, "only a held lock is released ({} is not held)", class.name())
            }
            LockRule::ReturnsHolding { held, caller } => write!(
                f,
                "an operation returns holding what its caller held, {caller} (holds {held})"
            ),
        }
    }
}

/// What the lock rules know of an operation: given by the harness that runs it (the step
/// layer does not know the op language).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpLabel {
    /// The operation as reports show it, e.g. `map 0x40000 0x11 0 rw`.
    pub text: String,
    /// The lock its caller must hold on every call (the entry contract), if any.
    pub entry_lock: Option<LockClass>,
    /// Whether it runs alone (teardown): no resource rule applies to its accesses.
    pub alone: bool,
}

impl std::fmt::Display for OpLabel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// The operation a task is in, as the rules report it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpContext {
    /// Its index in the task's program.
    pub index: usize,
    pub op: OpLabel,
    /// The call site's word.
    pub site: &'static str,
}

/// A broken lock rule, with where and how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockViolation {
    pub rule: LockRule,
    /// The access that broke it (`None` for an entry contract or a return).
    pub access: Option<Access>,
    pub task: TaskId,
    pub op: OpContext,
    /// The locks the task held at the access.
    pub held: LockSet,
    /// The profile judged against.
    pub profile: &'static str,
}

impl LockViolation {
    /// The access in words.
    pub fn access_text(&self) -> String {
        match self.access {
            None if self.rule.blames_caller() => format!("entry of {}", op_word(&self.op.op)),
            None => format!("return of {}", op_word(&self.op.op)),
            Some(access) => access_word(&access),
        }
    }
}

impl LockViolation {
    /// Where and how, without the rule: `device-list read holding {domain}; t1 op#0 `map
    /// 0x40000 0x11 0 rw` (site p2m), profile xen-notify`.
    pub fn context(&self) -> String {
        format!(
            "{} holding {}; t{} op#{} `{}` (site {}), profile {}",
            self.access_text(),
            self.held,
            self.task,
            self.op.index,
            self.op.op,
            self.op.site,
            self.profile
        )
    }
}

impl fmt::Display for LockViolation {
    /// `DTE write needs all of {devices}; held {domain}; t1 op#0 map (site p2m), profile xen-notify`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}; held {}; t{} op#{} `{}` (site {}), profile {}",
            self.access_text(),
            self.rule,
            self.held,
            self.task,
            self.op.index,
            self.op.op,
            self.op.site,
            self.profile
        )
    }
}

/// The operation's keyword.
fn op_word(op: &OpLabel) -> String {
    op.text.split_whitespace().next().unwrap_or("op").to_string()
}

/// An access in words.
fn access_word(access: &Access) -> String {
    match *access {
        Access::Load { spa } => format!("load of {spa:#x}"),
        Access::LoadWide { spa, qwords } => format!("load of {qwords} qwords at {spa:#x}"),
        Access::Store { spa, value } => format!("store of {value:#x} at {spa:#x}"),
        Access::Cas { spa, new } => format!("compare-and-swap of {new:#x} at {spa:#x}"),
        Access::Alloc => "table allocation".into(),
        Access::Free { spa } => format!("free of the table at {spa:#x}"),
        Access::Issue { command } => format!("command {command:?}"),
        Access::ReadTop => "top read".into(),
        Access::WriteTop => "top write".into(),
        Access::ReadCell { cell } => format!("read of top cell {cell}"),
        Access::WriteCell { cell } => format!("write of top cell {cell}"),
        Access::ReadDevices => "device-list read".into(),
        Access::WriteDevices => "device-list write".into(),
        Access::Lock { class } => format!("acquiring {}", class.name()),
        Access::Unlock { class } => format!("releasing {}", class.name()),
    }
}

/// The lock checker of one run: the profile, each task's current operation, the first broken
/// rule.
#[derive(Clone, Debug)]
pub struct LockRules {
    profile: LockingProfile,
    ops: Vec<Option<OpContext>>,
    first: Option<LockViolation>,
}

impl LockRules {
    /// Rules of `profile` for a run of `tasks` tasks.
    pub fn new(profile: LockingProfile, tasks: usize) -> LockRules {
        LockRules { profile, ops: vec![None; tasks], first: None }
    }

    /// The profile judged against.
    pub fn profile(&self) -> &LockingProfile {
        &self.profile
    }

    /// The first broken rule.
    pub fn violation(&self) -> Option<&LockViolation> {
        self.first.as_ref()
    }

    fn report(&mut self, task: TaskId, rule: LockRule, access: Option<Access>, held: LockSet) {
        if self.first.is_some() {
            return;
        }
        let Some(Some(op)) = self.ops.get(task).cloned() else { return };
        self.first =
            Some(LockViolation { rule, access, task, op, held, profile: self.profile.name });
    }

    /// `task` starts `op` holding `held` (its caller's locks): the entry contract.
    pub fn enter(&mut self, task: TaskId, op: OpContext, held: LockSet) {
        let broken = entry_contract(&op.op).filter(|&c| !held.contains(c));
        if let Some(slot) = self.ops.get_mut(task) {
            *slot = Some(op);
        }
        if let Some(needs) = broken {
            self.report(task, LockRule::Entry { needs }, None, held);
        }
    }

    /// `task`'s operation returned holding `held`; its caller held `caller`.
    pub fn leave(&mut self, task: TaskId, held: LockSet, caller: LockSet) {
        if held != caller {
            self.report(task, LockRule::ReturnsHolding { held, caller }, None, held);
        }
        if let Some(slot) = self.ops.get_mut(task) {
            *slot = None;
        }
    }

    /// `task` made `access`; `held` is what it holds now (after a lock step, with the lock).
    pub fn access(&mut self, task: TaskId, access: &Access, held: LockSet) {
        let Some(Some(op)) = self.ops.get(task) else { return };
        if let Access::Lock { class } = *access {
            let before = held.without(class);
            if let Some(after) = before.iter().find(|&h| h > class) {
                let rule = LockRule::Order { held: after, acquired: class };
                self.report(task, rule, Some(*access), before);
            }
            return;
        }
        if op.op.alone {
            return;
        }
        if let Some(rule) = self.profile.judge(access, held) {
            self.report(task, rule, Some(*access), held);
        }
    }

    /// `task` released `class` without holding it.
    pub fn unlock_not_held(&mut self, task: TaskId, class: LockClass, held: LockSet) {
        let access = Access::Unlock { class };
        self.report(task, LockRule::UnlockNotHeld { class }, Some(access), held);
    }
}

#[cfg(test)]
mod tests;
