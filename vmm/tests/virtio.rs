//! virtio-blk and virtio-net with the bare guest on real KVM (skipped
//! without `/dev/kvm`, required with `VMLAB_REQUIRE_KVM=1`); each test runs
//! its VM in a child process. The guest runs its device self-test (the
//! boot-info flag `VIRTIO_FLAG_SELFTEST`; see images/guest/src/virtio/selftest.rs).
mod common;

use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::OwnedFd;
use std::time::Duration;

use common::*;
use nix::sys::socket::{setsockopt, socketpair, sockopt, AddressFamily, SockFlag, SockType};
use nix::sys::time::TimeVal;
use vmlab_test_util::{kvm_available, TempDir};
use vmlab_vmm::devices::virtio::DeviceConfig;
use vmlab_vmm::VmOutcome;

const T: Duration = Duration::from_secs(60);
const MAC: [u8; 6] = [0x02, 0x76, 0x6d, 0x6c, 0x61, 0x62];

/// A 1 MiB disk: zeros, with sectors 8..16 holding byte `(i * 13 + 1)` at
/// offset i (what the self-test expects to read).
fn disk(dir: &TempDir) -> std::fs::File {
    let mut bytes = vec![0u8; 1 << 20];
    for (i, b) in bytes[8 * 512..16 * 512].iter_mut().enumerate() {
        *b = (i * 13 + 1) as u8;
    }
    let path = dir.file("disk.raw", &bytes);
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap()
}

fn selftest(devices: Vec<DeviceConfig>) -> Option<VmOutcome> {
    let elf = guest_elf();
    let mut cfg = bare(&elf, "cpu", T);
    cfg.virtio = devices;
    cfg.virtio_selftest = true;
    match vmlab_vmm::run(cfg) {
        Err(e) if guest_built_with_sse(&e) => None,
        r => Some(r.unwrap()),
    }
}

fn selftest_line<'a>(console: &'a str, device: &str) -> &'a str {
    let tag = format!("\"device\":\"{device}\"");
    console
        .lines()
        .find(|l| l.contains("virtio-selftest") && l.contains(&tag))
        .unwrap_or_else(|| panic!("no {device} self-test line in {console}"))
}

#[test]
fn bare_guest_reads_and_writes_sectors_of_a_raw_file() {
    if !kvm_available() || !in_child("bare_guest_reads_and_writes_sectors_of_a_raw_file") {
        return;
    }
    let dir = TempDir::new("virtio-blk");
    let mut file = disk(&dir);
    let dev = DeviceConfig::Block {
        file: file.try_clone().unwrap(),
        read_only: false,
    };
    let Some(o) = selftest(vec![dev]) else { return };
    let console = String::from_utf8_lossy(&o.console);
    assert_eq!(o.exit_code, 0, "self-test failed: {console}");
    let line = selftest_line(&console, "blk");
    assert!(line.contains("\"sectors\":2048"), "{line}");
    eprintln!("{line}");

    // The guest's write is in the file.
    let mut written = vec![0u8; 4096];
    file.seek(SeekFrom::Start(0)).unwrap();
    file.read_exact(&mut written).unwrap();
    assert!(written
        .iter()
        .enumerate()
        .all(|(i, &b)| b == (i * 31 + 7) as u8));

    let [report] = &o.virtio[..] else {
        panic!("one device: {:?}", o.virtio)
    };
    let c = report.counters;
    assert_eq!(report.kind, "virtio-blk");
    // Host data read, pattern written and read back, flush, timed reads.
    assert_eq!(c.completed, 4 + 64, "{c:?}");
    assert_eq!(c.bytes_from_guest, 4096);
    assert_eq!(c.notifies, c.completed, "one notify per request");
    assert_eq!(
        c.bad_chains + c.bad_requests + c.io_errors + c.bad_registers,
        0,
        "{c:?}"
    );
    eprintln!(
        "virtio-blk: {} requests, {} MMIO exits in all ({} reads, {} writes)",
        c.completed,
        o.exits.mmio_read + o.exits.mmio_write,
        o.exits.mmio_read,
        o.exits.mmio_write
    );
}

/// A `SOCK_SEQPACKET` pair: one end for the VMM (as its TAP), one for the
/// host side of this test, with a receive timeout.
fn link() -> (OwnedFd, OwnedFd) {
    let (vmm, host) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::empty(),
    )
    .unwrap();
    setsockopt(&host, sockopt::ReceiveTimeout, &TimeVal::new(30, 0)).unwrap();
    (vmm, host)
}

#[test]
fn bare_guest_sends_and_receives_frames() {
    if !kvm_available() || !in_child("bare_guest_sends_and_receives_frames") {
        return;
    }
    let (vmm_end, host_end) = link();
    let host = std::thread::spawn(move || {
        let mut f = std::fs::File::from(host_end);
        let mut buf = [0u8; 2048];
        let n = f.read(&mut buf).expect("the guest's ping arrives");
        let ping = buf[..n].to_vec();
        let pong: Vec<u8> = (0..80u8).map(|i| i.wrapping_mul(3)).collect();
        f.write_all(&pong).unwrap();
        let n = f.read(&mut buf).expect("the guest echoes");
        (ping, pong, buf[..n].to_vec())
    });
    let dev = DeviceConfig::Net {
        tap: vmm_end,
        mac: MAC,
    };
    let Some(o) = selftest(vec![dev]) else { return };
    let console = String::from_utf8_lossy(&o.console);
    assert_eq!(o.exit_code, 0, "self-test failed: {console}");
    let (ping, pong, echo) = host.join().unwrap();
    assert_eq!(&ping[0..6], &[0xff; 6]);
    assert_eq!(
        &ping[6..12],
        &MAC,
        "the guest read its MAC from config space"
    );
    assert_eq!(&ping[14..33], b"vmlab-selftest ping");
    assert_eq!(echo, pong, "the frame went in and came back out");
    eprintln!("{}", selftest_line(&console, "net"));
    let c = o.virtio[0].counters;
    assert_eq!((c.completed, c.bytes_to_guest), (3, 80), "{c:?}");
    assert_eq!(
        c.bad_chains + c.bad_requests + c.io_errors + c.bad_registers + c.dropped,
        0,
        "{c:?}"
    );
}

#[test]
fn both_devices_at_once() {
    if !kvm_available() || !in_child("both_devices_at_once") {
        return;
    }
    let dir = TempDir::new("virtio-both");
    let (vmm_end, host_end) = link();
    let host = std::thread::spawn(move || {
        let mut f = std::fs::File::from(host_end);
        let mut buf = [0u8; 2048];
        let _ = f.read(&mut buf).expect("ping");
        f.write_all(&[0x5a; 64]).unwrap();
        f.read(&mut buf).expect("echo")
    });
    let devs = vec![
        DeviceConfig::Block {
            file: disk(&dir),
            read_only: false,
        },
        DeviceConfig::Net {
            tap: vmm_end,
            mac: MAC,
        },
    ];
    let Some(o) = selftest(devs) else { return };
    assert_eq!(o.exit_code, 0, "{}", String::from_utf8_lossy(&o.console));
    assert_eq!(host.join().unwrap(), 64);
    let kinds: Vec<_> = o
        .virtio
        .iter()
        .map(|d| (d.kind, d.mmio_base, d.irq))
        .collect();
    assert_eq!(
        kinds,
        [
            ("virtio-blk", 0xd000_0000, 5),
            ("virtio-net", 0xd000_1000, 6)
        ]
    );
}

/// Packets the kernel received on `dev` (frames the VMM wrote to the TAP),
/// from `ip -s -j link show` in the current network namespace.
fn rx_packets(dev: &str) -> u64 {
    let out = std::process::Command::new("ip")
        .args(["-s", "-j", "link", "show", "dev", dev])
        .output()
        .expect("ip runs");
    let json = String::from_utf8_lossy(&out.stdout);
    let rx = &json[json.find("\"rx\":{").expect("rx statistics")..];
    let packets = &rx[rx.find("\"packets\":").expect("rx packets") + 10..];
    let digits: String = packets.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().unwrap()
}

#[test]
fn bare_guest_frames_cross_a_tap_in_a_private_network_namespace() {
    const TEST: &str = "bare_guest_frames_cross_a_tap_in_a_private_network_namespace";
    if !kvm_available() || !vmlab_test_util::have_root(TEST) || !in_child(TEST) {
        return;
    }
    // This child process's own network namespace: the TAP and everything
    // on it vanish with the process.
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
    let tap = vmlab_vmm::devices::virtio::tap::open("vmlab-t0").unwrap();
    let up = std::process::Command::new("ip")
        .args(["link", "set", "dev", "vmlab-t0", "up"])
        .status()
        .unwrap();
    assert!(up.success());
    let before = rx_packets("vmlab-t0");
    // A second fd keeps the interface after the VMM closes its own.
    let keep = tap.try_clone().unwrap();
    // The guest pings, then echoes the first frame it receives: on a link
    // just brought up, the kernel's own IPv6 traffic (MLD, DAD).
    let Some(o) = selftest(vec![DeviceConfig::Net { tap, mac: MAC }]) else {
        return;
    };
    let console = String::from_utf8_lossy(&o.console);
    assert_eq!(o.exit_code, 0, "self-test failed: {console}");
    assert_eq!(
        rx_packets("vmlab-t0") - before,
        2,
        "ping and echo reached the kernel"
    );
    drop(keep);
    let c = o.virtio[0].counters;
    assert!(c.completed >= 3 && c.bytes_to_guest > 0, "{c:?}");
    assert_eq!(c.bad_chains + c.bad_requests + c.io_errors, 0, "{c:?}");
    eprintln!("{}", selftest_line(&console, "net"));
}
