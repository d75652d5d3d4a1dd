//! Scenarios: a configuration and a list of operations, the unit every engine runs.
//!
//! A scenario is produced by the fuzz decoder ([`crate::scenario::decode`]) or parsed from the text
//! format ([`crate::scenario::text`]); both go through [`Scenario::validate`], so the runner only sees
//! well-formed scenarios. Operations may still carry bad arguments (misaligned DFNs,
//! unsupported orders...): those are tests of error handling, not malformed scenarios.

pub mod decode;
pub mod encode;
pub mod text;

use ptdiff_reference::Perm;
use thiserror::Error;

/// Most devices a scenario may use (device IDs `0..devices`).
pub const MAX_DEVICES: u8 = 8;
/// Most operations a scenario may hold.
pub const MAX_OPS: usize = 4096;

/// How the domain under test is set up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Config {
    /// Height of the dynamic table at creation, 1..=6.
    pub initial_levels: u8,
    /// Height the dynamic table may grow to, 4..=6 (4 + HATS); also the oracle's hardware
    /// maximum mode.
    pub max_levels: u8,
    /// Devices in the system, 1..=[`MAX_DEVICES`]; none is assigned at the start.
    pub devices: u8,
    /// Whether maps may use orders 9 and 18.
    pub superpages: bool,
    /// Whether maps may skip their notification (`missed`).
    pub missed_notifications: bool,
}

impl Default for Config {
    /// Xen HVM 2019: two levels, growing to four; two devices; superpages; no missed
    /// notifications.
    fn default() -> Self {
        Config {
            initial_levels: 2,
            max_levels: 4,
            devices: 2,
            superpages: true,
            missed_notifications: false,
        }
    }
}

/// One step of a scenario. DFNs and MFNs are frame numbers (address >> 12); `order` is log2 of
/// the number of 4 KiB frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// Map `[dfn, dfn + 2^order)` to `[mfn, ...)`. Unless `missed`, the runner first notifies
    /// the last DFN of the range, as a caller following the notify protocol would.
    Map { dfn: u64, mfn: u64, order: u32, perm: Perm, missed: bool },
    /// Unmap `[dfn, dfn + 2^order)`.
    Unmap { dfn: u64, order: u32 },
    /// Tell the tables `dfn` is about to be mapped.
    Notify { dfn: u64 },
    /// Device `dev` joins the domain.
    Assign { dev: u16 },
    /// Device `dev` leaves the domain.
    Deassign { dev: u16 },
    /// Destroy the domain.
    Teardown,
    /// An explicit probe: the DMA of device `dev` to `dfn` must translate as the model says
    /// (or fault, when the device is not assigned).
    Translate { dev: u16, dfn: u64 },
    /// Device `dev` performs a DMA to `dfn` needing `access`, through the IOMMU's caches
    /// (filling them as hardware would): it must succeed exactly when the model grants it.
    Dma { dev: u16, dfn: u64, access: Perm },
    /// The `nth` (1-based) table allocation of the *next* operation fails. That operation may
    /// then fail with `NoMemory` (and must change nothing) or succeed if it allocates less.
    FailAlloc { nth: u32 },
}

impl Op {
    /// The operation's keyword in the text format.
    pub fn keyword(&self) -> &'static str {
        match self {
            Op::Map { .. } => "map",
            Op::Unmap { .. } => "unmap",
            Op::Notify { .. } => "notify",
            Op::Assign { .. } => "assign",
            Op::Deassign { .. } => "deassign",
            Op::Teardown => "teardown",
            Op::Translate { .. } => "translate",
            Op::Dma { .. } => "dma",
            Op::FailAlloc { .. } => "fail",
        }
    }
}

/// A configuration and the operations to run on it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Scenario {
    pub config: Config,
    pub ops: Vec<Op>,
}

/// Why a scenario is not well-formed.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ScenarioError {
    #[error("initial_levels must be 1..=6, got {0}")]
    InitialLevels(u8),
    #[error("max_levels must be 4..=6, got {0}")]
    MaxLevels(u8),
    #[error("initial_levels {initial} is above max_levels {max}")]
    InitialAboveMax { initial: u8, max: u8 },
    #[error("devices must be 1..={MAX_DEVICES}, got {0}")]
    Devices(u8),
    #[error("op {index}: device {dev} is not below `devices` = {devices}")]
    NoSuchDevice { index: usize, dev: u16, devices: u8 },
    #[error("op {index}: order {order} map, but the config has superpages off")]
    SuperpagesOff { index: usize, order: u32 },
    #[error("op {index}: `missed` map, but the config has missed notifications off")]
    MissedOff { index: usize },
    #[error("op {index}: `fail 0`; allocations are counted from 1")]
    FailZero { index: usize },
    #[error("op {index}: a DMA must read, write or both")]
    DmaNoAccess { index: usize },
    #[error("{0} ops, at most {MAX_OPS} allowed")]
    TooManyOps(usize),
}

impl Config {
    /// Checks the ranges documented on each field.
    pub fn validate(&self) -> Result<(), ScenarioError> {
        if !(1..=6).contains(&self.initial_levels) {
            return Err(ScenarioError::InitialLevels(self.initial_levels));
        }
        if !(4..=6).contains(&self.max_levels) {
            return Err(ScenarioError::MaxLevels(self.max_levels));
        }
        if self.initial_levels > self.max_levels {
            return Err(ScenarioError::InitialAboveMax {
                initial: self.initial_levels,
                max: self.max_levels,
            });
        }
        if !(1..=MAX_DEVICES).contains(&self.devices) {
            return Err(ScenarioError::Devices(self.devices));
        }
        Ok(())
    }
}

impl Scenario {
    /// Checks the config and that every op fits it (device IDs, superpages, missed maps).
    pub fn validate(&self) -> Result<(), ScenarioError> {
        self.config.validate()?;
        if self.ops.len() > MAX_OPS {
            return Err(ScenarioError::TooManyOps(self.ops.len()));
        }
        for (index, op) in self.ops.iter().enumerate() {
            self.validate_op(index, op)?;
        }
        Ok(())
    }

    /// Checks one op against the config; `index` is only used in the error.
    pub fn validate_op(&self, index: usize, op: &Op) -> Result<(), ScenarioError> {
        let devices = self.config.devices;
        match *op {
            Op::Assign { dev }
            | Op::Deassign { dev }
            | Op::Translate { dev, .. }
            | Op::Dma { dev, .. }
                if dev >= u16::from(devices) =>
            {
                Err(ScenarioError::NoSuchDevice { index, dev, devices })
            }
            Op::Map { order, .. } if order != 0 && !self.config.superpages => {
                Err(ScenarioError::SuperpagesOff { index, order })
            }
            Op::Map { missed: true, .. } if !self.config.missed_notifications => {
                Err(ScenarioError::MissedOff { index })
            }
            Op::FailAlloc { nth: 0 } => Err(ScenarioError::FailZero { index }),
            Op::Dma { access, .. } if access.is_empty() => {
                Err(ScenarioError::DmaNoAccess { index })
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config_is_valid() {
        assert_eq!(Scenario::default().validate(), Ok(()));
    }

    #[test]
    fn rejects_bad_configs_and_ops() {
        let mut s = Scenario::default();
        s.config.initial_levels = 5;
        assert_eq!(s.validate(), Err(ScenarioError::InitialAboveMax { initial: 5, max: 4 }));
        s.config.initial_levels = 0;
        assert_eq!(s.validate(), Err(ScenarioError::InitialLevels(0)));
        s.config = Config { max_levels: 7, ..Config::default() };
        assert_eq!(s.validate(), Err(ScenarioError::MaxLevels(7)));
        s.config = Config { devices: 9, ..Config::default() };
        assert_eq!(s.validate(), Err(ScenarioError::Devices(9)));
        s.config = Config { superpages: false, ..Config::default() };
        s.ops = vec![
            Op::Assign { dev: 1 },
            Op::Map { dfn: 0, mfn: 0, order: 9, perm: Perm::RW, missed: false },
        ];
        assert_eq!(s.validate(), Err(ScenarioError::SuperpagesOff { index: 1, order: 9 }));
        s.ops = vec![Op::Translate { dev: 2, dfn: 0 }];
        assert_eq!(s.validate(), Err(ScenarioError::NoSuchDevice { index: 0, dev: 2, devices: 2 }));
        s.ops = vec![Op::Map { dfn: 0, mfn: 0, order: 0, perm: Perm::R, missed: true }];
        assert_eq!(s.validate(), Err(ScenarioError::MissedOff { index: 0 }));
    }
}
