//! `vmlab run` and the VMM's jail, on real KVM (skipped without `/dev/kvm`,
//! required with `VMLAB_REQUIRE_KVM=1`): results say whether the jail was
//! on; a forbidden call made by the jailed VMM (the `VMLAB_VMM_PROBE` test
//! hook) ends the run with a clear message and a non-zero exit, and the
//! same call with `--no-jail` is made (the positive control).
use std::process::Command;

use vmlab_test_util::{gate, kvm_available, KVM};

/// Runs `vmlab run --backend vm-bare --json EXTRA -- --exit 0` with the
/// probe `probe`; returns (exit code, JSON if any, stderr).
fn run(extra: &[&str], probe: Option<&str>) -> (i32, Option<serde_json::Value>, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vmlab"));
    cmd.args(["run", "--backend", "vm-bare", "--json"])
        .args(extra)
        .args(["--", "--exit", "0"]);
    match probe {
        Some(p) => cmd.env("VMLAB_VMM_PROBE", p),
        None => cmd.env_remove("VMLAB_VMM_PROBE"),
    };
    let out = cmd.output().expect("vmlab runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let code = out
        .status
        .code()
        .unwrap_or_else(|| panic!("vmlab was killed by a signal: {:?}\n{stderr}", out.status));
    (code, serde_json::from_slice(&out.stdout).ok(), stderr)
}

/// Whether the embedded guest cannot run on this KVM (built with SSE on
/// software KVM): the VMM tests cover that case.
fn guest_cannot_run(stderr: &str) -> bool {
    !gate(!stderr.contains("SSE instruction"), KVM, stderr)
}

#[test]
fn results_say_whether_the_jail_was_on() {
    if !kvm_available() {
        return;
    }
    let (code, json, stderr) = run(&[], None);
    if guest_cannot_run(&stderr) {
        return;
    }
    assert_eq!(code, 0, "{stderr}");
    let json = json.expect("JSON on stdout");
    assert_eq!(json["facts"]["jail"], "on", "{json}");
    let phases: Vec<&str> = json["phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p[0].as_str().unwrap())
        .collect();
    assert!(
        phases.contains(&"fork") && phases.ends_with(&["jail", "guest_to_ready"]),
        "{phases:?}"
    );

    // Started by root, the jailed VMM runs in a cgroup of its own: guest
    // RAM (256 MiB by default) plus 64 MiB, two tasks, removed after.
    let is_root = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"));
    let cgroup = json["facts"]["vmm_cgroup"].as_str().unwrap_or("");
    if is_root && std::path::Path::new("/sys/fs/cgroup/pids").is_dir() {
        assert!(cgroup.contains("pids 2"), "{json}");
    }
    if is_root && std::path::Path::new("/sys/fs/cgroup/memory").is_dir() {
        assert!(cgroup.contains("memory 320 MiB"), "{json}");
    }
    for ctrl in ["memory", "pids", "cpuacct", "unified"] {
        let dir = std::path::Path::new("/sys/fs/cgroup")
            .join(ctrl)
            .join("vmlab");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        // No cgroup of ours is left (others' runs may have theirs).
        let ours: Vec<_> = entries
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| {
                n.split('-')
                    .next()
                    .and_then(|p| p.parse::<u32>().ok())
                    .is_some_and(|p| !std::path::Path::new(&format!("/proc/{p}")).exists())
            })
            .collect();
        assert!(
            ours.is_empty(),
            "cgroups of finished runs left in {}: {ours:?}",
            dir.display()
        );
    }

    let (code, json, stderr) = run(&["--no-jail"], None);
    assert_eq!(code, 0, "{stderr}");
    let json = json.expect("JSON on stdout");
    assert_eq!(json["facts"]["jail"], "off", "{json}");
    assert_eq!(json["facts"]["vmm_cgroup"], "none (--no-jail)", "{json}");
    assert!(!json["phases"].to_string().contains("jail"), "{json}");
}

#[test]
fn a_forbidden_call_is_reported_and_works_without_the_jail() {
    if !kvm_available() {
        return;
    }
    for (probe, works) in [
        ("open", "opened"),
        ("socket", "created"),
        ("exec", "ENOENT"),
    ] {
        let (code, json, stderr) = run(&["--no-jail"], Some(probe));
        if guest_cannot_run(&stderr) {
            return;
        }
        assert_eq!(code, 0, "{probe} without the jail: {stderr}");
        let json = json.expect("JSON on stdout");
        let said = json["facts"]["probe"].as_str().unwrap_or("");
        assert!(said.contains(works), "{probe} without the jail: {json}");

        let (code, json, stderr) = run(&[], Some(probe));
        assert_ne!(code, 0, "{probe} in the jail exited 0: {json:?}");
        assert!(json.is_none(), "{probe}: a result was printed");
        assert!(
            stderr.contains("vm-bare boot failed")
                && stderr.contains("the VMM was killed by its seccomp filter (SIGSYS)"),
            "{probe}: {stderr}"
        );
    }
    let (code, _, stderr) = run(&[], Some("bogus"));
    assert_ne!(code, 0);
    assert!(stderr.contains("VMLAB_VMM_PROBE"), "{stderr}");
}

#[test]
fn a_held_workload_waits_for_stdin() {
    use std::io::Write;
    use std::process::Stdio;
    use std::time::Duration;
    if !kvm_available() {
        return;
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_vmlab"))
        .args(["run", "--backend", "vm-bare", "--json", "--", "--hold"])
        .env_remove("VMLAB_VMM_PROBE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("vmlab runs");
    std::thread::sleep(Duration::from_millis(1500));
    let waiting = child.try_wait().unwrap().is_none();
    // A byte on stdin releases the guest (end of file would too).
    let _ = child.stdin.take().unwrap().write_all(b"\n");
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if guest_cannot_run(&stderr) {
        return;
    }
    assert!(waiting, "the held guest did not wait for stdin: {stderr}");
    assert!(out.status.success(), "{stderr}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let marks = json["marks"].as_array().unwrap();
    let hold = u64::from(vmlab_workload::protocol::HOLD_MARK);
    assert_eq!(marks.last().unwrap()[0], hold, "{json}");
    assert_eq!(json["facts"]["jail"], "on");
}
