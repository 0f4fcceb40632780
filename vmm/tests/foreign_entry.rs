//! One guest ELF for every boot protocol: the bare guest, given to the
//! VMM's *Linux* loader as a kernel, boots through its PVH note (32-bit
//! entry, `hvm_start_info`), and, with that note disabled, through the
//! Linux 64-bit boot protocol (`boot_params` in `rsi`) — the two ways other
//! VMMs enter an ELF. The guest takes its arguments from after the `--` on
//! the Linux command line, finds `VMLAB_PORT=1` there and so reports on the
//! vmlab port, where the VMM times it. Runs on any KVM (the bare guest runs
//! on software nested KVM too).
mod common;

use std::time::Duration;

use common::*;
use vmlab_test_util::kvm_available;
use vmlab_vmm::{Guest, LinuxGuest, VmConfig};

/// `elf` with its PVH entry note's type changed, so that no loader finds
/// it (a positive control that the other boot really went through PVH).
fn without_pvh_note(elf: &[u8]) -> Vec<u8> {
    let note = [4u32.to_le_bytes(), 8u32.to_le_bytes(), 18u32.to_le_bytes()].concat();
    let at = elf
        .windows(note.len() + 4)
        .position(|w| w[..note.len()] == note[..] && &w[note.len()..] == b"Xen\0")
        .expect("the guest has a PVH note");
    let mut out = elf.to_vec();
    out[at + 8..at + 12].copy_from_slice(&0x7fffu32.to_le_bytes());
    out
}

/// Boots `elf` through the Linux loader with the workload arguments
/// `cpu --exit 3`; the outcome's exit code, the console and the entry.
fn boot(name: &str, elf: &[u8]) -> (u8, String, String) {
    let kernel = std::env::temp_dir().join(format!("vmlab-foreign-{name}-{}", std::process::id()));
    std::fs::write(&kernel, elf).unwrap();
    let r = vmlab_vmm::run(VmConfig {
        guest: Guest::Linux(LinuxGuest {
            kernel: kernel.clone(),
            initramfs: None,
            cmdline_extra: String::new(),
            init_args: vec!["cpu".into(), "--exit".into(), "3".into()],
        }),
        mem_mib: 64,
        timeout: Duration::from_secs(20),
        serial_stream: None,
        jail: false,
        probe: None,
        cgroup_tasks: Vec::new(),
        hold: None,
        virtio: Vec::new(),
        virtio_selftest: false,
    });
    let _ = std::fs::remove_file(&kernel);
    let o = r.unwrap_or_else(|e| panic!("{name}: {e}"));
    let console = String::from_utf8_lossy(&o.console).into_owned();
    (o.exit_code, console, o.entry.to_string())
}

#[test]
fn the_guest_boots_through_pvh_from_the_linux_loader() {
    if !kvm_available() || !in_child("the_guest_boots_through_pvh_from_the_linux_loader") {
        return;
    }
    let (code, console, entry) = boot("pvh", &guest_elf());
    assert_eq!(code, 3, "{console}");
    assert!(entry.contains("PVH"), "{entry}");
    assert!(console.contains(r#""kernel":"cpu""#), "{console}");
}

#[test]
fn the_guest_boots_through_the_linux_64_bit_protocol() {
    if !kvm_available() || !in_child("the_guest_boots_through_the_linux_64_bit_protocol") {
        return;
    }
    let (code, console, entry) = boot("linux64", &without_pvh_note(&guest_elf()));
    assert_eq!(code, 3, "{console}");
    assert!(entry.contains("64-bit"), "{entry}");
    assert!(console.contains(r#""kernel":"cpu""#), "{console}");
}
