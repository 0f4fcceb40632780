//! vm-bare's fork server (root and KVM; skipped without, failing under
//! `VMLAB_REQUIRE_ROOT`/`_KVM`): a held VM it forks is confined exactly as
//! the jailed VMM of `vmlab run --backend vm-bare -- --hold` (seccomp, no
//! new privileges, no capabilities, uid 65534, its own namespaces, an empty
//! root, a cgroup of its own with memory and pids limits), while this
//! unjailed test process, where `vm-bare-inproc` holds its VMs, shows as
//! unconfined by the same check (the positive control); releasing and
//! dropping leave nothing.
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use vmlab_bench::scale::zygote::Zygote;
use vmlab_bench::scale::Holder;
use vmlab_test_util::{gate, have_root, kvm_available, KVM};

fn images() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/vmlab/images")
}

fn field(status: &str, name: &str) -> String {
    status
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .map_or_else(|| "absent".into(), |v| v.trim().to_string())
}

/// What the jail sets about process `pid`, as comparable text.
fn profile(pid: u32) -> BTreeMap<&'static str, String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let mut p = BTreeMap::new();
    for name in [
        "Seccomp",
        "NoNewPrivs",
        "CapEff",
        "CapPrm",
        "CapInh",
        "CapBnd",
        "CapAmb",
        "Uid",
        "Gid",
        "Groups",
    ] {
        p.insert(name, field(&status, name));
    }
    for ns in ["mnt", "net", "ipc", "uts", "user", "cgroup"] {
        let mine = std::fs::read_link(format!("/proc/self/ns/{ns}")).unwrap();
        let theirs = std::fs::read_link(format!("/proc/{pid}/ns/{ns}")).unwrap();
        let key: &'static str = Box::leak(format!("ns {ns}").into_boxed_str());
        p.insert(key, if mine == theirs { "shared" } else { "own" }.into());
    }
    let root = std::fs::read_dir(format!("/proc/{pid}/root"))
        .map(|d| d.count().to_string())
        .unwrap_or_else(|e| format!("unreadable: {e}"));
    p.insert("root entries", root);
    // Its cgroups (the part below vmlab/, with the id cut off), per controller.
    let cgroups = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let mut own: Vec<String> = cgroups
        .lines()
        .filter_map(|l| {
            let (ctrl, path) = l.split_once(':')?.1.split_once(':')?;
            path.contains("/vmlab/").then(|| ctrl.to_string())
        })
        .collect();
    own.sort();
    p.insert("vmlab cgroups", own.join(","));
    p
}

/// What a jailed VMM must show.
fn expected() -> BTreeMap<&'static str, String> {
    let zero = "0000000000000000".to_string();
    let mut p = BTreeMap::from([
        ("Seccomp", "2".to_string()),
        ("NoNewPrivs", "1".to_string()),
        ("CapEff", zero.clone()),
        ("CapPrm", zero.clone()),
        ("CapInh", zero.clone()),
        ("CapBnd", zero.clone()),
        ("CapAmb", zero),
        ("Uid", "65534\t65534\t65534\t65534".to_string()),
        ("Gid", "65534\t65534\t65534\t65534".to_string()),
        ("Groups", String::new()),
        ("root entries", "0".to_string()),
    ]);
    for ns in ["mnt", "net", "ipc", "uts", "user", "cgroup"] {
        let key: &'static str = Box::leak(format!("ns {ns}").into_boxed_str());
        p.insert(key, "own".into());
    }
    p
}

/// The first child of `parent` that shows `Seccomp: 2`, waited for.
fn jailed_child_of(parent: u32) -> u32 {
    let t = Instant::now();
    loop {
        let kids = std::fs::read_to_string(format!("/proc/{parent}/task/{parent}/children"))
            .unwrap_or_default();
        for kid in kids
            .split_whitespace()
            .filter_map(|k| k.parse::<u32>().ok())
        {
            let status = std::fs::read_to_string(format!("/proc/{kid}/status")).unwrap_or_default();
            if field(&status, "Seccomp") == "2" {
                return kid;
            }
        }
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "no jailed child of {parent}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit(')')
            .next()
            .is_some_and(|r| !r.trim_start().starts_with('Z'))
    })
}

#[test]
fn a_vm_from_the_fork_server_is_jailed_like_vmlab_runs() {
    if !have_root("a_vm_from_the_fork_server_is_jailed_like_vmlab_runs")
        || !gate(kvm_available(), KVM, "held VMs need /dev/kvm")
    {
        return;
    }
    // The positive control: this unjailed process fails the check.
    let me = profile(std::process::id());
    let want = expected();
    for key in [
        "Seccomp",
        "NoNewPrivs",
        "CapEff",
        "Uid",
        "ns net",
        "ns mnt",
        "vmlab cgroups",
    ] {
        assert_ne!(
            me.get(key),
            want.get(key).or(Some(&"x".into())),
            "control: {key}"
        );
    }
    assert_eq!(me["Seccomp"], "0", "control");

    // `vmlab run`'s jailed VMM.
    let mut run = Command::new(env!("CARGO_BIN_EXE_vmlab"))
        .args(["run", "--backend", "vm-bare", "--mem", "2", "--images"])
        .arg(images())
        .args(["--", "--hold"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let run_vmm = jailed_child_of(run.id());
    let by_run = profile(run_vmm);
    drop(run.stdin.take());
    assert!(run.wait().unwrap().success());

    let z = Zygote::start(env!("CARGO_BIN_EXE_vmlab").as_ref()).unwrap();
    let held = z.start_held().unwrap();
    let pid = held.pid().unwrap();
    let by_zygote = profile(pid);
    let mut with_cgroups = want.clone();
    with_cgroups.insert("vmlab cgroups", by_run["vmlab cgroups"].clone());
    assert!(
        by_run["vmlab cgroups"].contains("memory") && by_run["vmlab cgroups"].contains("pids"),
        "vmlab run's VMM has its memory and pids cgroups: {by_run:?}"
    );
    assert_eq!(by_run, with_cgroups, "vmlab run's jailed VMM {run_vmm}");
    assert_eq!(
        by_zygote, by_run,
        "the fork server's VMM {pid} against vmlab run's"
    );
    assert_eq!(
        held.release().unwrap(),
        0,
        "the released guest exits with 0"
    );
    assert!(!alive(pid), "{pid} outlived its release");

    // Dropped without a release: killed and reaped.
    let held = z.start_held().unwrap();
    let pid = held.pid().unwrap();
    drop(held);
    assert!(!alive(pid), "{pid} outlived its drop");
    drop(z);
}

#[test]
fn a_vm_from_the_fork_server_dies_with_it() {
    if !have_root("a_vm_from_the_fork_server_dies_with_it")
        || !gate(kvm_available(), KVM, "held VMs need /dev/kvm")
    {
        return;
    }
    let z = Zygote::start(env!("CARGO_BIN_EXE_vmlab").as_ref()).unwrap();
    let held = z.start_held().unwrap();
    let vmm = held.pid().unwrap();
    let cgroups = own_cgroup_dirs(vmm);
    assert!(!cgroups.is_empty(), "the VMM {vmm} has cgroups of its own");
    let stat = std::fs::read_to_string(format!("/proc/{vmm}/stat")).unwrap();
    let server: i32 = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    // SAFETY: kill sends a signal to the server this test started.
    assert_eq!(unsafe { libc::kill(server, libc::SIGKILL) }, 0);
    let t = Instant::now();
    while alive(vmm) && t.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(!alive(vmm), "the VMM {vmm} outlived its SIGKILLed server");
    // Its release now fails with a message, it does not hang or panic.
    let e = held.release().unwrap_err();
    assert!(format!("{e:#}").contains("fork server"), "{e:#}");
    // Reaped here (a zombie still counts as alive for the sweep).
    drop(z);
    // A SIGKILLed server cannot remove its VMMs' cgroups; the next cgroup
    // created sweeps those of dead owners (named after the server's pid).
    let z = Zygote::start(env!("CARGO_BIN_EXE_vmlab").as_ref()).unwrap();
    let next = z.start_held().unwrap();
    for dir in &cgroups {
        assert!(!dir.exists(), "{} was not swept", dir.display());
    }
    assert_eq!(next.release().unwrap(), 0);
}

/// The cgroup directories below vmlab/ that `pid` is in.
fn own_cgroup_dirs(pid: u32) -> Vec<PathBuf> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    text.lines()
        .filter_map(|l| {
            let (ctrls, path) = l.split_once(':')?.1.split_once(':')?;
            if !path.contains("/vmlab/") {
                return None;
            }
            let ctrl = ctrls.split(',').next()?;
            let base = if ctrl.is_empty() {
                "/sys/fs/cgroup/unified".to_string()
            } else {
                format!("/sys/fs/cgroup/{ctrl}")
            };
            Some(PathBuf::from(format!("{base}{path}")))
        })
        .filter(|d| d.exists())
        .collect()
}
