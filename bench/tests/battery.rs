//! `vmlab compare` runs the escape battery in every backend with a Linux
//! user space and records the tally as isolation evidence. The plain
//! process is the positive control (it must reach the host's secret), the
//! sandbox must block everything, bwrap must have a tally. Needs root (the
//! sandbox's default mode) and bwrap: skipped otherwise, unless
//! `VMLAB_REQUIRE_ROOT=1` (CI, which installs bwrap) makes that a failure.
use std::process::Command;

use vmlab_reports::model::{AttackTally, BackendResult, Results};
use vmlab_test_util::{gate, have_root, ROOT};

fn attacks<'r>(r: &'r Results, name: &str) -> Option<&'r AttackTally> {
    backend(r, name).isolation.as_ref()?.attacks.as_ref()
}

fn backend<'r>(r: &'r Results, name: &str) -> &'r BackendResult {
    r.backends.iter().find(|b| b.name == name).unwrap()
}

#[test]
fn compare_tallies_the_battery_with_the_process_as_its_positive_control() {
    if !have_root("compare_tallies_the_battery_with_the_process_as_its_positive_control") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("report");
    let output = Command::new(env!("CARGO_BIN_EXE_vmlab"))
        .args(["compare", "--quick", "--runs", "1"])
        .args(["--backends", "process,sandbox,bwrap"])
        .arg("--images")
        .arg(tmp.path().join("images"))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "vmlab compare failed:\n{stderr}");
    let r = Results::load(&out.join("results.json")).unwrap();

    // The positive control: the plain process reaches the host's secret.
    let p = attacks(&r, "process").unwrap_or_else(|| panic!("no process tally: {stderr}"));
    assert!(p.tried >= 30, "{p:?}");
    assert!(
        p.succeeded.iter().any(|s| s == "read_host_file"),
        "the process must read the host's secret: {p:?}"
    );
    assert_eq!(p.blocked as usize + p.succeeded.len(), p.tried as usize);
    // The sandbox blocks every attempt.
    let s = attacks(&r, "sandbox").unwrap_or_else(|| panic!("no sandbox tally: {stderr}"));
    assert!(s.tried >= 30, "{s:?}");
    assert!(s.succeeded.is_empty(), "the sandbox let through {s:?}");
    assert_eq!(s.blocked, s.tried);
    // bwrap: a tally, and the host's secret is not in it.
    let b = backend(&r, "bwrap");
    let why = format!("bwrap did not run: {:?}", b.skipped_reason);
    if gate(b.available, ROOT, &why) {
        let t = attacks(&r, "bwrap").unwrap_or_else(|| panic!("no bwrap tally: {stderr}"));
        assert!(t.tried >= 30, "{t:?}");
        for host in [
            "read_host_file",
            "dotdot_root",
            "chroot_escape",
            "connect_host_loopback",
        ] {
            assert!(
                !t.succeeded.iter().any(|s| s == host),
                "bwrap: {host}: {t:?}"
            );
        }
    }
    // The claim reads the tallies: the sandbox is harder to get through.
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(
        !html.contains("process has no attack-battery result"),
        "the claims still lack the tally"
    );
    // Nothing left behind: the battery's scratch directories are gone.
    let left: Vec<_> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("vmlab-attack-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}
