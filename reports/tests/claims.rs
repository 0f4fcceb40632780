//! The claims table's verdicts on the fixture and on altered copies of it.
mod common;

use common::fixture;
use vmlab_reports::claims::{claims, Verdict};
use vmlab_reports::model::KvmKind;

#[test]
fn fixture_verdicts() {
    let c = claims(&fixture());
    assert_eq!(c.len(), 4);
    assert_eq!(c[0].verdict, Verdict::Supported, "{:?}", c[0]);
    assert!(c[0].container.starts_with("bwrap"), "{}", c[0].container);
    assert!(c[0].vm.starts_with("vm-bare (emulated)"), "{}", c[0].vm);
    assert!(c[0].reason.contains("software-nested"));
    assert!(
        c[0].reason
            .contains("Yet vm-bare boots faster than crun, runc"),
        "{}",
        c[0].reason
    );
    assert_eq!(c[1].verdict, Verdict::Contradicted, "{:?}", c[1]);
    assert!(
        c[1].reason.contains("qemu"),
        "larger VMs are named: {}",
        c[1].reason
    );
    assert_eq!(c[2].verdict, Verdict::NotMeasurable);
    assert!(c[2].reason.contains("Not measured"));
    // The crossing kernel's ratios are shown even without a verdict.
    assert!(
        c[2].container.starts_with("bwrap: 1.0"),
        "{}",
        c[2].container
    );
    assert!(c[2].vm.starts_with("vm-bare (emulated): "), "{}", c[2].vm);
    assert_eq!(c[3].verdict, Verdict::Supported, "{:?}", c[3]);
}

#[test]
fn a_faster_vm_contradicts_and_hardware_drops_the_note() {
    let mut r = fixture();
    r.host.kvm = KvmKind::Hardware;
    for b in &mut r.backends {
        b.emulated = false;
        if b.name == "vm-bare" {
            for x in &mut b.boot.to_ready_ns {
                *x /= 10;
            }
        }
    }
    let c = claims(&r);
    assert_eq!(c[0].verdict, Verdict::Contradicted, "{:?}", c[0]);
    assert!(!c[0].reason.contains("software-nested"));
    assert!(!c[0].vm.contains("emulated"));
}

#[test]
fn overlapping_boot_times_are_mixed() {
    let mut r = fixture();
    let bwrap = r
        .backends
        .iter()
        .find(|b| b.name == "bwrap")
        .unwrap()
        .boot
        .clone();
    let vm = r.backends.iter_mut().find(|b| b.name == "vm-bare").unwrap();
    vm.boot = bwrap;
    let c = claims(&r);
    assert_eq!(c[0].verdict, Verdict::Mixed, "{:?}", c[0]);
}

#[test]
fn missing_figures_are_not_measurable() {
    let mut r = fixture();
    r.backends
        .retain(|b| b.kind != vmlab_reports::model::BackendKind::Vm);
    for c in claims(&r) {
        assert_eq!(c.verdict, Verdict::NotMeasurable, "{c:?}");
        assert!(!c.reason.is_empty());
    }
}
