//! The portable flush rule (`flush`): every IOVA whose translation an operation removed,
//! narrowed (fewer permissions) or redirected (another MFN) lies inside a *completed*
//! invalidation the implementation issued during that operation: an INVALIDATE_IOMMU_PAGES of
//! the domain covering it (or of all its pages) followed by a COMPLETION_WAIT. That is what
//! every IOMMU requires of the OS (AMD-Vi, Intel VT-d, Arm SMMU with range invalidation),
//! whatever the IOMMU happened to cache: unlike `stale-iotlb`, which only sees pages a device
//! had cached, this rule holds for every page, cached or not.
//!
//! What changed is computed per implementation from its model: the translations each map,
//! unmap or teardown replaced ([`JournaledModel::replaced`]) against the model after the
//! operation, so the cost is O(what the operation touched). Decisions:
//! - a range that was not mapped needs no flush, whatever the operation wrote there (a map of
//!   unmapped DFNs, an unmap of unmapped DFNs: no translation changed); neither does a
//!   mapping that only gained permissions, or that was replaced by the same one;
//! - growth is not a translation change (it rewrites DTEs: the `stale-dte` check's business),
//!   nor is an operation that failed (the `failure-not-clean` check proves it changed nothing);
//! - teardown removes every translation, so it must invalidate all of them;
//! - the window is the operation, the runner's notification before a map included; the rule
//!   does not order the invalidation after the entry writes (the cache model does, for what
//!   devices cached).
//!
//! [`JournaledModel::replaced`]: super::journaled_model::JournaledModel::replaced

use super::change::{Change, ChangeKind, Issued};
use super::subject::Subject;
use super::violation::Violation;
use super::Ctx;
use crate::substrate::commands::Command;
use ptdiff_reference::{Extent, Model};

/// Every translation `subject`'s last operation removed, narrowed or redirected lies inside a
/// completed invalidation of its domain issued during the operation.
pub fn flush(_: &Ctx<'_>, subject: &Subject) -> Result<(), Violation> {
    let replaced = subject.model.replaced();
    if replaced.is_empty() {
        return Ok(());
    }
    let domain = subject.table.domain_id();
    let commands = subject.table.iommu().commands().since(subject.op_commands);
    let issued = invalidations(commands);
    let covered = completed_ranges(&issued, domain);
    for before in replaced {
        for change in changes(before, &subject.model) {
            if let Some((first, last)) = uncovered(change.first, change.last, &covered) {
                let offset = first - change.first;
                let change = Change {
                    first,
                    last,
                    before: (change.before.0 + offset, change.before.1),
                    after: subject.model.translate(first),
                    ..change
                };
                return Err(Violation::Unflushed { change, domain, issued });
            }
        }
    }
    Ok(())
}

/// The INVALIDATE_IOMMU_PAGES among `commands`, in order, each marked completed when a
/// COMPLETION_WAIT follows it.
pub fn invalidations(commands: &[Command]) -> Vec<Issued> {
    let mut issued = Vec::new();
    let mut waited = 0;
    for command in commands {
        match *command {
            Command::InvalidateIommuPages { domain, dfn, order } => {
                issued.push(Issued { domain, dfn, order, completed: false })
            }
            Command::CompletionWait => {
                for i in &mut issued[waited..] {
                    i.completed = true;
                }
                waited = issued.len();
            }
            Command::InvalidateDevtabEntry { .. } => {}
        }
    }
    issued
}

/// The DFN ranges the completed invalidations of `domain` cover, sorted and merged.
pub fn completed_ranges(issued: &[Issued], domain: u16) -> Vec<(u64, u64)> {
    let mut ranges: Vec<(u64, u64)> =
        issued.iter().filter(|i| i.completed && i.domain == domain).map(Issued::range).collect();
    ranges.sort_unstable();
    let mut merged: Vec<(u64, u64)> = Vec::with_capacity(ranges.len());
    for (first, last) in ranges {
        match merged.last_mut() {
            Some(m) if first <= m.1.saturating_add(1) => m.1 = m.1.max(last),
            _ => merged.push((first, last)),
        }
    }
    merged
}

/// The first run of `first..=last` outside the sorted, merged `covered` ranges, if any.
pub fn uncovered(first: u64, last: u64, covered: &[(u64, u64)]) -> Option<(u64, u64)> {
    let mut at = first;
    for &(a, b) in covered {
        if b < at {
            continue;
        }
        if a > at {
            return Some((at, last.min(a - 1)));
        }
        if b >= last {
            return None;
        }
        at = b + 1;
    }
    Some((at, last))
}

/// The runs of `before` (a translation as it was) that `now` translates otherwise: removed,
/// narrowed or redirected. O(log n + k) for k extents of `now` in the range.
pub fn changes<'a>(before: &'a Extent, now: &'a Model) -> impl Iterator<Item = Change> + 'a {
    let end = before.dfn + before.frames;
    let old = move |dfn: u64| (before.mfn + (dfn - before.dfn), before.perm);
    let mut at = before.dfn;
    let mut extents = now.extents_in(before.dfn, before.frames).peekable();
    std::iter::from_fn(move || {
        while at < end {
            let change = match extents.peek().copied() {
                Some(e) if e.dfn == at => {
                    extents.next();
                    at = e.dfn + e.frames;
                    let after = Some((e.mfn, e.perm));
                    if e.mfn != old(e.dfn).0 {
                        Some((e.dfn, at - 1, ChangeKind::Redirected, after))
                    } else if !e.perm.allows(before.perm) {
                        Some((e.dfn, at - 1, ChangeKind::Narrowed, after))
                    } else {
                        None
                    }
                }
                next => {
                    let gap_end = next.map_or(end, |e| e.dfn);
                    let first = at;
                    at = gap_end;
                    Some((first, gap_end - 1, ChangeKind::Removed, None))
                }
            };
            if let Some((first, last, kind, after)) = change {
                return Some(Change { first, last, kind, before: old(first), after });
            }
        }
        None
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::Perm;

    fn issued(dfn: u64, order: u32, completed: bool) -> Issued {
        Issued { domain: 1, dfn, order, completed }
    }

    #[test]
    fn an_invalidation_completes_at_the_next_wait() {
        let commands = [
            Command::InvalidateIommuPages { domain: 1, dfn: 0x200, order: 9 },
            Command::InvalidateDevtabEntry { dev: 3 },
            Command::CompletionWait,
            Command::InvalidateIommuPages { domain: 2, dfn: 0, order: 52 },
            Command::CompletionWait,
            Command::InvalidateIommuPages { domain: 1, dfn: 0x10, order: 0 },
        ];
        assert_eq!(
            invalidations(&commands),
            vec![
                issued(0x200, 9, true),
                Issued { domain: 2, dfn: 0, order: 52, completed: true },
                issued(0x10, 0, false),
            ]
        );
        assert_eq!(completed_ranges(&invalidations(&commands), 1), vec![(0x200, 0x3ff)]);
        assert_eq!(completed_ranges(&invalidations(&commands), 2), vec![(0, u64::MAX)]);
    }

    #[test]
    fn ranges_merge_and_leave_their_gaps() {
        let covered = completed_ranges(
            &[issued(0x10, 4, true), issued(0x0, 4, true), issued(0x40, 0, true)],
            1,
        );
        assert_eq!(covered, vec![(0, 0x1f), (0x40, 0x40)]);
        assert_eq!(uncovered(0x5, 0x1f, &covered), None);
        assert_eq!(uncovered(0x5, 0x41, &covered), Some((0x20, 0x3f)));
        assert_eq!(uncovered(0x40, 0x42, &covered), Some((0x41, 0x42)));
        assert_eq!(uncovered(0x50, 0x50, &covered), Some((0x50, 0x50)));
        assert_eq!(uncovered(7, 7, &[]), Some((7, 7)));
        assert_eq!(uncovered(0, u64::MAX, &[(0, u64::MAX)]), None);
    }

    #[test]
    fn changes_name_removed_narrowed_and_redirected_runs() {
        let before = Extent { dfn: 0x200, frames: 0x200, mfn: 0x1000, perm: Perm::RW };
        let mut now = Model::new();
        now.map(0x200, 0x1000, 4, Perm::RW); // kept: 0x200..=0x20f
        now.map(0x210, 0x1010, 4, Perm::R); // narrowed: 0x210..=0x21f
        now.map(0x220, 0x9000, 0, Perm::RW); // redirected: 0x220
        now.map(0x300, 0x1100, 8, Perm::RW); // kept; 0x221..=0x2ff removed
        let found: Vec<Change> = changes(&before, &now).collect();
        assert_eq!(
            found,
            vec![
                Change {
                    first: 0x210,
                    last: 0x21f,
                    kind: ChangeKind::Narrowed,
                    before: (0x1010, Perm::RW),
                    after: Some((0x1010, Perm::R)),
                },
                Change {
                    first: 0x220,
                    last: 0x220,
                    kind: ChangeKind::Redirected,
                    before: (0x1020, Perm::RW),
                    after: Some((0x9000, Perm::RW)),
                },
                Change {
                    first: 0x221,
                    last: 0x2ff,
                    kind: ChangeKind::Removed,
                    before: (0x1021, Perm::RW),
                    after: None,
                },
            ]
        );
        let widened = Extent { perm: Perm::R, ..before };
        let mut rw = Model::new();
        rw.map(0x200, 0x1000, 9, Perm::RW);
        assert_eq!(changes(&widened, &rw).count(), 0, "gaining a permission is no change");
        assert_eq!(
            changes(&before, &Model::new()).collect::<Vec<_>>(),
            vec![Change {
                first: 0x200,
                last: 0x3ff,
                kind: ChangeKind::Removed,
                before: (0x1000, Perm::RW),
                after: None
            }]
        );
    }

    #[test]
    fn issued_invalidations_read_as_ranges() {
        assert_eq!(issued(0x200, 9, true).to_string(), "domain 1 dfns 0x200..=0x3ff (completed)");
        assert_eq!(issued(0, 60, false).to_string(), "all pages of domain 1 (never completed)");
    }
}
