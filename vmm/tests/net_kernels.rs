//! The bare guest's `net-rr` and `net-stream` kernels (smoltcp TCP over
//! virtio-net) against a real TAP in a private network namespace, with a
//! server in this test speaking the host side's protocol (a mode byte:
//! `e` echo, `u` upload then one byte, `d` download). The VMM is jailed.
//! Root and KVM (required with `VMLAB_REQUIRE_KVM=1`/`VMLAB_REQUIRE_ROOT=1`);
//! each VM in a child process.
mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use common::*;
use vmlab_test_util::{have_root, kvm_available};
use vmlab_vmm::devices::virtio::{tap, DeviceConfig};

const T: Duration = Duration::from_secs(120);
const MAC: [u8; 6] = [0x02, 0x76, 0x6d, 0x6c, 0x61, 0x62];

fn serve(mut s: TcpStream) {
    let _ = s.set_nodelay(true);
    let mut mode = [0u8; 1];
    if s.read_exact(&mut mode).is_err() {
        return;
    }
    let mut buf = vec![0u8; 64 << 10];
    match mode[0] {
        b'e' => {
            while let Ok(n) = s.read(&mut buf) {
                if n == 0 || s.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
        b'u' => {
            while let Ok(n) = s.read(&mut buf) {
                if n == 0 {
                    let _ = s.write_all(b"k");
                    break;
                }
            }
        }
        b'd' => while s.write_all(&buf).is_ok() {},
        _ => {}
    }
}

/// This process's own network namespace with TAP `vmlab-n0` at 10.77.9.1/24,
/// up, and the server listening on 10.77.9.1:7077; returns the TAP's fd.
fn network() -> std::os::fd::OwnedFd {
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
    let fd = tap::open("vmlab-n0").unwrap();
    for args in [
        &["addr", "add", "10.77.9.1/24", "dev", "vmlab-n0"][..],
        &["link", "set", "dev", "vmlab-n0", "up"],
    ] {
        assert!(std::process::Command::new("ip")
            .args(args)
            .status()
            .unwrap()
            .success());
    }
    let listener = TcpListener::bind("10.77.9.1:7077").unwrap();
    std::thread::spawn(move || {
        for s in listener.incoming().flatten() {
            std::thread::spawn(move || serve(s));
        }
    });
    fd
}

fn boot(args: &str) -> Option<(String, u8)> {
    let tap = network();
    let elf = guest_elf();
    let mut cfg = vmlab_vmm::VmConfig::bare(&elf, args, 16, T);
    cfg.jail = true;
    cfg.virtio = vec![DeviceConfig::Net { tap, mac: MAC }];
    match vmlab_vmm::run(cfg) {
        Err(e) if guest_built_with_sse(&e) => None,
        r => {
            let o = r.unwrap();
            Some((
                String::from_utf8_lossy(&o.console).into_owned(),
                o.exit_code,
            ))
        }
    }
}

#[test]
fn bare_guest_net_kernels_talk_tcp_through_a_tap() {
    const TEST: &str = "bare_guest_net_kernels_talk_tcp_through_a_tap";
    if !kvm_available() || !have_root(TEST) || !in_child(TEST) {
        return;
    }
    let args = "net-rr net-stream --time 100ms --peer 10.77.9.1:7077 --addr 10.77.9.2/24";
    let Some((console, code)) = boot(args) else {
        return;
    };
    assert_eq!(code, 0, "{console}");
    let results: Vec<&str> = console
        .lines()
        .filter(|l| l.contains("\"result\""))
        .collect();
    assert_eq!(results.len(), 3, "{console}");
    assert!(results[0].contains("\"kernel\":\"net-rr\"") && results[0].contains("\"p99_ns\":"));
    assert!(results[1].contains("\"mode\":\"up\"") && results[2].contains("\"mode\":\"down\""));
    for r in &results {
        eprintln!("{r}");
    }
}

#[test]
fn without_an_address_or_a_server_the_net_kernels_fail_clearly() {
    const TEST: &str = "without_an_address_or_a_server_the_net_kernels_fail_clearly";
    if !kvm_available() || !have_root(TEST) || !in_child(TEST) {
        return;
    }
    // No --addr: refused before any frame.
    let Some((console, code)) = boot("net-rr --time 10ms --peer 10.77.9.1:7077") else {
        return;
    };
    assert_eq!(code, 1, "{console}");
    assert!(
        console.contains("the guest has no address: give --addr"),
        "{console}"
    );
    // A port nobody listens on: the host's stack answers the SYN with a reset.
    let args = "net-rr --time 10ms --peer 10.77.9.1:9 --addr 10.77.9.2/24";
    let (console, code) = boot(args).expect("the guest booted once already");
    assert_eq!(code, 1, "{console}");
    assert!(
        console.contains("the connection was refused with 10.77.9.1:9"),
        "{console}"
    );
}
