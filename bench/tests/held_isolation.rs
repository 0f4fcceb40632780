//! A sandbox held in the scale driver (`vmlab scale`'s `sandbox` row,
//! started through the sandbox library) is isolated exactly like one held
//! through `vmlab run --backend sandbox -- --hold` (the `sandbox-run`
//! row): the same namespaces, each distinct from the host's, seccomp in
//! filter mode, the same capabilities and id map, and a vmlab cgroup of
//! its own. The control: the driver's plain process shows the host's
//! namespaces, no filter and no vmlab cgroup, so the probe tells them apart.
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use vmlab_bench::scale::indriver::InDriver;
use vmlab_bench::scale::{Holder, Spawned};
use vmlab_test_util::have_root;

/// The tests count this process's cgroups: one at a time.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

const NAMESPACES: &[&str] = &["mnt", "pid", "net", "uts", "ipc", "user", "cgroup"];

fn images() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/vmlab/images");
    vmlab_bench::compare::images::ensure_built(&dir, false, true).expect("the images build");
    dir
}

/// What a process's isolation looks like from the host.
#[derive(Debug)]
struct View {
    /// Namespace name -> its link (`net:[4026531840]`).
    ns: BTreeMap<String, String>,
    /// `Seccomp`, `NoNewPrivs`, `CapInh`, `CapPrm`, `CapEff`, `CapBnd`, `CapAmb`.
    status: BTreeMap<String, String>,
    uid_map: String,
    cgroup: String,
}

fn view(pid: u32) -> View {
    let p = PathBuf::from(format!("/proc/{pid}"));
    let ns = NAMESPACES
        .iter()
        .map(|n| {
            let l = std::fs::read_link(p.join("ns").join(n)).unwrap();
            (n.to_string(), l.display().to_string())
        })
        .collect();
    let text = std::fs::read_to_string(p.join("status")).unwrap();
    let keys = [
        "Seccomp",
        "NoNewPrivs",
        "CapInh",
        "CapPrm",
        "CapEff",
        "CapBnd",
        "CapAmb",
    ];
    let status = text
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            keys.contains(&k)
                .then(|| (k.to_string(), v.trim().to_string()))
        })
        .collect();
    let squash = |s: String| s.split_whitespace().collect::<Vec<_>>().join(" ");
    View {
        ns,
        status,
        uid_map: squash(std::fs::read_to_string(p.join("uid_map")).unwrap()),
        cgroup: std::fs::read_to_string(p.join("cgroup")).unwrap(),
    }
}

/// The one child of `pid` (the workload `vmlab run` cloned).
fn only_child(pid: u32) -> u32 {
    let kids = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap();
    let kids: Vec<u32> = kids
        .split_whitespace()
        .map(|k| k.parse().unwrap())
        .collect();
    assert_eq!(kids.len(), 1, "children of {pid}: {kids:?}");
    kids[0]
}

/// The cgroup lines that name a vmlab cgroup (`.../vmlab/<pid>-<n>`).
fn vmlab_cgroups(v: &View) -> Vec<&str> {
    v.cgroup.lines().filter(|l| l.contains("/vmlab/")).collect()
}

#[test]
fn a_sandbox_held_in_the_driver_is_isolated_like_one_held_through_vmlab_run() {
    if !have_root("a_sandbox_held_in_the_driver_is_isolated_like_one_held_through_vmlab_run") {
        return;
    }
    let _one = serial();
    let images = images();
    let host = view(std::process::id());

    let driver = InDriver::sandbox(&images).unwrap();
    let held = driver.start_held().unwrap();
    let inside = view(held.pid().unwrap());

    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vmlab"));
    cmd.args([
        "run",
        "--backend",
        "sandbox",
        "--timeout",
        "600",
        "--images",
    ])
    .arg(&images)
    .args(["--", "--hold"]);
    let run = Spawned::start(&mut cmd, Duration::from_secs(60), None).unwrap();
    let run_pid = run.pid().unwrap();
    let via_run = view(only_child(run_pid));

    for n in NAMESPACES {
        assert_ne!(
            inside.ns[*n], host.ns[*n],
            "in the driver: {n} is the host's"
        );
        assert_ne!(via_run.ns[*n], host.ns[*n], "vmlab run: {n} is the host's");
        assert_ne!(
            inside.ns[*n], via_run.ns[*n],
            "{n} is shared between the two"
        );
    }
    assert_eq!(inside.status["Seccomp"], "2", "{inside:?}");
    assert_eq!(inside.status, via_run.status);
    assert_eq!(inside.status["NoNewPrivs"], "1");
    assert_ne!(
        inside.status["CapBnd"], host.status["CapBnd"],
        "capabilities dropped"
    );
    assert_eq!(inside.uid_map, via_run.uid_map);
    assert_ne!(
        inside.uid_map, host.uid_map,
        "root inside is not root outside"
    );
    let (a, b) = (vmlab_cgroups(&inside), vmlab_cgroups(&via_run));
    assert!(!a.is_empty(), "in a vmlab cgroup: {}", inside.cgroup);
    assert_eq!(a.len(), b.len(), "{a:?} {b:?}");
    assert!(
        a.iter().all(|l| !b.contains(l)),
        "a cgroup of its own: {a:?} {b:?}"
    );
    // Named after the process that made it: the driver itself, or `vmlab run`.
    let me = format!("/vmlab/{}-", std::process::id());
    let them = format!("/vmlab/{run_pid}-");
    assert!(a.iter().all(|l| l.contains(&me)), "{a:?}");
    assert!(b.iter().all(|l| l.contains(&them)), "{b:?}");

    assert_eq!(held.release().unwrap(), 0);
    assert_eq!(run.release().unwrap(), 0);

    // The control: the driver's plain process is not isolated, and the
    // same probe says so.
    let plain = InDriver::process(&images).unwrap();
    let p = plain.start_held().unwrap();
    let outside = view(p.pid().unwrap());
    assert_eq!(
        outside.ns, host.ns,
        "the plain process has the host's namespaces"
    );
    assert_eq!(outside.status["Seccomp"], "0");
    assert_eq!(outside.uid_map, host.uid_map);
    assert!(vmlab_cgroups(&outside).is_empty(), "{}", outside.cgroup);
    assert_eq!(p.release().unwrap(), 0);
}

#[test]
fn a_held_sandbox_that_ends_before_ready_says_how_and_leaves_nothing() {
    if !have_root("a_held_sandbox_that_ends_before_ready_says_how_and_leaves_nothing") {
        return;
    }
    let _one = serial();
    let images = images();
    let o = vmlab_bench::configs::SandboxOptions::new(
        images.join("rootfs"),
        ["--no-such-flag", "--hold"].map(String::from).to_vec(),
        Duration::from_secs(60),
    );
    let config = vmlab_bench::configs::sandbox(&o).unwrap();
    let holder = InDriver::new("sandbox", config);
    let cgroups = |pid: u32| {
        let dirs = ["/sys/fs/cgroup/memory/vmlab", "/sys/fs/cgroup/vmlab"];
        dirs.iter()
            .flat_map(|d| std::fs::read_dir(d).into_iter().flatten().flatten())
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with(&format!("{pid}-"))
            })
            .count()
    };
    let e = format!(
        "{:#}",
        holder.start_held().err().expect("it does not start")
    );
    assert!(
        e.contains("exited (code")
            && e.contains("before it was ready")
            && e.contains("no-such-flag"),
        "{e}"
    );
    assert_eq!(cgroups(std::process::id()), 0, "its cgroup was removed");
}

/// This process's open fds now.
fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[test]
fn a_held_instance_keeps_at_most_four_fds_in_the_driver() {
    if !have_root("a_held_instance_keeps_at_most_four_fds_in_the_driver") {
        return;
    }
    let _one = serial();
    let images = images();
    // 4000 held instances must fit under a hard open-file limit of 20000
    // (this host's; no CAP_SYS_RESOURCE to lift it): pidfd, protocol
    // (also the release), stdout, stderr.
    const N: usize = 16;
    for driver in [
        InDriver::sandbox(&images).unwrap(),
        InDriver::process(&images).unwrap(),
    ] {
        let before = open_fds();
        let held: Vec<_> = (0..N).map(|_| driver.start_held().unwrap()).collect();
        let per = (open_fds() - before) as f64 / N as f64;
        // The count sees them (the control: at least the pidfd and the
        // three channels), and no more than four stay.
        assert!(
            (3.0..=4.0).contains(&per),
            "{}: {per} fds per held instance",
            driver.name()
        );
        for h in held {
            assert_eq!(h.release().unwrap(), 0);
        }
        assert_eq!(
            open_fds(),
            before,
            "{}: every fd closed after release",
            driver.name()
        );
    }
}
