//! A launcher SIGKILLed between its clone and the child's release (held
//! there by a fault point, `vmlab_sandbox::fault`) leaves no child behind:
//! the child set its parent-death signal and closed its copy of the
//! parent's end of the sync pipe before its first wait. Positive control:
//! the weakened child (the order before that fix) is left blocked forever.
//! Root only (CI sets VMLAB_REQUIRE_ROOT=1).
mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{serial, HostState, Rootfs};
use vmlab_sandbox::{fault, run, Config, UserNs};
use vmlab_test_util::have_root;

const ROOTFS_ENV: &str = "VMLAB_TEST_KILLED_ROOTFS";
const MODE_ENV: &str = "VMLAB_TEST_KILLED_MODE";

/// The ignored test each case runs as the launcher it kills.
#[test]
#[ignore = "run by a_launcher_killed_between_clone_and_release_leaves_no_child as a child process"]
fn harness_paused_after_clone() {
    let (Ok(rootfs), Ok(mode)) = (std::env::var(ROOTFS_ENV), std::env::var(MODE_ENV)) else {
        return;
    };
    let mut c = Config::sandbox(rootfs);
    c.args = vec!["sleep".into(), "60".into()];
    c.ns.user = mode.starts_with("rootless").then(UserNs::rootless);
    if mode.ends_with("weakened") {
        fault::late_death_signal();
    }
    fault::pause_after_clone();
    let out = run(&c, None);
    println!("HARNESS unexpected end {out:?}");
}

/// The process's state letter (`None`: gone).
fn state(pid: i32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

fn alive(pid: i32) -> bool {
    !matches!(state(pid), None | Some('Z') | Some('X'))
}

/// Starts the launcher in `mode`, waits until its child sleeps (in its
/// first wait), SIGKILLs the launcher; returns the child's pid.
fn kill_launcher_after_clone(fs: &Rootfs, mode: &str) -> i32 {
    let mut harness = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "harness_paused_after_clone", "--ignored"])
        .args(["--nocapture", "--test-threads", "1"])
        .env(ROOTFS_ENV, &fs.path)
        .env(MODE_ENV, mode)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(harness.stdout.take().unwrap()).lines();
    let found = lines.by_ref().map_while(Result::ok).find_map(|l| {
        // After libtest's `test NAME ... ` on the same line.
        let (_, pid) = l.split_once("FAULT cloned ")?;
        pid.trim().parse::<i32>().ok()
    });
    // Asleep in a wait (or already past it), never released.
    let t = Instant::now();
    while found.is_some_and(|c| state(c) == Some('R')) && t.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(200));
    let was_alive = found.is_some_and(alive);
    // Killed before any assertion: a failing case leaves no parked launcher.
    harness.kill().unwrap();
    harness.wait().unwrap();
    let child = found.unwrap_or_else(|| panic!("{mode}: the launcher never reached its clone"));
    assert!(was_alive, "{mode}: the child died before its launcher");
    child
}

/// Whether `pid` is dead within `limit`.
fn dies_within(pid: i32, limit: Duration) -> bool {
    let t = Instant::now();
    while alive(pid) {
        if t.elapsed() >= limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    true
}

#[test]
fn a_launcher_killed_between_clone_and_release_leaves_no_child() {
    if !have_root("a_launcher_killed_between_clone_and_release_leaves_no_child") {
        return;
    }
    let _s = serial();
    let fs = Rootfs::probe();
    let before = HostState::now();
    for mode in ["rootless", "root"] {
        let child = kill_launcher_after_clone(&fs, mode);
        assert!(
            dies_within(child, Duration::from_secs(5)),
            "{mode}: the child {child} outlived its killed launcher (state {:?})",
            state(child)
        );
    }
    // Positive control: a rootless child that sets its death signal only
    // after its id change and keeps the writer open waits forever.
    let child = kill_launcher_after_clone(&fs, "rootless-weakened");
    let stuck = !dies_within(child, Duration::from_secs(2));
    assert!(stuck, "the weakened child died: the probe cannot tell");
    // SAFETY: the stuck child is alive, so its pid names it; SIGKILL ends it.
    unsafe { libc::kill(child, libc::SIGKILL) };
    assert!(dies_within(child, Duration::from_secs(5)));
    assert_eq!(HostState::settled(&before), before);
}
