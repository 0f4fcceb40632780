//! crun and runc run the built bundle as it is: the workload prints its
//! ready mark and exits 0. Needs root (skips otherwise, fails when
//! VMLAB_REQUIRE_ROOT=1, as it does when a runtime is missing then).
//!
//! Debian's crun 1.8.1 refuses hybrid cgroup hosts, so it runs in a private
//! mount namespace without the cgroup v2 mount; on a pure v2 host the
//! `umount` fails harmlessly.
mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{build_into, scratch};
use vmlab_test_util::{gate, is_root, wait_with_limit};

const READY: &str = r#"{"vmlab":"ready"}"#;

/// How crun and runc are started here.
fn runtime_command(runtime: &str, args: &[&str]) -> Command {
    if runtime == "crun" {
        let mut cmd = Command::new("unshare");
        cmd.args(["--mount", "--propagation", "private", "sh", "-c"])
            .arg(r#"umount /sys/fs/cgroup/unified 2>/dev/null; exec crun "$@""#)
            .arg("sh")
            .args(args);
        cmd
    } else {
        let mut cmd = Command::new(runtime);
        cmd.args(args);
        cmd
    }
}

/// Deletes the container on every path.
struct Container<'a> {
    runtime: &'a str,
    id: String,
}

impl Drop for Container<'_> {
    fn drop(&mut self) {
        let _ = runtime_command(self.runtime, &["delete", "-f", &self.id])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn installed(runtime: &str) -> bool {
    Command::new(runtime)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs the bundle; returns (exit status, stdout, stderr).
fn run(runtime: &str, bundle: &Path) -> (std::process::ExitStatus, String, String) {
    let container = Container {
        runtime,
        id: format!("vmlab-images-test-{runtime}-{}", std::process::id()),
    };
    let bundle = bundle.to_str().unwrap();
    let child = runtime_command(runtime, &["run", "--bundle", bundle, &container.id])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {runtime}: {e}"));
    let Some(result) = wait_with_limit(child, Duration::from_secs(60)) else {
        panic!("{runtime} did not finish within 60 s");
    };
    drop(container);
    result
}

fn check(runtime: &str) {
    if !gate(
        is_root(),
        "VMLAB_REQUIRE_ROOT",
        "running containers needs root",
    ) {
        return;
    }
    if !gate(
        installed(runtime),
        "VMLAB_REQUIRE_ROOT",
        &format!("{runtime} is not installed"),
    ) {
        return;
    }
    let s = scratch(&format!("bundle-{runtime}"));
    let (out, _) = build_into(&s, 0);
    let (status, stdout, stderr) = run(runtime, &out.join("bundle"));
    assert!(
        status.success(),
        "{runtime} run failed ({status}); stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stdout.lines().any(|l| l.trim() == READY),
        "{runtime}: no ready line in stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    eprintln!("{runtime} stdout:\n{stdout}");
}

#[test]
fn crun_runs_the_bundle() {
    check("crun");
}

#[test]
fn runc_runs_the_bundle() {
    check("runc");
}
