//! The workload binary as `/init` of a Linux guest under plain QEMU with
//! software emulation (TCG; this machine's KVM cannot boot Linux). It checks
//! the PID 1 path of a VM end to end: no `/dev/console` in the initramfs,
//! mounts, `ioperm` for the vmlab port (`VMLAB_PORT=1`; plain QEMU ignores
//! the writes), `lo` brought up, JSON lines on the serial console, and a
//! power-off that ends QEMU cleanly.
//!
//! Needs `qemu-system-x86_64`, `cpio` and a guest kernel: `$VMLAB_KERNEL`,
//! else a `vmlinux` in the vmlab kernel cache. Skipped (with the reason)
//! without them, unless `VMLAB_REQUIRE_QEMU=1` makes that a failure.
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use vmlab_test_util::{gate, wait_with_limit, TempDir, QEMU};
use vmlab_workload_host::protocol::Line;

const BIN: &str = env!("CARGO_BIN_EXE_vmlab-workload");

/// A guest kernel: `$VMLAB_KERNEL` or the first cached `vmlinux`.
fn kernel() -> Option<PathBuf> {
    if let Some(k) = std::env::var_os("VMLAB_KERNEL") {
        return Some(k.into());
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))?;
    let mut found: Vec<PathBuf> = std::fs::read_dir(cache.join("vmlab/kernels"))
        .ok()?
        .filter_map(|e| Some(e.ok()?.path().join("vmlinux")))
        .filter(|p| p.is_file())
        .collect();
    found.sort();
    found.into_iter().next()
}

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// The kernel to boot, or `None` (with the reason printed) to skip.
fn setup() -> Option<PathBuf> {
    let missing = if !have("qemu-system-x86_64") {
        "qemu-system-x86_64 is not installed".to_string()
    } else if !have("cpio") {
        "cpio is not installed".to_string()
    } else {
        match kernel() {
            Some(k) => return Some(k),
            None => "no guest kernel (set VMLAB_KERNEL or fill the vmlab kernel cache)".into(),
        }
    };
    gate(false, QEMU, &missing);
    None
}

/// An initramfs holding only `/init` = the workload binary.
fn initramfs(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir.join("root")).unwrap();
    std::fs::copy(BIN, dir.join("root/init")).unwrap();
    let image = dir.join("initramfs.cpio");
    let mut cpio = Command::new("cpio")
        .args(["-o", "-H", "newc", "--quiet"])
        .current_dir(dir.join("root"))
        .stdin(Stdio::piped())
        .stdout(std::fs::File::create(&image).unwrap())
        .spawn()
        .unwrap();
    cpio.stdin
        .take()
        .unwrap()
        .write_all(b".\n./init\n")
        .unwrap();
    assert!(cpio.wait().unwrap().success());
    image
}

#[test]
fn boots_as_init_of_a_linux_guest() {
    let Some(kernel) = setup() else { return };
    let dir = TempDir::new("workload-qemu");
    let image = initramfs(dir.path());
    let append = "console=ttyS0 quiet panic=-1 VMLAB_PORT=1 -- \
                  cpu crossing pagetouch spawn file tcp --time 10ms --size 1M --exit 3";
    let qemu = Command::new("qemu-system-x86_64")
        .args([
            "-accel",
            "tcg",
            "-m",
            "256",
            "-nographic",
            "-no-reboot",
            "-kernel",
        ])
        .arg(&kernel)
        .arg("-initrd")
        .arg(&image)
        .args(["-append", append])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start qemu");
    let Some((status, console, _)) = wait_with_limit(qemu, Duration::from_secs(300)) else {
        panic!("the guest did not power off within 300 s");
    };
    assert!(status.success(), "qemu: {status}; console:\n{console}");
    let lines: Vec<Line> = console
        .lines()
        .filter_map(Line::find)
        .map(|l| l.unwrap_or_else(|e| panic!("a broken workload line: {e}")))
        .collect();
    let labels: Vec<String> = lines.iter().map(Line::to_string).collect();
    let expected = [
        "ready",
        "result cpu",
        "result crossing",
        "result pagetouch",
        "result spawn/fork",
        "result spawn/exec",
        "result file",
        "result tcp",
        "exit 3",
    ];
    assert_eq!(labels, expected, "console:\n{console}");
}
