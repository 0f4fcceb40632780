//! Cleanup under memory pressure: held sandboxes, one of which (instance
//! k) runs out of memory within its cgroup's limit and is killed by the
//! OOM killer while held. The run stops with a failure that says so, keeps
//! the curve up to there, counts the dead one, and tears every other
//! instance down: no held process, cgroup, mount or network namespace is
//! left. The control: a held instance is seen by the same leftover count.
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use vmlab_bench::configs::{self, SandboxOptions};
use vmlab_bench::scale::indriver::InDriver;
use vmlab_bench::scale::{self, Held, Holder, Settings, Stopper};
use vmlab_test_util::have_root;

fn images() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/vmlab/images");
    vmlab_bench::compare::images::ensure_built(&dir, false, true).expect("the images build");
    dir
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

/// This process's cgroups below vmlab's parents (named `<pid>-<n>`).
fn my_cgroups() -> BTreeSet<String> {
    let me = format!("{}-", std::process::id());
    let mut out = BTreeSet::new();
    for root in ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"] {
        let Ok(ctrls) = std::fs::read_dir(root) else {
            continue;
        };
        let mut dirs: Vec<PathBuf> = ctrls.flatten().map(|e| e.path().join("vmlab")).collect();
        dirs.push(PathBuf::from(root).join("vmlab"));
        for d in dirs {
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                if e.file_name().to_string_lossy().starts_with(&me) {
                    out.insert(e.path().display().to_string());
                }
            }
        }
    }
    out
}

fn mounts() -> usize {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .count()
}

/// Held sandboxes; the `oom_at`-th touches more memory than its cgroup
/// allows once it is ready (the workload runs its kernels after ready).
struct OomAt {
    good: InDriver,
    hungry: InDriver,
    oom_at: u32,
    started: AtomicU32,
}

impl Holder for OomAt {
    fn name(&self) -> &str {
        "sandbox"
    }

    fn start_held(&self) -> anyhow::Result<Held<'_>> {
        let n = self.started.fetch_add(1, Ordering::SeqCst) + 1;
        if n == self.oom_at {
            self.hungry.start_held()
        } else {
            self.good.start_held()
        }
    }
}

#[test]
fn an_instance_killed_for_memory_stops_the_run_with_its_cause_and_nothing_is_left() {
    if !have_root("an_instance_killed_for_memory_stops_the_run_with_its_cause_and_nothing_is_left")
    {
        return;
    }
    let images = images();
    let good = InDriver::sandbox(&images).unwrap();
    let mut o = SandboxOptions::new(
        images.join("rootfs"),
        ["pagetouch", "--size", "96M", "--time", "5s", "--hold"]
            .map(String::from)
            .to_vec(),
        Duration::from_secs(600),
    );
    o.memory = Some("24M".into());
    let hungry = InDriver::new("sandbox", configs::sandbox(&o).unwrap());
    let (pids, cgroups, mounts_before) = (held_pids(), my_cgroups(), mounts());

    // The control: one held instance shows in the leftover count.
    let mut h = good.start_held().unwrap();
    let pid = h.pid().unwrap() as i32;
    assert!(held_pids().contains(&pid), "control: {pid} is not seen");
    assert!(
        my_cgroups().len() > cgroups.len(),
        "control: its cgroup is not seen"
    );
    assert!(!h.exited());
    assert_eq!(h.release().unwrap(), 0);

    let holder = OomAt {
        good,
        hungry,
        oom_at: 5,
        started: AtomicU32::new(0),
    };
    let s = Settings {
        max: 40,
        budget_bytes: u64::MAX,
        time_limit: Duration::from_secs(120),
        levels: vec![],
    };
    let r = scale::measure(&holder, None, &s, &Stopper::never()).unwrap();
    let f = r.failure.clone().unwrap_or_default();
    eprintln!("the failure: {f}");
    assert!(f.contains("instance 5") && f.contains("OOM killer"), "{f}");
    assert_eq!(r.died, 1, "{r:?}");
    assert!(
        r.density.len() >= 5,
        "the curve up to the failure is kept: {f}"
    );
    assert_eq!(r.reached as usize, r.density.len() - 1);

    let t = Instant::now();
    let left = loop {
        let now: Vec<i32> = held_pids()
            .into_iter()
            .filter(|p| !pids.contains(p))
            .collect();
        if now.is_empty() && my_cgroups() == cgroups || t.elapsed() > Duration::from_secs(20) {
            break now;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(left.is_empty(), "left running: {left:?}");
    assert_eq!(my_cgroups(), cgroups, "cgroups left");
    assert_eq!(mounts(), mounts_before);
}
