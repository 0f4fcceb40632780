//! A `vmlab snapshot` killed with SIGKILL while it writes leaves its
//! temporary file `.NAME.PID.tmp` next to the target; the next snapshot
//! into that directory removes it, and leaves a live writer's temporary
//! file alone (the positive control that the sweep looks at the PID).
//! Needs KVM (skipped without it unless `VMLAB_REQUIRE_KVM=1`).
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use vmlab_test_util::{kvm_available, TempDir};

/// Guest RAM of the snapshot that is killed: writing it reads every guest
/// page, which takes seconds at this size (its pages are untouched, so
/// neither the guest nor the file costs that memory).
const BIG_MIB: &str = "2048";

fn snapshot(out: &Path, mem: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vmlab"));
    c.args(["snapshot", "--backend", "vm-bare", "--mem", mem, "--out"])
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    c
}

/// The temporary files in `dir`.
fn temps(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".tmp"))
        .collect()
}

#[test]
fn a_killed_snapshots_temp_file_is_swept_by_the_next_and_a_live_ones_stays() {
    if !kvm_available() {
        return;
    }
    let dir = TempDir::new("bench-snapshot-sweep");
    let out = dir.path().join("big.vmlab");
    let mut child = snapshot(&out, BIG_MIB).spawn().expect("vmlab runs");
    let want = dir.path().join(format!(".big.vmlab.{}.tmp", child.id()));
    let t0 = Instant::now();
    while !want.exists() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the snapshot ended before its temporary file was seen"
        );
        assert!(t0.elapsed() < Duration::from_secs(60), "no temporary file");
        std::thread::sleep(Duration::from_millis(1));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!out.exists(), "killed before the rename");
    assert_eq!(
        temps(dir.path()),
        std::slice::from_ref(&want),
        "the killed writer's file stays"
    );

    // A live writer's temporary file: a process that exists, and a file
    // that starts as a writer's does.
    let mut live = Command::new("sleep").arg("60").spawn().unwrap();
    let theirs = dir.path().join(format!(".other.vmlab.{}.tmp", live.id()));
    std::fs::write(&theirs, b"VMLABSNP").unwrap();

    let small = dir.path().join("small.vmlab");
    let done = snapshot(&small, "16").output().unwrap();
    live.kill().unwrap();
    live.wait().unwrap();
    let stderr = String::from_utf8_lossy(&done.stderr);
    assert!(done.status.success(), "{stderr}");
    assert!(small.exists());
    assert!(!want.exists(), "the dead writer's file was not swept");
    assert!(
        stderr.contains("removed") && stderr.contains(&*want.to_string_lossy()),
        "the sweep is reported: {stderr}"
    );
    assert_eq!(temps(dir.path()), [theirs], "the live writer's file stays");
}
