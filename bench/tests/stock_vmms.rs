//! Firecracker and Cloud Hypervisor with the bare guest, against stand-in
//! binaries (the real ones are not packaged for this machine): shell
//! scripts named `firecracker` and `cloud-hypervisor`, first on PATH, that
//! check the command line and config file vmlab gives them as the real
//! VMMs would read them, then answer as the guest would (the ready line,
//! the exit line). `vmlab compare` must run both end to end; a stand-in
//! that ends without the guest's exit line must be stored as a failure.
//! Needs a usable /dev/kvm (the probes ask for one); fails instead of
//! skipping with `VMLAB_REQUIRE_KVM=1`.
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use vmlab_reports::model::Results;
use vmlab_test_util::{kvm_available, TempDir};

/// What both stand-ins do once their arguments passed: answer as the
/// guest, or (with `STANDIN_NO_EXIT=1`) end as a guest that reset before
/// its exit line. A refused command line exits 64 with the reason.
const ANSWER: &str = r#"
echo '{"vmlab":"ready"}'
if [ "$STANDIN_NO_EXIT" = 1 ]; then exit 0; fi
echo '{"vmlab":"exit","code":0}'
exit 0
"#;

const FIRECRACKER: &str = r#"#!/bin/sh
if [ "$1" = --version ]; then echo "Firecracker v1.0.0 (stand-in)"; exit 0; fi
[ "$1" = --no-api ] && [ "$2" = --config-file ] && [ -f "$3" ] || { echo "bad command line: $*" >&2; exit 64; }
grep -q '"kernel_image_path":"/[^"]*/guest.elf"' "$3" || { echo "no absolute guest.elf in $(cat "$3")" >&2; exit 64; }
grep -q '"vcpu_count":1' "$3" || { echo "no vcpu_count" >&2; exit 64; }
grep -q '"boot_args":"' "$3" || { echo "no boot_args" >&2; exit 64; }
"#;

const CLOUD_HYPERVISOR: &str = r#"#!/bin/sh
if [ "$1" = --version ]; then echo "cloud-hypervisor v40.0 (stand-in)"; exit 0; fi
[ "$1" = --kernel ] && [ -f "$2" ] && [ "${2##*/}" = guest.elf ] || { echo "bad kernel: $*" >&2; exit 64; }
[ "$3" = --cmdline ] || { echo "no --cmdline: $*" >&2; exit 64; }
case "$*" in *"--serial tty"*) ;; *) echo "no serial tty: $*" >&2; exit 64;; esac
"#;

fn stand_in(dir: &Path, name: &str, script: &str) {
    let path = dir.join(name);
    std::fs::write(&path, format!("{script}{ANSWER}")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// `vmlab compare` of both stand-ins; the results.
fn compare(tmp: &TempDir, no_exit: bool) -> Results {
    let bin = tmp.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    stand_in(&bin, "firecracker", FIRECRACKER);
    stand_in(&bin, "cloud-hypervisor", CLOUD_HYPERVISOR);
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = tmp
        .path()
        .join(if no_exit { "report-no-exit" } else { "report" });
    let output = Command::new(env!("CARGO_BIN_EXE_vmlab"))
        .args(["compare", "--quick", "--runs", "2"])
        .args(["--backends", "firecracker-bare,cloud-hypervisor-bare"])
        .arg("--images")
        .arg(tmp.path().join("images"))
        .arg("--out")
        .arg(&out)
        .env("PATH", path)
        .env("STANDIN_NO_EXIT", if no_exit { "1" } else { "0" })
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "vmlab compare failed:\n{stderr}");
    Results::load(&out.join("results.json")).unwrap()
}

#[test]
fn firecracker_and_cloud_hypervisor_boot_the_bare_guest_as_configured() {
    if !kvm_available() {
        return;
    }
    let tmp = TempDir::new("stock-vmms");
    let results = compare(&tmp, false);
    for name in ["firecracker-bare", "cloud-hypervisor-bare"] {
        let b = results.backends.iter().find(|b| b.name == name).unwrap();
        assert!(b.available, "{name}: {:?}", b.skipped_reason);
        assert!(b.version.as_deref().unwrap().contains("stand-in"), "{name}");
        // Every boot got past the stand-in's checks of its command line.
        assert_eq!(b.boot.to_ready_ns.len(), 2, "{name}: {:?}", b.failures);
        assert!(b.failures.is_empty(), "{name}: {:?}", b.failures);
        assert!(
            b.notes.iter().any(|n| n.contains("PVH")),
            "{name}: {:?}",
            b.notes
        );
    }

    // The control: a VM that ends without the guest's exit line is a
    // failure, not a boot that exited 0.
    let results = compare(&tmp, true);
    for name in ["firecracker-bare", "cloud-hypervisor-bare"] {
        let b = results.backends.iter().find(|b| b.name == name).unwrap();
        assert!(b.boot.to_ready_ns.is_empty(), "{name}: {:?}", b.boot);
        assert!(
            b.failures
                .iter()
                .any(|f| f.reason.contains("without the guest's exit code")),
            "{name}: {:?}",
            b.failures
        );
    }
}
