//! Snapshot and restore on real KVM (skipped without `/dev/kvm`, required
//! with `VMLAB_REQUIRE_KVM=1`); each test runs its VMs in a child process.
mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use vmlab_test_util::{kvm_available, TempDir};
use vmlab_vmm::snapshot::{self, Error as SnapError, RestoreConfig};
use vmlab_vmm::Error;

const T: Duration = Duration::from_secs(20);
const ARGS: &str = "cpu --time 5ms --exit 7";

fn restore_cfg(path: &Path) -> RestoreConfig {
    RestoreConfig {
        path: path.to_path_buf(),
        mem_mib: None,
        timeout: T,
        serial_stream: None,
        jail: false,
        cgroup_tasks: Vec::new(),
        verify_memory: false,
    }
}

fn take(dir: &Path, elf: &[u8]) -> PathBuf {
    let path = dir.join("snap.vmlab");
    let taken = snapshot::take(bare(elf, ARGS, T), &path).expect("snapshot");
    assert_eq!(taken.path, path);
    assert_eq!(taken.bytes, std::fs::metadata(&path).unwrap().len());
    assert!(taken.data_pages > 0);
    path
}

/// The result lines of a console (`{"vmlab":"result",...}`), without timings.
fn kernels(console: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(console)
        .lines()
        .filter(|l| l.starts_with("{\"vmlab\":"))
        .map(|l| l.split(",\"").next().unwrap_or(l).to_string())
        .collect()
}

#[test]
fn kvm_state_ioctls_round_trip() {
    if !kvm_available() || !in_child("kvm_state_ioctls_round_trip") {
        return;
    }
    let checks = snapshot::check_ioctls().unwrap();
    for c in &checks {
        eprintln!("{:20} {:?}", c.name, c.result);
    }
    let failed: Vec<_> = checks.iter().filter(|c| c.result.is_err()).collect();
    assert!(
        failed.is_empty(),
        "state ioctls that do not round trip: {failed:?}"
    );
    assert_eq!(checks.len(), 16);
}

#[test]
fn restore_continues_after_the_mark_like_a_cold_boot() {
    if !kvm_available() || !in_child("restore_continues_after_the_mark_like_a_cold_boot") {
        return;
    }
    let elf = guest_elf();
    let dir = TempDir::new("vmm-snapshot-round-trip");
    let path = take(dir.path(), &elf);
    let cold = vmlab_vmm::run(bare(&elf, ARGS, T)).unwrap();
    let warm = snapshot::restore(restore_cfg(&path)).unwrap();
    eprintln!("{}", String::from_utf8_lossy(&warm.console));
    assert_eq!(warm.exit_code, 7);
    assert_eq!(warm.exit_code, cold.exit_code);
    assert_eq!(kernels(&warm.console), kernels(&cold.console));
    let names: Vec<_> = warm.phases.iter().map(|p| p.0).collect();
    assert_eq!(
        names,
        [
            "open",
            "kvm_open",
            "vm_create",
            "map",
            "load_state",
            "first_exit",
            "guest_to_ready"
        ]
    );
    assert_eq!(warm.phases.last().unwrap().1, warm.to_ready_ns);
    assert!(warm.phases.windows(2).all(|w| w[0].1 <= w[1].1));
    eprintln!(
        "cold {} ns, restored {} ns: {:?}",
        cold.to_ready_ns, warm.to_ready_ns, warm.phases
    );
}
