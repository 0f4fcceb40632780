//! Nothing is left behind — mounts, cgroups, network namespaces, processes —
//! after normal exits, timeouts, OOM kills, setup failures and a SIGTERM to
//! the parent (root only; CI sets VMLAB_REQUIRE_ROOT=1).
mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{cgroups_of, have_root, serial, HostState, Rootfs};
use vmlab_sandbox::signal::Interrupt;
use vmlab_sandbox::{run, Config, ExitStatus, LaunchError, Limits, UserNs};

const HARNESS_ENV: &str = "VMLAB_TEST_HARNESS_ROOTFS";

fn config(fs: &Rootfs, rootless: bool, args: &[&str]) -> Config {
    let mut c = Config::sandbox(&fs.path);
    c.args = args.iter().map(|s| s.to_string()).collect();
    c.ns.net = vmlab_sandbox::Net::Loopback;
    c.limits = Limits {
        memory: Some(64 << 20),
        pids: Some(16),
        cpus: Some(0.5),
    };
    // Root mode (no user namespace) unless `rootless`: the default is a
    // user namespace.
    c.ns.user = rootless.then(UserNs::rootless);
    c
}

/// Pids of processes running the probe's `sleep` mode.
fn sleeping_probes() -> Vec<u32> {
    let Ok(d) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    d.flatten()
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_string_lossy().parse().ok()?;
            let cmd = std::fs::read(e.path().join("cmdline")).ok()?;
            (cmd == b"/init\0sleep\x0060\0").then_some(pid)
        })
        .collect()
}

/// The ignored test that the SIGTERM test runs as its parent process.
#[test]
#[ignore = "run by nothing_is_left_after_sigterm_to_the_parent as a child process"]
fn harness_sigterm_target() {
    let Ok(rootfs) = std::env::var(HARNESS_ENV) else {
        return;
    };
    let interrupt = Interrupt::install().unwrap();
    let mut c = Config::sandbox(rootfs);
    c.args = vec!["sleep".into(), "60".into()];
    c.limits.pids = Some(8);
    match run(&c, Some(interrupt.fd())) {
        Err(LaunchError::Interrupted(sig)) => println!("HARNESS interrupted by {sig}"),
        other => println!("HARNESS unexpected {other:?}"),
    }
}

#[test]
fn nothing_is_left_after_exits_kills_and_failures() {
    if !have_root("nothing_is_left_after_exits_kills_and_failures") {
        return;
    }
    let _s = serial();
    let fs = Rootfs::probe();
    let broken = Rootfs::with_init(b"#!/no/such/interpreter\n");
    let before = HostState::now();
    for rootless in [false, true] {
        // A normal exit.
        let out = run(&config(&fs, rootless, &["ready", "4"]), None).unwrap();
        assert_eq!(out.status, ExitStatus::Code(4));
        // Killed on timeout.
        let mut c = config(&fs, rootless, &["sleep", "60"]);
        c.timeout = Duration::from_millis(300);
        let out = run(&c, None).unwrap();
        assert!(out.timed_out);
        assert_eq!(out.status, ExitStatus::Signal(libc::SIGKILL));
        // OOM-killed.
        let out = run(&config(&fs, rootless, &["memhog", "512"]), None).unwrap();
        assert!(out.oom_killed);
        // A failing setup step (exec of a script without its interpreter).
        let err = run(&config(&broken, rootless, &[]), None).unwrap_err();
        assert!(err.to_string().contains("step `exec`"), "{err}");
        assert!(err.to_string().contains("interpreter is missing"), "{err}");
    }
    assert_eq!(HostState::settled(&before), before);
    assert!(sleeping_probes().is_empty());
}

#[test]
fn nothing_is_left_after_sigterm_to_the_parent() {
    if !have_root("nothing_is_left_after_sigterm_to_the_parent") {
        return;
    }
    let _s = serial();
    let fs = Rootfs::probe();
    let before = HostState::now();
    let harness = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "harness_sigterm_target",
            "--ignored",
            "--nocapture",
        ])
        .args(["--test-threads", "1"])
        .env(HARNESS_ENV, &fs.path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while sleeping_probes().is_empty() {
        assert!(
            Instant::now() < deadline,
            "the sandboxed sleep never started"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let harness_pid = harness.id();
    // SAFETY: sending SIGTERM to our own child.
    unsafe { libc::kill(harness_pid as i32, libc::SIGTERM) };
    let out = harness.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("HARNESS interrupted by 15"), "{text}");
    assert!(out.status.success(), "{:?}", out.status);
    assert_eq!(HostState::settled(&before), before);
    assert!(sleeping_probes().is_empty());
    assert!(cgroups_of(harness_pid).is_empty());
}
