//! What a run exercised, to notice a fuzzer that silently tests nothing: the counters, how they
//! add up over a campaign, and their one-line description (`PTDIFF_STATS`).

use std::fmt;
use std::ops::AddAssign;

/// Counters of one run, or (summed with `+=`) of a whole campaign. Every counter is a `u64`,
/// so sums over billions of inputs do not overflow.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunStats {
    pub ops: u64,
    pub maps: u64,
    /// Maps that succeeded on every implementation.
    pub maps_ok: u64,
    /// Order 9 or 18 maps that succeeded on every implementation.
    pub superpage_maps_ok: u64,
    pub unmaps: u64,
    /// Unmaps that removed part of a larger mapping (the model had to split an extent).
    pub partial_unmaps: u64,
    pub notifies: u64,
    pub assigns: u64,
    pub deassigns: u64,
    pub translates: u64,
    pub dmas: u64,
    pub teardowns: u64,
    /// `fail N` operations.
    pub fail_ops: u64,
    /// Calls that ran into an injected allocation failure and returned `NoMemory`.
    pub alloc_failures: u64,
    /// Calls some implementation rejected (any error class).
    pub rejected: u64,
    /// Maps a table rejected because their notification was missed (expected divergence).
    pub missed_notifications: u64,
    /// Times some table's height increased.
    pub growth_events: u64,
    /// Greatest height any table reached.
    pub highest_levels: u8,
    /// Bit `h` is set when some table grew to height `h`.
    pub grown_to: u8,
    /// Hardware walks performed by the checks.
    pub walks: u64,
    /// Maps and unmaps of more than one page that succeeded on every implementation.
    pub ranges_ok: u64,
    /// Ranges some implementation completed that lie in more than one table of their leaf
    /// level.
    pub range_crossings: u64,
    /// Range calls that failed part-way, after completing some of their pages.
    pub partial_ranges: u64,
    /// Bit `o` is set when some implementation mapped pages of order `o`.
    pub orders_mapped: u64,
    /// Maps and unmaps one table rejected because their order is not one of its page sizes
    /// while another completed them (expected divergence).
    pub unsupported_orders: u64,
}

impl AddAssign<&RunStats> for RunStats {
    /// Sums the counters; heights take the maximum and the union.
    fn add_assign(&mut self, run: &RunStats) {
        self.ops += run.ops;
        self.maps += run.maps;
        self.maps_ok += run.maps_ok;
        self.superpage_maps_ok += run.superpage_maps_ok;
        self.unmaps += run.unmaps;
        self.partial_unmaps += run.partial_unmaps;
        self.notifies += run.notifies;
        self.assigns += run.assigns;
        self.deassigns += run.deassigns;
        self.translates += run.translates;
        self.dmas += run.dmas;
        self.teardowns += run.teardowns;
        self.fail_ops += run.fail_ops;
        self.alloc_failures += run.alloc_failures;
        self.rejected += run.rejected;
        self.missed_notifications += run.missed_notifications;
        self.growth_events += run.growth_events;
        self.highest_levels = self.highest_levels.max(run.highest_levels);
        self.grown_to |= run.grown_to;
        self.walks += run.walks;
        self.ranges_ok += run.ranges_ok;
        self.range_crossings += run.range_crossings;
        self.partial_ranges += run.partial_ranges;
        self.orders_mapped |= run.orders_mapped;
        self.unsupported_orders += run.unsupported_orders;
    }
}

impl fmt::Display for RunStats {
    /// One line: every counter, by name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pct = |a: u64, b: u64| if b == 0 { 0.0 } else { 100.0 * a as f64 / b as f64 };
        let heights: Vec<String> =
            (2..=6).filter(|h| self.grown_to & (1 << h) != 0).map(|h| h.to_string()).collect();
        write!(
            f,
            "ops {} = map {} unmap {} notify {} assign {} deassign {} translate {} dma {} fail {} \
             teardown {} | maps ok {:.0}% (superpage {}) | partial unmaps {} | growth events {} \
             (to heights {}, up to {}) | missed notifications {} | injected allocation failures \
             hit {} | rejected {} | walks {} | ranges ok {} (across tables {}, part-way failures \
             {}) | page orders mapped {} | unsupported orders {}",
            self.ops,
            self.maps,
            self.unmaps,
            self.notifies,
            self.assigns,
            self.deassigns,
            self.translates,
            self.dmas,
            self.fail_ops,
            self.teardowns,
            pct(self.maps_ok, self.maps),
            self.superpage_maps_ok,
            self.partial_unmaps,
            self.growth_events,
            heights.join(","),
            self.highest_levels,
            self.missed_notifications,
            self.alloc_failures,
            self.rejected,
            self.walks,
            self.ranges_ok,
            self.range_crossings,
            self.partial_ranges,
            orders(self.orders_mapped),
            self.unsupported_orders,
        )
    }
}

/// The orders of a bit set, as runs: `0-3,9,18`.
fn orders(bits: u64) -> String {
    let mut runs: Vec<String> = Vec::new();
    let mut order = 0;
    while order < 64 {
        if bits >> order & 1 == 0 {
            order += 1;
            continue;
        }
        let first = order;
        while order < 64 && bits >> order & 1 != 0 {
            order += 1;
        }
        runs.push(if order - 1 == first {
            first.to_string()
        } else {
            format!("{first}-{}", order - 1)
        });
    }
    if runs.is_empty() {
        "none".into()
    } else {
        runs.join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_past_u32_max_without_overflow() {
        let run = RunStats {
            ops: 64,
            walks: 3000,
            highest_levels: 4,
            grown_to: 1 << 4,
            ..RunStats::default()
        };
        let mut total = RunStats {
            ops: u64::from(u32::MAX),
            walks: u64::from(u32::MAX),
            ..RunStats::default()
        };
        total += &run;
        total += &RunStats {
            highest_levels: 6,
            grown_to: 1 << 6,
            orders_mapped: 1 << 3,
            partial_ranges: 2,
            ..RunStats::default()
        };
        total += &RunStats { orders_mapped: 1 << 9, partial_ranges: 1, ..RunStats::default() };
        assert_eq!((total.orders_mapped, total.partial_ranges), (1 << 3 | 1 << 9, 3));
        assert_eq!(total.ops, u64::from(u32::MAX) + 64);
        assert_eq!(total.walks, u64::from(u32::MAX) + 3000);
        assert_eq!((total.highest_levels, total.grown_to), (6, (1 << 4) | (1 << 6)));
    }

    #[test]
    fn line_names_every_counter() {
        let t = RunStats {
            ops: 10,
            maps: 4,
            maps_ok: 3,
            growth_events: 2,
            highest_levels: 5,
            grown_to: (1 << 3) | (1 << 5),
            ..RunStats::default()
        };
        let line = t.to_string();
        assert!(line.starts_with("ops 10 = map 4 unmap 0"), "{line}");
        assert!(line.contains("maps ok 75%"), "{line}");
        assert!(line.contains("growth events 2 (to heights 3,5, up to 5)"), "{line}");
        assert!(line.contains("rejected 0 | walks 0 | ranges ok 0"), "{line}");
        assert!(line.ends_with("page orders mapped none | unsupported orders 0"), "{line}");
        let ranges = RunStats { orders_mapped: 0b1111 | 1 << 9 | 1 << 18 | 1 << 63, ..t };
        assert!(ranges.to_string().contains("page orders mapped 0-3,9,18,63 |"));
        assert_eq!(orders(u64::MAX), "0-63");
    }
}
