//! Restores on a shared `/dev/kvm` and the VM pool, on real KVM (skipped
//! without `/dev/kvm`, required with `VMLAB_REQUIRE_KVM=1`); each test runs
//! its VMs in a child process.
mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use vmlab_test_util::{kvm_available, TempDir};
use vmlab_vmm::snapshot::{self, Error as SnapError, RestoreConfig, VmPool};
use vmlab_vmm::{Error, Host};

const T: Duration = Duration::from_secs(20);
const ARGS: &str = "cpu --time 5ms --exit 7";

fn restore_cfg(path: &Path) -> RestoreConfig {
    RestoreConfig::new(path, T)
}

fn take(dir: &Path, elf: &[u8]) -> PathBuf {
    let path = dir.join("snap.vmlab");
    snapshot::take(bare(elf, ARGS, T), &path).expect("snapshot");
    path
}

fn names(o: &vmlab_vmm::VmOutcome) -> Vec<&'static str> {
    o.phases.iter().map(|p| p.0).collect()
}

/// This process's mappings of `path` (one per mapped guest RAM region).
fn mappings_of(path: &Path) -> usize {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    let name = path.to_str().unwrap();
    maps.lines().filter(|l| l.ends_with(name)).count()
}

#[test]
fn restore_on_a_shared_host_runs_like_a_restore() {
    if !kvm_available() || !in_child("restore_on_a_shared_host_runs_like_a_restore") {
        return;
    }
    let elf = guest_elf();
    let dir = TempDir::new("vmm-restore-on");
    let path = take(dir.path(), &elf);
    let host = Host::open().unwrap();
    let cold = vmlab_vmm::run(bare(&elf, ARGS, T)).unwrap();
    for _ in 0..2 {
        let o = snapshot::restore_on(&host, restore_cfg(&path)).unwrap();
        assert_eq!(o.exit_code, 7);
        assert_eq!(kernels(&o.console), kernels(&cold.console));
        assert_eq!(
            names(&o),
            [
                "open",
                "cpu_check",
                "vm_create",
                "map",
                "load_state",
                "first_exit",
                "guest_to_ready"
            ]
        );
        assert_eq!(o.phases.last().unwrap().1, o.to_ready_ns);
    }
    let e = snapshot::restore_on(
        &host,
        RestoreConfig {
            jail: true,
            ..restore_cfg(&path)
        },
    );
    assert!(
        matches!(e, Err(Error::Snapshot(SnapError::InProcess(m))) if m.contains("jailed")),
        "{e:?}"
    );
}

#[test]
fn pool_handoffs_run_like_a_restore_and_the_pool_refills() {
    if !kvm_available() || !in_child("pool_handoffs_run_like_a_restore_and_the_pool_refills") {
        return;
    }
    let elf = guest_elf();
    let dir = TempDir::new("vmm-pool-run");
    let path = take(dir.path(), &elf);
    let before = std::fs::read(&path).unwrap();
    let host = Host::open().unwrap();
    let cold = vmlab_vmm::run(bare(&elf, ARGS, T)).unwrap();
    let mut pool = VmPool::new(&host, restore_cfg(&path), 2).unwrap();
    assert_eq!(pool.ready(), 2);
    for _ in 0..3 {
        let o = pool.run().unwrap();
        assert_eq!(o.exit_code, 7);
        assert_eq!(kernels(&o.console), kernels(&cold.console));
        assert_eq!(
            names(&o),
            ["handoff", "arm", "first_exit", "guest_to_ready"]
        );
        assert_eq!(o.phases.last().unwrap().1, o.to_ready_ns);
        assert_eq!(pool.ready(), 2, "refilled after the run");
    }
    // Handed off without a refill: the pool runs dry, then prepares one
    // inside the hand-off's clock.
    let a = pool.handoff().unwrap();
    let b = pool.handoff().unwrap();
    assert_eq!(pool.ready(), 0);
    let c = pool.handoff().unwrap();
    for vm in [a, b, c] {
        assert_eq!(vm.run().unwrap().exit_code, 7);
    }
    drop(pool);
    assert!(
        before == std::fs::read(&path).unwrap(),
        "the pool wrote to the snapshot"
    );
}

#[test]
fn a_dropped_pool_leaves_nothing_behind() {
    if !kvm_available() || !in_child("a_dropped_pool_leaves_nothing_behind") {
        return;
    }
    const N: usize = 8;
    let elf = guest_elf();
    let dir = TempDir::new("vmm-pool-drop");
    let path = take(dir.path(), &elf);
    let host = Host::open().unwrap();
    // Warm up: allocator arenas, the timer's signal handler, lazy code.
    VmPool::new(&host, restore_cfg(&path), 1)
        .unwrap()
        .run()
        .unwrap();
    let before = process_usage();
    assert_eq!(mappings_of(&path), 0);
    let mut pool = VmPool::new(&host, restore_cfg(&path), N).unwrap();
    let during = process_usage();
    // Positive control: the counts see the prepared VMs (a VM fd and a
    // vCPU fd each, the snapshot's fd once; one mapping each).
    assert_eq!(during.0, before.0 + 2 * N + 1, "fds with {N} prepared VMs");
    assert_eq!(mappings_of(&path), N);
    assert_eq!(during.1, before.1, "a prepared VM has no thread");
    let handed = pool.handoff().unwrap();
    pool.run().unwrap();
    drop(handed);
    drop(pool);
    let after = process_usage();
    eprintln!("fds, threads, RSS KiB: before {before:?}, during {during:?}, after {after:?}");
    assert_eq!(after.0, before.0, "open fds changed");
    assert_eq!(after.1, before.1, "thread count changed");
    assert_eq!(mappings_of(&path), 0, "guest memory left mapped");
    assert!(
        after.2 <= before.2 + 2048,
        "RSS grew by {} KiB",
        after.2 - before.2
    );
}

#[test]
fn a_pool_refuses_the_jail_a_serial_stream_and_a_bad_snapshot() {
    if !kvm_available() || !in_child("a_pool_refuses_the_jail_a_serial_stream_and_a_bad_snapshot") {
        return;
    }
    let elf = guest_elf();
    let dir = TempDir::new("vmm-pool-refuse");
    let path = take(dir.path(), &elf);
    let host = Host::open().unwrap();
    let jailed = RestoreConfig {
        jail: true,
        ..restore_cfg(&path)
    };
    let e = VmPool::new(&host, jailed, 1).unwrap_err();
    assert!(e.to_string().contains("cannot be jailed"), "{e}");
    let streamed = RestoreConfig {
        serial_stream: Some(Box::new(std::io::sink())),
        ..restore_cfg(&path)
    };
    let e = VmPool::new(&host, streamed, 1).unwrap_err();
    assert!(e.to_string().contains("serial output"), "{e}");
    let bad = dir.path().join("bad.vmlab");
    let mut b = std::fs::read(&path).unwrap();
    b[..8].copy_from_slice(b"NOTASNAP");
    std::fs::write(&bad, &b).unwrap();
    let e = VmPool::new(&host, restore_cfg(&bad), 1).unwrap_err();
    assert!(
        matches!(e, Error::Snapshot(SnapError::NotASnapshot { .. })),
        "{e}"
    );
}

#[test]
fn a_restored_held_guest_waits_until_released() {
    if !kvm_available() || !in_child("a_restored_held_guest_waits_until_released") {
        return;
    }
    let elf = guest_elf();
    let dir = TempDir::new("vmm-restore-held");
    let held = dir.path().join("held.vmlab");
    snapshot::take(bare(&elf, "--hold --exit 7", T), &held).unwrap();
    let host = Host::open().unwrap();
    // Several held at once from the one file, released in reverse order.
    let vms: Vec<_> = (0..3)
        .map(|_| snapshot::restore_held(&host, restore_cfg(&held)).unwrap())
        .collect();
    for vm in &vms {
        assert!(
            vm.to_ready_ns() > 0 && vm.held_ns() >= vm.to_ready_ns(),
            "{vm:?}"
        );
    }
    for vm in vms.into_iter().rev() {
        assert_eq!(vm.release().unwrap().exit_code, 7);
    }
    // A snapshot of a guest without --hold exits instead of holding.
    let plain = take(dir.path(), &elf);
    let e = snapshot::restore_held(&host, restore_cfg(&plain)).unwrap_err();
    assert!(e.to_string().contains("--hold"), "{e}");
}
