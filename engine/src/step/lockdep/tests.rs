//! Each lock rule fires on a crafted run, with the exact violation, and stays quiet when kept.

use super::*;
use crate::conc::site::lock_label;
use crate::scenario::Op;
use crate::step::exec::{run, Outcome, RunToCompletion, TaskFuture};
use crate::step::{Cx, Shared, Top};
use crate::substrate::device_table::dte_spa;
use crate::substrate::iommu::Iommu;
use crate::table::Perm;

const DEVICES: LockSet = LockSet::of(&[LockClass::Devices]);
const DOMAIN: LockSet = LockSet::of(&[LockClass::Domain]);
const BOTH: LockSet = LockSet::of(&[LockClass::Devices, LockClass::Domain]);

/// One scripted access of a crafted operation.
#[derive(Clone, Copy, Debug)]
enum Do {
    Lock(LockClass),
    Unlock(LockClass),
    /// Store `value` into slot 1 of the root table.
    Slot(u64),
    /// Store into qword 0 of device `dev`'s DTE.
    Dte(u16),
    ReadTop,
    WriteTop,
    ReadCell(u8),
    ReadDevices,
}

use Do::*;

fn map_op() -> Op {
    Op::Map { dfn: 0x40000, mfn: 0x11, order: 0, perm: Perm::RW, missed: false, count: 1 }
}

/// Runs `script` as task 0's operation `op` from site `site`, its caller holding `caller`,
/// under `profile`; the first broken rule.
fn judge(
    profile: LockingProfile,
    (op, site): (Op, &'static str),
    caller: &'static [LockClass],
    script: &[Do],
) -> Option<LockViolation> {
    let mut shared = Shared::new(Iommu::new());
    let root = shared.iommu.alloc_table(1).unwrap();
    shared.top = Some(Top { root, levels: 2 });
    let cx = Cx::new(&mut shared, 1, true, 1 << 10);
    cx.check_locks(profile);
    let script = script.to_vec();
    let task: TaskFuture<'_> = Box::pin(async {
        for &class in caller {
            cx.lock(class).await;
        }
        cx.enter_op(0, 0, lock_label(&op), site);
        for step in script {
            match step {
                Lock(class) => cx.lock(class).await,
                Unlock(class) => {
                    let _ = cx.unlock(class).await;
                }
                Slot(value) => cx.write(root + 8, value).await.unwrap(),
                Dte(dev) => cx.write(dte_spa(dev).unwrap(), 3).await.unwrap(),
                ReadTop => {
                    cx.top().await;
                }
                WriteTop => cx.set_top(None).await,
                ReadCell(cell) => {
                    cx.cell(cell).await;
                }
                ReadDevices => {
                    cx.devices().await;
                }
            }
        }
        cx.leave_op(0, LockSet::of(caller));
        for &class in caller.iter().rev() {
            let _ = cx.unlock(class).await;
        }
    });
    assert_eq!(run(&cx, vec![task], &mut RunToCompletion, 1 << 12), Outcome::Done);
    cx.lock_violation()
}

const XEN: LockingProfile = LockingProfile::XEN_NOTIFY;
const LINUX: LockingProfile = LockingProfile::LINUX_IN_MAP;
const NONE: LockingProfile = LockingProfile::UNDECLARED;

fn p2m_map() -> (Op, &'static str) {
    (map_op(), "p2m")
}

#[test]
fn a_table_slot_written_without_the_domain_lock_breaks_the_resource_rule() {
    let v = judge(XEN, p2m_map(), &[], &[Slot(0x1234)]).expect("a slot store without a lock");
    assert_eq!(
        v.rule,
        LockRule::Resource { resource: Resource::TableSlot, write: true, needs: DOMAIN }
    );
    assert_eq!(v.access, Some(Access::Store { spa: 0x4000_0008, value: 0x1234 }));
    assert_eq!(
        (v.task, v.op.index, v.op.op.clone(), v.op.site),
        (0, 0, lock_label(&map_op()), "p2m")
    );
    assert_eq!((v.held, v.profile), (LockSet::EMPTY, "xen-notify"));
    assert_eq!(
        v.to_string(),
        "store of 0x1234 at 0x40000008: a table slot write needs all of {domain}; held {}; \
         t0 op#0 `map 0x40000 0x11 0 rw` (site p2m), profile xen-notify"
    );
    let kept = [Lock(LockClass::Domain), Slot(1), Unlock(LockClass::Domain)];
    assert_eq!(judge(XEN, p2m_map(), &[], &kept), None);
}

#[test]
fn the_seed_device_list_read_under_the_mapping_lock_alone_breaks_the_xen_profile() {
    // Xen 2019: update_paging_mode walked the device list, which needs pcidevs_lock, from a
    // map holding only mapping_lock.
    let grow = [Lock(LockClass::Domain), ReadDevices, Unlock(LockClass::Domain)];
    let v = judge(XEN, p2m_map(), &[], &grow).unwrap();
    assert_eq!(
        v.rule,
        LockRule::Resource { resource: Resource::DeviceList, write: false, needs: DEVICES }
    );
    assert_eq!((v.access, v.held), (Some(Access::ReadDevices), DOMAIN));
    // Linux's profile lets the domain lock cover the list.
    assert_eq!(judge(LINUX, p2m_map(), &[], &grow), None);
}

#[test]
fn a_write_needs_every_lock_and_a_read_one() {
    let v = judge(XEN, p2m_map(), &[], &[Lock(LockClass::Domain), WriteTop]).unwrap();
    assert_eq!(v.rule, LockRule::Resource { resource: Resource::Top, write: true, needs: BOTH });
    let notify = (Op::Notify { dfn: 0x40000 }, "notify-site");
    let both = [Lock(LockClass::Domain), ReadTop, WriteTop, Unlock(LockClass::Domain)];
    assert_eq!(judge(XEN, notify, &[LockClass::Devices], &both), None);
    let v = judge(XEN, p2m_map(), &[], &[ReadTop]).unwrap();
    assert_eq!(v.rule, LockRule::Resource { resource: Resource::Top, write: false, needs: BOTH });
    let assign = (Op::Assign { dev: 1 }, "pci");
    assert_eq!(judge(XEN, assign, &[LockClass::Devices], &[ReadTop, Dte(1)]), None);
}

#[test]
fn a_one_cell_top_may_be_read_lock_free_where_declared_but_never_two_cells() {
    assert_eq!(judge(LINUX, p2m_map(), &[], &[ReadTop]), None);
    let v = judge(LINUX, p2m_map(), &[], &[ReadCell(0), ReadCell(1)]).unwrap();
    assert_eq!(
        v.rule,
        LockRule::Resource { resource: Resource::TopCells, write: false, needs: DOMAIN }
    );
    assert_eq!(v.access, Some(Access::ReadCell { cell: 0 }));
}

#[test]
fn a_dte_write_is_judged_as_a_dte_not_a_table_slot() {
    let assign = (Op::Assign { dev: 1 }, "pci");
    let v = judge(LINUX, assign, &[LockClass::Devices], &[Dte(1)]).unwrap();
    assert_eq!(v.rule, LockRule::Resource { resource: Resource::Dte, write: true, needs: DOMAIN });
    assert_eq!(v.held, DEVICES);
}

#[test]
fn entry_contracts_blame_the_call_site_on_every_call() {
    for op in [Op::Notify { dfn: 0x10 }, Op::Assign { dev: 1 }, Op::Deassign { dev: 1 }] {
        let v = judge(NONE, (op, "rogue"), &[], &[]).unwrap();
        assert_eq!(v.rule, LockRule::Entry { needs: LockClass::Devices });
        assert!(v.rule.blames_caller());
        assert_eq!((v.access, v.op.site, v.held), (None, "rogue", LockSet::EMPTY));
        let word = op.to_string().split_whitespace().next().unwrap().to_string();
        assert_eq!(v.access_text(), format!("entry of {word}"));
        assert_eq!(judge(NONE, (op, "pci"), &[LockClass::Devices], &[]), None);
    }
    assert_eq!(judge(NONE, p2m_map(), &[], &[]), None, "map has no entry contract");
}

#[test]
fn taking_a_lock_against_the_declared_order_is_a_finding_without_a_deadlock() {
    let abba = [
        Lock(LockClass::Domain),
        Lock(LockClass::Devices),
        Unlock(LockClass::Devices),
        Unlock(LockClass::Domain),
    ];
    let v = judge(NONE, p2m_map(), &[], &abba).unwrap();
    assert_eq!(v.rule, LockRule::Order { held: LockClass::Domain, acquired: LockClass::Devices });
    assert!(v.rule.is_order());
    assert_eq!((v.access, v.held), (Some(Access::Lock { class: LockClass::Devices }), DOMAIN));
    let ordered = [
        Lock(LockClass::Devices),
        Lock(LockClass::Domain),
        Lock(LockClass::IommuHw),
        Unlock(LockClass::IommuHw),
        Unlock(LockClass::Domain),
        Unlock(LockClass::Devices),
    ];
    assert_eq!(judge(NONE, p2m_map(), &[], &ordered), None);
}

#[test]
fn releasing_a_lock_not_held_is_a_finding() {
    let v = judge(NONE, p2m_map(), &[], &[Unlock(LockClass::Domain)]).unwrap();
    assert_eq!(v.rule, LockRule::UnlockNotHeld { class: LockClass::Domain });
    assert_eq!(v.access, Some(Access::Unlock { class: LockClass::Domain }));
}

#[test]
fn returning_holding_a_lock_is_a_finding() {
    let v = judge(NONE, p2m_map(), &[], &[Lock(LockClass::Domain)]).unwrap();
    assert_eq!(v.rule, LockRule::ReturnsHolding { held: DOMAIN, caller: LockSet::EMPTY });
    assert_eq!((v.access, v.access_text()), (None, "return of map".to_string()));
    // The caller's own locks are not the operation's to release.
    let notify = (Op::Notify { dfn: 0x10 }, "notify-site");
    assert_eq!(judge(NONE, notify, &[LockClass::Devices], &[]), None);
    let v = judge(NONE, notify, &[LockClass::Devices], &[Unlock(LockClass::Devices)]).unwrap();
    assert_eq!(v.rule, LockRule::ReturnsHolding { held: LockSet::EMPTY, caller: DEVICES });
}

#[test]
fn teardown_is_exclusive_and_walks_are_not_judged() {
    assert_eq!(judge(XEN, (Op::Teardown, "p2m"), &[], &[WriteTop, ReadDevices]), None);
    let mut rules = LockRules::new(XEN, 2);
    rules.access(1, &Access::WriteTop, LockSet::EMPTY);
    assert_eq!(rules.violation(), None);
}

#[test]
fn the_first_broken_rule_is_kept() {
    let v = judge(XEN, p2m_map(), &[], &[ReadTop, Slot(1)]).unwrap();
    assert_eq!(v.access, Some(Access::ReadTop));
}
