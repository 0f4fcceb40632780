//! QEMU's I/O rounds end to end (`bench/src/compare/qemu_io.rs`): `vmlab
//! compare --backends qemu` runs the four I/O kernels in the Linux guest
//! over virtio-net (a TAP bridged into its link) and virtio-blk (the run's
//! disk file); their results in results.json are the positive control.
//! Afterwards no interface of the machine's, network namespace, disk file
//! or QEMU process is left, and none after a SIGKILL of vmlab in the
//! middle of QEMU's I/O round either (QEMU dies with it; the disk file a
//! killed run cannot remove is swept by the next run). Needs root, QEMU
//! and the cached Debian kernel (with its modules); slow under TCG.
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use vmlab_bench::io::netns;
use vmlab_reports::model::Results;
use vmlab_test_util::{gate, have_root, TempDir, QEMU};

fn interfaces() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir("/sys/class/net")
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Pids whose command line mentions `needle` (QEMU's names the images).
fn processes_naming(needle: &str) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(needle))
        })
        .collect()
}

/// The disk file of the compare run `pid`.
fn disk_of(pid: u32) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("vmlab-io-{pid}.img"))
}

/// The network namespace inode of `pid`.
fn netns_of(pid: u32) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(format!("/proc/{pid}/ns/net"))
        .ok()
        .map(|m| m.ino())
}

/// Starts compare, waits for QEMU's I/O boot (a QEMU naming `needle` with
/// a virtio-net device) and returns compare, QEMU's pid and its link's
/// namespace; the rest of compare's stderr is drained by a thread.
fn until_qemu_io(mut cmd: Command, needle: &str) -> (std::process::Child, u32, u64) {
    let mut c = cmd
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(c.stderr.take().unwrap()).lines();
    let reached = lines
        .by_ref()
        .map_while(Result::ok)
        .any(|l| l.contains("I/O qemu"));
    assert!(reached, "compare reached QEMU's I/O round");
    std::thread::spawn(move || lines.for_each(drop));
    let mut found = None;
    assert!(
        settle(|| {
            found = processes_naming(needle).into_iter().find(|pid| {
                std::fs::read(format!("/proc/{pid}/cmdline"))
                    .is_ok_and(|c| String::from_utf8_lossy(&c).contains("virtio-net-device"))
            });
            found.is_some()
        }),
        "control: QEMU runs with virtio-net"
    );
    let pid = found.unwrap();
    let ns = netns_of(pid).expect("control: QEMU's namespace");
    assert!(
        netns::all_inodes().contains(&ns),
        "control: its link is seen"
    );
    (c, pid, ns)
}

fn compare(images: &Path, out: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vmlab"));
    cmd.args(["compare", "--quick", "--runs", "1", "--backends", "qemu"])
        .args(["--no-warm", "--no-scale", "--images"])
        .arg(images)
        .arg("--out")
        .arg(out);
    cmd
}

/// Waits up to 10 s for `done`.
fn settle(mut done: impl FnMut() -> bool) -> bool {
    let t = Instant::now();
    while !done() {
        if t.elapsed() > Duration::from_secs(10) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    true
}

#[test]
fn qemu_runs_the_io_kernels_over_virtio_and_leaves_nothing() {
    let test = "qemu_runs_the_io_kernels_over_virtio_and_leaves_nothing";
    if !have_root(test) {
        return;
    }
    let qemu = Command::new("qemu-system-x86_64").arg("--version").output();
    if !gate(
        qemu.is_ok(),
        QEMU,
        &format!("{test}: qemu-system-x86_64 is not installed"),
    ) {
        return;
    }
    let tmp = TempDir::new("test-io-qemu");
    let images = tmp.path().join("images");
    let built = Command::new(env!("CARGO_BIN_EXE_vmlab"))
        .args(["images", "build", "--out"])
        .arg(&images)
        .output()
        .unwrap();
    let manifest = vmlab_images::manifest::Manifest::read(&images);
    let ready = manifest.as_ref().is_ok_and(|m| m.initramfs_io.is_some());
    let why = format!(
        "{test}: no initramfs with the virtio modules: {}",
        String::from_utf8_lossy(&built.stderr)
    );
    if !gate(ready, QEMU, &why) {
        return;
    }
    let ifs = interfaces();
    let needle = images.to_string_lossy().into_owned();

    // A run: all four kernels reported by the guest, nothing left after.
    let out = tmp.path().join("report");
    let (c, _, ns) = until_qemu_io(compare(&images, &out), &needle);
    let pid = c.id();
    let run = c.wait_with_output().unwrap();
    assert!(run.status.success(), "compare failed");
    let results = Results::load(&out.join("results.json")).unwrap();
    let q = results.backends.iter().find(|b| b.name == "qemu").unwrap();
    let kernels: Vec<&str> = q.overhead.iter().map(|k| k.kernel.as_str()).collect();
    for k in ["net-rr", "net-stream/up", "blk-rand/read", "blk-seq/write"] {
        assert!(kernels.contains(&k), "{k} missing from {kernels:?}");
    }
    assert!(q.emulated || results.host.kvm == vmlab_reports::model::KvmKind::Hardware);
    assert!(
        settle(|| !netns::all_inodes().contains(&ns)),
        "its link is left"
    );
    assert!(processes_naming(&needle).is_empty());
    assert!(!disk_of(pid).exists());
    assert_eq!(interfaces(), ifs);

    // A SIGKILL of vmlab while QEMU runs the I/O kernels.
    let (mut c, qemu, ns) = until_qemu_io(compare(&images, &tmp.path().join("k")), &needle);
    let pid = c.id();
    c.kill().unwrap();
    c.wait().unwrap();
    let gone = |p: u32| !Path::new(&format!("/proc/{p}")).exists();
    assert!(settle(|| gone(qemu)), "QEMU outlived vmlab");
    assert!(
        settle(|| !netns::all_inodes().contains(&ns)),
        "its link is left"
    );
    assert_eq!(interfaces(), ifs);
    assert!(
        disk_of(pid).exists(),
        "control: a killed run cannot remove its disk"
    );
    vmlab_bench::io::disk::sweep(&std::env::temp_dir());
    assert!(!disk_of(pid).exists(), "the next run sweeps it");
}
