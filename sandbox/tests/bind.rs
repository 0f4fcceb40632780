//! A host file bound into the sandbox (`Config::bind_file`, the I/O
//! kernels' disk): shared read-write, `nosuid,nodev`, and never steered
//! out of the rootfs by a link the rootfs plants at (or above) the target.
//! Each refusal has its positive control: the same link does redirect a
//! bind made through the path (`mount --bind`, which follows links).
//! Root only; CI sets VMLAB_REQUIRE_ROOT=1.
mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{json_lines, serial, HostState, Rootfs};
use vmlab_sandbox::config::NOBODY;
use vmlab_sandbox::{run, BindError, Config, ExitStatus, FileBind, LaunchError, UserNs};
use vmlab_test_util::have_root;

/// The host file: `text`, owned by the rootless sandbox's host id, 0600.
fn disk(fs: &Rootfs, text: &str) -> PathBuf {
    let p = fs.top().join("disk.img");
    std::fs::write(&p, text).unwrap();
    std::os::unix::fs::chown(&p, Some(NOBODY), Some(NOBODY)).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    p
}

/// The probe's `file` mode on `inside`, with `host` bound there.
fn config(fs: &Rootfs, host: &Path, inside: &str, rootless: bool) -> Config {
    let mut c = Config::sandbox(&fs.path);
    c.args = vec!["file".into(), inside.into()];
    c.ns.user = rootless.then(UserNs::rootless);
    c.bind_file = Some(FileBind {
        host: host.to_path_buf(),
        inside: inside.into(),
    });
    c
}

/// `mount --bind host target` through the path (following links) in a
/// private mount namespace, then `cat victim` there: what the bind would
/// have covered had the sandbox resolved its target the ordinary way.
fn naive_bind_then_read(host: &Path, target: &Path, victim: &Path) -> String {
    let script = format!(
        "mount --make-rprivate / && mount --bind '{}' '{}' && cat '{}'",
        host.display(),
        target.display(),
        victim.display()
    );
    let out = Command::new("unshare")
        .args(["--mount", "sh", "-c", &script])
        .output()
        .expect("unshare(1) from util-linux");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_bound_file_is_shared_read_write_and_nosuid_nodev() {
    if !have_root("a_bound_file_is_shared_read_write_and_nosuid_nodev") {
        return;
    }
    let _s = serial();
    let before = HostState::now();
    for rootless in [true, false] {
        let fs = Rootfs::probe();
        let host = disk(&fs, "host data");
        let out = run(&config(&fs, &host, "/tmp/vmlab-disk", rootless), None).unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(
            out.status,
            ExitStatus::Code(0),
            "rootless {rootless}: {stdout}"
        );
        let line = json_lines(&out.stdout)
            .into_iter()
            .find(|l| l["vmlab"] == "file")
            .unwrap_or_else(|| panic!("no file line: {stdout}"));
        assert_eq!(line["read"], "host data", "{stdout}");
        let opts = line["options"]
            .as_str()
            .unwrap()
            .split(',')
            .collect::<Vec<_>>();
        for want in ["rw", "nosuid", "nodev", "noexec"] {
            assert!(
                opts.contains(&want),
                "rootless {rootless}: options {opts:?}"
            );
        }
        assert_eq!(std::fs::read_to_string(&host).unwrap(), "host data+inside");
        assert!(out.phases.iter().any(|(n, _)| *n == "bind_file"));
    }
    assert_eq!(HostState::settled(&before), before);
}

#[test]
fn a_link_planted_at_or_above_the_target_is_refused_where_it_would_redirect() {
    if !have_root("a_link_planted_at_or_above_the_target_is_refused_where_it_would_redirect") {
        return;
    }
    let _s = serial();
    let before = HostState::now();
    let fs = Rootfs::probe();
    let host = disk(&fs, "disk data");
    // The victim: a host file outside the rootfs, and a directory holding one.
    let victim = fs.top().join("victim");
    std::fs::write(&victim, "victim data").unwrap();
    let outside = fs.top().join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(outside.join("disk"), "outside data").unwrap();
    std::fs::create_dir(fs.path.join("data")).unwrap();
    std::os::unix::fs::symlink(&victim, fs.path.join("data/disk")).unwrap();
    std::os::unix::fs::symlink(&outside, fs.path.join("up")).unwrap();
    let cases = [
        ("/data/disk", fs.path.join("data/disk"), victim.clone()),
        ("/up/disk", fs.path.join("up/disk"), outside.join("disk")),
    ];
    for (inside, on_host, lands_on) in cases {
        // Control: bound through the path, the link takes the bind out of
        // the rootfs onto the victim.
        assert_eq!(
            naive_bind_then_read(&host, &on_host, &lands_on),
            "disk data",
            "{inside}: the planted link does not redirect a path bind; the test shows nothing"
        );
        for rootless in [true, false] {
            let e = run(&config(&fs, &host, inside, rootless), None).unwrap_err();
            let msg = e.to_string();
            assert!(
                msg.contains("bind_file") && msg.contains("symbolic link"),
                "{inside} (rootless {rootless}): unclear refusal: {msg}"
            );
        }
    }
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "victim data");
    assert_eq!(
        std::fs::read_to_string(outside.join("disk")).unwrap(),
        "outside data"
    );
    assert_eq!(std::fs::read_to_string(&host).unwrap(), "disk data");
    assert_eq!(HostState::settled(&before), before);
}

#[test]
fn refused_host_files_and_targets_name_the_cause() {
    if !have_root("refused_host_files_and_targets_name_the_cause") {
        return;
    }
    let _s = serial();
    let before = HostState::now();
    let fs = Rootfs::probe();
    let host = disk(&fs, "d");
    std::fs::create_dir(fs.path.join("data")).unwrap();
    let link = fs.top().join("link.img");
    std::os::unix::fs::symlink(&host, &link).unwrap();
    let refusal = |c: Config| run(&c, None).unwrap_err();
    // Host side: a link, a device node, a directory, a file nobody may write.
    let e = refusal(config(&fs, &link, "/tmp/d", true));
    assert!(matches!(e, LaunchError::Bind(BindError::Symlink(_))), "{e}");
    let e = refusal(config(&fs, Path::new("/dev/zero"), "/tmp/d", true));
    assert!(e.to_string().contains("a device node"), "{e}");
    let e = refusal(config(&fs, fs.top(), "/tmp/d", true));
    assert!(e.to_string().contains("a directory"), "{e}");
    std::os::unix::fs::chown(&host, Some(0), Some(0)).unwrap();
    let e = refusal(config(&fs, &host, "/tmp/d", true));
    assert!(e.to_string().contains("chown it to 65534"), "{e}");
    std::os::unix::fs::chown(&host, Some(NOBODY), Some(NOBODY)).unwrap();
    // Inside: a directory, a missing file on the read-only rootfs, a
    // relative or `..` path.
    let e = refusal(config(&fs, &host, "/data", true));
    assert!(e.to_string().contains("bind_file"), "{e}");
    let e = refusal(config(&fs, &host, "/data/none", true));
    assert!(e.to_string().contains("put it on /tmp"), "{e}");
    for bad in ["tmp/d", "/tmp/../etc/passwd", "/"] {
        let e = refusal(config(&fs, &host, bad, true));
        assert!(e.to_string().contains("must be absolute"), "{bad}: {e}");
    }
    assert_eq!(HostState::settled(&before), before);
}

const HARNESS: [&str; 3] = ["VMLAB_BIND_ROOTFS", "VMLAB_BIND_HOST", "VMLAB_BIND_INSIDE"];

/// The sandbox with a file bind, started as `nobody` (a launcher that may
/// not clone mounts): run by [`as_nobody`].
#[test]
#[ignore = "run by the rootless bind test as an unprivileged child process"]
fn harness_rootless_bind() {
    let Ok(v) = HARNESS
        .map(std::env::var)
        .into_iter()
        .collect::<Result<Vec<_>, _>>()
    else {
        return;
    };
    let mut c = Config::sandbox(&v[0]);
    c.args = vec!["file".into(), v[2].clone()];
    c.cgroup = false;
    c.limits = vmlab_sandbox::Limits::default();
    c.devices = false;
    c.bind_file = Some(FileBind {
        host: v[1].clone().into(),
        inside: v[2].clone().into(),
    });
    match run(&c, None) {
        Ok(o) => print!("HARNESS-OK\n{}", String::from_utf8_lossy(&o.stdout)),
        Err(e) => println!("HARNESS-ERROR {e}"),
    }
}

/// Runs [`harness_rootless_bind`] as `nobody`; its stdout.
fn as_nobody(fs: &Rootfs, host: &Path, inside: &str) -> String {
    use std::os::unix::process::CommandExt;
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "harness_rootless_bind",
            "--ignored",
            "--nocapture",
        ])
        .env(HARNESS[0], &fs.path)
        .env(HARNESS[1], host)
        .env(HARNESS[2], inside)
        .uid(NOBODY)
        .gid(NOBODY)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn an_unprivileged_launcher_binds_the_file_too_and_refuses_a_planted_link() {
    if !have_root("an_unprivileged_launcher_binds_the_file_too_and_refuses_a_planted_link") {
        return;
    }
    let _s = serial();
    let fs = Rootfs::probe();
    let host = disk(&fs, "host data");
    let out = as_nobody(&fs, &host, "/tmp/vmlab-disk");
    assert!(out.contains("HARNESS-OK"), "{out}");
    assert!(out.contains("\"read\":\"host data\""), "{out}");
    assert!(out.contains("nosuid") && out.contains("nodev"), "{out}");
    assert_eq!(std::fs::read_to_string(&host).unwrap(), "host data+inside");
    let victim = fs.top().join("victim");
    std::fs::write(&victim, "victim data").unwrap();
    std::fs::create_dir(fs.path.join("data")).unwrap();
    std::os::unix::fs::symlink(&victim, fs.path.join("data/disk")).unwrap();
    let out = as_nobody(&fs, &host, "/data/disk");
    assert!(
        out.contains("HARNESS-ERROR") && out.contains("symbolic link"),
        "{out}"
    );
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "victim data");
}
