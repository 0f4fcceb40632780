//! A VM's TAP bridged into a link (`vmlab_bench::io::tap`, QEMU's I/O
//! rounds): while it lives, a frame the guest would send (an ARP request
//! for the host side's address) is answered through the bridge and the
//! veth pair (the positive control); once it is dropped, or its set-up
//! failed half-way, the TAP and the bridge are gone and the instance end
//! has its address back, and the machine's interfaces are unchanged; a
//! SIGKILLed holder leaves no namespace. Root only.
use std::io::{BufRead, BufReader};
use std::os::fd::{AsRawFd, BorrowedFd};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use vmlab_bench::io::tap::BridgedTap;
use vmlab_bench::io::{netns, IoHost, Link};
use vmlab_test_util::have_root;

const CHILD: &str = "VMLAB_IO_TAP_CHILD";

fn interfaces() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir("/sys/class/net")
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// `ip -o addr` and `ip -o link` inside `link`'s namespace.
fn inside(link: &Link) -> String {
    let mut text = String::new();
    for what in ["addr", "link"] {
        let mut cmd = Command::new("ip");
        cmd.args(["-o", what]).stdout(Stdio::piped());
        link.enter_on_spawn(&mut cmd).unwrap();
        let out = cmd.output().unwrap();
        text.push_str(&String::from_utf8_lossy(&out.stdout));
    }
    text
}

/// An ARP request from the guest's side (`mac`, `ip`) for `target`.
fn arp_request(mac: [u8; 6], ip: [u8; 4], target: [u8; 4]) -> Vec<u8> {
    let mut f = vec![0xff; 6];
    f.extend(mac);
    f.extend([0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1]);
    f.extend(mac);
    f.extend(ip);
    f.extend([0; 6]);
    f.extend(target);
    f
}

/// Sends `frame` into the TAP and waits up to 3 s for an ARP reply from `from`.
fn arp_answered(fd: BorrowedFd<'_>, frame: &[u8], from: [u8; 4]) -> bool {
    let raw = fd.as_raw_fd();
    // SAFETY: `frame` is a live buffer of its length; `raw` is open.
    let sent = unsafe { libc::write(raw, frame.as_ptr().cast(), frame.len()) };
    assert_eq!(sent, frame.len() as isize, "the TAP takes the frame");
    let start = Instant::now();
    let mut buf = [0u8; 2048];
    while start.elapsed() < Duration::from_secs(3) {
        let mut p = libc::pollfd {
            fd: raw,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        if unsafe { libc::poll(&mut p, 1, 100) } <= 0 {
            continue;
        }
        // SAFETY: `buf` is writable for its length.
        let n = unsafe { libc::read(raw, buf.as_mut_ptr().cast(), buf.len()) };
        let f = &buf[..n.max(0) as usize];
        if f.len() >= 42 && f[12..14] == [8, 6] && f[20..22] == [0, 2] && f[28..32] == from {
            return true;
        }
    }
    false
}

#[test]
fn tap_child() {
    if std::env::var_os(CHILD).is_none() {
        return; // only a mode of the test below
    }
    let host = IoHost::new().unwrap();
    let link = host.link().unwrap();
    let _tap = BridgedTap::new(&link).unwrap();
    println!(
        "ready {} {}",
        host.ns().inode().unwrap(),
        link.ns().inode().unwrap()
    );
    std::thread::sleep(Duration::from_secs(60));
}

#[test]
fn a_bridged_tap_carries_frames_and_leaves_nothing() {
    if !have_root("a_bridged_tap_carries_frames_and_leaves_nothing") {
        return;
    }
    let ifs = interfaces();
    let host = IoHost::new().unwrap();
    let link = host.link().unwrap();
    let s = link.subnet();
    let (tap, bridge, vi) = (s.tap_if(), s.bridge_if(), s.instance_if());
    let addr = format!("{}/24", s.instance());
    {
        let t = BridgedTap::new(&link).unwrap();
        assert_eq!(t.guest_addr(), addr);
        let now = inside(&link);
        assert!(now.contains(&tap) && now.contains(&bridge), "{now}");
        assert!(!now.contains(&addr), "the guest owns the address: {now}");
        let frame = arp_request([2, 0, 0, 0, 0, 9], s.instance().octets(), s.host().octets());
        assert!(arp_answered(t.fd(), &frame, s.host().octets()), "control");
    }
    let after = inside(&link);
    assert!(!after.contains(&tap) && !after.contains(&bridge), "{after}");
    assert!(after.contains(&addr) && after.contains(&vi), "{after}");

    // A set-up that fails half-way (a bridge of that name exists already)
    // is undone as well.
    let mut cmd = Command::new("ip");
    cmd.args(["link", "add", &bridge, "type", "bridge"]);
    link.enter_on_spawn(&mut cmd).unwrap();
    assert!(cmd.status().unwrap().success());
    let err = BridgedTap::new(&link).err().expect("the bridge exists");
    assert!(err.to_string().contains(&bridge), "{err}");
    let after = inside(&link);
    assert!(!after.contains(&tap) && !after.contains(&bridge), "{after}");
    assert!(after.contains(&addr), "{after}");
    drop((link, host));
    assert_eq!(interfaces(), ifs);

    // A SIGKILLed holder: its namespaces, with the TAP and bridge in them, go.
    let mut c = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "tap_child", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let line = BufReader::new(c.stdout.take().unwrap())
        .lines()
        .map_while(Result::ok)
        .find_map(|l| l.split_once("ready ").map(|(_, r)| r.to_string()))
        .expect("the child bridged its TAP");
    let theirs: Vec<u64> = line
        .split_whitespace()
        .map(|w| w.parse().unwrap())
        .collect();
    assert!(
        theirs.iter().all(|i| netns::all_inodes().contains(i)),
        "control"
    );
    c.kill().unwrap();
    c.wait().unwrap();
    let t = Instant::now();
    while theirs.iter().any(|i| netns::all_inodes().contains(i)) {
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "left after SIGKILL: {theirs:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(interfaces(), ifs);
}
