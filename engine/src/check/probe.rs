//! Which DFNs the runner probes after an operation: few enough to keep per-op checks cheap,
//! chosen where page-table bugs show: the ends of the operation's range and their neighbours,
//! aliases that differ in exactly one level's index bits, the first DFN beyond each height,
//! and DFNs used recently.

use crate::check::expect::{leaf_level, range_frames, span, DFN_LIMIT};

/// Most DFNs probed after one operation.
pub const MAX_PROBES: usize = 40;

/// Appends to `out` (empty) the probe set for an operation on `[first, last]` with `recent`
/// DFNs: deduplicated, below 2^52, at most [`MAX_PROBES`], in a deterministic order
/// (operation-related first).
pub fn probes(out: &mut Vec<u64>, first: u64, last: u64, recent: &[u64]) {
    // A 256-bit filter of the DFNs pushed: a clear bit proves a DFN new, so `out` is searched
    // only when the bit is set.
    let mut seen = [0u64; 4];
    let mut push = |dfn: u64| {
        let hash = dfn.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 56;
        let (word, bit) = ((hash >> 6) as usize, 1u64 << (hash & 63));
        let repeat = seen[word] & bit != 0 && out.contains(&dfn);
        if dfn < DFN_LIMIT && !repeat && out.len() < MAX_PROBES {
            seen[word] |= bit;
            out.push(dfn);
        }
    };
    for dfn in [first, last, first.wrapping_sub(1), last.wrapping_add(1)] {
        push(dfn);
    }
    for k in 0..6 {
        push(first ^ (1u64 << (9 * k)));
    }
    for levels in 1..=5 {
        push(span(levels));
        push(span(levels) - 1);
    }
    for &dfn in recent.iter().rev() {
        push(dfn);
    }
}

/// The DFNs worth probing inside a range of `count` pages of `order` from `dfn`, besides its
/// ends: the two around the first boundary between tables of its leaf level that it crosses,
/// and, when it failed after `done` pages, the two around where it stopped. Appended to `out`
/// (at most 4), below 2^52.
pub fn range_probes(out: &mut Vec<u64>, dfn: u64, order: u32, count: u64, done: Option<u64>) {
    let frames = |pages| range_frames(order, pages).unwrap_or(u64::MAX);
    let end = dfn.saturating_add(frames(count));
    let table = range_frames(9 * u32::from(leaf_level(order)), 1).unwrap_or(u64::MAX);
    let boundary = (dfn | table.wrapping_sub(1)).checked_add(1).filter(|&b| b < end);
    let stop = done.map(|done| dfn.saturating_add(frames(done))).filter(|&s| s > dfn);
    for at in [boundary, stop].into_iter().flatten() {
        for probe in [at - 1, at] {
            if probe < DFN_LIMIT && !out.contains(&probe) {
                out.push(probe);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_set_for_a_superpage() {
        let mut p = Vec::new();
        probes(&mut p, 0x200, 0x3ff, &[0x7]);
        assert_eq!(&p[..4], &[0x200, 0x3ff, 0x1ff, 0x400]);
        assert_eq!(
            &p[4..10],
            &[0x201, 0x000, 0x40200, 0x8000200, 0x10_0000_0200, 0x2000_0000_0200]
        );
        assert!(p.contains(&(1 << 36)) && p.contains(&((1 << 36) - 1)));
        assert_eq!(p.last(), Some(&0x7));
        assert!(p.len() <= MAX_PROBES);
    }

    #[test]
    fn probes_stay_below_the_iova_limit_and_are_unique() {
        let mut p = Vec::new();
        probes(&mut p, u64::MAX, u64::MAX, &[u64::MAX, 1 << 52, 5, 5]);
        assert!(p.iter().all(|&d| d < 1 << 52));
        let mut sorted = p.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), p.len());
        assert_eq!(p.last(), Some(&5));
    }

    #[test]
    fn range_probes_at_the_crossing_and_the_stop() {
        let mut p = Vec::new();
        range_probes(&mut p, 0x1fe, 0, 4, None);
        assert_eq!(p, vec![0x1ff, 0x200]);
        p.clear();
        range_probes(&mut p, 0x1fe, 0, 4, Some(3));
        assert_eq!(p, vec![0x1ff, 0x200, 0x201]);
        p.clear();
        // Pages of order 3 live in level-1 tables; order 9 in level-2 tables.
        range_probes(&mut p, 0x3f8, 3, 2, None);
        assert_eq!(p, vec![0x3ff, 0x400]);
        p.clear();
        range_probes(&mut p, 0x200, 9, 2, None);
        assert_eq!(p, vec![]);
        range_probes(&mut p, 0x200, 9, 2, Some(0));
        assert_eq!(p, vec![]);
        range_probes(&mut p, (1 << 52) - 1, 0, 2, Some(1));
        assert_eq!(p, vec![(1 << 52) - 1]);
    }
}
