//! The caller protocol of a table that grows only through `notify_dfn`
//! (`../shared/CONCURRENCY.md` 5.5 item 7): a map of a DFN beyond the table's height must be
//! *preceded* by a completed notify covering it, from a call site that keeps the protocol
//! (holds the devices lock) — the same thread earlier, or any thread's notify that returned
//! before the map was invoked. Otherwise the map is a `protocol` outcome naming its call site:
//! Jan Beulich's risk "if I've missed a code path that would also need to invoke the new hook,
//! then this might mean non-working guests", made visible and attributed. The table is not
//! blamed (either order of a racing notify and map is legal), so this is an outcome, like the
//! sequential runner's missed notifications, not a finding.

use super::history::Event;
use super::scenario::ConcScenario;
use super::site::Site;
use crate::scenario::Op;
use crate::step::LockClass;
use crate::table::PtError;
use std::fmt;

/// A map of a fresh DFN not preceded by a covering notify.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProtocolOutcome {
    pub implementation: String,
    /// The thread and its op number.
    pub task: usize,
    pub op: usize,
    pub site: Site,
    /// The last DFN of the map.
    pub dfn: u64,
    /// What the map returned.
    pub result: Result<(), PtError>,
}

impl fmt::Display for ProtocolOutcome {
    /// `protocol: map of 0x40000 at site p2m not preceded by a covering notify (t1 op#0, dynamic)`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "protocol: map of {:#x} at site {} not preceded by a covering notify (t{} op#{}, {})",
            self.dfn, self.site, self.task, self.op, self.implementation
        )
    }
}

/// The fewest levels whose span covers `dfn` (9 DFN bits per level).
fn levels_to_cover(dfn: u64) -> u32 {
    (1..=7).find(|l| 9 * l >= 64 || dfn >> (9 * l) == 0).unwrap_or(7)
}

/// The maps of `events` (a run of `s` on `implementation`, `levels` high when the concurrent
/// phase began, at most `max_levels`) that broke the notify protocol.
pub fn unnotified_maps(
    s: &ConcScenario,
    events: &[Event],
    implementation: &str,
    (levels, max_levels): (u8, u8),
) -> Vec<ProtocolOutcome> {
    let mut covered = u32::from(levels);
    let mut out: Vec<ProtocolOutcome> = Vec::new();
    for event in events {
        match *event {
            Event::Return { task, op, result: Ok(()) } => {
                let top = s.threads[task][op];
                if let Op::Notify { dfn } = top.op {
                    if top.site.held(&top.op).contains(&LockClass::Devices) {
                        covered = covered.max(levels_to_cover(dfn));
                    }
                }
            }
            Event::Return { task, op, result } => {
                if let Some(o) = out.iter_mut().find(|o| (o.task, o.op) == (task, op)) {
                    o.result = result;
                }
            }
            Event::Invoke { task, op, what: Op::Map { dfn, order, count, .. } } => {
                let last = dfn.saturating_add((count << order).saturating_sub(1));
                let needed = levels_to_cover(last);
                if needed > covered && needed <= u32::from(max_levels) {
                    out.push(ProtocolOutcome {
                        implementation: implementation.to_string(),
                        task,
                        op,
                        site: s.threads[task][op].site,
                        dfn: last,
                        result: Ok(()),
                    });
                }
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_cover_nine_bits_each() {
        assert_eq!(levels_to_cover(0), 1);
        assert_eq!(levels_to_cover(0x1ff), 1);
        assert_eq!(levels_to_cover(0x200), 2);
        assert_eq!(levels_to_cover(0x3ffff), 2);
        assert_eq!(levels_to_cover(0x40000), 3);
        assert_eq!(levels_to_cover(u64::MAX), 7);
    }
}
