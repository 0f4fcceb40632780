//! Escapes tried from inside the sandbox, resource limits, and the host
//! checked unchanged afterwards (root only; CI sets VMLAB_REQUIRE_ROOT=1).
mod common;

use std::os::fd::{FromRawFd, OwnedFd};
use std::time::{Duration, SystemTime};

use common::{json_lines, serial, HostState, Rootfs};
use vmlab_sandbox::{run, Config, ExitStatus, Limits, Outcome, UserNs};
use vmlab_test_util::have_root;

fn config(fs: &Rootfs, rootless: bool, args: &[String]) -> Config {
    let mut c = Config::sandbox(&fs.path);
    c.args = args.to_vec();
    c.limits = Limits {
        memory: Some(128 << 20),
        pids: Some(32),
        cpus: None,
    };
    // Root mode (no user namespace) unless `rootless`: the default is a
    // user namespace.
    c.ns.user = rootless.then(UserNs::rootless);
    c
}

fn escape_attempts(rootless: bool) {
    let fs = Rootfs::probe();
    let secret = fs.top().join("secret");
    std::fs::write(&secret, b"host only").unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // An fd without close-on-exec, as a careless parent would leak it.
    // SAFETY: plain open of "/"; the fd is owned right below.
    let leak = unsafe { libc::open(c"/".as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY) };
    assert!(leak >= 0);
    // SAFETY: `leak` is a new fd nothing else owns.
    let leak = unsafe { OwnedFd::from_raw_fd(leak) };
    let before = HostState::now();
    let args = vec![
        "escape".to_string(),
        secret.display().to_string(),
        std::process::id().to_string(),
        port.to_string(),
    ];
    let out = run(&config(&fs, rootless, &args), None).unwrap();
    drop(leak);
    let lines = json_lines(&out.stdout);
    let attempts: Vec<_> = lines.iter().filter(|l| l["vmlab"] == "escape").collect();
    assert!(
        attempts.len() >= 25,
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let escaped: Vec<_> = attempts.iter().filter(|l| l["escaped"] == true).collect();
    assert!(escaped.is_empty(), "escapes: {escaped:#?}");
    assert_eq!(out.status, ExitStatus::Code(0));
    // The host is unchanged.
    assert!(SystemTime::now() > SystemTime::UNIX_EPOCH + Duration::from_secs(1_600_000_000));
    assert_eq!(HostState::settled(&before), before);
    assert!(std::fs::read(&secret).unwrap() == b"host only");
}

#[test]
fn escapes_fail_in_root_mode() {
    if !have_root("escapes_fail_in_root_mode") {
        return;
    }
    let _s = serial();
    escape_attempts(false);
}

#[test]
fn escapes_fail_in_rootless_mode() {
    if !have_root("escapes_fail_in_rootless_mode") {
        return;
    }
    let _s = serial();
    escape_attempts(true);
}

#[test]
fn the_workload_runs_unprivileged_and_locked_down() {
    if !have_root("the_workload_runs_unprivileged_and_locked_down") {
        return;
    }
    let _s = serial();
    let fs = Rootfs::probe();
    let out = run(&config(&fs, true, &["info".to_string()]), None).unwrap();
    let info = json_lines(&out.stdout)
        .into_iter()
        .find(|l| l["vmlab"] == "info")
        .expect("info line");
    assert_eq!(info["pid"], 1);
    assert_eq!(info["hostname"], "vmlab");
    let status: Vec<String> = info["status"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect();
    let get = |k: &str| {
        status
            .iter()
            .find(|l| l.starts_with(k))
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(get("NoNewPrivs:"), "NoNewPrivs: 1");
    assert_eq!(get("Seccomp:"), "Seccomp: 2");
    let bnd = u64::from_str_radix(get("CapBnd:").trim_start_matches("CapBnd:").trim(), 16).unwrap();
    let kept = vmlab_sandbox::capability::CapPlan::new().keep;
    assert_eq!(bnd, kept, "bounding set");
    // On the host the workload's uid is nobody, not root.
    assert!(out.user_ns);
}

#[test]
fn a_fork_bomb_stops_at_the_pids_limit() {
    if !have_root("a_fork_bomb_stops_at_the_pids_limit") {
        return;
    }
    let _s = serial();
    let fs = Rootfs::probe();
    let before = HostState::now();
    let out = run(&config(&fs, false, &["forkbomb".to_string()]), None).unwrap();
    let line = json_lines(&out.stdout)
        .into_iter()
        .find(|l| l["vmlab"] == "forkbomb")
        .expect("forkbomb line");
    let forks = line["forks"].as_u64().unwrap();
    assert!(forks < 32, "{forks} forks under a limit of 32");
    assert_eq!(line["errno"], libc::EAGAIN);
    assert_eq!(out.status, ExitStatus::Code(0));
    let peak = out.usage.unwrap().pids_peak.unwrap();
    assert!(peak <= 32 && peak >= forks, "pids peak {peak}");
    assert_eq!(HostState::settled(&before), before);
}

fn memory_hog(rootless: bool) -> Outcome {
    let fs = Rootfs::probe();
    let mut c = config(&fs, rootless, &["memhog".to_string(), "512".to_string()]);
    c.limits.memory = Some(32 << 20);
    run(&c, None).unwrap()
}

#[test]
fn a_memory_hog_is_oom_killed_and_reported() {
    if !have_root("a_memory_hog_is_oom_killed_and_reported") {
        return;
    }
    let _s = serial();
    let before = HostState::now();
    for rootless in [false, true] {
        let out = memory_hog(rootless);
        assert_eq!(
            out.status,
            ExitStatus::Signal(libc::SIGKILL),
            "rootless={rootless}"
        );
        assert!(out.oom_killed, "rootless={rootless}: {:?}", out.usage);
        let peak = out.usage.unwrap().memory_peak.unwrap();
        assert!(peak <= 33 << 20, "peak {peak}");
        assert!(!String::from_utf8_lossy(&out.stdout).contains("survived"));
    }
    assert_eq!(HostState::settled(&before), before);
}

#[test]
fn the_probe_reports_an_escape_when_one_succeeds() {
    // The control: a "host" file that is in fact inside the rootfs is read,
    // and the probe must say so (exit code = number of escapes), or it could
    // not fail the tests above.
    if !have_root("the_probe_reports_an_escape_when_one_succeeds") {
        return;
    }
    let _s = serial();
    let fs = Rootfs::probe();
    std::fs::write(fs.path.join("inside"), b"visible").unwrap();
    let args = vec![
        "escape".to_string(),
        "/inside".to_string(),
        std::process::id().to_string(),
        "1".to_string(),
    ];
    let out = run(&config(&fs, false, &args), None).unwrap();
    let lines = json_lines(&out.stdout);
    let read = lines
        .iter()
        .find(|l| l["attempt"] == "read_host_file")
        .expect("read attempt");
    assert_eq!(read["escaped"], true);
    // The exit code counts the escapes; /proc/1/root and /proc/self/root/..
    // reach the same "host" file.
    assert_ne!(out.status, ExitStatus::Code(0));
}

/// The host's directories the sandbox masks (the OCI list's directories).
const MASKED_DIRS: &[&str] = &[
    "/proc/acpi",
    "/proc/asound",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

#[test]
fn masked_directories_are_empty_read_only_and_share_one_tmpfs() {
    if !have_root("masked_directories_are_empty_read_only_and_share_one_tmpfs") {
        return;
    }
    let _s = serial();
    let fs = Rootfs::probe();
    let dirs: Vec<String> = MASKED_DIRS
        .iter()
        .filter(|d| std::path::Path::new(d).is_dir())
        .map(|d| d.to_string())
        .collect();
    // The control that an empty listing is the mask's doing: one of them
    // lists entries on the host.
    assert!(
        dirs.iter()
            .any(|d| std::fs::read_dir(d).unwrap().count() > 0),
        "this host lists nothing in {MASKED_DIRS:?}"
    );
    // /tmp (a tmpfs of its own) is the control that the probe tells
    // tmpfs instances apart and sees a writable, listed directory.
    let mut args = vec!["masked".to_string(), "/tmp".to_string()];
    args.extend(dirs.iter().cloned());
    for rootless in [false, true] {
        let out = run(&config(&fs, rootless, &args), None).unwrap();
        let lines: Vec<_> = json_lines(&out.stdout)
            .into_iter()
            .filter(|l| l["vmlab"] == "masked")
            .collect();
        assert_eq!(
            lines.len(),
            args.len() - 1,
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        let tmp = &lines[0];
        assert_eq!(tmp["create_errno"], 0, "{tmp}");
        assert!(tmp["entries"].as_i64().unwrap() >= 1, "{tmp}");
        let dev = &lines[1]["dev"];
        for (l, dir) in lines[1..].iter().zip(&dirs) {
            // Inside it is empty, whatever the host lists.
            assert_eq!(l["entries"], 0, "{l}");
            assert_eq!(l["create_errno"], libc::EROFS, "{l}");
            let opts = l["options"].as_str().unwrap();
            for o in ["ro", "nosuid", "nodev", "noexec"] {
                assert!(opts.split(',').any(|x| x == o), "{dir}: {opts}");
            }
            assert_eq!(&l["dev"], dev, "{l}: one tmpfs for every masked directory");
            assert_ne!(l["dev"], tmp["dev"], "{l}");
        }
        assert_eq!(out.status, ExitStatus::Code(0));
    }
}
