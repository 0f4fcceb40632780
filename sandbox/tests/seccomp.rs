//! The seccomp allow-list seen from inside: the probe's `syscalls` mode in
//! the sandbox (root and rootless) gets the policy's errno for each refused
//! call and keeps its ordinary calls; the same probe as a plain process
//! reaches the kernel, so the probe can tell the difference (root only).
mod common;

use std::collections::BTreeMap;

use common::{json_lines, serial, Rootfs, PROBE};
use vmlab_sandbox::{run, Config, ExitStatus, Limits, Outcome, UserNs};
use vmlab_test_util::have_root;

/// The probe's child exit code (`CHILD_CODE` in `src/probe/syscalls.rs`).
const CHILD_CODE: i64 = 7;

fn config(fs: &Rootfs, rootless: bool) -> Config {
    let mut c = Config::sandbox(&fs.path);
    c.args = vec!["syscalls".to_string()];
    c.limits = Limits {
        memory: Some(128 << 20),
        pids: Some(32),
        cpus: None,
    };
    if rootless {
        c.ns.user = Some(UserNs::rootless());
    }
    c
}

/// `name → (rc, errno)` from the probe's lines.
fn calls(out: &Outcome) -> BTreeMap<String, (i64, i64)> {
    let calls: BTreeMap<_, _> = json_lines(&out.stdout)
        .into_iter()
        .filter(|l| l["vmlab"] == "syscall")
        .map(|l| {
            let name = l["name"].as_str().unwrap().to_string();
            (
                name,
                (l["rc"].as_i64().unwrap(), l["errno"].as_i64().unwrap()),
            )
        })
        .collect();
    assert_eq!(
        calls.len(),
        22,
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status, ExitStatus::Code(0));
    calls
}

fn failed(calls: &BTreeMap<String, (i64, i64)>, name: &str, errno: i32) {
    let got = calls[name];
    assert!(
        got.0 < 0 && got.1 == i64::from(errno),
        "{name}: rc {} errno {}, expected errno {errno}",
        got.0,
        got.1
    );
}

fn succeeded(calls: &BTreeMap<String, (i64, i64)>, name: &str) {
    let got = calls[name];
    assert!(got.0 >= 0, "{name}: rc {} errno {}", got.0, got.1);
}

/// What every run sees, filter or not.
fn ordinary_calls_work(calls: &BTreeMap<String, (i64, i64)>) {
    for name in ["stdin_pipe", "personality_query", "ioctl_fionread"] {
        succeeded(calls, name);
    }
    assert_eq!(calls["pipe"].0, 4);
    for name in ["clone", "fork", "spawn", "thread"] {
        assert_eq!(calls[name].0, CHILD_CODE, "{name}: {:?}", calls[name]);
    }
    failed(calls, "unknown_1000", libc::ENOSYS);
    failed(calls, "unknown_400", libc::ENOSYS);
}

fn refused_in_sandbox(rootless: bool) {
    let fs = Rootfs::probe();
    let out = run(&config(&fs, rootless), None).unwrap();
    let calls = calls(&out);
    ordinary_calls_work(&calls);
    assert_eq!(calls["getpid"].0, 1);
    for name in [
        "io_uring_setup",
        "modify_ldt",
        "x32_getpid",
        "personality_linux32",
        "ioctl_tiocsti",
        "ioctl_tiocsti_high",
        "ioctl_tioclinux",
        "keyctl",
        "socket_vsock",
        "clone_newuser",
    ] {
        failed(&calls, name, libc::EPERM);
    }
    failed(&calls, "clone3", libc::ENOSYS);
}

#[test]
fn refused_calls_get_the_policy_errno_in_root_mode() {
    if !have_root("refused_calls_get_the_policy_errno_in_root_mode") {
        return;
    }
    let _s = serial();
    refused_in_sandbox(false);
}

#[test]
fn refused_calls_get_the_policy_errno_in_rootless_mode() {
    if !have_root("refused_calls_get_the_policy_errno_in_rootless_mode") {
        return;
    }
    let _s = serial();
    refused_in_sandbox(true);
}

#[test]
fn without_the_filter_the_same_calls_reach_the_kernel() {
    // The control: as a plain process (root, no seccomp) the probe sees the
    // kernel's own answers, so the EPERMs above are the filter's.
    if !have_root("without_the_filter_the_same_calls_reach_the_kernel") {
        return;
    }
    let _s = serial();
    let mut c = Config::process(PROBE);
    c.args = vec!["syscalls".to_string()];
    let out = run(&c, None).unwrap();
    let calls = calls(&out);
    ordinary_calls_work(&calls);
    assert!(calls["getpid"].0 > 1);
    for name in [
        "io_uring_setup",
        "modify_ldt",
        "personality_linux32",
        "keyctl",
    ] {
        succeeded(&calls, name);
    }
    // A pipe is no terminal: the kernel answers ENOTTY, high bits or not.
    for name in ["ioctl_tiocsti", "ioctl_tiocsti_high", "ioctl_tioclinux"] {
        failed(&calls, name, libc::ENOTTY);
    }
    // x32 off (the usual boot) answers ENOSYS; on, it is getpid.
    let x32 = calls["x32_getpid"];
    assert!(x32.0 > 1 || x32.1 == i64::from(libc::ENOSYS), "{x32:?}");
    // A vsock socket, or the kernel's answer where vsock is missing.
    let vsock = calls["socket_vsock"];
    assert!(
        vsock.0 >= 0 || vsock.1 == i64::from(libc::EAFNOSUPPORT),
        "{vsock:?}"
    );
    assert_eq!(calls["clone3"].0, CHILD_CODE);
    assert_eq!(calls["clone_newuser"].0, CHILD_CODE);
}
