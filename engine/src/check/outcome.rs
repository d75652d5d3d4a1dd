//! Checks of one call's result: its class is the one the specification requires
//! (`outcome`), a failed call changed nothing or, for a range that failed part-way, only what
//! its completed pages needed (`failure-not-clean`), and only a notify changed the height
//! (`height`).

use super::subject::Subject;
use super::violation::{StateChange, Top, Violation};
use crate::substrate::frames::FrameEvent;
use crate::table::{ErrorClass, PagesError, PtError};

/// `got` has the class `expected` requires. With an injected allocation failure armed, an
/// expected success may be `NoMemory` instead. An operation that ran out of steps or deadlocked
/// is reported as such (`step-budget`, `deadlock`), whatever was expected.
pub fn outcome(
    expected: Result<(), ErrorClass>,
    got: Result<(), PtError>,
    failure_armed: bool,
) -> Result<(), Violation> {
    match got {
        Err(PtError::StepBudget { steps }) => return Err(Violation::StepBudget { steps }),
        Err(PtError::Deadlock { lock }) => return Err(Violation::Deadlock { lock }),
        _ => {}
    }
    let agrees = match (&expected, &got) {
        (Ok(()), Err(PtError::NoMemory)) if failure_armed => true,
        (Ok(()), Ok(())) => true,
        (Err(class), Err(e)) => e.class() == *class,
        _ => false,
    };
    if agrees {
        Ok(())
    } else {
        Err(Violation::Outcome { expected, got })
    }
}

/// A call on `pages` pages (1 for all but ranges) that failed with `failure` left the frames,
/// the DTEs and the top as they were (`top_before`), read from the IOMMU's journal since the
/// call started, in O(its changes). A range that failed part-way (`failure.done > 0`) may
/// only have run out of memory before its last page; its completed pages may have allocated
/// and freed table frames (the runner checks, separately, that none leaked), but it too
/// leaves the DTEs and the top alone.
pub fn failure_clean(
    subject: &Subject,
    failure: PagesError,
    pages: u64,
    top_before: Top,
) -> Result<(), Violation> {
    let PagesError { error, done } = failure;
    let part_way = matches!(error.class(), ErrorClass::NoMemory | ErrorClass::Internal);
    if done >= pages.max(1) || (done > 0 && !part_way) {
        return Err(Violation::RangeProgress { error, done, pages });
    }
    let iommu = subject.table.iommu();
    let mut change = StateChange::default();
    let frame_events = if done == 0 { iommu.frames().journal() } else { &[] };
    for event in frame_events {
        match *event {
            FrameEvent::Alloc(pfn) => {
                if !change.freed.contains(&pfn) {
                    change.leaked.push(pfn);
                }
                change.freed.retain(|&p| p != pfn);
            }
            FrameEvent::Free(pfn) => {
                if !change.leaked.contains(&pfn) {
                    change.freed.push(pfn);
                }
                change.leaked.retain(|&p| p != pfn);
            }
        }
    }
    let devtab = iommu.device_table();
    for touched in iommu.dte_journal() {
        let now = devtab.read(iommu.memory(), touched.dev).map(|d| d.0).unwrap_or([0; 4]);
        if now != touched.before {
            change.dtes.push((touched.dev, touched.before[0], now[0]));
        }
    }
    let top_after = (subject.table.root(), subject.table.levels());
    if top_after != top_before {
        change.top = Some((top_before, top_after));
    }
    if change.is_empty() {
        Ok(())
    } else {
        change.leaked.sort_unstable();
        change.freed.sort_unstable();
        Err(Violation::FailureNotClean { error, change: Box::new(change) })
    }
}

/// The height after a call that is not a notify: unchanged, or 0 after a successful teardown.
pub fn height_kept(
    keyword: &'static str,
    teardown_ok: bool,
    before: u8,
    after: u8,
) -> Result<(), Violation> {
    let want = if teardown_ok { 0 } else { before };
    if after == want {
        Ok(())
    } else {
        Err(Violation::HeightChanged { keyword, want, got: after })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::PageTable;

    #[test]
    fn outcome_classes() {
        assert_eq!(outcome(Ok(()), Ok(()), false), Ok(()));
        assert_eq!(outcome(Ok(()), Err(PtError::NoMemory), true), Ok(()));
        assert_eq!(
            outcome(Ok(()), Err(PtError::NoMemory), false),
            Err(Violation::Outcome { expected: Ok(()), got: Err(PtError::NoMemory) })
        );
        assert_eq!(outcome(Err(ErrorClass::TornDown), Err(PtError::TornDown), false), Ok(()));
        assert!(outcome(Err(ErrorClass::OutOfRange), Ok(()), true).is_err());
    }

    #[test]
    fn ranges_fail_part_way_only_for_lack_of_memory_and_before_their_end() {
        let mut table = crate::tables::fixed::Fixed::new(1).unwrap();
        table.iommu_mut().start_journal();
        let subject = Subject::new(Box::new(table));
        let top = (subject.table.root(), 4);
        let fail =
            |error, done, pages| failure_clean(&subject, PagesError { error, done }, pages, top);
        assert_eq!(fail(PtError::NoMemory, 0, 1), Ok(()));
        assert_eq!(fail(PtError::NoMemory, 3, 4), Ok(()));
        assert_eq!(
            fail(PtError::NoMemory, 4, 4),
            Err(Violation::RangeProgress { error: PtError::NoMemory, done: 4, pages: 4 })
        );
        assert_eq!(
            fail(PtError::EmptyRange, 1, 4),
            Err(Violation::RangeProgress { error: PtError::EmptyRange, done: 1, pages: 4 })
        );
        assert_eq!(
            fail(PtError::NoMemory, 1, 1),
            Err(Violation::RangeProgress { error: PtError::NoMemory, done: 1, pages: 1 })
        );
        let moved = (Some(0x1000), 4);
        assert!(matches!(
            failure_clean(&subject, PagesError { error: PtError::NoMemory, done: 2 }, 3, moved),
            Err(Violation::FailureNotClean { .. })
        ));
    }

    #[test]
    fn height_rules() {
        assert_eq!(height_kept("map", false, 3, 3), Ok(()));
        assert_eq!(height_kept("teardown", true, 3, 0), Ok(()));
        assert_eq!(
            height_kept("unmap", false, 2, 3),
            Err(Violation::HeightChanged { keyword: "unmap", want: 2, got: 3 })
        );
    }
}
