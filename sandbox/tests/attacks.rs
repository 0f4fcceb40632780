//! The attack battery: hostile root filesystems (symlinked mount points, a
//! device node, a rootfs swapped during setup) and hostile workloads (the
//! terminal, floods, a daemon that outlives the workload, a fork bomb),
//! each tried in the three modes (root: no user namespace; default: a user
//! namespace started by root; rootless: started by an unprivileged user).
//! Every probe also runs where the attack is possible (the plain process
//! backend) and must report success there: a probe that never fires proves
//! nothing. Root only; CI sets VMLAB_REQUIRE_ROOT=1.
mod common;

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{json_lines, serial, HostState, Rootfs, PROBE};
use vmlab_sandbox::config::NOBODY;
use vmlab_sandbox::{run, Config, ExitStatus, Limits};
use vmlab_test_util::have_root;

/// Who starts the sandbox, and with which user namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Root, no user namespace (`--host-root`).
    Root,
    /// Root, the default user namespace (root inside is nobody outside).
    Default,
    /// An unprivileged user (nobody), in a user namespace, no cgroup.
    Rootless,
}

const MODES: [Mode; 3] = [Mode::Root, Mode::Default, Mode::Rootless];

/// One run of the probe: its exit and stdout, or the sandbox's refusal.
#[derive(Debug)]
enum Ran {
    Ok { status: ExitStatus, stdout: String },
    Refused(String),
}

impl Ran {
    /// The probe's attempts that succeeded.
    fn escapes(&self) -> Vec<serde_json::Value> {
        match self {
            Ran::Ok { stdout, .. } => json_lines(stdout.as_bytes())
                .into_iter()
                .filter(|l| l["escaped"] == true)
                .collect(),
            Ran::Refused(_) => Vec::new(),
        }
    }

    fn stdout(&self) -> &str {
        match self {
            Ran::Ok { stdout, .. } => stdout,
            Ran::Refused(e) => e,
        }
    }
}

const HARNESS_ROOTFS: &str = "VMLAB_ATTACK_ROOTFS";
const HARNESS_ARGS: &str = "VMLAB_ATTACK_ARGS";

/// The sandbox as `nobody`: run by [`run_probe`] in [`Mode::Rootless`].
#[test]
#[ignore = "run by the attack tests as an unprivileged child process"]
fn harness_rootless_attack() {
    let Ok(rootfs) = std::env::var(HARNESS_ROOTFS) else {
        return;
    };
    let mut c = Config::sandbox(rootfs);
    c.args = std::env::var(HARNESS_ARGS)
        .unwrap_or_default()
        .split('\u{1f}')
        .map(str::to_string)
        .collect();
    c.cgroup = false;
    c.limits = Limits::default();
    c.timeout = Duration::from_secs(20);
    match run(&c, None) {
        Ok(o) => {
            println!("HARNESS-STATUS {:?}", o.status);
            println!("HARNESS-STDOUT");
            print!("{}", String::from_utf8_lossy(&o.stdout));
        }
        Err(e) => println!("HARNESS-ERROR {e}"),
    }
}

/// Runs the probe with `args` on `rootfs` in `mode`.
fn run_probe(mode: Mode, rootfs: &Path, args: &[&str]) -> Ran {
    if mode == Mode::Rootless {
        let out = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "harness_rootless_attack", "--ignored"])
            .args(["--nocapture", "--test-threads", "1"])
            .env(HARNESS_ROOTFS, rootfs)
            .env(HARNESS_ARGS, args.join("\u{1f}"))
            .uid(NOBODY)
            .gid(NOBODY)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if let Some(i) = text.find("HARNESS-ERROR ") {
            let msg = text[i + 14..].lines().next().unwrap_or_default();
            return Ran::Refused(msg.to_string());
        }
        let status = if text.contains("HARNESS-STATUS Code(0)") {
            ExitStatus::Code(0)
        } else {
            ExitStatus::Code(255)
        };
        let stdout = text
            .split_once("HARNESS-STDOUT\n")
            .map(|(_, s)| s.to_string())
            .unwrap_or_else(|| panic!("harness printed no result: {text}"));
        return Ran::Ok { status, stdout };
    }
    let mut c = Config::sandbox(rootfs);
    c.args = args.iter().map(|s| s.to_string()).collect();
    c.timeout = Duration::from_secs(20);
    if mode == Mode::Root {
        c.ns.user = None;
    }
    match run(&c, None) {
        Ok(o) => Ran::Ok {
            status: o.status,
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        },
        Err(e) => Ran::Refused(e.to_string()),
    }
}

/// The same probe as a plain process on the host: the positive control.
fn run_process(args: &[&str]) -> Ran {
    let mut c = Config::process(PROBE);
    c.args = args.iter().map(|s| s.to_string()).collect();
    let o = run(&c, None).unwrap();
    Ran::Ok {
        status: o.status,
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
    }
}

/// A probe rootfs whose mount point `name` is a symbolic link to `target`,
/// with the directory `make` (`None`: `p2` beside it) created.
fn symlinked(name: &str, target: &str, make: Option<&Path>) -> Rootfs {
    let fs = Rootfs::probe();
    std::fs::remove_dir(fs.path.join(name)).unwrap();
    std::fs::create_dir_all(make.map_or_else(|| fs.path.join("p2"), Path::to_path_buf)).unwrap();
    std::os::unix::fs::symlink(target, fs.path.join(name)).unwrap();
    fs
}

#[test]
fn the_mounts_probe_reaches_host_control_files_from_a_plain_process() {
    // The control for every mount attack below: where procfs is reachable
    // unmasked, the probe says so.
    if !have_root("the_mounts_probe_reaches_host_control_files_from_a_plain_process") {
        return;
    }
    let _s = serial();
    let ran = run_process(&["mounts"]);
    assert!(!ran.escapes().is_empty(), "{}", ran.stdout());
}

#[test]
fn symlinked_mount_points_are_refused_in_every_mode() {
    if !have_root("symlinked_mount_points_are_refused_in_every_mode") {
        return;
    }
    let _s = serial();
    let before = HostState::now();
    for name in ["proc", "sys", "dev", "tmp"] {
        // Beside the mount point (the reported attack), absolute (resolved
        // on the host before a pivot), and out of the rootfs altogether.
        let outside = std::env::temp_dir().join(format!("vmlab-attack-out-{}", std::process::id()));
        for kind in ["sibling", "absolute", "outside"] {
            let target = match kind {
                "sibling" => "../rootfs/p2".to_string(),
                "absolute" => "/p2".to_string(),
                _ => outside.display().to_string(),
            };
            let fs = symlinked(
                name,
                &target,
                (kind == "outside").then_some(outside.as_path()),
            );
            for mode in MODES {
                let ran = run_probe(mode, &fs.path, &["mounts"]);
                let what = format!("{name} -> {target} ({kind}), {mode:?}");
                match &ran {
                    Ran::Refused(e) => assert!(
                        e.contains(&format!("mount_{name}")) && e.contains("symbolic link"),
                        "{what}: unclear refusal: {e}"
                    ),
                    Ran::Ok { .. } => panic!("{what}: started: {}", ran.stdout()),
                }
            }
            // Nothing was mounted on the link's target.
            if kind == "outside" {
                assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
            }
        }
        let _ = std::fs::remove_dir_all(&outside);
    }
    assert_eq!(HostState::settled(&before), before);
}

#[test]
fn a_rootfs_swapped_during_setup_never_escapes() {
    // A local user who owns the rootfs swaps /proc for a link and back as
    // fast as they can while sandboxes start: each start either fails
    // cleanly or runs with every mount where it belongs.
    if !have_root("a_rootfs_swapped_during_setup_never_escapes") {
        return;
    }
    let _s = serial();
    let fs = Rootfs::probe();
    let p2 = fs.path.join("p2");
    std::fs::create_dir(&p2).unwrap();
    std::os::unix::fs::symlink("p2", fs.path.join("proc.link")).unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let swaps = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let swapper = {
        let (root, stop, swaps) = (fs.path.clone(), stop.clone(), swaps.clone());
        std::thread::spawn(move || {
            let a = std::ffi::CString::new(root.join("proc").into_os_string().into_encoded_bytes())
                .unwrap();
            let b = std::ffi::CString::new(
                root.join("proc.link").into_os_string().into_encoded_bytes(),
            )
            .unwrap();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                // SAFETY: renameat2 on two NUL-terminated paths.
                let rc = unsafe {
                    libc::syscall(
                        libc::SYS_renameat2,
                        libc::AT_FDCWD,
                        a.as_ptr(),
                        libc::AT_FDCWD,
                        b.as_ptr(),
                        libc::RENAME_EXCHANGE,
                    )
                };
                if rc == 0 {
                    swaps.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
        })
    };
    let (mut refused, mut ran_clean) = (0, 0);
    for i in 0..60 {
        let mode = [Mode::Root, Mode::Default][i % 2];
        let ran = run_probe(mode, &fs.path, &["mounts"]);
        assert!(ran.escapes().is_empty(), "{mode:?}: {}", ran.stdout());
        match ran {
            Ran::Refused(_) => refused += 1,
            Ran::Ok { status, .. } => {
                assert_eq!(status, ExitStatus::Code(0));
                ran_clean += 1;
            }
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    swapper.join().unwrap();
    eprintln!(
        "swapped {} times: {refused} starts refused, {ran_clean} ran with every mount in place",
        swaps.load(std::sync::atomic::Ordering::Relaxed)
    );
    assert!(swaps.load(std::sync::atomic::Ordering::Relaxed) > 0);
}

#[test]
fn device_nodes_in_the_rootfs_do_not_open() {
    if !have_root("device_nodes_in_the_rootfs_do_not_open") {
        return;
    }
    let _s = serial();
    let fs = Rootfs::probe();
    // Any device node the rootfs ships must not open. A real attack ships
    // the host's disk (b 8:0) or memory; the test uses a copy of /dev/null
    // (c 1:3), which every host lets anyone open, so that the control below
    // opens it on any machine (this one's own device cgroup refuses disks).
    let node = fs.path.join("null-copy");
    let c = std::ffi::CString::new(node.to_str().unwrap()).unwrap();
    // SAFETY: mknod of a character device at a NUL-terminated path.
    let rc = unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR | 0o666, libc::makedev(1, 3)) };
    assert_eq!(rc, 0);
    for mode in MODES {
        let ran = run_probe(mode, &fs.path, &["devnode", "/null-copy"]);
        assert!(
            matches!(ran, Ran::Ok { .. }) && ran.escapes().is_empty(),
            "{mode:?}: {}",
            ran.stdout()
        );
    }
    // The control: the same node opens from a plain process.
    let ran = run_process(&["devnode", node.to_str().unwrap()]);
    assert_eq!(ran.escapes().len(), 1, "{}", ran.stdout());
}

const TTY_ROOTFS: &str = "VMLAB_TTY_ROOTFS";
const TTY_MODE: &str = "VMLAB_TTY_MODE";

/// Runs the `tty` probe with a terminal as controlling terminal: started
/// by [`tiocsti`] on a pty it owns.
#[test]
#[ignore = "run by the terminal test on a pty of its own"]
fn harness_tty() {
    let (Ok(rootfs), Ok(mode)) = (std::env::var(TTY_ROOTFS), std::env::var(TTY_MODE)) else {
        return;
    };
    let ran = match mode.as_str() {
        "process" => run_process(&["tty"]),
        "root" => run_probe(Mode::Root, Path::new(&rootfs), &["tty"]),
        "rootless" => run_probe(Mode::Rootless, Path::new(&rootfs), &["tty"]),
        _ => run_probe(Mode::Default, Path::new(&rootfs), &["tty"]),
    };
    // The results go to stderr, a pipe: stdout is the terminal.
    eprintln!("TTY-RESULT {}", ran.escapes().len());
    eprint!("{}", ran.stdout());
}

/// Runs [`harness_tty`] in `mode` as the session leader of a new pty (as
/// `uid`); returns the harness's report and what the terminal received.
fn tiocsti(mode: &str, rootfs: &Path, uid: u32) -> (String, String) {
    let pty = nix::pty::openpty(None, None).unwrap();
    let slave = pty.slave;
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "harness_tty", "--ignored", "--nocapture"])
        .args(["--test-threads", "1"])
        .env(TTY_ROOTFS, rootfs)
        .env(TTY_MODE, mode)
        .stdin(Stdio::from(slave.try_clone().unwrap()))
        .stdout(Stdio::from(slave.try_clone().unwrap()))
        .stderr(Stdio::piped());
    if uid != 0 {
        cmd.uid(uid).gid(uid);
    }
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap();
    drop(slave);
    let mut report = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut report)
        .unwrap();
    child.wait().unwrap();
    // What reached the terminal's input (echoed back on the master).
    let master = pty.master;
    nix::fcntl::fcntl(
        &master,
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
    )
    .unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = nix::unistd::read(&master, &mut buf) {
        if n == 0 {
            break;
        }
        seen.extend_from_slice(&buf[..n]);
    }
    (report, String::from_utf8_lossy(&seen).into_owned())
}

#[test]
fn the_workload_cannot_type_into_the_callers_terminal() {
    if !have_root("the_workload_cannot_type_into_the_callers_terminal") {
        return;
    }
    let _s = serial();
    let fs = Rootfs::probe();
    // The control: a plain process with the caller's terminal types into it.
    let (report, seen) = tiocsti("process", &fs.path, 0);
    assert!(
        !report.contains("TTY-RESULT 0") && seen.contains("#vmlab-injected"),
        "the probe must be able to inject: {report} / {seen:?}"
    );
    for (mode, uid) in [("root", 0), ("default", 0), ("rootless", NOBODY)] {
        let (report, seen) = tiocsti(mode, &fs.path, uid);
        assert!(report.contains("TTY-RESULT 0"), "{mode}: {report}");
        assert!(!seen.contains("#vmlab-injected"), "{mode}: {seen:?}");
        // No terminal is reachable at all.
        let open = json_lines(report.as_bytes())
            .into_iter()
            .find(|l| l["attempt"] == "open_dev_tty")
            .unwrap_or_else(|| panic!("{mode}: {report}"));
        assert_eq!(open["rc"], -1, "{mode}: /dev/tty opened");
    }
}

/// Peak resident memory of this process, in KiB.
fn vm_hwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap()
}

#[test]
fn a_flood_is_bounded_and_a_daemon_does_not_hold_the_run() {
    if !have_root("a_flood_is_bounded_and_a_daemon_does_not_hold_the_run") {
        return;
    }
    let _s = serial();
    let fs = Rootfs::probe();
    let mib = 256u64;
    let arg = mib.to_string();
    let before = vm_hwm_kib();
    for plain in [true, false] {
        let mut c = if plain {
            Config::process(PROBE)
        } else {
            Config::sandbox(&fs.path)
        };
        c.args = vec!["flood".into(), arg.clone()];
        c.timeout = Duration::from_secs(60);
        let t = Instant::now();
        let o = run(&c, None).unwrap();
        let took = t.elapsed();
        assert_eq!(o.status, ExitStatus::Code(0), "plain={plain}");
        // The flood happened (the control), and only the tail was kept.
        let total = o.stdout.len() as u64 + o.dropped.stdout_bytes;
        assert!(total >= mib << 20, "plain={plain}: {total} bytes");
        assert!(o.stdout.len() <= vmlab_sandbox::monitor::OUTPUT_CAP);
        // The daemon keeps writing, yet the run ended with the workload.
        assert!(
            !o.timed_out && took < Duration::from_secs(30),
            "plain={plain}: {took:?}"
        );
    }
    let grew = vm_hwm_kib().saturating_sub(before);
    assert!(grew < 64 << 10, "the caller grew by {grew} KiB");
}

#[test]
fn a_fork_bomb_stops_at_the_default_limit() {
    if !have_root("a_fork_bomb_stops_at_the_default_limit") {
        return;
    }
    let _s = serial();
    let fs = Rootfs::probe();
    let before = HostState::now();
    for mode in MODES {
        let ran = run_probe(mode, &fs.path, &["forkbomb"]);
        let line = json_lines(ran.stdout().as_bytes())
            .into_iter()
            .find(|l| l["vmlab"] == "forkbomb")
            .unwrap_or_else(|| panic!("{mode:?}: {}", ran.stdout()));
        let forks = line["forks"].as_u64().unwrap();
        // Stopped by the limit (not by the probe's own cap of 100000), and
        // the bomb was real: it got close to the limit.
        assert_eq!(line["errno"], libc::EAGAIN, "{mode:?}");
        let limit = vmlab_sandbox::config::DEFAULT_PIDS;
        assert!(
            forks < limit && forks > limit / 2,
            "{mode:?}: {forks} forks"
        );
    }
    assert_eq!(HostState::settled(&before), before);
}

#[test]
fn the_escape_battery_fails_as_an_unprivileged_caller() {
    if !have_root("the_escape_battery_fails_as_an_unprivileged_caller") {
        return;
    }
    let _s = serial();
    let fs = Rootfs::probe();
    let secret = fs.top().join("secret");
    std::fs::write(&secret, b"host only").unwrap();
    let me = std::process::id().to_string();
    let ran = run_probe(
        Mode::Rootless,
        &fs.path,
        &["escape", secret.to_str().unwrap(), &me, "1"],
    );
    let attempts = json_lines(ran.stdout().as_bytes())
        .into_iter()
        .filter(|l| l["vmlab"] == "escape")
        .count();
    assert!(attempts >= 25, "{}", ran.stdout());
    assert!(ran.escapes().is_empty(), "{:#?}", ran.escapes());
}
