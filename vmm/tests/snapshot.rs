//! Snapshot and restore on real KVM (skipped without `/dev/kvm`, required
//! with `VMLAB_REQUIRE_KVM=1`); each test runs its VMs in a child process.
mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use vmlab_test_util::{gate, is_root, kvm_available, TempDir, ROOT};
use vmlab_vmm::snapshot::{self, format::VERSION, Error as SnapError, RestoreConfig};
use vmlab_vmm::Error;

const T: Duration = Duration::from_secs(20);
const ARGS: &str = "cpu --time 5ms --exit 7";

fn restore_cfg(path: &Path) -> RestoreConfig {
    RestoreConfig::new(path, T)
}

fn take(dir: &Path, elf: &[u8]) -> PathBuf {
    let path = dir.join("snap.vmlab");
    let taken = snapshot::take(bare(elf, ARGS, T), &path).expect("snapshot");
    assert_eq!(taken.path, path);
    assert_eq!(taken.bytes, std::fs::metadata(&path).unwrap().len());
    assert!(taken.data_pages > 0);
    path
}

/// The snapshot error of a failed restore.
fn refusal(path: &Path) -> SnapError {
    match snapshot::restore(restore_cfg(path)) {
        Err(Error::Snapshot(e)) => e,
        other => panic!("expected a snapshot error, got {other:?}"),
    }
}

/// Rewrites the snapshot at `from` into `to` through `edit`, then (with
/// `fix`) recomputes the state's and the header's CRC-32 so that only the
/// edit is wrong.
fn edited(from: &Path, to: &Path, fix: bool, edit: impl FnOnce(&mut Vec<u8>)) -> PathBuf {
    let mut b = std::fs::read(from).unwrap();
    edit(&mut b);
    if fix {
        let state_len = u64::from_le_bytes(b[16..24].try_into().unwrap()) as usize;
        let crc = crc32fast::hash(&b[64..64 + state_len]);
        b[40..44].copy_from_slice(&crc.to_le_bytes());
        let crc = crc32fast::hash(&b[..60]);
        b[60..64].copy_from_slice(&crc.to_le_bytes());
    }
    std::fs::write(to, &b).unwrap();
    to.to_path_buf()
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

#[test]
fn restoring_twice_leaves_the_snapshot_unchanged() {
    if !kvm_available() || !in_child("restoring_twice_leaves_the_snapshot_unchanged") {
        return;
    }
    let elf = guest_elf();
    let dir = TempDir::new("vmm-snapshot-twice");
    let path = take(dir.path(), &elf);
    let before = std::fs::read(&path).unwrap();
    for _ in 0..2 {
        let o = snapshot::restore(restore_cfg(&path)).unwrap();
        assert_eq!(o.exit_code, 7);
    }
    let after = std::fs::read(&path).unwrap();
    assert!(before == after, "restoring wrote to the snapshot file");
    assert_eq!(crc32fast::hash(&before), crc32fast::hash(&after));
}

#[test]
fn restored_memory_is_what_the_guest_touched() {
    if !kvm_available() || !in_child("restored_memory_is_what_the_guest_touched") {
        return;
    }
    let elf = guest_elf();
    let dir = TempDir::new("vmm-snapshot-touched");
    let path = take(dir.path(), &elf);
    let (o, t) = snapshot::restore_measured(restore_cfg(&path)).unwrap();
    let t = t.expect("unjailed: smaps is readable");
    eprintln!("{t:?}");
    assert_eq!(o.exit_code, 7);
    assert_eq!(t.mapped_bytes, 16 << 20);
    assert!(t.resident_bytes > 0, "the guest ran, so it touched pages");
    assert!(t.copied_bytes <= t.resident_bytes);
    // Demand paged: the guest touches a few dozen pages of its 16 MiB.
    assert!(
        t.resident_bytes <= t.mapped_bytes / 8,
        "{} of {} bytes resident after the restore",
        t.resident_bytes,
        t.mapped_bytes
    );
}

#[test]
fn a_jailed_restore_runs_like_an_unjailed_one() {
    if !kvm_available() || !gate(is_root(), ROOT, "not root") {
        return;
    }
    if !in_child("a_jailed_restore_runs_like_an_unjailed_one") {
        return;
    }
    let elf = guest_elf();
    let dir = TempDir::new("vmm-snapshot-jailed");
    let path = take(dir.path(), &elf);
    let o = snapshot::restore(RestoreConfig {
        jail: true,
        ..restore_cfg(&path)
    })
    .unwrap();
    assert!(o.jailed);
    assert_eq!(o.exit_code, 7);
    let names: Vec<_> = o.phases.iter().map(|p| p.0).collect();
    assert!(
        names.contains(&"jail") && names.contains(&"fork"),
        "{names:?}"
    );
    assert_eq!(o.phases.last().unwrap().1, o.to_ready_ns);
}

#[test]
fn bad_snapshots_are_refused() {
    if !kvm_available() || !in_child("bad_snapshots_are_refused") {
        return;
    }
    let elf = guest_elf();
    let dir = TempDir::new("vmm-snapshot-bad");
    let good = take(dir.path(), &elf);
    let bad = dir.path().join("bad.vmlab");
    let state_len = {
        let b = std::fs::read(&good).unwrap();
        u64::from_le_bytes(b[16..24].try_into().unwrap()) as usize
    };

    let p = edited(&good, &bad, false, |b| b[64 + state_len / 2] ^= 0x40);
    let e = refusal(&p);
    assert!(matches!(e, SnapError::Corrupt { part: "state", .. }), "{e}");
    assert!(e.to_string().contains("bad.vmlab"), "names the file: {e}");

    let p = edited(&good, &bad, false, |b| b[20] ^= 1);
    assert!(matches!(
        refusal(&p),
        SnapError::Corrupt { part: "header", .. }
    ));

    let p = edited(&good, &bad, false, |b| b.truncate(b.len() - 4096));
    assert!(matches!(refusal(&p), SnapError::Truncated { .. }));
    let p = edited(&good, &bad, false, |b| b.truncate(30));
    assert!(matches!(refusal(&p), SnapError::Truncated { .. }));

    let p = edited(&good, &bad, false, |b| b[..8].copy_from_slice(b"NOTASNAP"));
    assert!(matches!(refusal(&p), SnapError::NotASnapshot { .. }));

    let p = edited(&good, &bad, true, |b| {
        b[8..12].copy_from_slice(&(VERSION + 1).to_le_bytes())
    });
    let e = refusal(&p);
    assert!(
        matches!(e, SnapError::NewerVersion { found, .. } if found == VERSION + 1),
        "{e}"
    );

    // The memory image one page short of the configured size.
    let p = edited(&good, &bad, true, |b| {
        let len = u64::from_le_bytes(b[32..40].try_into().unwrap()) - 4096;
        b[32..40].copy_from_slice(&len.to_le_bytes());
    });
    assert!(matches!(refusal(&p), SnapError::MemSize { .. }));

    // Another memory size than the caller asks for.
    let e = snapshot::restore(RestoreConfig {
        mem_mib: Some(32),
        ..restore_cfg(&good)
    });
    assert!(matches!(
        e,
        Err(Error::Snapshot(SnapError::MemMismatch {
            snapshot_mib: 16,
            requested_mib: 32,
            ..
        }))
    ));

    // Other CPU features: leaf 0's EAX (the highest basic leaf) changed.
    // The state starts with mem_mib (8), tsc_khz (4), irqchip (1), the
    // entry label (8 + its bytes) and to_mark_ns (8); then the CPUID list:
    // a count (8), then each entry as length (8) + kvm_cpuid_entry2.
    let label = vmlab_vmm::snapshot::format::BARE_ENTRY_LABEL.len();
    let eax = 64 + 8 + 4 + 1 + 8 + label + 8 + 8 + 8 + 12;
    let p = edited(&good, &bad, true, |b| b[eax] ^= 0x01);
    let e = refusal(&p);
    assert!(matches!(e, SnapError::CpuMismatch { .. }), "{e}");
    assert!(e.to_string().contains("CPUID leaf 0x0"), "{e}");

    // A byte of memory flipped: found when the memory image is verified.
    let p = edited(&good, &bad, false, |b| {
        let off = u64::from_le_bytes(b[24..32].try_into().unwrap()) as usize;
        let at = off + 0x10_0000 + 100;
        b[at] ^= 0xff;
    });
    let e = snapshot::restore(RestoreConfig {
        verify_memory: true,
        ..restore_cfg(&p)
    });
    assert!(matches!(
        e,
        Err(Error::Snapshot(SnapError::Corrupt {
            part: "memory image",
            ..
        }))
    ));

    // The good one still restores.
    assert_eq!(snapshot::restore(restore_cfg(&good)).unwrap().exit_code, 7);
}

#[test]
fn a_hundred_restores_leave_nothing_behind() {
    if !kvm_available() || !in_child("a_hundred_restores_leave_nothing_behind") {
        return;
    }
    let elf = guest_elf();
    let dir = TempDir::new("vmm-snapshot-leak");
    let path = take(dir.path(), &elf);
    for _ in 0..5 {
        snapshot::restore(restore_cfg(&path)).unwrap();
    }
    let before = process_usage();
    for _ in 0..100 {
        assert_eq!(snapshot::restore(restore_cfg(&path)).unwrap().exit_code, 7);
    }
    let after = process_usage();
    eprintln!("fds, threads, RSS KiB: before {before:?}, after {after:?}");
    assert_eq!(after.0, before.0, "open fds changed");
    assert_eq!(after.1, before.1, "thread count changed");
    assert!(
        after.2 <= before.2 + 2048,
        "RSS grew by {} KiB",
        after.2 - before.2
    );
    // No temporary file is left next to the snapshot.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, [std::ffi::OsString::from("snap.vmlab")]);
}

#[test]
fn a_snapshot_with_virtio_devices_is_refused() {
    // Refused before KVM is opened: runs on any host.
    let dir = TempDir::new("snap-virtio");
    let disk = dir.path().join("disk.img");
    std::fs::write(&disk, vec![0u8; 4096]).unwrap();
    let elf = tiny_elf(&ready_exit_code(0));
    let mut cfg = bare(&elf, "", T);
    cfg.virtio = vec![vmlab_vmm::devices::virtio::DeviceConfig::Block {
        file: std::fs::File::open(&disk).unwrap(),
        read_only: true,
    }];
    let out = dir.path().join("snap.vmlab");
    match snapshot::take(cfg, &out) {
        Err(Error::Snapshot(SnapError::Unsupported(what))) => {
            assert!(what.contains("virtio"), "{what}")
        }
        other => panic!("expected the virtio refusal, got {other:?}"),
    }
    assert!(!out.exists());
}
