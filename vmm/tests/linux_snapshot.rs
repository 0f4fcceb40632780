//! Snapshot and restore of a Linux guest on real KVM (skipped without
//! `/dev/kvm`, required with `VMLAB_REQUIRE_KVM=1`), with the stand-in
//! kernel of `common`: the Linux boot path (zero page, in-kernel irqchip,
//! PIT, CPUID, boot MSRs, LAPIC) runs on software nested KVM too, where a
//! real kernel does not boot. The stand-in arms what a Linux guest depends
//! on across a restore (x2APIC, the LAPIC timer in TSC-deadline mode with a
//! deadline, kvmclock, its registers, the TSC), sends the snapshot mark and
//! ready, then checks each of them and exits with a code naming the first
//! that did not survive. The real kernel's restore is proven by `vmlab rig`.
mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use vmlab_test_util::{gate, is_root, kvm_available, TempDir, ROOT};
use vmlab_vmm::snapshot::{self, RestoreConfig};
use vmlab_vmm::{Guest, LinuxGuest, VmConfig};
use vmlab_workload::protocol::SNAPSHOT_MARK;
use vmlab_workload::Event;

const T: Duration = Duration::from_secs(20);
const MEM_MIB: u64 = 64;
/// The exit code when every check passed.
const ALL_KEPT: u8 = 0x42;
/// The exit code when the TSC deadline did not survive.
const DEADLINE_LOST: u8 = 0x23;
/// The kvmclock page the stand-in registers (3 MiB, unused by the loader).
const KVMCLOCK_GPA: u32 = 0x30_0000;

/// Sends the exit event with `code`, then halts.
fn exit(code: u8) -> Vec<u8> {
    let mut c = out_word(Event::Exit(code).encode());
    c.push(0xf4);
    c
}

/// The stand-in's `startup_64`.
fn program() -> Vec<u8> {
    let mut c = vec![
        0xb9, 0x1b, 0x00, 0x00, 0x00, // mov ecx, IA32_APIC_BASE
        0x0f, 0x32, // rdmsr
        0x0d, 0x00, 0x0c, 0x00, 0x00, // or eax, 0xc00 (enabled, x2APIC)
        0x0f, 0x30, // wrmsr
        0xb9, 0x32, 0x08, 0x00, 0x00, // mov ecx, x2APIC LVT timer
        0xb8, 0xec, 0x00, 0x05, 0x00, // mov eax, TSC-deadline | masked | vector 0xec
        0x31, 0xd2, // xor edx, edx
        0x0f, 0x30, // wrmsr
        0x0f, 0x31, // rdtsc
        0x48, 0xc1, 0xe2, 0x20, // shl rdx, 32
        0x48, 0x09, 0xd0, // or rax, rdx
        0x49, 0x89, 0xc5, // mov r13, rax (the TSC before the mark)
        0x48, 0xbb, 0, 0, 0, 0, 0, 1, 0, 0, // movabs rbx, 2^40
        0x4c, 0x8d, 0x24, 0x18, // lea r12, [rax + rbx] (the deadline)
        0x4c, 0x89, 0xe0, // mov rax, r12
        0x4c, 0x89, 0xe2, // mov rdx, r12
        0x48, 0xc1, 0xea, 0x20, // shr rdx, 32
        0xb9, 0xe0, 0x06, 0x00, 0x00, // mov ecx, IA32_TSC_DEADLINE
        0x0f, 0x30, // wrmsr
        0xb9, 0x01, 0x4d, 0x56, 0x4b, // mov ecx, MSR_KVM_SYSTEM_TIME_NEW
        0xb8, // mov eax, KVMCLOCK_GPA | enable
    ];
    c.extend_from_slice(&(KVMCLOCK_GPA | 1).to_le_bytes());
    c.extend_from_slice(&[
        0x31, 0xd2, // xor edx, edx
        0x0f, 0x30, // wrmsr
        0x49, 0xbe, 0xf0, 0xde, 0xbc, 0x9a, 0x78, 0x56, 0x34, 0x12, // movabs r14, MAGIC
    ]);
    c.extend(out_word(Event::Mark(SNAPSHOT_MARK).encode()));
    c.extend(out_word(Event::Ready.encode()));
    // Each check jumps over the exit of its code when it holds.
    let skip = exit(0).len() as u8;
    c.extend_from_slice(&[
        0x48, 0xb8, 0xf0, 0xde, 0xbc, 0x9a, 0x78, 0x56, 0x34, 0x12, // movabs rax, MAGIC
        0x49, 0x39, 0xc6, // cmp r14, rax
        0x74, skip, // je
    ]);
    c.extend(exit(0x21));
    c.extend_from_slice(&[
        0x0f, 0x31, // rdtsc
        0x48, 0xc1, 0xe2, 0x20, // shl rdx, 32
        0x48, 0x09, 0xd0, // or rax, rdx
        0x4c, 0x39, 0xe8, // cmp rax, r13
        0x73, skip, // jae: the TSC went on from the snapshot's
    ]);
    c.extend(exit(0x22));
    c.extend_from_slice(&[
        0xb9, 0xe0, 0x06, 0x00, 0x00, // mov ecx, IA32_TSC_DEADLINE
        0x0f, 0x32, // rdmsr
        0x48, 0xc1, 0xe2, 0x20, // shl rdx, 32
        0x48, 0x09, 0xd0, // or rax, rdx
        0x4c, 0x39, 0xe0, // cmp rax, r12
        0x74, skip, // je
    ]);
    c.extend(exit(DEADLINE_LOST));
    c.extend_from_slice(&[
        0xb9, 0x01, 0x4d, 0x56, 0x4b, // mov ecx, MSR_KVM_SYSTEM_TIME_NEW
        0x0f, 0x32, // rdmsr
        0x3d, // cmp eax, KVMCLOCK_GPA | enable
    ]);
    c.extend_from_slice(&(KVMCLOCK_GPA | 1).to_le_bytes());
    c.extend_from_slice(&[0x74, skip]); // je
    c.extend(exit(0x24));
    c.extend(exit(ALL_KEPT));
    c
}

/// The stand-in kernel written to `dir`, and a Linux guest configuration.
fn linux(dir: &Path) -> VmConfig<'static> {
    let kernel = dir.join("bzImage");
    std::fs::write(&kernel, stand_in_bzimage(&program())).unwrap();
    VmConfig {
        guest: Guest::Linux(LinuxGuest {
            kernel,
            initramfs: None,
            cmdline_extra: String::new(),
            init_args: vec!["cpu".into()],
        }),
        ..VmConfig::bare(&[], "", MEM_MIB, T)
    }
}

fn restore_cfg(path: &Path) -> RestoreConfig {
    RestoreConfig::new(path, T)
}

fn take(dir: &Path) -> PathBuf {
    let path = dir.join("linux.vmlab");
    let taken = snapshot::take(linux(dir), &path).expect("snapshot of the Linux guest");
    assert_eq!(taken.mem_bytes, MEM_MIB << 20);
    assert!(taken.msrs > 0);
    path
}

#[test]
fn a_cold_boot_of_the_stand_in_passes_its_own_checks() {
    if !kvm_available() || !in_child("a_cold_boot_of_the_stand_in_passes_its_own_checks") {
        return;
    }
    let dir = TempDir::new("vmm-linux-snap-cold");
    let o = vmlab_vmm::run(linux(dir.path())).unwrap();
    assert_eq!(o.exit_code, ALL_KEPT, "a check failed on a cold boot");
    assert!(o.marks.iter().any(|&(id, _)| id == SNAPSHOT_MARK));
}

#[test]
fn a_restored_linux_guest_keeps_its_lapic_timer_kvmclock_and_tsc() {
    if !kvm_available()
        || !in_child("a_restored_linux_guest_keeps_its_lapic_timer_kvmclock_and_tsc")
    {
        return;
    }
    let dir = TempDir::new("vmm-linux-snap-restore");
    let path = take(dir.path());
    let info = snapshot::inspect(&path).unwrap();
    assert!(info.linux, "the snapshot says it is of a Linux guest");
    assert_eq!(info.entry, "Linux 64-bit boot protocol");
    assert_eq!(info.mem_mib, MEM_MIB);
    let before = std::fs::read(&path).unwrap();
    // Twice from one snapshot: copy on write, the file stays as it was.
    for _ in 0..2 {
        let o = snapshot::restore(restore_cfg(&path)).unwrap();
        assert_eq!(
            o.exit_code, ALL_KEPT,
            "check {:#x} failed after the restore",
            o.exit_code
        );
        assert_eq!(o.entry, "Linux 64-bit boot protocol");
        assert_eq!(o.mem_mib, MEM_MIB);
        assert_eq!(o.phases.last().unwrap().1, o.to_ready_ns);
    }
    assert!(
        std::fs::read(&path).unwrap() == before,
        "a restore wrote to the file"
    );
}

/// The TSC deadline's place in the snapshot's state: its `kvm_msr_entry`
/// (index 0x6e0, reserved 0, then the value), found by its index and a
/// value that is not 0.
fn deadline_at(b: &[u8]) -> usize {
    let key = [0xe0, 0x06, 0, 0, 0, 0, 0, 0];
    let state_len = u64::from_le_bytes(b[16..24].try_into().unwrap()) as usize;
    (64..64 + state_len - 16)
        .find(|&i| b[i..i + 8] == key && b[i + 8..i + 16] != [0; 8])
        .expect("the state holds the armed TSC deadline")
}

#[test]
fn a_snapshot_without_its_tsc_deadline_fails_the_guests_check() {
    // The positive control of the deadline check: the same snapshot with
    // the saved deadline zeroed (checksums fixed) restores, and the guest
    // notices its timer is gone.
    if !kvm_available() || !in_child("a_snapshot_without_its_tsc_deadline_fails_the_guests_check") {
        return;
    }
    let dir = TempDir::new("vmm-linux-snap-deadline");
    let path = take(dir.path());
    let mut b = std::fs::read(&path).unwrap();
    let at = deadline_at(&b);
    b[at + 8..at + 16].fill(0);
    let state_len = u64::from_le_bytes(b[16..24].try_into().unwrap()) as usize;
    let crc = crc32fast::hash(&b[64..64 + state_len]);
    b[40..44].copy_from_slice(&crc.to_le_bytes());
    let crc = crc32fast::hash(&b[..60]);
    b[60..64].copy_from_slice(&crc.to_le_bytes());
    let lost = dir.path().join("lost.vmlab");
    std::fs::write(&lost, &b).unwrap();
    let o = snapshot::restore(restore_cfg(&lost)).unwrap();
    assert_eq!(o.exit_code, DEADLINE_LOST);
}

#[test]
fn a_jailed_restore_of_a_linux_guest_runs_like_an_unjailed_one() {
    if !kvm_available() || !gate(is_root(), ROOT, "not root") {
        return;
    }
    if !in_child("a_jailed_restore_of_a_linux_guest_runs_like_an_unjailed_one") {
        return;
    }
    let dir = TempDir::new("vmm-linux-snap-jailed");
    let path = take(dir.path());
    let o = snapshot::restore(RestoreConfig {
        jail: true,
        ..restore_cfg(&path)
    })
    .unwrap();
    assert!(o.jailed);
    assert_eq!(o.exit_code, ALL_KEPT);
}

#[test]
fn a_linux_snapshot_with_virtio_devices_is_refused() {
    // Refused before the kernel is read or KVM opened: runs on any host.
    let dir = TempDir::new("vmm-linux-snap-virtio");
    let disk = dir.path().join("disk.img");
    std::fs::write(&disk, vec![0u8; 4096]).unwrap();
    let mut cfg = linux(dir.path());
    cfg.virtio = vec![vmlab_vmm::devices::virtio::DeviceConfig::Block {
        file: std::fs::File::open(&disk).unwrap(),
        read_only: true,
    }];
    let out = dir.path().join("snap.vmlab");
    match snapshot::take(cfg, &out) {
        Err(vmlab_vmm::Error::Snapshot(snapshot::Error::Unsupported(what))) => {
            assert!(what.contains("virtio"), "{what}")
        }
        other => panic!("expected the virtio refusal, got {other:?}"),
    }
    assert!(!out.exists());
}
