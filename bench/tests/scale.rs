//! Held instances leave nothing behind: 200 of each of ours started and
//! torn down by `vmlab scale` leave no process, cgroup, mount, network
//! namespace or descriptor; a failure at instance k tears the first k − 1
//! down and keeps the curve; a SIGKILLed driver leaves no instance alive
//! (sandbox launchers, and vm-bare's fork server with its jailed VMMs).
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use vmlab_bench::scale::{self, Held, Holder, Settings, Spawned, Stopper};
use vmlab_test_util::{gate, have_root, kvm_available, KVM};

/// The tests count held workloads host-wide: one at a time.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

fn images() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/vmlab/images")
}

/// What could be left behind, counted host-wide.
#[derive(Debug, PartialEq, Eq)]
struct Leftovers {
    held: Vec<i32>,
    netns: usize,
    mounts: usize,
    cgroups: BTreeSet<String>,
    fds: usize,
}

/// Pids whose command line holds a workload (`--hold`).
fn held_pids() -> Vec<i32> {
    let mut v = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        if cmd.split(|&b| b == 0).any(|a| a == b"--hold") {
            v.push(pid);
        }
    }
    v
}

fn netns() -> usize {
    let mut inodes = BTreeSet::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(m) = std::fs::metadata(e.path().join("ns/net")) {
            inodes.insert(std::os::unix::fs::MetadataExt::ino(&m));
        }
    }
    inodes.len()
}

/// Every cgroup directory below vmlab's parents.
fn cgroups() -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for root in ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"] {
        let Ok(ctrls) = std::fs::read_dir(root) else {
            continue;
        };
        let mut dirs: Vec<PathBuf> = ctrls.flatten().map(|e| e.path().join("vmlab")).collect();
        dirs.push(PathBuf::from(root).join("vmlab"));
        for d in dirs {
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                if e.path().is_dir() {
                    out.insert(e.path().display().to_string());
                }
            }
        }
    }
    out
}

fn leftovers() -> Leftovers {
    Leftovers {
        held: held_pids(),
        netns: netns(),
        mounts: std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .count(),
        cgroups: cgroups(),
        fds: std::fs::read_dir("/proc/self/fd").unwrap().count(),
    }
}

/// Waits (namespaces are torn down asynchronously) until nothing is left
/// compared with `before`; the last view otherwise.
fn settled(before: &Leftovers) -> Leftovers {
    let t = Instant::now();
    loop {
        let now = leftovers();
        if now.held.is_empty()
            && now.netns <= before.netns
            && now.mounts == before.mounts
            && now.cgroups == before.cgroups
            && now.fds == before.fds
            || t.elapsed() > Duration::from_secs(20)
        {
            return now;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn vmlab_scale(backend: &str, max: u32) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_vmlab"))
        .args([
            "scale",
            "--json",
            "--concurrency",
            "4",
            "--backends",
            backend,
        ])
        .arg(format!("--max={max}"))
        .arg("--images")
        .arg(images())
        .output()
        .unwrap()
}

#[test]
fn two_hundred_held_instances_of_ours_leave_nothing_behind() {
    if !have_root("two_hundred_held_instances_of_ours_leave_nothing_behind") {
        return;
    }
    let _one = serial();
    // The control: a held workload is seen by the leftover count.
    let mut control = Command::new(env!("CARGO_BIN_EXE_vmlab"))
        .args(["run", "--backend", "process", "--images"])
        .arg(images())
        .args(["--", "--hold"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while held_pids().is_empty() && t.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        !held_pids().is_empty(),
        "control: a held workload is not seen"
    );
    drop(control.stdin.take());
    assert!(control.wait().unwrap().success());
    let mut backends = vec!["process", "sandbox"];
    if gate(kvm_available(), KVM, "vm-bare held instances need /dev/kvm") {
        backends.push("vm-bare");
    }
    for backend in backends {
        let before = leftovers();
        assert!(
            before.held.is_empty(),
            "held workloads already run: {before:?}"
        );
        let out = vmlab_scale(backend, 200);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{backend}: {stderr}");
        let r: Vec<vmlab_reports::model::ScaleResult> =
            serde_json::from_slice(&out.stdout).unwrap();
        // vm-bare (from the fork server) also gives the vm-bare-run row
        // (`vmlab run` per instance), vm-bare-inproc (in the driver) and
        // vm-bare-restored (the same, restored from one snapshot).
        let rows: Vec<&str> = r.iter().map(|row| row.backend.as_str()).collect();
        if backend == "vm-bare" {
            assert_eq!(
                rows,
                [
                    "vm-bare",
                    "vm-bare-run",
                    "vm-bare-inproc",
                    "vm-bare-restored"
                ]
            );
        } else {
            assert_eq!(rows, [backend]);
        }
        for row in &r {
            let what = &row.backend;
            assert_eq!((row.reached, row.died), (200, 0), "{what}: {stderr}");
            assert_eq!(row.density.len(), 200, "{what}");
        }
        let after = settled(&before);
        assert!(after.held.is_empty(), "{backend}: {after:?}");
        assert_eq!(after.cgroups, before.cgroups, "{backend}");
        assert_eq!(after.mounts, before.mounts, "{backend}");
        assert!(
            after.netns <= before.netns,
            "{backend}: {before:?} {after:?}"
        );
    }
}

/// A stand-in that is ready and held like a workload, and fails its
/// `fail_at`-th start.
struct FailsAt {
    fail_at: u32,
    started: AtomicU32,
}

impl Holder for FailsAt {
    fn name(&self) -> &str {
        "stand-in"
    }

    fn start_held(&self) -> anyhow::Result<Held<'_>> {
        let n = self.started.fetch_add(1, Ordering::SeqCst) + 1;
        let script = if n == self.fail_at {
            "echo cannot start >&2; exit 1"
        } else {
            "echo '{\"vmlab\":\"ready\"}'; read x"
        };
        let mut cmd = Command::new("sh");
        cmd.args(["-c", script, "--hold"]);
        Spawned::start(&mut cmd, Duration::from_secs(10), None)
    }
}

#[test]
fn a_failure_at_instance_k_tears_down_the_first_k_minus_one_and_keeps_the_curve() {
    let _one = serial();
    let before = held_pids();
    let fds = std::fs::read_dir("/proc/self/fd").unwrap().count();
    let holder = FailsAt {
        fail_at: 5,
        started: AtomicU32::new(0),
    };
    let s = Settings {
        max: 50,
        budget_bytes: u64::MAX,
        time_limit: Duration::from_secs(60),
        levels: vec![],
    };
    let r = scale::measure(&holder, None, &s, &Stopper::never()).unwrap();
    assert_eq!((r.reached, r.stopped.as_str()), (4, "failed"));
    assert_eq!(r.density.len(), 4, "the curve up to the failure is kept");
    let f = r.failure.unwrap();
    assert!(
        f.contains("instance 5") && f.contains("cannot start"),
        "{f}"
    );
    let now: Vec<_> = held_pids()
        .into_iter()
        .filter(|p| !before.contains(p))
        .collect();
    assert!(now.is_empty(), "left running: {now:?}");
    assert_eq!(std::fs::read_dir("/proc/self/fd").unwrap().count(), fds);
}

#[test]
fn a_sigkilled_driver_leaves_no_held_instance() {
    if !have_root("a_sigkilled_driver_leaves_no_held_instance") {
        return;
    }
    let _one = serial();
    let mut backends = vec!["sandbox"];
    // vm-bare's first row holds jailed VMMs forked by its fork server.
    if gate(kvm_available(), KVM, "vm-bare held instances need /dev/kvm") {
        backends.push("vm-bare");
    }
    for backend in backends {
        sigkill_driver_of(backend);
    }
}

fn sigkill_driver_of(backend: &str) {
    let before = leftovers();
    let mut driver = Command::new(env!("CARGO_BIN_EXE_vmlab"))
        .args(["scale", "--backends", backend, "--max", "1000"])
        .arg("--images")
        .arg(images())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let t = Instant::now();
    let mut seen = Vec::new();
    while seen.len() < 20 && t.elapsed() < Duration::from_secs(60) {
        seen = held_pids();
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        seen.len() >= 20,
        "{backend}: the driver held {} instances",
        seen.len()
    );
    driver.kill().unwrap();
    driver.wait().unwrap();
    let after = settled(&before);
    assert!(
        after.held.is_empty(),
        "{backend}: survived the driver: {:?}",
        after.held
    );
    assert_eq!(after.cgroups, before.cgroups, "{backend}");
    assert_eq!(after.mounts, before.mounts, "{backend}");
}
