//! compare's in-process vm-bare warm rows: cold, restore and pool measured
//! in one run, each with its samples and phases, on one clock. Needs KVM
//! (skipped without it unless `VMLAB_REQUIRE_KVM=1`).
use vmlab_bench::compare::probe::HostView;
use vmlab_bench::compare::warm::vm_inproc;
use vmlab_reports::model::{StartKind, Timing};
use vmlab_test_util::kvm_available;

#[test]
fn cold_restore_and_pool_rows_come_from_one_run() {
    if !kvm_available() {
        return;
    }
    let rows = vm_inproc::rows(&HostView::gather(), 3);
    let starts: Vec<_> = rows.iter().map(|r| r.start).collect();
    assert_eq!(
        starts,
        [StartKind::Cold, StartKind::Restore, StartKind::Pool]
    );
    for r in &rows {
        assert_eq!(r.backend, vm_inproc::BACKEND);
        assert_eq!(r.timing, Timing::InProcess);
        assert!(r.skipped.is_none() && r.failures.is_empty(), "{r:?}");
        assert_eq!(r.to_ready_ns.len(), 3, "{r:?}");
        let last = r.phases.last().expect("phases");
        assert_eq!(last.0, "guest_to_ready", "{r:?}");
    }
    let first = |i: usize| rows[i].phases[0].0.as_str();
    assert_eq!(
        (first(0), first(1), first(2)),
        ("kvm_open", "open", "handoff")
    );
    assert!(rows[1].snapshot_bytes.is_some_and(|b| b > 0));
}
