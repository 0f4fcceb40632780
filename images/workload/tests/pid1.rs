//! The workload binary as PID 1 of new PID, mount and network namespaces
//! (what a container gives it): it mounts what it needs, brings `lo` up,
//! runs the Linux-only kernels and exits with its code instead of powering
//! off. Needs root and util-linux `unshare`: skipped otherwise, unless
//! `VMLAB_REQUIRE_ROOT=1` makes that a failure.
use std::process::{Command, Output};

use vmlab_test_util::{gate, is_root, ROOT};
use vmlab_workload::protocol::{FD_ENV, LINE_PREFIX, PORT_ENV};
use vmlab_workload_host::protocol::Line;

const BIN: &str = env!("CARGO_BIN_EXE_vmlab-workload");

/// Whether the test can run; panics if it cannot but must.
fn can_run() -> bool {
    let root = is_root();
    let unshare = Command::new("unshare").arg("--version").output().is_ok();
    let why = if root {
        "`unshare` is not installed"
    } else {
        "not root"
    };
    gate(root && unshare, ROOT, why)
}

/// Runs the workload as PID 1 in new namespaces.
fn as_pid1(args: &[&str]) -> Output {
    Command::new("unshare")
        .args([
            "--pid",
            "--fork",
            "--mount",
            "--propagation",
            "private",
            "--net",
        ])
        .arg(BIN)
        .args(args)
        .env_remove(FD_ENV)
        .env_remove(PORT_ENV)
        .output()
        .expect("run unshare")
}

/// This process's mounts on the points the workload mounts as PID 1
/// (other tests may mount elsewhere meanwhile).
fn mounts() -> Vec<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .expect("read mountinfo")
        .lines()
        .filter(|l| {
            let point = l.split(' ').nth(4).unwrap_or("");
            ["/proc", "/sys", "/dev", "/tmp"].contains(&point)
        })
        .map(String::from)
        .collect()
}

#[test]
fn runs_linux_kernels_as_pid1_and_exits_with_its_code() {
    if !can_run() {
        return;
    }
    let before = mounts();
    let out = as_pid1(&[
        "spawn", "pipe", "file", "tcp", "--time", "5ms", "--exit", "5",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "stderr: {stderr}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<Line> = stdout
        .lines()
        .filter(|l| l.starts_with(LINE_PREFIX))
        .map(|l| Line::parse(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    let labels: Vec<String> = lines.iter().map(Line::to_string).collect();
    assert_eq!(
        labels,
        [
            "ready",
            "result spawn/fork",
            "result spawn/exec",
            "result pipe",
            "result file",
            "result tcp",
            "exit 5"
        ],
        "{stdout}"
    );
    // The namespaces took the mounts with them.
    assert_eq!(mounts(), before);
}

#[test]
fn bad_arguments_as_pid1_exit_2() {
    if !can_run() {
        return;
    }
    let out = as_pid1(&["bogus"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("`bogus`"));
}

#[test]
fn addr_without_the_virtio_modules_is_a_clear_setup_error() {
    if !can_run() {
        return;
    }
    // The host has no /lib/vmlab-modules (only the I/O initramfs does):
    // nothing is loaded, and the workload says what it needs.
    assert!(!std::path::Path::new("/lib/vmlab-modules").exists());
    let out = as_pid1(&[
        "net-rr",
        "--peer",
        "10.77.9.1:7077",
        "--addr",
        "10.77.9.2/24",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert!(
        stderr.contains("/lib/vmlab-modules") && stderr.contains("initramfs-io.cpio"),
        "{stderr}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("\"error\""), "{stdout}");
    // `--help` is answered before any set-up.
    let out = as_pid1(&["--addr=1.2.3.4/8", "--help"]);
    assert_eq!(out.status.code(), Some(0), "--help comes before the setup");
}
