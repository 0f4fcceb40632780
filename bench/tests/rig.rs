//! The nested test rigs prove the VMM on hardware-style KVM: L1 under QEMU
//! TCG with emulated AMD SVM (`kvm-amd` inside), or under Bochs with
//! emulated Intel VT-x (`kvm-intel` inside), the VMM booting the Debian
//! cloud kernel (and the bare guest) as L2; the Linux guest is also
//! snapshotted and restored twice from that snapshot, and bad snapshots are
//! refused; the Linux guest also runs the four I/O kernels over virtio-net
//! (a TAP in L1) and virtio-blk.
//!
//! Needs qemu-system-x86_64 (AMD) or Bochs and the boot-disk tools (Intel),
//! a static busybox and the kernel cache (`vmlab images build` fills it).
//! Skips without them, and fails instead when VMLAB_REQUIRE_KVM=1 (CI): the
//! rigs are how CI proves the Linux path on both vendors' KVM.
use std::path::Path;
use std::process::Command;

use vmlab_test_util::{gate, KVM};

/// The rigs are heavy and single-threaded: one at a time.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn rig_available(cpu: &str) -> bool {
    let qemu = || {
        Command::new("qemu-system-x86_64")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    // Where Debian installs the Intel rig's programs.
    let intel = [
        "/usr/bin/bochs-bin",
        "/usr/sbin/mkfs.vfat",
        "/usr/bin/mcopy",
        "/usr/bin/syslinux",
    ];
    let missing = match cpu {
        "amd" => (!qemu()).then_some("qemu-system-x86_64"),
        _ => intel.into_iter().find(|p| !Path::new(p).exists()),
    };
    let why = if let Some(m) = missing {
        format!("{m} is not installed")
    } else if !Path::new("/bin/busybox").exists() {
        "/bin/busybox (busybox-static) is not installed".into()
    } else {
        return true;
    };
    gate(false, KVM, &format!("{why} (the {cpu} rig)"))
}

fn rig(args: &[&str]) -> (serde_json::Value, std::process::Output) {
    let out = Command::new(env!("CARGO_BIN_EXE_vmlab"))
        .arg("rig")
        .arg("--json")
        .args(args)
        .output()
        .expect("vmlab runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{stderr}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "vmlab rig printed no JSON ({e}); exit {}; stderr: {stderr}",
            out.status
        )
    });
    (report, out)
}

/// Runs the rig for `cpu` with the negative checks and checks every verdict.
fn linux_bare_and_negative(cpu: &str, workload: &[&str]) {
    if !rig_available(cpu) {
        return;
    }
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let args: Vec<&str> = ["--cpu", cpu, "--negative", "--"]
        .iter()
        .chain(workload)
        .copied()
        .collect();
    let (report, out) = rig(&args);
    println!("{}", serde_json::to_string_pretty(&report).unwrap());
    let checks = report["checks"].as_array().expect("checks");
    let names: Vec<&str> = checks.iter().filter_map(|c| c["name"].as_str()).collect();
    assert_eq!(
        names,
        [
            "vm-linux",
            "vm-bare",
            "vm-linux-io",
            "vm-linux-snapshot",
            "vm-linux-restore",
            "vm-linux-restore-again",
            "vm-linux-corrupt-initramfs",
            "vm-linux-restore-truncated",
            "vm-linux-restore-corrupt",
        ],
        "the rig runs the Linux, bare, I/O, snapshot, restore and negative checks"
    );
    for c in checks {
        assert_eq!(
            c["passed"], true,
            "check {} failed: {}",
            c["name"], c["reason"]
        );
    }
    let check = |name: &str| checks.iter().find(|c| c["name"] == name).unwrap();
    let linux = &check("vm-linux")["run"];
    assert_eq!(linux["exit_code"], 3);
    assert!(linux["to_ready_ns"].as_u64().unwrap() > 0);
    // The Linux guest's four I/O kernels reported, over both virtio devices.
    let io = &check("vm-linux-io")["run"];
    assert_eq!(io["exit_code"], 0);
    let kernels: Vec<&str> = io["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter_map(|r| r["kernel"].as_str())
        .collect();
    for k in ["net-rr", "net-stream", "blk-rand", "blk-seq"] {
        assert!(kernels.contains(&k), "no {k} result: {kernels:?}");
    }
    for d in ["virtio_net", "virtio_blk"] {
        let done = io["counters"][format!("{d}_completed")].as_u64();
        assert!(done.is_some_and(|n| n > 0), "{d}: {done:?}");
        assert_eq!(io["counters"][format!("{d}_bad_chains")], 0, "{d}");
    }
    // Both restores ran the kernels from the one snapshot and exited with
    // the code it was taken with.
    for name in ["vm-linux-restore", "vm-linux-restore-again"] {
        let run = &check(name)["run"];
        assert_eq!(run["exit_code"], 3, "{name}");
        assert_eq!(run["facts"]["start"], "restore", "{name}");
        assert!(run["to_ready_ns"].as_u64().unwrap() > 0, "{name}");
    }
    // The negative cases failed, and cleanly: an error message, no hang.
    for (name, says) in [
        ("vm-linux-corrupt-initramfs", "kernel panic"),
        ("vm-linux-restore-truncated", "is truncated"),
        ("vm-linux-restore-corrupt", "state checksum does not match"),
    ] {
        let c = check(name);
        assert_ne!(c["exit_code"], 0, "{name}");
        assert!(c["stderr"].as_str().unwrap().contains(says), "{name}");
    }
    assert_eq!(report["cpu"], cpu);
    assert_eq!(
        report["emulated"], true,
        "rig timings are labelled emulated"
    );
    // vmlab inside L1 says "hardware (...)"; the rig must not repeat it.
    for name in [
        "vm-linux",
        "vm-bare",
        "vm-linux-io",
        "vm-linux-restore",
        "vm-linux-restore-again",
    ] {
        let kvm = check(name)["run"]["facts"]["kvm"]
            .as_str()
            .expect("facts.kvm");
        assert!(kvm.starts_with("emulated"), "{kvm}");
    }
    let snapshot_kvm = check("vm-linux-snapshot")["run"]["kvm"].as_str().unwrap();
    assert!(snapshot_kvm.starts_with("emulated"), "{snapshot_kvm}");
    assert!(!report.to_string().contains("hardware ("));
    assert_eq!(report["passed"], true);
    assert!(out.status.success());
}

#[test]
fn linux_and_bare_guests_boot_on_nested_svm_and_broken_boots_fail_cleanly() {
    linux_bare_and_negative("amd", &["cpu", "crossing", "--time", "20ms", "--exit", "3"]);
}

#[test]
fn linux_and_bare_guests_boot_on_nested_vmx_and_broken_boots_fail_cleanly() {
    linux_bare_and_negative("intel", &["cpu", "--exit", "3"]);
}

#[test]
fn bad_workload_arguments_are_refused_before_booting_anything() {
    let out = Command::new(env!("CARGO_BIN_EXE_vmlab"))
        .args(["rig", "--", "no-such-kernel"])
        .output()
        .expect("vmlab runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no-such-kernel"), "{stderr}");
}

#[test]
fn an_unknown_cpu_is_refused() {
    let out = Command::new(env!("CARGO_BIN_EXE_vmlab"))
        .args(["rig", "--cpu", "arm"])
        .output()
        .expect("vmlab runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("intel") && stderr.contains("amd"),
        "{stderr}"
    );
}
