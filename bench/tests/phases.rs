//! The boot phases of each of vmlab's backends add up to its `to_ready`:
//! the report's phase breakdown explains the whole boot, nothing hidden
//! between the steps and nothing counted twice. One quick `vmlab compare`
//! of process, sandbox and vm-bare; every run's phases must sum to its
//! to_ready within 0.1 % (the phases are differences of one clock's
//! readings, so only rounding may separate them). Needs root and KVM;
//! skips without them unless `VMLAB_REQUIRE_ROOT=1` / `VMLAB_REQUIRE_KVM=1`.
use std::process::Command;

use vmlab_reports::model::Results;
use vmlab_test_util::{gate, is_root, kvm_available, TempDir, ROOT};

/// Relative tolerance of the sum against to_ready.
const TOLERANCE: f64 = 0.001;

#[test]
fn every_runs_phases_add_up_to_its_to_ready() {
    if !gate(is_root(), ROOT, "not root") || !kvm_available() {
        return;
    }
    let dir = TempDir::new("test-phases");
    let dir = dir.path();
    let output = Command::new(env!("CARGO_BIN_EXE_vmlab"))
        .args(["compare", "--quick", "--runs", "3"])
        .args(["--backends", "process,sandbox,vm-bare"])
        .arg("--images")
        .arg(dir.join("images"))
        .arg("--out")
        .arg(dir.join("report"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "vmlab compare failed:\n{stderr}");
    let results = Results::load(&dir.join("report/results.json")).unwrap();
    for name in ["process", "sandbox", "vm-bare"] {
        let b = results.backends.iter().find(|b| b.name == name).unwrap();
        let boot = &b.boot;
        assert_eq!(boot.to_ready_ns.len(), 3, "{name}: {:?}", b.failures);
        assert!(boot.phases.len() > 2, "{name} has no phase breakdown");
        assert_eq!(boot.phases[0].name, "launch", "{name}");
        for (run, &ready) in boot.to_ready_ns.iter().enumerate() {
            let sum: u64 = boot.phases.iter().map(|p| p.ns[run]).sum();
            let off = (sum as f64 - ready as f64).abs() / ready as f64;
            assert!(
                off <= TOLERANCE,
                "{name} run {run}: phases sum to {sum} ns, to_ready is {ready} ns ({:.2} %): {:?}",
                off * 100.0,
                boot.phases
                    .iter()
                    .map(|p| (&p.name, p.ns[run]))
                    .collect::<Vec<_>>()
            );
        }
    }
}
