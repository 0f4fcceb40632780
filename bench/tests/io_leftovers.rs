//! The I/O host side leaves nothing behind: network namespaces (counted as
//! distinct `net:[…]` inodes held by processes or descriptors) and the
//! machine's interfaces (`/sys/class/net`) are the same before and after
//! a run, a failed set-up, and a SIGKILL of the process that held them;
//! a VM's run (jailed `vmlab run --backend vm-bare` on a TAP and the disk)
//! leaves no process, namespace, interface or file after a run, an error
//! and a SIGKILL. Positive controls: while the host side lives, its
//! namespaces are seen and its link carries an echo round trip; the VM's
//! kernels reach the server and the disk. Root only (the VM's: and KVM).
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use vmlab_bench::io::{netns, Disk, IoHost};
use vmlab_test_util::have_root;

/// The child mode: set up a host side and a link, say so, wait to be killed.
const CHILD: &str = "VMLAB_IO_LEFTOVERS_CHILD";

fn interfaces() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir("/sys/class/net")
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Namespaces now, waiting up to 5 s for `expect` (other tests running in
/// parallel may hold some: only ours are compared).
fn settle(expect: impl Fn(&[u64]) -> bool) -> Vec<u64> {
    let t = Instant::now();
    loop {
        let now = netns::all_inodes();
        if expect(&now) || t.elapsed() > Duration::from_secs(5) {
            return now;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// An echo round trip from inside `link`'s namespace to the host side.
fn round_trip(link: &vmlab_bench::io::Link) -> Vec<u8> {
    let peer = link.peer();
    link.ns()
        .run_in(move || {
            let mut s = TcpStream::connect(&peer)?;
            s.write_all(b"eping")?;
            let mut back = [0u8; 4];
            s.read_exact(&mut back)?;
            Ok(back.to_vec())
        })
        .unwrap()
}

#[test]
fn io_child() {
    if std::env::var_os(CHILD).is_none() {
        return; // only a mode of the test below
    }
    match IoHost::new().and_then(|h| Ok((h.link(false)?, h))) {
        Ok((link, host)) => {
            let disk = Disk::new(&std::env::temp_dir()).unwrap();
            println!(
                "ready {} {} {}",
                host.ns().inode().unwrap(),
                link.ns().inode().unwrap(),
                disk.path().display()
            );
            std::thread::sleep(Duration::from_secs(60));
        }
        Err(e) => {
            println!("error {e}");
            std::process::exit(3);
        }
    }
}

fn child(path: Option<&str>) -> std::process::Child {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "io_child", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .stdout(Stdio::piped());
    if let Some(p) = path {
        cmd.env("PATH", p);
    }
    cmd.spawn().unwrap()
}

#[test]
fn nothing_is_left_after_a_run_an_error_and_a_kill() {
    if !have_root("nothing_is_left_after_a_run_an_error_and_a_kill") {
        return;
    }
    let ifs = interfaces();

    // A run: the host side and two links, used, then dropped.
    let host = IoHost::new().unwrap();
    let (a, b) = (host.link(false).unwrap(), host.link(false).unwrap());
    // A VM's link: a TAP and the veth end in a bridge (control: they are
    // there while it lives; they die with its namespace).
    let vm = host.link(true).unwrap();
    let shown = vm
        .ns()
        .run_in(|| {
            let out = Command::new("ip").args(["-o", "link", "show"]).output()?;
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        })
        .unwrap();
    let s = vm.subnet();
    for name in [s.tap_if(), s.bridge_if(), s.instance_if()] {
        assert!(shown.contains(&format!(" {name}")), "{name} in {shown}");
    }
    let ours = [
        host.ns().inode().unwrap(),
        a.ns().inode().unwrap(),
        b.ns().inode().unwrap(),
        vm.ns().inode().unwrap(),
    ];
    assert!(
        ours.iter().all(|i| netns::all_inodes().contains(i)),
        "control"
    );
    assert_eq!(round_trip(&a), b"ping");
    assert_eq!(round_trip(&b), b"ping");
    assert_ne!(a.peer(), b.peer());
    drop((a, b, vm, host));
    let now = settle(|n| ours.iter().all(|i| !n.contains(i)));
    assert!(
        ours.iter().all(|i| !now.contains(i)),
        "left after a run: {ours:?}"
    );
    assert_eq!(interfaces(), ifs);

    // An error: no `ip` on PATH; the child says so and leaves nothing.
    let out = child(Some("/nonexistent")).wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("error") && text.contains("iproute2"),
        "{text}"
    );
    assert_eq!(interfaces(), ifs);

    // A SIGKILL mid-run: the child's namespaces (seen while it lives) go
    // with it; its disk file is swept by the next run.
    let mut c = child(None);
    let mut line = String::new();
    BufReader::new(c.stdout.take().unwrap())
        .lines()
        .map_while(Result::ok)
        // libtest may have written "test io_child ... " before it.
        .find_map(|l| l.split_once("ready ").map(|(_, rest)| rest.to_string()))
        .map(|l| line = l)
        .expect("the child set up its host side");
    let words: Vec<&str> = line.split_whitespace().collect();
    let theirs: Vec<u64> = words[..2].iter().map(|w| w.parse().unwrap()).collect();
    assert!(
        theirs.iter().all(|i| netns::all_inodes().contains(i)),
        "control"
    );
    c.kill().unwrap();
    c.wait().unwrap();
    let now = settle(|n| theirs.iter().all(|i| !n.contains(i)));
    assert!(
        theirs.iter().all(|i| !now.contains(i)),
        "left after SIGKILL: {theirs:?}"
    );
    let disk = std::path::Path::new(words[2]);
    assert!(
        disk.exists(),
        "control: a killed run cannot remove its disk"
    );
    vmlab_bench::io::disk::sweep(disk.parent().unwrap());
    assert!(!disk.exists(), "the next run sweeps it");
    assert_eq!(interfaces(), ifs);
}

/// Processes whose command line names `needle` (a run's unique disk path).
fn processes_naming(needle: &str) -> usize {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .filter(|c| String::from_utf8_lossy(c).contains(needle))
        .count()
}

/// `vmlab run --backend vm-bare` with the disk and the link's TAP, in the
/// link's namespace, jailed.
fn vm_run(link: &vmlab_bench::io::Link, disk: &std::path::Path, workload: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vmlab"));
    cmd.args(["run", "--backend", "vm-bare", "--timeout", "60", "--disk"])
        .arg(disk)
        .args(["--tap", &link.subnet().tap_if(), "--"])
        .args(workload)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    link.enter_on_spawn(&mut cmd).unwrap();
    cmd
}

#[test]
fn a_vm_run_leaves_no_tap_bridge_namespace_process_or_file() {
    const TEST: &str = "a_vm_run_leaves_no_tap_bridge_namespace_process_or_file";
    if !have_root(TEST) || !vmlab_test_util::kvm_available() {
        return;
    }
    let ifs = interfaces();
    let dir = vmlab_test_util::TempDir::new("io-vm");
    let host = IoHost::new().unwrap();
    let vm = host.link(true).unwrap();
    let disk = Disk::new(dir.path()).unwrap();
    let path = disk.path();
    let needle = path.display().to_string();
    let (peer, addr) = (vm.peer(), vm.subnet().guest_addr());

    // A run (control: the guest reached the server through the TAP and
    // wrote the disk).
    let args = [
        "net-rr", "blk-rand", "--time", "20ms", "--peer", &peer, "--addr", &addr,
    ];
    let out = vm_run(&vm, &path, &args).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("\"kernel\":\"net-rr\"") && stdout.contains("\"kernel\":\"blk-rand\""));

    // An error: a missing disk is refused before the VM starts, naming
    // the flag.
    let missing = dir.path().join("none.img");
    let out = vm_run(&vm, &missing, &["blk-rand"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--disk"));

    // A SIGKILL of a held VM: `vmlab run` and its jailed VMM both go.
    let mut held = vm_run(&vm, &path, &["--hold"]).spawn().unwrap();
    let stdout = held.stdout.take().unwrap();
    let ready = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .any(|l| l.contains("\"ready\""));
    assert!(ready, "the held VM signalled ready");
    assert_eq!(
        processes_naming(&needle),
        2,
        "control: vmlab run and its VMM"
    );
    held.kill().unwrap();
    held.wait().unwrap();
    let t = Instant::now();
    while processes_naming(&needle) > 0 && t.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        processes_naming(&needle),
        0,
        "the jailed VMM died with its parent"
    );

    let ours = [host.ns().inode().unwrap(), vm.ns().inode().unwrap()];
    drop((vm, host, disk));
    let now = settle(|n| ours.iter().all(|i| !n.contains(i)));
    assert!(
        ours.iter().all(|i| !now.contains(i)),
        "namespaces left: {ours:?}"
    );
    assert!(!path.exists(), "the disk is removed");
    assert_eq!(interfaces(), ifs);
}
