//! The sequential runner's expectations for growth inside map (`growth=in-map`) can fire: a
//! table that grows more than a map needs is a `height` finding, one that grows on a map it
//! rejects a `failure-not-clean` one; the correct in-map table passes the same scenarios.

mod common;

use common::mutant::{Misbehaviour, Mutant};
use ptdiff::scenario::text;
use ptdiff::tables::dynamic::{Dynamic, DynamicConfig};
use ptdiff::tables::Growth;
use ptdiff::{run_tables, Check, PageTable, Perm, PtError};

/// How a grower misbehaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mutation {
    /// None: the correct in-map table.
    Correct,
    /// Every map first grows the table to its maximum height.
    OverGrows,
    /// A map grows the table as its DFN needs before checking its arguments.
    GrowsBeforeChecks,
}

const MAX_LEVELS: u8 = 4;

impl Mutation {
    /// An in-map dynamic table misbehaving as `self` says.
    fn boxed(self) -> Box<dyn PageTable> {
        let config = DynamicConfig {
            initial_levels: 2,
            max_levels: MAX_LEVELS,
            domain: 1,
            all_page_sizes: false,
            growth: Growth::InMap,
        };
        Mutant::boxed("grower", Box::new(Dynamic::new(config).unwrap()), self)
    }
}

impl Misbehaviour for Mutation {
    fn map(
        &self,
        inner: &mut dyn PageTable,
        dfn: u64,
        mfn: u64,
        order: u32,
        perm: Perm,
    ) -> Result<(), PtError> {
        match self {
            Mutation::Correct => {}
            Mutation::OverGrows => inner.notify_dfn((1 << (9 * MAX_LEVELS)) - 1)?,
            Mutation::GrowsBeforeChecks => inner.notify_dfn(dfn)?,
        }
        inner.map(dfn, mfn, order, perm)
    }
}

/// Runs `ops` growing in map on the grower and a correct in-map table; the grower's finding's
/// check and evidence.
fn fired(mutation: Mutation, ops: &str) -> Option<(Check, String)> {
    let source = format!("config initial_levels=2 max_levels=4 devices=1 growth=in-map\n{ops}");
    let scenario = text::parse(&source).unwrap();
    let tables = vec![mutation.boxed(), Mutation::Correct.boxed()];
    let finding = run_tables(&scenario, tables).unwrap().finding?;
    assert_eq!(finding.implementation, "grower", "{finding}");
    Some((finding.check, finding.violation.to_string()))
}

const GROWS: &str = "assign 0\nmap 0x10 0x10 0 rw\nmap 0x40000 0x11 0 rw\ntranslate 0 0x40000\n";
const REJECTED: &str = "assign 0\nmap 0x40001 0x200 9 rw\n";

#[test]
fn the_correct_in_map_table_passes() {
    assert_eq!(fired(Mutation::Correct, GROWS), None);
    assert_eq!(fired(Mutation::Correct, REJECTED), None);
}

#[test]
fn a_map_growing_more_than_it_needs_is_a_height_finding() {
    let (check, evidence) = fired(Mutation::OverGrows, GROWS).unwrap();
    assert_eq!(check, Check::Height);
    assert_eq!(
        evidence,
        "  expected: 2 levels (map must not change the height)\n  got:      4 levels"
    );
}

/// Only a map that ran out of memory may keep what it grew.
#[test]
fn a_rejected_map_that_grew_is_not_clean() {
    let (check, evidence) = fired(Mutation::GrowsBeforeChecks, REJECTED).unwrap();
    assert_eq!(check, Check::FailureNotClean);
    assert_eq!(
        evidence,
        "  expected: error `dfn 0x40001 / mfn 0x200 not aligned to order 9` (InvalidArgument) \
         changes nothing\n  got:      1 table frame(s) left allocated (leaked): pfn 0x40001; \
         device 0's DTE changed from 0x6000000040000403 to 0x6000000040001603; root/height \
         changed from Some(1073741824)/2 to Some(1073745920)/3"
    );
}
