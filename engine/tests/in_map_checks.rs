//! The sequential runner's expectations for growth inside map (`growth=in-map`) can fire: a
//! table that grows more than a map needs is a `height` finding, one that grows on a map it
//! rejects a `failure-not-clean` one; the correct in-map table passes the same scenarios.

use ptdiff::scenario::text;
use ptdiff::step::Sequential;
use ptdiff::tables::dynamic::{Dynamic, DynamicConfig};
use ptdiff::tables::Growth;
use ptdiff::{run_tables, Check, Iommu, PageTable, Perm, PtError};

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

struct Grower {
    inner: Sequential<Dynamic>,
    mutation: Mutation,
}

const MAX_LEVELS: u8 = 4;

impl Grower {
    fn boxed(mutation: Mutation) -> Box<dyn PageTable> {
        let config = DynamicConfig {
            initial_levels: 2,
            max_levels: MAX_LEVELS,
            domain: 1,
            all_page_sizes: false,
            growth: Growth::InMap,
        };
        Box::new(Grower { inner: Dynamic::new(config).unwrap(), mutation })
    }
}

impl PageTable for Grower {
    fn name(&self) -> &str {
        "grower"
    }
    fn iommu(&self) -> &Iommu {
        self.inner.iommu()
    }
    fn iommu_mut(&mut self) -> &mut Iommu {
        self.inner.iommu_mut()
    }
    fn domain_id(&self) -> u16 {
        self.inner.domain_id()
    }
    fn levels(&self) -> u8 {
        self.inner.levels()
    }
    fn max_levels(&self) -> u8 {
        self.inner.max_levels()
    }
    fn root(&self) -> Option<u64> {
        self.inner.root()
    }
    fn map(&mut self, dfn: u64, mfn: u64, order: u32, perm: Perm) -> Result<(), PtError> {
        match self.mutation {
            Mutation::Correct => {}
            Mutation::OverGrows => self.inner.notify_dfn((1 << (9 * MAX_LEVELS)) - 1)?,
            Mutation::GrowsBeforeChecks => self.inner.notify_dfn(dfn)?,
        }
        self.inner.map(dfn, mfn, order, perm)
    }
    fn unmap(&mut self, dfn: u64, order: u32) -> Result<(), PtError> {
        self.inner.unmap(dfn, order)
    }
    fn notify_dfn(&mut self, dfn: u64) -> Result<(), PtError> {
        self.inner.notify_dfn(dfn)
    }
    fn lookup(&self, dfn: u64) -> Option<(u64, Perm)> {
        self.inner.lookup(dfn)
    }
    fn assign(&mut self, dev: u16) -> Result<(), PtError> {
        self.inner.assign(dev)
    }
    fn deassign(&mut self, dev: u16) -> Result<(), PtError> {
        self.inner.deassign(dev)
    }
    fn teardown(&mut self) -> Result<(), PtError> {
        self.inner.teardown()
    }
}

/// Runs `ops` growing in map on the grower and a correct in-map table; the grower's finding's
/// check and evidence.
fn fired(mutation: Mutation, ops: &str) -> Option<(Check, String)> {
    let source = format!("config initial_levels=2 max_levels=4 devices=1 growth=in-map\n{ops}");
    let scenario = text::parse(&source).unwrap();
    let tables = vec![Grower::boxed(mutation), Grower::boxed(Mutation::Correct)];
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
