//! Warm sandboxes (root only; CI sets VMLAB_REQUIRE_ROOT=1): a parked and
//! released sandbox's workload sees what a cold one's sees (the seccomp
//! policy, capabilities, ids, mounts, fds), and a pool's tear-down leaves
//! nothing behind.
mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{cgroups_of, json_lines, serial, HostState, Rootfs, PROBE};
use vmlab_sandbox::pool::{ParkAt, Parked, Pool};
use vmlab_sandbox::{run, Config, ExitStatus, Limits, Outcome, UserNs};
use vmlab_test_util::have_root;

fn config(fs: &Rootfs, rootless: bool, args: &[&str]) -> Config {
    let mut c = Config::sandbox(&fs.path);
    c.args = args.iter().map(|s| s.to_string()).collect();
    c.limits = Limits {
        memory: Some(128 << 20),
        pids: Some(32),
        cpus: None,
    };
    c.ns.user = rootless.then(UserNs::rootless);
    c
}

/// The probe's JSON lines without the fields that differ run to run.
fn lines(out: &Outcome) -> Vec<serde_json::Value> {
    assert_eq!(out.status, ExitStatus::Code(0), "{out:?}");
    let mut v = json_lines(&out.stdout);
    for l in &mut v {
        if let Some(o) = l.as_object_mut() {
            o.remove("pid");
        }
    }
    v
}

fn parked_run(c: &Config, at: ParkAt) -> Outcome {
    Parked::prepare_at(c, at).unwrap().run(None).unwrap()
}

fn syscalls(out: &Outcome) -> BTreeMap<String, (i64, i64)> {
    json_lines(&out.stdout)
        .into_iter()
        .filter(|l| l["vmlab"] == "syscall")
        .map(|l| {
            let rc = l["rc"].as_i64().unwrap_or(0);
            let errno = l["errno"].as_i64().unwrap_or(0);
            (l["name"].as_str().unwrap_or("").to_string(), (rc, errno))
        })
        .collect()
}

#[test]
fn a_released_sandbox_sees_what_a_cold_one_sees() {
    if !have_root("a_released_sandbox_sees_what_a_cold_one_sees") {
        return;
    }
    let _s = serial();
    let fs = Rootfs::probe();
    for (rootless, at) in [false, true]
        .into_iter()
        .flat_map(|r| [(r, ParkAt::Exec), (r, ParkAt::Workload)])
    {
        for mode in ["info", "mounts"] {
            let c = config(&fs, rootless, &[mode]);
            let cold = lines(&run(&c, None).unwrap());
            let warm = lines(&parked_run(&c, at));
            assert!(!cold.is_empty());
            assert_eq!(cold, warm, "{mode}, rootless {rootless}, {at:?}");
        }
        let c = config(&fs, rootless, &["syscalls"]);
        let cold = syscalls(&run(&c, None).unwrap());
        let warm = syscalls(&parked_run(&c, at));
        assert_eq!(cold.len(), 22);
        assert_eq!(cold, warm, "rootless {rootless}, {at:?}");
        // The filter was loaded before the park: refused calls stay refused.
        assert_eq!(warm["keyctl"], (-1, i64::from(libc::EPERM)));
    }
    // The control: a parked plain process (no filter) reaches the kernel,
    // so the probe tells a filtered workload from an unfiltered one.
    let mut plain = Config::process(PROBE);
    plain.args = vec!["syscalls".into()];
    for at in [ParkAt::Exec, ParkAt::Workload] {
        let open = syscalls(&parked_run(&plain, at));
        assert!(open["keyctl"].0 >= 0, "{at:?}: {:?}", open["keyctl"]);
    }
}

/// The fd numbers `pid` has open.
fn fds_of(pid: i32) -> Vec<i32> {
    let mut v: Vec<i32> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    v.sort_unstable();
    v
}

#[test]
fn the_workload_inherits_fds_0_to_3_only() {
    if !have_root("the_workload_inherits_fds_0_to_3_only") {
        return;
    }
    let _s = serial();
    let fs = Rootfs::probe();
    // Another sandbox's pipes are open in this process meanwhile.
    let _other = Parked::prepare(&config(&fs, false, &["ready"])).unwrap();
    let parked = Parked::prepare(&config(&fs, false, &["sleep", "5"])).unwrap();
    let pid = parked.pid();
    // The control: parked, it holds its two setup pipes beyond fds 0-3.
    let before = fds_of(pid);
    assert_eq!(before.len(), 6, "parked fds {before:?}");
    let running = parked.release().unwrap();
    let after = fds_of(pid);
    assert_eq!(after, [0, 1, 2, 3], "workload fds");
    drop(running);
    // Parked in its workload: fds 0-3 while parked and after, fd 0 its end
    // of the protocol socket pair (the go byte comes on it), and fd 3 the
    // same socket.
    let parked =
        Parked::prepare_at(&config(&fs, false, &["sleep", "5"]), ParkAt::Workload).unwrap();
    let pid = parked.pid();
    assert_eq!(fds_of(pid), [0, 1, 2, 3], "fds parked in the workload");
    let stdin = std::fs::read_link(format!("/proc/{pid}/fd/0")).unwrap();
    let proto = std::fs::read_link(format!("/proc/{pid}/fd/3")).unwrap();
    assert!(stdin.to_string_lossy().starts_with("socket:"), "{stdin:?}");
    assert_eq!(stdin, proto, "stdin is the protocol channel");
    let running = parked.release().unwrap();
    assert_eq!(fds_of(pid), [0, 1, 2, 3], "workload fds");
    drop(running);
}

#[test]
fn a_pools_tear_down_leaves_nothing_behind() {
    if !have_root("a_pools_tear_down_leaves_nothing_behind") {
        return;
    }
    let _s = serial();
    let fs = Rootfs::probe();
    let me = std::process::id();
    let before = HostState::now();
    let fds = fds_of(me as i32).len();
    for (rootless, at) in [false, true]
        .into_iter()
        .flat_map(|r| [(r, ParkAt::Exec), (r, ParkAt::Workload)])
    {
        let mut c = config(&fs, rootless, &["ready", "3"]);
        c.ns.net = vmlab_sandbox::Net::Loopback;
        c.timeout = Duration::from_secs(10);
        let mut pool = Pool::new_at(c, 3, at).unwrap();
        // The control: the parked sandboxes are there to be found, and so
        // are the pipes this process holds for them.
        let live = HostState::now();
        assert_eq!(live.children, before.children + 3, "{at:?}");
        assert!(!cgroups_of(me).is_empty());
        assert!(live.netns >= before.netns + 3);
        assert!(live.mntns >= before.mntns + 3);
        assert!(fds_of(me as i32).len() >= fds + 3 * 4, "{at:?}");
        let out = pool.run(None).unwrap();
        assert_eq!(out.status, ExitStatus::Code(3));
        assert!(out.ready.is_some());
        assert_eq!(pool.warm(), 3);
        drop(pool.take());
        drop(pool);
    }
    assert_eq!(HostState::settled(&before), before);
    assert!(cgroups_of(me).is_empty());
    assert_eq!(fds_of(me as i32).len(), fds, "fds of the test process");
}

/// The rootfs `vmlab images build` makes (the real workload as `/init`).
fn real_rootfs(top: &std::path::Path) -> std::path::PathBuf {
    let rootfs = vmlab_images::rootfs::Rootfs::new(vmlab_images::embedded::WORKLOAD);
    let dir = top.join("real-rootfs");
    rootfs.write_to(&dir).unwrap();
    dir
}

#[test]
fn the_real_workload_parks_in_its_sandbox_until_released() {
    if !have_root("the_real_workload_parks_in_its_sandbox_until_released") {
        return;
    }
    let _s = serial();
    let scratch = Rootfs::probe();
    let dir = real_rootfs(scratch.top());
    for rootless in [false, true] {
        let mut c = Config::sandbox(&dir);
        c.args = vec!["--exit".into(), "5".into()];
        c.ns.user = rootless.then(UserNs::rootless);
        let parked = Parked::prepare_at(&c, ParkAt::Workload).unwrap();
        // Exec'd: its command line is the workload's, with --park.
        let cmd = std::fs::read(format!("/proc/{}/cmdline", parked.pid())).unwrap();
        assert_eq!(cmd, b"/init\0--exit\x005\0--park\0", "rootless {rootless}");
        std::thread::sleep(Duration::from_millis(20));
        let out = parked.run(None).unwrap();
        assert_eq!(out.status, ExitStatus::Code(5), "{out:?}");
        let names: Vec<_> = out.phases.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["release", "go", "ready"]);
        assert!(out.ready.is_some_and(|r| r > 0), "ready before the release");
        let l = json_lines(&out.stdout);
        assert_eq!(l.first().map(|v| v["vmlab"].clone()), Some("ready".into()));
    }
}
