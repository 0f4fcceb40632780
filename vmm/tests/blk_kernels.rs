//! The bare guest's `blk-rand` and `blk-seq` kernels over virtio-blk on a
//! raw file opened with `O_DIRECT` (as vmlab opens it), with the VMM
//! jailed and not; on real KVM (skipped without `/dev/kvm`, required with
//! `VMLAB_REQUIRE_KVM=1`), each VM in a child process.
mod common;

use std::os::unix::fs::OpenOptionsExt;
use std::time::Duration;

use common::*;
use vmlab_test_util::{kvm_available, TempDir};
use vmlab_vmm::devices::virtio::DeviceConfig;

const T: Duration = Duration::from_secs(120);
/// The disk: 8 MiB of 0x5a (the kernels write 0xc3).
const DISK: usize = 8 << 20;

/// The disk file, opened read-write with `O_DIRECT`.
fn disk(dir: &TempDir) -> (std::fs::File, std::path::PathBuf) {
    let path = dir.file("disk.raw", &vec![0x5au8; DISK]);
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_DIRECT)
        .open(&path)
        .expect("the test's temporary directory takes O_DIRECT");
    (file, path)
}

/// Boots `args` with the disk, jailed or not; returns the console and the
/// exit code, or `None` for a guest built with SSE.
fn boot(args: &str, jail: bool, file: std::fs::File) -> Option<(String, u8)> {
    let elf = guest_elf();
    let mut cfg = vmlab_vmm::VmConfig::bare(&elf, args, 16, T);
    cfg.jail = jail;
    cfg.virtio = vec![DeviceConfig::Block {
        file,
        read_only: false,
    }];
    match vmlab_vmm::run(cfg) {
        Err(e) if guest_built_with_sse(&e) => None,
        r => {
            let o = r.unwrap();
            Some((
                String::from_utf8_lossy(&o.console).into_owned(),
                o.exit_code,
            ))
        }
    }
}

/// The result line of `kernel` in `mode`.
fn result<'a>(console: &'a str, kernel: &str, mode: &str) -> &'a str {
    let k = format!("\"kernel\":\"{kernel}\",\"mode\":\"{mode}\"");
    console
        .lines()
        .find(|l| l.contains("\"result\"") && l.contains(&k))
        .unwrap_or_else(|| panic!("no {kernel} {mode} result in {console}"))
}

fn kernels_run(jail: bool) {
    let dir = TempDir::new("blk-kernels");
    let (file, path) = disk(&dir);
    let Some((console, code)) = boot("blk-rand blk-seq --time 30ms", jail, file) else {
        return;
    };
    assert_eq!(code, 0, "{console}");
    for (kernel, mode) in [
        ("blk-rand", "read"),
        ("blk-rand", "write"),
        ("blk-seq", "write"),
        ("blk-seq", "read"),
    ] {
        let line = result(&console, kernel, mode);
        assert!(line.contains(&format!("\"size\":{DISK}")), "{line}");
        if kernel == "blk-rand" {
            assert!(line.contains("\"p99_ns\":"), "{line}");
        }
        eprintln!("{line}");
    }
    // What the guest wrote reached the file: blk-seq's first 1 MiB block.
    let bytes = std::fs::read(&path).unwrap();
    assert!(bytes[..1 << 20].iter().all(|&b| b == 0xc3));
}

#[test]
fn bare_guest_blk_kernels_run_on_an_o_direct_file() {
    const TEST: &str = "bare_guest_blk_kernels_run_on_an_o_direct_file";
    if !kvm_available() || !in_child(TEST) {
        return;
    }
    kernels_run(false);
}

#[test]
fn bare_guest_blk_kernels_run_in_the_jail() {
    const TEST: &str = "bare_guest_blk_kernels_run_in_the_jail";
    if !kvm_available() || !in_child(TEST) {
        return;
    }
    kernels_run(true);
}

#[test]
fn without_a_disk_the_blk_kernels_fail_with_a_clear_error() {
    const TEST: &str = "without_a_disk_the_blk_kernels_fail_with_a_clear_error";
    if !kvm_available() || !in_child(TEST) {
        return;
    }
    let elf = guest_elf();
    let cfg = vmlab_vmm::VmConfig::bare(&elf, "blk-rand --time 1ms", 16, T);
    let o = match vmlab_vmm::run(cfg) {
        Err(e) if guest_built_with_sse(&e) => return,
        r => r.unwrap(),
    };
    let console = String::from_utf8_lossy(&o.console);
    assert_eq!(o.exit_code, 1, "{console}");
    assert!(
        console.contains("blk-rand: the VMM gave this guest no virtio-blk disk"),
        "{console}"
    );
}

#[test]
fn a_jailed_vmm_with_a_disk_is_still_killed_for_other_calls() {
    const TEST: &str = "a_jailed_vmm_with_a_disk_is_still_killed_for_other_calls";
    if !kvm_available() || !in_child(TEST) {
        return;
    }
    use vmlab_vmm::jail::{self, Probe};
    let dir = TempDir::new("blk-probe");
    let elf = guest_elf();
    for probe in [Probe::OpenHostFile, Probe::Socket] {
        let (file, _) = disk(&dir);
        let mut cfg = vmlab_vmm::VmConfig::bare(&elf, "blk-rand --time 1ms", 16, T);
        cfg.jail = true;
        cfg.probe = Some(probe);
        cfg.virtio = vec![DeviceConfig::Block {
            file,
            read_only: false,
        }];
        match vmlab_vmm::run(cfg) {
            Err(vmlab_vmm::Error::Jail(jail::Error::Seccomp { pid })) => assert!(pid > 0),
            other => {
                panic!("{probe:?} with a disk in the jail: expected a seccomp kill, got {other:?}")
            }
        }
    }
}
