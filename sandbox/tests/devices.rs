//! The device policy refuses device nodes outside the sandbox's `/dev`
//! allow-list even when they reach the workload — planted in a rootfs that
//! is not mounted `nodev` — on cgroup v1 and on v2 (root only; CI sets
//! VMLAB_REQUIRE_ROOT=1). Every check has its positive control: the same
//! probe without the policy opens the node.
//!
//! The workload is this test binary itself (static, like every binary
//! here) running [`harness_open_device`]: it opens the node and
//! `/dev/null` and prints what happened.
mod common;

use std::io::Write;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{serial, Rootfs};
use vmlab_sandbox::cgroup::{CgroupError, Hierarchy};
use vmlab_sandbox::{run, Config, ExitStatus, LaunchError, UserNs};
use vmlab_test_util::{have_root, host_has};

/// The node [`harness_open_device`] opens.
const OPEN_ENV: &str = "VMLAB_TEST_DEVICES_OPEN";
/// Set: [`harness_open_device`] first waits for a line on stdin.
const WAIT_ENV: &str = "VMLAB_TEST_DEVICES_WAIT";
/// [`harness_pure_v2`]: the rootfs to boot.
const V2_ENV: &str = "VMLAB_TEST_DEVICES_V2_ROOTFS";

/// `/dev/kmsg` (char 1:11): not in the allow-list, and opening it
/// write-only needs no capability, so without a policy the open succeeds.
const NODE: (u32, u32) = (1, 11);

fn open_result(path: &str) -> String {
    match std::fs::OpenOptions::new().write(true).open(path) {
        Ok(_) => "ok".into(),
        Err(e) => format!("errno {}", e.raw_os_error().unwrap_or(0)),
    }
}

/// The workload (in the sandbox or in a plain child process).
#[test]
#[ignore = "run by the tests of this file as their workload"]
fn harness_open_device() {
    let Ok(node) = std::env::var(OPEN_ENV) else {
        return;
    };
    if std::env::var_os(WAIT_ENV).is_some() {
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
    }
    println!(
        "HARNESS node={} null={}",
        open_result(&node),
        open_result("/dev/null")
    );
}

/// The harness's line in `stdout`.
fn harness_line(stdout: &[u8]) -> String {
    String::from_utf8_lossy(stdout)
        .lines()
        .find_map(|l| l.find("HARNESS ").map(|at| l[at..].to_string()))
        .unwrap_or_else(|| "(no HARNESS line)".into())
}

/// Makes the character device `NODE` at `path`, mode 0666.
fn mknod(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: `c` is a NUL-terminated path; mknod only reads it.
    let rc = unsafe {
        libc::mknod(
            c.as_ptr(),
            libc::S_IFCHR | 0o666,
            libc::makedev(NODE.0, NODE.1),
        )
    };
    assert_eq!(
        rc,
        0,
        "mknod {}: {}",
        path.display(),
        std::io::Error::last_os_error()
    );
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666)).unwrap();
}

/// A rootfs with this test binary as `/init` and the node at `/kmsg`.
fn rootfs_with_node() -> Rootfs {
    let fs = Rootfs::with_init(&std::fs::read(std::env::current_exe().unwrap()).unwrap());
    mknod(&fs.path.join("kmsg"));
    fs
}

/// A sandbox running [`harness_open_device`] on `/kmsg`.
fn config(fs: &Path, rootless: bool, devices: bool) -> Config {
    let mut c = Config::sandbox(fs);
    c.args = ["--exact", "harness_open_device", "--ignored", "--nocapture"]
        .into_iter()
        .chain(["--test-threads", "1"])
        .map(String::from)
        .collect();
    c.env = vec![(OPEN_ENV.into(), "/kmsg".into())];
    c.devices = devices;
    // The device policy as a layer of its own: the rootfs is not nodev here
    // (it is by default, which alone stops the node; see attacks.rs).
    c.rootfs_nodev = false;
    c.ns.user = rootless.then(UserNs::rootless);
    c
}

/// Boots the harness on `/kmsg` and returns its line.
fn boot(fs: &Path, rootless: bool, devices: bool) -> String {
    let out = run(&config(fs, rootless, devices), None).unwrap();
    let line = harness_line(&out.stdout);
    assert_eq!(
        out.status,
        ExitStatus::Code(0),
        "{line}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    line
}

const DENIED: &str = "HARNESS node=errno 1 null=ok";
const OPENED: &str = "HARNESS node=ok null=ok";

#[test]
fn the_device_policy_refuses_a_node_planted_in_the_rootfs() {
    if !have_root("the_device_policy_refuses_a_node_planted_in_the_rootfs") {
        return;
    }
    let _s = serial();
    let fs = rootfs_with_node();
    let mode = Hierarchy::detect().unwrap().mode;
    for rootless in [false, true] {
        // Positive control: without the policy the same workload opens it.
        assert_eq!(
            boot(&fs.path, rootless, false),
            OPENED,
            "{mode:?} rootless={rootless}"
        );
        assert_eq!(
            boot(&fs.path, rootless, true),
            DENIED,
            "{mode:?} rootless={rootless}"
        );
    }
}

/// Run by `the_device_policy_holds_on_pure_cgroup_v2` in a child process:
/// hides the v1 hierarchies in a private mount namespace and mounts the
/// machine's cgroup2 at /sys/fs/cgroup (pure v2 as far as the sandbox can
/// tell), then boots with and without the policy.
#[test]
#[ignore = "run by the_device_policy_holds_on_pure_cgroup_v2 as a child process"]
fn harness_pure_v2() {
    let Ok(rootfs) = std::env::var(V2_ENV) else {
        return;
    };
    // SAFETY: only this thread changes its mount namespace.
    assert_eq!(unsafe { libc::unshare(libc::CLONE_NEWNS) }, 0);
    if Hierarchy::detect().unwrap().mode != vmlab_sandbox::cgroup::Mode::V2 {
        let st = Command::new("sh")
            .args(["-c", "mount --make-rprivate / && umount -R /sys/fs/cgroup && mount -t cgroup2 none /sys/fs/cgroup"])
            .status()
            .unwrap();
        assert!(st.success());
    }
    let fs = PathBuf::from(rootfs);
    let mode = Hierarchy::detect().unwrap().mode;
    for rootless in [false, true] {
        for devices in [false, true] {
            let out = run(&config(&fs, rootless, devices), None).unwrap();
            println!(
                "RESULT mode={mode:?} rootless={rootless} devices={devices} cgroup={:?} {}",
                out.cgroup_mode,
                harness_line(&out.stdout)
            );
        }
    }
}

#[test]
fn the_device_policy_holds_on_pure_cgroup_v2() {
    if !have_root("the_device_policy_holds_on_pure_cgroup_v2") {
        return;
    }
    if !host_has(
        "the_device_policy_holds_on_pure_cgroup_v2",
        Hierarchy::detect().unwrap().v2.is_some(),
        "no cgroup2 mount",
    ) {
        return;
    }
    let _s = serial();
    let fs = rootfs_with_node();
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "harness_pure_v2", "--ignored", "--nocapture"])
        .args(["--test-threads", "1"])
        .env(V2_ENV, &fs.path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for rootless in [false, true] {
        for (devices, want) in [(false, OPENED), (true, DENIED)] {
            let line = format!(
                "RESULT mode=V2 rootless={rootless} devices={devices} cgroup=Some(V2) {want}"
            );
            assert!(text.contains(&line), "want {line}\n{text}");
        }
    }
}

/// Removes a cgroup directory, waiting for its exiting tasks.
fn rmdir(dir: &Path) {
    for _ in 0..200 {
        match std::fs::remove_dir(dir) {
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                std::thread::sleep(std::time::Duration::from_millis(5))
            }
            _ => return,
        }
    }
}

/// Runs [`harness_open_device`] on `node` as a plain process moved into the
/// v2 cgroup `dir` before it opens anything.
fn open_in_cgroup(dir: &Path, node: &Path) -> String {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "harness_open_device", "--ignored", "--nocapture"])
        .args(["--test-threads", "1"])
        .env(OPEN_ENV, node)
        .env(WAIT_ENV, "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::fs::write(dir.join("cgroup.procs"), child.id().to_string()).unwrap();
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{:?}", out.status);
    harness_line(&out.stdout)
}

#[test]
fn the_v2_device_program_refuses_what_the_table_does_not_list() {
    if !have_root("the_v2_device_program_refuses_what_the_table_does_not_list") {
        return;
    }
    let v2 = Hierarchy::detect().unwrap().v2;
    if !host_has(
        "the_v2_device_program_refuses_what_the_table_does_not_list",
        v2.is_some(),
        "no cgroup2 mount",
    ) {
        return;
    }
    let v2 = v2.unwrap();
    let _s = serial();
    // A scratch directory on /tmp (not nodev) for the node.
    let scratch = Rootfs::with_init(b"");
    let node = scratch.top().join("kmsg");
    mknod(&node);
    for program in [false, true] {
        let dir = v2.join(format!("vmlab-devices-test-{}", std::process::id()));
        std::fs::create_dir(&dir).unwrap();
        if program {
            let fd = std::fs::File::open(&dir).unwrap();
            vmlab_sandbox::cgroup::devices::attach_v2(fd.as_fd()).unwrap();
        }
        let line = open_in_cgroup(&dir, &node);
        rmdir(&dir);
        assert!(!dir.exists(), "{} is left behind", dir.display());
        assert_eq!(
            line,
            if program { DENIED } else { OPENED },
            "program={program}"
        );
    }
}

const NO_DEVICES_ENV: &str = "VMLAB_TEST_DEVICES_NO_HIERARCHY_ROOTFS";

/// Run by `without_a_v1_devices_hierarchy_the_policy_is_a_clear_error` in
/// a child process: hides the v1 devices hierarchy in a private mount
/// namespace, then boots with and without the policy.
#[test]
#[ignore = "run by without_a_v1_devices_hierarchy_the_policy_is_a_clear_error as a child process"]
fn harness_no_devices_hierarchy() {
    let Ok(rootfs) = std::env::var(NO_DEVICES_ENV) else {
        return;
    };
    // SAFETY: only this thread changes its mount namespace.
    assert_eq!(unsafe { libc::unshare(libc::CLONE_NEWNS) }, 0);
    let st = Command::new("sh")
        .args([
            "-c",
            "mount --make-rprivate / && umount /sys/fs/cgroup/devices",
        ])
        .status()
        .unwrap();
    assert!(st.success());
    let fs = PathBuf::from(rootfs);
    match run(&config(&fs, false, true), None) {
        Err(e @ LaunchError::Cgroup(CgroupError::NoDevicesController)) => {
            println!("REFUSED {e}")
        }
        other => println!("UNEXPECTED {other:?}"),
    }
    let out = run(&config(&fs, false, false), None).unwrap();
    println!("WITHOUT {}", harness_line(&out.stdout));
}

#[test]
fn without_a_v1_devices_hierarchy_the_policy_is_a_clear_error() {
    let test = "without_a_v1_devices_hierarchy_the_policy_is_a_clear_error";
    if !have_root(test) {
        return;
    }
    let hier = Hierarchy::detect().unwrap();
    let devices = hier
        .v1
        .iter()
        .find(|(c, _)| *c == vmlab_sandbox::cgroup::Controller::Devices);
    if !host_has(
        test,
        devices.map(|(_, m)| m.as_path()) == Some(Path::new("/sys/fs/cgroup/devices")),
        "no v1 devices hierarchy at /sys/fs/cgroup/devices",
    ) {
        return;
    }
    let _s = serial();
    let fs = rootfs_with_node();
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "harness_no_devices_hierarchy", "--ignored"])
        .args(["--nocapture", "--test-threads", "1"])
        .env(NO_DEVICES_ENV, &fs.path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("REFUSED the devices controller is not mounted"),
        "{text}"
    );
    assert!(text.contains(&format!("WITHOUT {OPENED}")), "{text}");
}
