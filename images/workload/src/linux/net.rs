//! `net-rr` and `net-stream`: TCP to the host side's server named by
//! `--peer`. Each connection starts with one mode byte: [`ECHO`] (the
//! server echoes what it reads), [`UPLOAD`] (it reads and discards until
//! end of stream, then answers one byte) or [`DOWNLOAD`] (it writes until
//! the connection closes). vmlab's host side (`bench/src/io`) runs that
//! server; the workload only connects, it configures no interface.
use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpStream};
use std::time::Duration;

use vmlab_workload::latency::Histogram;
use vmlab_workload::measure::{measure, Clock};
use vmlab_workload::target::Peer;
use vmlab_workload::{Failure, Kernel, Measurement, Spec};

use super::platform::Mono;

/// Mode byte: echo every byte back.
pub const ECHO: u8 = b'e';
/// Mode byte: read and discard to end of stream, then send one byte.
pub const UPLOAD: u8 = b'u';
/// Mode byte: write until the peer closes.
pub const DOWNLOAD: u8 = b'd';
/// Bytes of one `net-rr` request (and of its response).
pub const MESSAGE: usize = 64;
/// Bytes of one `net-stream` write or read.
pub const CHUNK: usize = 64 << 10;

/// How long a connect may take before the kernel fails.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The peer, or the failure that names `--peer`.
fn peer(kernel: Kernel, spec: &Spec) -> Result<Peer, Failure> {
    spec.peer.ok_or_else(|| {
        failure!(
            "{kernel}: no server to talk to: give --peer ADDR:PORT (vmlab's host side runs it)"
        )
    })
}

/// A connection to `peer` in `mode`, without Nagle.
fn connect(kernel: Kernel, peer: Peer, mode: u8) -> Result<TcpStream, Failure> {
    let addr = SocketAddr::from((Ipv4Addr::from(peer.addr), peer.port));
    let mut s = TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT)
        .map_err(|e| failure!("{kernel}: cannot connect to {peer}: {e}"))?;
    s.set_nodelay(true)
        .and_then(|()| s.write_all(&[mode]))
        .map_err(|e| failure!("{kernel}: cannot start a session with {peer}: {e}"))?;
    Ok(s)
}

/// `net-rr`: 64-byte request, 64-byte response, each trip timed.
pub fn rr(spec: &Spec, report: &mut dyn FnMut(&Measurement)) -> Result<(), Failure> {
    let peer = peer(Kernel::NetRr, spec)?;
    let mut s = connect(Kernel::NetRr, peer, ECHO)?;
    let clock = Mono::new();
    let mut hist = Histogram::new();
    let request = [0x5au8; MESSAGE];
    let mut response = [0u8; MESSAGE];
    // One untimed trip: the server's accept and start-up are not a trip.
    s.write_all(&request)
        .and_then(|()| s.read_exact(&mut response))
        .map_err(|e| failure!("net-rr: first round trip to {peer} failed: {e}"))?;
    let timing = measure(&clock, spec.time_ns, |n| {
        for _ in 0..n {
            let t0 = clock.now_ns();
            s.write_all(&request)
                .and_then(|()| s.read_exact(&mut response))
                .map_err(|e| failure!("net-rr: round trip to {peer} failed: {e}"))?;
            hist.record(clock.now_ns() - t0);
        }
        Ok(n)
    })?;
    if response != request {
        return Err(failure!(
            "net-rr: {peer} answered different bytes than sent"
        ));
    }
    let _ = s.shutdown(Shutdown::Both);
    report(&Measurement {
        bytes_per_iter: 2 * MESSAGE as u64,
        size: Some(MESSAGE as u64),
        latency: hist.latency(),
        ..Measurement::new(Kernel::NetRr, timing)
    });
    Ok(())
}

/// `net-stream`: `up` (writes for the budget, then end of stream and the
/// server's one-byte answer, so that bytes still in buffers count), then
/// `down` (reads for the budget).
pub fn stream(spec: &Spec, report: &mut dyn FnMut(&Measurement)) -> Result<(), Failure> {
    let peer = peer(Kernel::NetStream, spec)?;
    let mut chunk = vec![0xa5u8; CHUNK];
    for (mode, byte) in [("up", UPLOAD), ("down", DOWNLOAD)] {
        let mut s = connect(Kernel::NetStream, peer, byte)?;
        let clock = Mono::new();
        let start = clock.now_ns();
        let mut iters = 0u64;
        let fail = |e: std::io::Error| failure!("net-stream: {mode} with {peer} failed: {e}");
        while clock.now_ns() - start < spec.time_ns || iters == 0 {
            if byte == UPLOAD {
                s.write_all(&chunk).map_err(fail)?;
            } else {
                s.read_exact(&mut chunk).map_err(fail)?;
            }
            iters += 1;
        }
        if byte == UPLOAD {
            let mut ack = [0u8; 1];
            s.shutdown(Shutdown::Write)
                .and_then(|()| s.read_exact(&mut ack))
                .map_err(fail)?;
        }
        let total_ns = clock.now_ns() - start;
        let _ = s.shutdown(Shutdown::Both);
        report(&Measurement {
            mode: Some(mode),
            bytes_per_iter: CHUNK as u64,
            size: Some(CHUNK as u64),
            ..Measurement::new(
                Kernel::NetStream,
                vmlab_workload::Timing { iters, total_ns },
            )
        });
    }
    Ok(())
}
