//! The Linux boot path (bzImage loader, zero page, irqchip, PIT, CPUID, MSRs,
//! LAPIC, 64-bit entry) with a stand-in kernel: a bzImage-shaped file whose
//! `startup_64` is a few instructions. Runs on any KVM, software nested too
//! (where a real kernel does not boot). The real kernel is proven on
//! hardware-style KVM by `vmlab rig`.
mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::*;
use vmlab_test_util::kvm_available;
use vmlab_vmm::vm::Error as RunError;
use vmlab_vmm::{Error, Guest, LinuxGuest, VmConfig};
use vmlab_workload::Event;

/// Writes `bytes` to a fresh temporary file named after the test.
fn temp_file(name: &str, bytes: &[u8]) -> PathBuf {
    let p = std::env::temp_dir().join(format!("vmlab-vmm-linux-{name}-{}", std::process::id()));
    std::fs::write(&p, bytes).unwrap();
    p
}

fn boot(
    name: &str,
    startup_64: &[u8],
    initramfs: Option<&[u8]>,
    timeout: Duration,
) -> Result<vmlab_vmm::VmOutcome, Error> {
    let kernel = temp_file(&format!("{name}-kernel"), &stand_in_bzimage(startup_64));
    let initrd = initramfs.map(|b| temp_file(&format!("{name}-initrd"), b));
    let r = vmlab_vmm::run(VmConfig {
        guest: Guest::Linux(LinuxGuest {
            kernel: kernel.clone(),
            initramfs: initrd.clone(),
            cmdline_extra: String::new(),
            init_args: vec!["--exit".into(), "3".into()],
        }),
        mem_mib: 64,
        timeout,
        serial_stream: None,
        jail: false,
        probe: None,
        cgroup_tasks: Vec::new(),
        hold: None,
        virtio: Vec::new(),
        virtio_selftest: false,
    });
    let _ = std::fs::remove_file(kernel);
    if let Some(p) = initrd {
        let _ = std::fs::remove_file(p);
    }
    r
}

/// `cmp dword [rsi + off], imm32; je +11`, else exit with `bad`.
fn exit_unless(off: u32, value: u32, bad: u8) -> Vec<u8> {
    let mut c = vec![0x81, 0xbe];
    c.extend_from_slice(&off.to_le_bytes());
    c.extend_from_slice(&value.to_le_bytes());
    c.extend_from_slice(&[0x74, 11]);
    c.extend(out_word(Event::Exit(bad).encode()));
    c.push(0xf4);
    c
}

#[test]
fn stand_in_kernel_gets_a_zero_page_and_exits() {
    if !kvm_available() || !in_child("stand_in_kernel_gets_a_zero_page_and_exits") {
        return;
    }
    // rsi points at boot_params: "HdrS" at 0x202,
    // the initramfs size at 0x21c, the command line at 0x228.
    let mut code = out_word(Event::Ready.encode());
    code.extend(exit_unless(0x202, u32::from_le_bytes(*b"HdrS"), 0x11));
    code.extend(exit_unless(0x21c, 4096, 0x12));
    code.extend(exit_unless(0x228, 0x2_0000, 0x13));
    code.extend(ready_exit_code(0x42)[10..].iter());
    let o = boot("zp", &code, Some(&[7u8; 4096]), Duration::from_secs(10)).unwrap();
    assert_eq!(
        o.exit_code, 0x42,
        "zero page check {:#x} failed",
        o.exit_code
    );
    let names: Vec<_> = o.phases.iter().map(|p| p.0).collect();
    assert_eq!(names[0], "read_files");
    assert!(names.contains(&"vcpu_setup"));
}

#[test]
fn stand_in_kernel_that_spins_times_out() {
    if !kvm_available() || !in_child("stand_in_kernel_that_spins_times_out") {
        return;
    }
    match boot("spin", &[0xeb, 0xfe], None, Duration::from_millis(500)) {
        Err(Error::Guest { failure, .. }) => {
            assert!(
                matches!(failure, RunError::Timeout { ready: false, .. }),
                "{failure}"
            )
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
}

#[test]
fn stand_in_kernel_reset_is_a_panic_or_reboot() {
    if !kvm_available() || !in_child("stand_in_kernel_reset_is_a_panic_or_reboot") {
        return;
    }
    // mov al, 0xfe; out 0x64, al (the i8042 CPU reset Linux uses with reboot=k).
    match boot(
        "reset",
        &[0xb0, 0xfe, 0xe6, 0x64, 0xf4],
        None,
        Duration::from_secs(10),
    ) {
        Err(Error::Guest { failure, .. }) => {
            assert!(matches!(failure, RunError::Reset), "{failure}");
            assert!(failure.to_string().contains("kernel panic or reboot"));
        }
        other => panic!("expected a reset, got {other:?}"),
    }
}
