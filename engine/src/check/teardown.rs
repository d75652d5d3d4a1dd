//! After a successful teardown no table frame of the domain is left (`teardown-leak`).

use super::subject::Subject;
use super::violation::Violation;

/// No live table frame of the domain remains.
pub fn teardown_leak(subject: &Subject) -> Result<(), Violation> {
    let domain = subject.table.domain_id();
    let left: Vec<u64> = subject.table.iommu().frames().live_tables(domain).collect();
    match left.first() {
        Some(&first) => Err(Violation::TeardownLeak { count: left.len(), first }),
        None => Ok(()),
    }
}
