//! The VMM's jail on real KVM (skipped without `/dev/kvm`, required with
//! `VMLAB_REQUIRE_KVM=1`): while a jailed guest runs, the VMM process is
//! confined (checked from `/proc`, with this unjailed process as the
//! control); forbidden calls kill it and are reported, and the same calls
//! work without the jail (the positive control); jailed boots report like
//! in-process ones; many jailed boots leave nothing behind.
mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use vmlab_test_util::kvm_available;
use vmlab_vmm::jail::{self, Probe};
use vmlab_vmm::vm::Error as RunError;
use vmlab_vmm::{Error, VmConfig, VmOutcome};

const T: Duration = Duration::from_secs(20);

fn jailed(mut c: VmConfig<'_>) -> VmConfig<'_> {
    c.jail = true;
    c
}

fn status_field<'a>(status: &'a str, name: &str) -> Option<&'a str> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .map(str::trim)
}

/// What is not confined about process `pid`: each of its threads must
/// show `Seccomp: 2`, `NoNewPrivs: 1`, no capabilities, no uid or gid 0,
/// and it must be in other mount, network, ipc, uts and user namespaces
/// than this process.
fn unconfined(pid: u32) -> Vec<String> {
    let mut bad = Vec::new();
    let dir = format!("/proc/{pid}/task");
    let tasks: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .map(|e| e.unwrap().path())
        .collect();
    assert!(!tasks.is_empty());
    for task in tasks {
        let status = std::fs::read_to_string(task.join("status")).unwrap();
        let t = task.display();
        for (field, want) in [
            ("Seccomp", "2"),
            ("NoNewPrivs", "1"),
            ("CapEff", "0000000000000000"),
            ("CapPrm", "0000000000000000"),
            ("CapInh", "0000000000000000"),
            ("CapBnd", "0000000000000000"),
            ("CapAmb", "0000000000000000"),
        ] {
            let got = status_field(&status, field);
            if got != Some(want) {
                bad.push(format!("{t}: {field} is {got:?}, not {want}"));
            }
        }
        for field in ["Uid", "Gid"] {
            let ids = status_field(&status, field).unwrap_or("0");
            if ids.split_whitespace().any(|id| id == "0") {
                bad.push(format!("{t}: {field} {ids} includes 0"));
            }
        }
    }
    for ns in ["mnt", "net", "ipc", "uts", "user"] {
        let mine = std::fs::read_link(format!("/proc/self/ns/{ns}")).unwrap();
        let theirs = std::fs::read_link(format!("/proc/{pid}/ns/{ns}")).unwrap();
        if mine == theirs {
            bad.push(format!(
                "{pid} shares this process's {ns} namespace {mine:?}"
            ));
        }
    }
    bad
}

/// Child processes of this process.
fn children() -> Vec<u32> {
    let me = std::process::id().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|s| {
                    let rest = &s[s.rfind(')')? + 2..];
                    Some(rest.split_whitespace().nth(1)? == me)
                })
                .unwrap_or(false)
        })
        .collect()
}

fn boot_or_skip(r: Result<VmOutcome, Error>) -> Option<VmOutcome> {
    match r {
        Err(e) if guest_built_with_sse(&e) => None,
        r => Some(r.unwrap()),
    }
}

#[test]
fn a_running_jailed_vmm_is_confined() {
    if !kvm_available() || !in_child("a_running_jailed_vmm_is_confined") {
        return;
    }
    // The control: this process (where an unjailed VMM runs) is not.
    let control = unconfined(std::process::id());
    let flags = |what: &str| control.iter().any(|b| b.contains(what));
    assert!(
        flags("Seccomp") && flags("NoNewPrivs") && flags("mnt") && flags("net"),
        "the check does not see this unjailed process as unconfined: {control:?}"
    );
    if nix::unistd::Uid::effective().is_root() {
        // Root with every capability: the uid and capability checks fire.
        assert!(
            flags("Uid") && flags("CapEff") && flags("CapBnd"),
            "{control:?}"
        );
    }
    assert!(children().is_empty(), "children before the boot");

    let elf = guest_elf();
    let runner =
        std::thread::spawn(move || vmlab_vmm::run(jailed(bare(&elf, "cpu --time 2s --exit 0", T))));
    // Wait for the VMM process to have installed its filter (the last step).
    let deadline = Instant::now() + Duration::from_secs(10);
    let vmm = loop {
        let found = children().into_iter().find(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/status"))
                .is_ok_and(|s| status_field(&s, "Seccomp") == Some("2"))
        });
        if let Some(pid) = found {
            break Some(pid);
        }
        if runner.is_finished() || Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let confined = vmm.map(unconfined);
    let result = runner.join().unwrap();
    let Some(o) = boot_or_skip(result) else {
        return;
    };
    let vmm = vmm.expect("no child process of this one installed a seccomp filter");
    assert_eq!(
        confined,
        Some(vec![]),
        "the jailed VMM {vmm} is not confined"
    );
    assert_eq!(o.exit_code, 0);
    assert!(o.jailed);
    if nix::unistd::Uid::effective().is_root() {
        // Root drops to nobody; checked again from the end: the child is gone.
        assert!(children().is_empty(), "the VMM process outlived the run");
    }
}

#[test]
fn forbidden_calls_kill_the_jailed_vmm_and_work_without_the_jail() {
    if !kvm_available()
        || !in_child("forbidden_calls_kill_the_jailed_vmm_and_work_without_the_jail")
    {
        return;
    }
    let elf = tiny_elf(&ready_exit_code(0));
    for (probe, works) in [
        (Probe::OpenHostFile, "opened"),
        (Probe::Socket, "created"),
        // execve of a missing path: made, it fails ENOENT.
        (Probe::Exec, "ENOENT"),
    ] {
        // Positive control: without the jail the call is made.
        let mut c = bare(&elf, "", T);
        c.probe = Some(probe);
        let o = vmlab_vmm::run(c).unwrap();
        let said = o.probe.as_deref().unwrap_or("");
        assert!(said.contains(works), "{probe:?} without the jail: {said}");
        assert!(!o.jailed);

        let mut c = jailed(bare(&elf, "", T));
        c.probe = Some(probe);
        match vmlab_vmm::run(c) {
            Err(Error::Jail(jail::Error::Seccomp { pid })) => assert!(pid > 0),
            other => panic!("{probe:?} in the jail: expected a seccomp kill, got {other:?}"),
        }
    }
    let e = Error::Jail(jail::Error::Seccomp { pid: 42 }).to_string();
    assert!(e.contains("killed by its seccomp filter"), "{e}");
    assert!(e.contains("pid=42 "), "{e}");
    assert!(children().is_empty(), "a killed VMM was left unreaped");
}

#[test]
fn jailed_boots_report_like_in_process_ones() {
    if !kvm_available() || !in_child("jailed_boots_report_like_in_process_ones") {
        return;
    }
    let elf = guest_elf();
    for code in [0u8, 42] {
        let args = format!("--exit {code}");
        let Some(o) = boot_or_skip(vmlab_vmm::run(jailed(bare(&elf, &args, T)))) else {
            return;
        };
        assert_eq!(o.exit_code, code);
        assert!(o.jailed && o.to_ready_ns > 0 && o.to_ready_ns <= o.exit_event_ns);
        let console = String::from_utf8_lossy(&o.console);
        assert!(console.contains("{\"vmlab\":\"ready\"}"), "{console}");
        let names: Vec<_> = o.phases.iter().map(|p| p.0).collect();
        assert_eq!(
            names,
            [
                "kvm_open",
                "fork",
                "vm_create",
                "memory",
                "vcpu_create",
                "load",
                "vcpu_setup",
                "jail",
                "guest_to_ready"
            ]
        );
        assert!(o.phases.windows(2).all(|w| w[0].1 <= w[1].1));
        assert_eq!(o.phases.last().unwrap().1, o.to_ready_ns);
    }
    // Guest failures keep their type across the report.
    let mut code = out_word(vmlab_workload::Event::Exit(5).encode());
    code.push(0xf4);
    let tiny = tiny_elf(&code);
    match vmlab_vmm::run(jailed(bare(&tiny, "", T))) {
        Err(Error::Guest {
            failure: RunError::NoReady { code: 5 },
            ..
        }) => {}
        other => panic!("expected NoReady, got {other:?}"),
    }
    // So does a timeout, enforced by the timer armed before the filter.
    let spin = tiny_elf(&[0xeb, 0xfe]);
    match vmlab_vmm::run(jailed(bare(&spin, "", Duration::from_millis(300)))) {
        Err(Error::Guest {
            failure: RunError::Timeout { ready: false, .. },
            ..
        }) => {}
        other => panic!("expected a timeout, got {other:?}"),
    }
}

#[test]
fn jailed_boots_leave_nothing_behind() {
    if !kvm_available() || !in_child("jailed_boots_leave_nothing_behind") {
        return;
    }
    let tmp_mounts = || {
        std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .filter(|l| l.split_whitespace().nth(4) == Some(jail::NEW_ROOT_AT))
            .count()
    };
    let mounts_before = tmp_mounts();
    let elf = tiny_elf(&ready_exit_code(0));
    for _ in 0..3 {
        vmlab_vmm::run(jailed(bare(&elf, "", T))).unwrap();
    }
    let before = process_usage();
    for _ in 0..50 {
        assert_eq!(
            vmlab_vmm::run(jailed(bare(&elf, "", T))).unwrap().exit_code,
            0
        );
    }
    let after = process_usage();
    assert_eq!(after.0, before.0, "open fds changed");
    assert_eq!(after.1, before.1, "thread count changed");
    assert!(children().is_empty(), "VMM processes were left");
    // The host's /tmp is untouched: the empty root was mounted only in the
    // VMM's own mount namespace.
    assert_eq!(
        tmp_mounts(),
        mounts_before,
        "mounts on {} changed",
        jail::NEW_ROOT_AT
    );
    assert!(Path::new(jail::NEW_ROOT_AT).is_dir());
}
