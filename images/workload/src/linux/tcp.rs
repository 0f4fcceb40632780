//! `tcp`: round-trip latency of one byte over a loopback TCP connection to
//! an echo thread. Brings `lo` up first if it is down (a fresh network
//! namespace or a Linux guest starts with it down).
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Shutdown, TcpListener, TcpStream};

use vmlab_workload::measure::measure;
use vmlab_workload::{Failure, Kernel, Measurement, Spec};

use super::platform::Mono;
use super::sys;

/// Echoes every byte until end of stream.
fn echo(mut stream: TcpStream) {
    let mut byte = [0u8; 1];
    while let Ok(1) = stream.read(&mut byte) {
        if stream.write_all(&byte).is_err() {
            break;
        }
    }
}

/// A connected client and the accepted server end, both without Nagle.
fn connect() -> io::Result<(TcpStream, TcpStream)> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    let client = TcpStream::connect(listener.local_addr()?)?;
    let (server, _) = listener.accept()?;
    client.set_nodelay(true)?;
    server.set_nodelay(true)?;
    Ok((client, server))
}

/// Runs the kernel for the spec's time budget.
pub fn run(spec: &Spec, report: &mut dyn FnMut(&Measurement)) -> Result<(), Failure> {
    sys::loopback_up()
        .map_err(|e| failure!("tcp: cannot bring up the loopback interface lo: {e}"))?;
    let (mut client, server) =
        connect().map_err(|e| failure!("tcp: cannot connect over loopback: {e}"))?;
    let echo = std::thread::Builder::new()
        .name("tcp-echo".into())
        .spawn(move || echo(server))
        .map_err(|e| failure!("tcp: cannot start the echo thread: {e}"))?;

    let clock = Mono::new();
    let mut byte = [7u8];
    let timing = measure(&clock, spec.time_ns, |n| {
        for _ in 0..n {
            client
                .write_all(&byte)
                .and_then(|()| client.read_exact(&mut byte))
                .map_err(|e| failure!("tcp: echo round trip failed: {e}"))?;
        }
        Ok(n)
    });
    // End the echo thread before returning: later kernels fork, which needs
    // a single-threaded process.
    let _ = client.shutdown(Shutdown::Both);
    drop(client);
    let _ = echo.join();
    report(&Measurement::new(Kernel::Tcp, timing?));
    Ok(())
}
