//! The I/O kernels as a plain process against a local server speaking the
//! host side's protocol (a mode byte, then echo, upload or download) and a
//! file on the test's temporary directory; and their errors without one.
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::process::{Command, Output};

use vmlab_workload::protocol::{FD_ENV, LINE_PREFIX, PORT_ENV};
use vmlab_workload::Kernel;
use vmlab_workload_host::protocol::{Line, ResultLine};

const BIN: &str = env!("CARGO_BIN_EXE_vmlab-workload");

/// Serves one connection in the mode its first byte names.
fn serve(mut s: TcpStream) {
    let mut mode = [0u8];
    if s.read_exact(&mut mode).is_err() {
        return;
    }
    let mut buf = vec![0u8; 64 << 10];
    match mode[0] {
        b'e' => {
            while let Ok(n @ 1..) = s.read(&mut buf) {
                if s.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
        }
        b'u' => {
            while let Ok(1..) = s.read(&mut buf) {}
            let _ = s.write_all(b"k");
        }
        _ => while s.write_all(&buf).is_ok() {},
    }
}

/// A local server on 127.0.0.1; returns its `ADDR:PORT`.
fn server() -> String {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let addr = l.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            std::thread::spawn(move || serve(s));
        }
    });
    addr
}

fn run(args: &[&str]) -> (Output, Vec<Line>) {
    let out = Command::new(BIN)
        .args(args)
        .env_remove(FD_ENV)
        .env_remove(PORT_ENV)
        .output()
        .unwrap();
    let lines = String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .filter(|l| l.starts_with(LINE_PREFIX))
        .map(|l| Line::parse(l).unwrap())
        .collect();
    (out, lines)
}

fn results(lines: &[Line]) -> Vec<&ResultLine> {
    lines
        .iter()
        .filter_map(|l| match l {
            Line::Result(r) => Some(r),
            _ => None,
        })
        .collect()
}

#[test]
fn io_kernels_run_against_a_local_server_and_file() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let disk = dir.path().join("disk.img");
    std::fs::write(&disk, vec![1u8; 8 << 20]).unwrap();
    let peer = server();
    let disk = disk.to_str().unwrap();
    let (out, lines) = run(&[
        "net-rr",
        "net-stream",
        "blk-rand",
        "blk-seq",
        "--time",
        "20ms",
        "--peer",
        &peer,
        "--disk",
        disk,
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr} {lines:?}");
    let names: Vec<String> = results(&lines).iter().map(|r| r.name()).collect();
    assert_eq!(
        names,
        [
            "net-rr",
            "net-stream/up",
            "net-stream/down",
            "blk-rand/read",
            "blk-rand/write",
            "blk-seq/write",
            "blk-seq/read"
        ]
    );
    for r in results(&lines) {
        assert!(
            r.iters > 0 && r.bytes > 0 && r.mib_per_s.unwrap() > 0.0,
            "{r:?}"
        );
        let timed = matches!(r.kernel, Kernel::NetRr | Kernel::BlkRand);
        assert_eq!(r.p50_ns.is_some(), timed, "{r:?}");
        if let (Some(p50), Some(p99)) = (r.p50_ns, r.p99_ns) {
            assert!(0 < p50 && p50 <= p99, "{r:?}");
            // No single trip takes longer than all of them together.
            assert!(p99 <= r.total_ns, "{r:?}");
        }
    }
}

#[test]
fn io_kernels_without_targets_say_what_to_give() {
    let (out, lines) = run(&["net-rr", "blk-seq", "--time", "1ms"]);
    assert_eq!(out.status.code(), Some(1));
    let errors: Vec<String> = lines
        .iter()
        .filter_map(|l| match l {
            Line::Error(e) => Some(e.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(errors.len(), 2, "{lines:?}");
    assert!(errors[0].contains("--peer"), "{errors:?}");
    assert!(errors[1].contains("--disk"), "{errors:?}");
    // A peer nobody listens on: the error names it.
    let (_, lines) = run(&["net-rr", "--time", "1ms", "--peer", "127.0.0.1:1"]);
    assert!(
        lines
            .iter()
            .any(|l| matches!(l, Line::Error(e) if e.message.contains("127.0.0.1:1"))),
        "{lines:?}"
    );
}
