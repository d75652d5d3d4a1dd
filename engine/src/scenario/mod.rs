//! Scenarios: a configuration and a list of operations, the unit every engine runs.
//!
//! A scenario is produced by the fuzz decoder ([`crate::scenario::decode`]) or parsed from the text
//! format ([`crate::scenario::text`]); both go through [`Scenario::validate`], so the runner only sees
//! well-formed scenarios. Operations may still carry bad arguments (misaligned DFNs,
//! unsupported orders...): those are tests of error handling, not malformed scenarios.
//!
//! Each kind of [`Op`] is declared once, as a row of the append-only op table
//! ([`op_table::OPS`]: keyword, decoder codes, operands); the config keys likewise
//! ([`config::CONFIG_KEYS`]). Text, decoder, encoder and validation read those tables.

pub mod config;
pub mod decode;
pub mod encode;
pub mod op_table;
pub mod repeat;
pub mod text;

pub use config::Config;
use ptdiff_reference::Perm;
use thiserror::Error;

/// Most devices a scenario may use (device IDs `0..devices`).
pub const MAX_DEVICES: u8 = 8;
/// Most operations a scenario may hold.
pub const MAX_OPS: usize = 4096;
/// Most operations a scenario may run, each repetition of a `repeat` counted
/// ([`repeat::run_length`]).
pub const MAX_RUN_OPS: u64 = 1 << 16;
/// Most table entries a scenario's operations may write, repetitions counted
/// ([`repeat::run_entries`]): keeps the tables, and so the final sweep, bounded.
pub const MAX_RUN_ENTRIES: u64 = 1 << 18;

/// One step of a scenario. DFNs and MFNs are frame numbers (address >> 12); `order` is log2 of
/// the number of 4 KiB frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// Map the range of `count` pages of `2^order` frames from `dfn` to `mfn` onwards:
    /// `[dfn, dfn + count·2^order)` to `[mfn, ...)`. Unless `missed`, the runner first
    /// notifies the last DFN of the range, as a caller following the notify protocol would.
    Map { dfn: u64, mfn: u64, order: u32, perm: Perm, missed: bool, count: u64 },
    /// Unmap the range of `count` pages of `2^order` frames from `dfn`:
    /// `[dfn, dfn + count·2^order)`.
    Unmap { dfn: u64, order: u32, count: u64 },
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
    /// Runs the previous operation that is not a `repeat` `count` more times, each time moved
    /// on by `2^order` frames (see [`repeat`]): `map 0x200 0x1000 0 rw` then `repeat 511`
    /// fills a whole level-1 table. Nothing happens when no operation precedes it.
    Repeat { count: u32 },
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
    #[error("table_seed={0} needs tables=spread")]
    TableSeed(u64),
    /// Op `index` (0-based; messages count from 1, like lines) does not fit the config.
    #[error("op {}: {problem}", .index + 1)]
    Op { index: usize, problem: InvalidOp },
    #[error("{0} ops, at most {MAX_OPS} allowed")]
    TooManyOps(usize),
    #[error("the ops run {0} times with their repetitions, at most {MAX_RUN_OPS} allowed")]
    TooManyRunOps(u64),
    #[error("the ops may write {0} table entries with their ranges and repetitions, at most {MAX_RUN_ENTRIES} allowed")]
    TooManyRunEntries(u64),
}

/// Why one op does not fit its scenario's config.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum InvalidOp {
    #[error("device {dev} is not below `devices` = {devices}")]
    NoSuchDevice { dev: u16, devices: u8 },
    /// A gated operand (see [`op_table::Gate`]) holds a value other than its default.
    #[error("{operand} needs `{key}=on` in the config")]
    SwitchOff { operand: String, key: &'static str },
    #[error("allocations are counted from 1, found 0")]
    NthZero,
    #[error("a range holds at least one page, found 0")]
    CountZero,
    #[error("an access must read, write or both")]
    NoAccess,
    #[error("a repeat count is at least 1, found 0")]
    RepeatsZero,
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
        let run = repeat::run_length(&self.ops);
        if run > MAX_RUN_OPS {
            return Err(ScenarioError::TooManyRunOps(run));
        }
        let entries = repeat::run_entries(&self.ops);
        if entries > MAX_RUN_ENTRIES {
            return Err(ScenarioError::TooManyRunEntries(entries));
        }
        Ok(())
    }

    /// Checks one op against the config (as its row of [`op_table::OPS`] says); `index` is
    /// only used in the error.
    pub fn validate_op(&self, index: usize, op: &Op) -> Result<(), ScenarioError> {
        let (spec, values) = op.operands();
        spec.check(&values, &self.config)
            .map_err(|(_, problem)| ScenarioError::Op { index, problem })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_scenario_is_valid() {
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
            Op::Map { dfn: 0, mfn: 0, order: 9, perm: Perm::RW, missed: false, count: 1 },
        ];
        let e = s.validate().unwrap_err();
        assert_eq!(e.to_string(), "op 2: order 9 needs `superpages=on` in the config");
        assert_eq!(
            e,
            ScenarioError::Op {
                index: 1,
                problem: InvalidOp::SwitchOff { operand: "order 9".into(), key: "superpages" }
            }
        );
        s.ops = vec![Op::Translate { dev: 2, dfn: 0 }];
        assert_eq!(
            s.validate().map_err(|e| e.to_string()),
            Err("op 1: device 2 is not below `devices` = 2".into())
        );
        s.ops = vec![Op::Map { dfn: 0, mfn: 0, order: 0, perm: Perm::R, missed: true, count: 1 }];
        assert_eq!(
            s.validate().map_err(|e| e.to_string()),
            Err("op 1: `missed` needs `missed_notifications=on` in the config".into())
        );
        s.ops = vec![Op::Teardown; MAX_OPS + 1];
        assert_eq!(s.validate(), Err(ScenarioError::TooManyOps(MAX_OPS + 1)));
        s.ops = vec![Op::Teardown, Op::Repeat { count: 1 << 15 }, Op::Repeat { count: 1 << 15 }];
        assert_eq!(s.validate(), Err(ScenarioError::TooManyRunOps((1 << 16) + 1)));
        s.ops.pop();
        assert_eq!(s.validate(), Ok(()));
    }
}
