//! A held workload is never handed a terminal: `vmlab run -- --hold` with
//! its stdin and stdout on a pty refuses with one clear message and a
//! non-zero exit (the sandbox as root; the plain process, which passes its
//! stdio the same way, anywhere). The control: the same command on pipes
//! holds until released and exits 0. Without the check in the launcher's
//! wiring, the pty run holds instead and this test fails on its time limit.
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use vmlab_bench::scale::Spawned;
use vmlab_test_util::{have_root, wait_with_limit};

fn images() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/vmlab/images");
    vmlab_bench::compare::images::ensure_built(&dir, false, true).expect("the images build");
    dir
}

fn held_run(backend: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vmlab"));
    cmd.args(["run", "--backend", backend, "--timeout", "60", "--images"])
        .arg(images())
        .args(["--", "--hold"]);
    cmd
}

/// `vmlab run --backend B -- --hold` on a pty (stdin and stdout) is refused.
fn refused_on_a_pty(backend: &str) {
    let pty = nix::pty::openpty(None, None).expect("openpty");
    let slave: OwnedFd = pty.slave;
    let mut cmd = held_run(backend);
    cmd.stdin(Stdio::from(slave.try_clone().unwrap()))
        .stdout(Stdio::from(slave))
        .stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    let (status, _, stderr) = wait_with_limit(child, Duration::from_secs(20))
        .unwrap_or_else(|| panic!("{backend}: a held run on a terminal was not refused (it held)"));
    assert!(!status.success(), "{backend}: {status:?} {stderr}");
    assert!(
        stderr.contains("stdin or stdout is a terminal") && stderr.contains("pipe"),
        "{backend}: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{backend}: {stderr}");
    drop(pty.master);
}

/// The control: on pipes the same run holds, then exits 0 on its release.
fn holds_on_pipes(backend: &str) {
    let held = Spawned::start(&mut held_run(backend), Duration::from_secs(60), None).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let mut held = held;
    assert!(!held.exited(), "{backend}: it holds");
    assert_eq!(held.release().unwrap(), 0, "{backend}");
}

#[test]
fn a_held_process_refuses_a_terminal_and_holds_on_pipes() {
    refused_on_a_pty("process");
    holds_on_pipes("process");
}

#[test]
fn a_held_sandbox_refuses_a_terminal_and_holds_on_pipes() {
    if !have_root("a_held_sandbox_refuses_a_terminal_and_holds_on_pipes") {
        return;
    }
    refused_on_a_pty("sandbox");
    holds_on_pipes("sandbox");
}
