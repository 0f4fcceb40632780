//! The sandbox boots a workload to ready and reports its exit (root only).
mod common;

use common::{json_lines, Rootfs};
use vmlab_sandbox::{run, Config, ExitStatus, UserNs};
use vmlab_test_util::{have_root, host_has};

fn probe_config(rootfs: &Rootfs, args: &[&str]) -> Config {
    let mut c = Config::sandbox(&rootfs.path);
    c.args = args.iter().map(|s| s.to_string()).collect();
    c
}

#[test]
fn root_mode_boots_to_ready_and_exits_with_the_code() {
    if !have_root("root_mode_boots_to_ready_and_exits_with_the_code") {
        return;
    }
    let _serial = common::serial();
    let fs = Rootfs::probe();
    let mut c = probe_config(&fs, &["ready", "7"]);
    c.ns.user = None;
    let out = run(&c, None).unwrap();
    assert_eq!(
        out.status,
        ExitStatus::Code(7),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.ready.is_some());
    assert_eq!(json_lines(&out.stdout)[0]["mode"], "ready");
    assert!(!out.user_ns);
    eprintln!("phases: {:?}", out.phases);
}

#[test]
fn default_mode_boots_to_ready_in_a_user_namespace() {
    if !have_root("default_mode_boots_to_ready_in_a_user_namespace") {
        return;
    }
    let _serial = common::serial();
    let fs = Rootfs::probe();
    let c = probe_config(&fs, &["ready", "3"]);
    assert_eq!(c.ns.user, Some(UserNs::rootless()));
    let out = run(&c, None).unwrap();
    assert_eq!(
        out.status,
        ExitStatus::Code(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.ready.is_some());
    assert!(out.user_ns);
    eprintln!("phases: {:?}", out.phases);
}

const UNPRIV_ENV: &str = "VMLAB_TEST_UNPRIVILEGED_ROOTFS";

/// Run by `rootless_as_an_unprivileged_user` as `nobody`.
#[test]
#[ignore = "run by rootless_as_an_unprivileged_user as a child process"]
fn harness_unprivileged() {
    let Ok(rootfs) = std::env::var(UNPRIV_ENV) else {
        return;
    };
    let mut c = Config::sandbox(rootfs);
    c.args = vec!["info".into()];
    c.ns.user = Some(UserNs::rootless());
    // Without root, cgroups need delegation: none here.
    c.cgroup = false;
    match run(&c, None) {
        Ok(out) => println!(
            "HARNESS {:?} ready={} {}",
            out.status,
            out.ready.is_some(),
            String::from_utf8_lossy(&out.stdout)
        ),
        Err(e) => println!("HARNESS error {e}"),
    }
}

#[test]
fn rootless_as_an_unprivileged_user() {
    use std::os::unix::process::CommandExt;
    if !have_root("rootless_as_an_unprivileged_user") {
        return;
    }
    let _serial = common::serial();
    let fs = Rootfs::probe();
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "harness_unprivileged",
            "--ignored",
            "--nocapture",
        ])
        .env(UNPRIV_ENV, &fs.path)
        .uid(vmlab_sandbox::config::NOBODY)
        .gid(vmlab_sandbox::config::NOBODY)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("HARNESS Code(0) ready=true"), "{text}");
    // Root inside, with the kept capabilities only.
    assert!(text.contains("Uid: 0 0 0 0"), "{text}");
    assert!(text.contains("NoNewPrivs: 1"), "{text}");
}

/// The rootfs `vmlab images build` makes (the real workload as `/init`),
/// written to `dir`, with the OCI bundle crun runs beside it.
fn real_rootfs(top: &std::path::Path) -> std::path::PathBuf {
    let rootfs = vmlab_images::rootfs::Rootfs::new(vmlab_images::embedded::WORKLOAD);
    let dir = top.join("real-rootfs");
    rootfs.write_to(&dir).unwrap();
    vmlab_images::oci::bundle::write_bundle(&top.join("bundle"), &rootfs).unwrap();
    dir
}

#[test]
fn the_real_workload_boots_to_ready_and_exits_with_its_code() {
    if !have_root("the_real_workload_boots_to_ready_and_exits_with_its_code") {
        return;
    }
    let _serial = common::serial();
    let scratch = Rootfs::probe();
    let dir = real_rootfs(scratch.top());
    for rootless in [false, true] {
        let mut c = Config::sandbox(&dir);
        c.args = vec![
            "cpu".into(),
            "--time".into(),
            "5ms".into(),
            "--exit".into(),
            "7".into(),
        ];
        c.ns.user = rootless.then(UserNs::rootless);
        let out = run(&c, None).unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status,
            ExitStatus::Code(7),
            "rootless={rootless}: {stderr}"
        );
        assert!(out.ready.is_some());
        let lines = json_lines(&out.stdout);
        assert!(lines
            .iter()
            .any(|l| l["vmlab"] == "result" && l["kernel"] == "cpu"));
    }
    // The same rootfs under crun, when installed (hybrid cgroups: crun 1.8
    // needs the cgroup2 mount hidden).
    let crun = std::path::Path::new("/usr/bin/crun").exists();
    if host_has(
        "the_real_workload_boots_to_ready_and_exits_with_its_code (crun part)",
        crun,
        "crun is not installed",
    ) {
        let bundle = scratch.top().join("bundle");
        std::fs::remove_dir_all(bundle.join("rootfs")).unwrap();
        std::os::unix::fs::symlink(&dir, bundle.join("rootfs")).unwrap();
        let script = format!(
            "umount /sys/fs/cgroup/unified 2>/dev/null; exec crun run --bundle {} vmlab-sandbox-test-{}",
            bundle.display(),
            std::process::id()
        );
        let st = std::process::Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c", &script])
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(st.success(), "crun on the same rootfs: {st}");
    }
}

const V2_ENV: &str = "VMLAB_TEST_V2_ROOTFS";

/// Run by `cgroup_v2_clone_into_cgroup` in a child process: hides the v1
/// hierarchies in a private mount namespace, mounts the machine's cgroup2
/// at /sys/fs/cgroup (pure v2 as far as the sandbox can tell) and boots.
#[test]
#[ignore = "run by cgroup_v2_clone_into_cgroup as a child process"]
fn harness_cgroup_v2() {
    let Ok(rootfs) = std::env::var(V2_ENV) else {
        return;
    };
    // SAFETY: only this thread changes its mount namespace.
    assert_eq!(unsafe { libc::unshare(libc::CLONE_NEWNS) }, 0);
    let sh = |cmd: &str| {
        let st = std::process::Command::new("sh")
            .args(["-c", cmd])
            .status()
            .unwrap();
        assert!(st.success(), "{cmd}");
    };
    // The shell runs in this (the only busy) thread's mount namespace.
    sh("mount --make-rprivate / && umount -R /sys/fs/cgroup && mount -t cgroup2 none /sys/fs/cgroup");
    let mut c = Config::sandbox(rootfs);
    c.args = vec!["ready".into(), "5".into()];
    match run(&c, None) {
        Ok(out) => println!(
            "HARNESS {:?} mode={:?} cpu={:?}",
            out.status,
            out.cgroup_mode,
            out.usage.and_then(|u| u.cpu_ns).is_some()
        ),
        Err(e) => println!("HARNESS error {e}"),
    }
}

#[test]
fn cgroup_v2_clone_into_cgroup() {
    if !have_root("cgroup_v2_clone_into_cgroup") {
        return;
    }
    let v2 = std::path::Path::new("/sys/fs/cgroup/unified/cgroup.procs").exists()
        || std::path::Path::new("/sys/fs/cgroup/cgroup.procs").exists();
    if !host_has("cgroup_v2_clone_into_cgroup", v2, "no cgroup2 mount") {
        return;
    }
    let _serial = common::serial();
    let fs = Rootfs::probe();
    let parent = std::path::Path::new("/sys/fs/cgroup/unified/vmlab");
    let had_parent = parent.exists();
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "harness_cgroup_v2", "--ignored", "--nocapture"])
        .args(["--test-threads", "1"])
        .env(V2_ENV, &fs.path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("HARNESS Code(5) mode=Some(V2) cpu=true"),
        "{text}"
    );
    // The cgroup (and its parent, when ours) is gone.
    assert!(had_parent || !parent.exists());
}

const DENIED_ENV: &str = "VMLAB_TEST_USERNS_DENIED_ROOTFS";

/// Run by `user_namespaces_not_permitted_is_a_clear_error` inside a user
/// namespace whose `user.max_user_namespaces` is 0.
#[test]
#[ignore = "run by user_namespaces_not_permitted_is_a_clear_error as a child process"]
fn harness_userns_denied() {
    let Ok(rootfs) = std::env::var(DENIED_ENV) else {
        return;
    };
    let mut c = Config::sandbox(rootfs);
    c.ns.user = Some(UserNs::rootless());
    c.cgroup = false;
    c.limits = vmlab_sandbox::Limits::default();
    match run(&c, None) {
        Err(e @ vmlab_sandbox::LaunchError::UserNsDenied(_)) => println!("HARNESS denied: {e}"),
        other => println!("HARNESS unexpected {other:?}"),
    }
}

#[test]
fn user_namespaces_not_permitted_is_a_clear_error() {
    if !have_root("user_namespaces_not_permitted_is_a_clear_error") {
        return;
    }
    let _serial = common::serial();
    let fs = Rootfs::probe();
    let exe = std::env::current_exe().unwrap();
    let script = format!(
        "echo 0 > /proc/sys/user/max_user_namespaces && exec {} --exact harness_userns_denied --ignored --nocapture",
        exe.display()
    );
    let out = std::process::Command::new("unshare")
        .args(["--user", "--map-root-user", "sh", "-c", &script])
        .env(DENIED_ENV, &fs.path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("HARNESS denied: user namespaces are not permitted here"),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
