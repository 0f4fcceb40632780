//! Warm sandboxes (root only; CI sets VMLAB_REQUIRE_ROOT=1): a parked and
//! released sandbox's workload sees what a cold one's sees (the seccomp
//! policy, capabilities, ids, mounts, fds), and a pool's tear-down leaves
//! nothing behind.
mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{cgroups_of, json_lines, serial, HostState, Rootfs, PROBE};
use vmlab_sandbox::pool::{Parked, Pool};
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

fn parked_run(c: &Config) -> Outcome {
    Parked::prepare(c).unwrap().run(None).unwrap()
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
    for rootless in [false, true] {
        for mode in ["info", "mounts"] {
            let c = config(&fs, rootless, &[mode]);
            let cold = lines(&run(&c, None).unwrap());
            let warm = lines(&parked_run(&c));
            assert!(!cold.is_empty());
            assert_eq!(cold, warm, "{mode}, rootless {rootless}");
        }
        let c = config(&fs, rootless, &["syscalls"]);
        let cold = syscalls(&run(&c, None).unwrap());
        let warm = syscalls(&parked_run(&c));
        assert_eq!(cold.len(), 22);
        assert_eq!(cold, warm, "rootless {rootless}");
        // The filter was loaded before the park: refused calls stay refused.
        assert_eq!(warm["keyctl"], (-1, i64::from(libc::EPERM)));
    }
    // The control: a parked plain process (no filter) reaches the kernel,
    // so the probe tells a filtered workload from an unfiltered one.
    let mut plain = Config::process(PROBE);
    plain.args = vec!["syscalls".into()];
    let open = syscalls(&parked_run(&plain));
    assert!(open["keyctl"].0 >= 0, "{:?}", open["keyctl"]);
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
    for rootless in [false, true] {
        let mut c = config(&fs, rootless, &["ready", "3"]);
        c.ns.net = vmlab_sandbox::Net::Loopback;
        c.timeout = Duration::from_secs(10);
        let mut pool = Pool::new(c, 3).unwrap();
        // The control: the parked sandboxes are there to be found.
        let live = HostState::now();
        assert_eq!(live.children, before.children + 3);
        assert!(!cgroups_of(me).is_empty());
        assert!(live.netns >= before.netns + 3);
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
