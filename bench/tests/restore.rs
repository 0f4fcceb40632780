//! `vmlab snapshot` then `vmlab run --restore --json`: the restored run's
//! record carries to_ready, its phases (adding up to it), the exit code and
//! the kernel results like a cold run's. Needs KVM (skipped without it
//! unless `VMLAB_REQUIRE_KVM=1`); unjailed, so root is not needed.
use std::process::Command;

use vmlab_bench::record::RunRecord;
use vmlab_test_util::{kvm_available, TempDir};
use vmlab_workload_host::protocol::Line;

fn vmlab(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_vmlab"))
        .args(args)
        .output()
        .expect("vmlab runs");
    (
        out.status.code().expect("no signal"),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_restored_run_reports_like_a_cold_one() {
    if !kvm_available() {
        return;
    }
    let dir = TempDir::new("bench-restore");
    let snap = dir.path().join("bare.vmlab");
    let snap = snap.to_str().unwrap();
    let workload = ["--", "cpu", "--time", "5ms", "--exit", "7"];
    let mut args = vec![
        "snapshot",
        "--backend",
        "vm-bare",
        "--mem",
        "32",
        "--out",
        snap,
    ];
    args.extend(workload);
    let (code, stdout, stderr) = vmlab(&args);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains(snap) && stdout.contains("MiB"), "{stdout}");

    let (code, stdout, stderr) = vmlab(&[
        "run",
        "--backend",
        "vm-bare",
        "--no-jail",
        "--json",
        "--restore",
        snap,
    ]);
    assert_eq!(code, 7, "{stderr}");
    let warm: RunRecord = serde_json::from_str(&stdout).unwrap();
    let mut args = vec![
        "run",
        "--backend",
        "vm-bare",
        "--no-jail",
        "--json",
        "--mem",
        "32",
    ];
    args.extend(workload);
    let (code, stdout, stderr) = vmlab(&args);
    assert_eq!(code, 7, "{stderr}");
    let cold: RunRecord = serde_json::from_str(&stdout).unwrap();

    assert_eq!(warm.exit_code, cold.exit_code);
    let ready = warm.to_ready_ns.expect("to_ready");
    assert_eq!(warm.phases.last().unwrap().1, ready);
    assert_eq!(warm.phases[0].0, "open");
    assert!(warm.phases.iter().any(|p| p.0 == "first_exit"));
    assert_eq!(warm.facts["start"], "restore");
    assert_eq!(warm.facts["mem_mib"], "32");
    // The same kernels ran, with the same outcome kinds.
    let kernels = |r: &RunRecord| -> Vec<String> {
        r.results
            .iter()
            .map(|l| match l {
                Line::Result(k) => format!("result {:?} {:?}", k.kernel, k.mode),
                other => format!("{other:?}"),
            })
            .collect()
    };
    assert!(!kernels(&cold).is_empty());
    assert_eq!(kernels(&warm), kernels(&cold));
    assert!(warm.counters["restored_resident_bytes"] > 0);
    assert!(warm.counters["restored_resident_bytes"] < 32 << 20);
}

#[test]
fn a_snapshot_is_restored_only_by_the_backend_it_was_taken_of() {
    if !kvm_available() {
        return;
    }
    let dir = TempDir::new("bench-restore-backend");
    let snap = dir.path().join("bare.vmlab");
    let snap = snap.to_str().unwrap();
    let (code, _, stderr) = vmlab(&[
        "snapshot",
        "--backend",
        "vm-bare",
        "--mem",
        "16",
        "--out",
        snap,
        "--",
        "cpu",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let (code, _, stderr) = vmlab(&[
        "run",
        "--backend",
        "vm-linux",
        "--no-jail",
        "--json",
        "--restore",
        snap,
    ]);
    assert_ne!(code, 0);
    assert!(
        stderr.contains("is a snapshot of vm-bare") && stderr.contains("--backend vm-bare"),
        "{stderr}"
    );
}

#[test]
fn snapshot_arguments_that_do_not_fit_the_backend_are_refused() {
    // Refused before anything boots: runs on any host.
    let dir = TempDir::new("bench-snapshot-args");
    let snap = dir.path().join("s.vmlab");
    let snap = snap.to_str().unwrap();
    let (code, _, stderr) = vmlab(&["snapshot", "--backend", "sandbox", "--out", snap]);
    assert_ne!(code, 0);
    assert!(stderr.contains("vm-bare or vm-linux"), "{stderr}");
    let (code, _, stderr) = vmlab(&[
        "snapshot",
        "--backend",
        "vm-bare",
        "--kernel",
        "/k",
        "--out",
        snap,
    ]);
    assert_ne!(code, 0);
    assert!(stderr.contains("--backend vm-linux"), "{stderr}");
    let (code, _, stderr) = vmlab(&[
        "run",
        "--backend",
        "vm-linux",
        "--kernel",
        "/k",
        "--restore",
        snap,
    ]);
    assert_ne!(code, 0);
    assert!(stderr.contains("no --kernel"), "{stderr}");
    assert!(!std::path::Path::new(snap).exists());
}
