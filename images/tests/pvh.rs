//! The bare guest boots on a stock VMM through its PVH note: QEMU (TCG, so
//! that the test needs no KVM) loads the embedded guest ELF with `-kernel`
//! on `microvm` and `pc`, the guest finds its arguments and memory in the
//! `hvm_start_info`, prints ready, the result and exit on COM1, and sends
//! its exit code to `isa-debug-exit` (QEMU then exits with `code << 1 | 1`),
//! or resets through the i8042 where there is no such device.
//! Skips (saying why) without qemu-system-x86_64, and fails instead with
//! `VMLAB_REQUIRE_QEMU=1`.
mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::scratch;
use vmlab_images::embedded::GUEST;
use vmlab_test_util::{gate, kvm_available, wait_with_limit};

const QEMU: &str = "qemu-system-x86_64";

fn qemu_installed() -> bool {
    let installed = Command::new(QEMU)
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok();
    gate(
        installed,
        "VMLAB_REQUIRE_QEMU",
        "qemu-system-x86_64 is not installed",
    )
}

/// Boots the guest with `args` on `machine` under TCG; (exit status, console).
fn boot(machine: &str, args: &str, debug_exit: bool) -> (Option<i32>, String) {
    boot_on(machine, "tcg", args, debug_exit)
}

/// As [`boot`], with `accel` (`tcg`, or `kvm` with the `qemu64` CPU model,
/// which software nested KVM accepts where `host` aborts).
fn boot_on(machine: &str, accel: &str, args: &str, debug_exit: bool) -> (Option<i32>, String) {
    let s = scratch("pvh");
    let elf = s.path().join("vmlab-guest");
    std::fs::write(&elf, GUEST).unwrap();
    let mut cmd = Command::new(QEMU);
    cmd.args(["-M", machine, "-accel", accel, "-m", "128", "-nodefaults"]);
    if accel == "kvm" {
        cmd.args(["-cpu", "qemu64"]);
    }
    cmd.args(["-display", "none", "-serial", "stdio", "-no-reboot"]);
    if debug_exit {
        cmd.args(["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]);
    }
    let child = cmd
        .arg("-kernel")
        .arg(&elf)
        .args(["-append", args])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    match wait_with_limit(child, Duration::from_secs(if debug_exit { 60 } else { 5 })) {
        Some((status, console, err)) => (status.code(), format!("{console}{err}")),
        None => (None, String::new()),
    }
}

#[test]
fn the_bare_guest_boots_on_qemu_through_pvh() {
    if !qemu_installed() {
        return;
    }
    for machine in ["microvm", "pc"] {
        let (code, console) = boot(machine, "cpu --exit 3", true);
        assert_eq!(code, Some(3 << 1 | 1), "{machine}: {console}");
        let lines: Vec<&str> = console.lines().filter(|l| l.starts_with('{')).collect();
        assert_eq!(lines.first(), Some(&r#"{"vmlab":"ready"}"#), "{console}");
        assert!(
            lines.iter().any(|l| l.contains(r#""kernel":"cpu""#)),
            "{machine}: no cpu result: {console}"
        );
        assert_eq!(lines.last(), Some(&r#"{"vmlab":"exit","code":3}"#));
    }
}

#[test]
fn the_bare_guest_boots_on_qemu_with_kvm_through_pvh() {
    if !qemu_installed() || !kvm_available() {
        return;
    }
    let (code, console) = boot_on("microvm", "kvm", "cpu --exit 3", true);
    assert_eq!(code, Some(3 << 1 | 1), "{console}");
    assert!(console.contains(r#"{"vmlab":"ready"}"#), "{console}");
    assert!(console.contains(r#""kernel":"cpu""#), "{console}");
    assert!(
        console.contains(r#"{"vmlab":"exit","code":3}"#),
        "{console}"
    );
}

#[test]
fn the_pvh_guest_reads_its_arguments_from_the_start_info() {
    if !qemu_installed() {
        return;
    }
    // Another command line, another outcome: the arguments really come from
    // the start info (a guest that ignored them could not fail this way).
    let (code, console) = boot("microvm", "no-such-kernel", true);
    assert_eq!(code, Some(2 << 1 | 1), "{console}");
    assert!(
        console.contains("unknown kernel `no-such-kernel`"),
        "{console}"
    );
}

#[test]
fn the_clock_under_pvh_is_calibrated() {
    if !qemu_installed() {
        return;
    }
    // The cpu kernel runs for 2 s of the guest's clock; QEMU's whole run must
    // then take at least that long of the host's. A clock assumed at 1 GHz on
    // a 2 GHz host, or one calibrated against a missing PIT, runs fast and
    // ends the kernel after about 1 s (QEMU's own start is far below 1 s).
    // A calibration may err by its brackets (under 1 % when the host lets
    // the guest run); 2 % is allowed.
    let start = std::time::Instant::now();
    let (code, console) = boot("microvm", "cpu --time 2s --exit 0", true);
    let wall = start.elapsed();
    assert_eq!(code, Some(1), "{console}");
    assert!(
        wall >= Duration::from_millis(1960),
        "QEMU ran {wall:?}, less than the guest's 2 s (2 % allowed): {console}"
    );
}

#[test]
fn without_the_debug_exit_device_the_guest_resets_through_the_i8042() {
    if !qemu_installed() {
        return;
    }
    // Elsewhere (no isa-debug-exit) the port write goes nowhere; the guest
    // then pulses the reset line through the i8042 (how Firecracker and
    // Cloud Hypervisor learn that a guest is done), which QEMU's `pc` turns
    // into an exit with status 0 under -no-reboot. The exit code is on the
    // console.
    let (code, console) = boot("pc", "cpu --exit 3", false);
    assert_eq!(code, Some(0), "{console}");
    assert!(
        console.contains(r#"{"vmlab":"exit","code":3}"#),
        "{console}"
    );
}
