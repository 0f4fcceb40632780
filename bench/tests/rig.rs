//! The nested test rig proves the Linux-guest path on hardware-style KVM:
//! L1 under QEMU TCG with emulated AMD SVM, `kvm-amd` loaded inside, the VMM
//! booting the Debian cloud kernel (and the bare guest) as L2.
//!
//! Needs qemu-system-x86_64, a static busybox and the kernel cache (`vmlab
//! images build` fills it). Skips without them, and fails instead when
//! VMLAB_REQUIRE_KVM=1 (CI): the rig is how CI proves the Linux path.
use std::path::Path;
use std::process::Command;

fn rig_available() -> bool {
    let qemu = Command::new("qemu-system-x86_64")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let why = if !qemu {
        "qemu-system-x86_64 is not installed"
    } else if !Path::new("/bin/busybox").exists() {
        "/bin/busybox (busybox-static) is not installed"
    } else {
        return true;
    };
    assert!(
        std::env::var("VMLAB_REQUIRE_KVM").as_deref() != Ok("1"),
        "VMLAB_REQUIRE_KVM=1 but {why}"
    );
    eprintln!("skipping the rig: {why}");
    false
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

#[test]
fn linux_and_bare_guests_boot_on_nested_svm_and_broken_boots_fail_cleanly() {
    if !rig_available() {
        return;
    }
    let (report, out) = rig(&[
        "--negative",
        "--",
        "cpu",
        "crossing",
        "--time",
        "20ms",
        "--exit",
        "3",
    ]);
    println!("{}", serde_json::to_string_pretty(&report).unwrap());
    let checks = report["checks"].as_array().expect("checks");
    let names: Vec<&str> = checks.iter().filter_map(|c| c["name"].as_str()).collect();
    assert_eq!(
        names,
        ["vm-linux", "vm-bare", "vm-linux-corrupt-initramfs"],
        "the rig runs the Linux, bare and negative checks"
    );
    for c in checks {
        assert_eq!(
            c["passed"], true,
            "check {} failed: {}",
            c["name"], c["reason"]
        );
    }
    let linux = &checks[0]["run"];
    assert_eq!(linux["exit_code"], 3);
    assert!(linux["to_ready_ns"].as_u64().unwrap() > 0);
    assert_eq!(
        report["emulated"], true,
        "rig timings are labelled emulated"
    );
    assert_eq!(report["passed"], true);
    assert!(out.status.success());
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
