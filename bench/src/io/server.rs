//! The host side's TCP server for the network kernels. A connection's
//! first byte picks its mode: `e` echoes what it reads (`net-rr`), `u`
//! reads and discards to end of stream and then answers one byte
//! (`net-stream` up), `d` writes until the peer closes (`net-stream`
//! down). Each connection has a fixed 64 KiB buffer, at most
//! [`MAX_CONNECTIONS`] are served at once, and every socket has a timeout,
//! so a stuck or hostile workload costs bounded memory and time. Dropping
//! the server stops it within a tick and joins every thread (so no socket
//! keeps the host side's namespace alive).
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use std::thread::JoinHandle;
use std::time::Duration;

/// Connections served at once; more are closed at once.
pub const MAX_CONNECTIONS: usize = 32;
/// A connection idle for longer (no byte moved) is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// How often blocked threads look at the stop flag.
const TICK: Duration = Duration::from_millis(50);
/// Bytes of each connection's buffer.
const BUFFER: usize = 64 << 10;

/// The running server.
pub struct Server {
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

/// A socket whose reads and writes give up when the server stops or the
/// peer is idle for [`IDLE_TIMEOUT`].
struct Conn<'a> {
    s: TcpStream,
    stop: &'a AtomicBool,
}

impl Conn<'_> {
    /// Runs `op` on the non-blocking socket, waiting up to a tick at a
    /// time for it to be ready, until it moves bytes, the server stops or
    /// the peer has been idle for [`IDLE_TIMEOUT`].
    fn retry(
        &mut self,
        events: PollFlags,
        mut op: impl FnMut(&mut TcpStream) -> io::Result<usize>,
    ) -> io::Result<usize> {
        let mut idle = Duration::ZERO;
        loop {
            match op(&mut self.s) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let mut fds = [PollFd::new(self.s.as_fd(), events)];
                    if poll(&mut fds, PollTimeout::from(TICK.as_millis() as u16))? == 0 {
                        idle += TICK;
                    }
                    if self.stop.load(Ordering::Relaxed) || idle >= IDLE_TIMEOUT {
                        return Err(io::ErrorKind::TimedOut.into());
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                other => return other,
            }
        }
    }

    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.retry(PollFlags::POLLIN, |s| s.read(buf))
    }

    fn write_all(&mut self, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            let n = self.retry(PollFlags::POLLOUT, |s| s.write(buf))?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            buf = &buf[n..];
        }
        Ok(())
    }
}

/// Serves one connection in the mode its first byte names.
fn serve(s: TcpStream, stop: &AtomicBool) -> io::Result<()> {
    s.set_nonblocking(true)?;
    s.set_nodelay(true)?;
    let mut c = Conn { s, stop };
    let mut mode = [0u8];
    if c.read(&mut mode)? == 0 {
        return Ok(());
    }
    let mut buf = vec![0u8; BUFFER];
    match mode[0] {
        b'e' => loop {
            let n = c.read(&mut buf)?;
            if n == 0 {
                return Ok(());
            }
            c.write_all(&buf[..n])?;
        },
        b'u' => {
            while c.read(&mut buf)? > 0 {}
            c.write_all(b"k")
        }
        b'd' => loop {
            c.write_all(&buf)?;
        },
        _ => Ok(()),
    }
}

impl Server {
    /// Serves on `listener` (bound where the clients can reach it).
    pub fn start(listener: TcpListener) -> io::Result<Server> {
        listener.set_nonblocking(true)?;
        let stop = Arc::new(AtomicBool::new(false));
        let accept = {
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("vmlab-io-accept".into())
                .spawn(move || accept_loop(&listener, &stop))?
        };
        Ok(Server {
            stop,
            accept: Some(accept),
        })
    }

    /// Binds `0.0.0.0:port` (in the calling thread's network namespace).
    pub fn bind(port: u16) -> io::Result<TcpListener> {
        TcpListener::bind((Ipv4Addr::UNSPECIFIED, port))
    }
}

/// Accepts until stopped; joins every connection's thread before it
/// returns (they end within a tick of the stop flag).
fn accept_loop(listener: &TcpListener, stop: &Arc<AtomicBool>) {
    let mut live: Vec<JoinHandle<()>> = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let s = match listener.accept() {
            Ok((s, _)) => s,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                // Woken at once by a connection: a client's first request
                // must not wait for the next look at the stop flag.
                let mut fds = [PollFd::new(listener.as_fd(), PollFlags::POLLIN)];
                if poll(&mut fds, PollTimeout::from(TICK.as_millis() as u16)).is_err() {
                    break;
                }
                continue;
            }
            Err(_) => break,
        };
        live.retain(|t| !t.is_finished());
        if live.len() >= MAX_CONNECTIONS {
            continue; // dropped: closed
        }
        let stop = stop.clone();
        let spawned = std::thread::Builder::new()
            .name("vmlab-io-conn".into())
            .spawn(move || {
                let _ = serve(s, &stop);
            });
        live.extend(spawned.ok());
    }
    stop.store(true, Ordering::Relaxed);
    for t in live {
        let _ = t.join();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Shutdown;

    #[test]
    fn modes_and_shutdown() {
        let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let addr = l.local_addr().unwrap();
        let server = Server::start(l).unwrap();
        let mut echo = TcpStream::connect(addr).unwrap();
        echo.write_all(b"ehello").unwrap();
        let mut back = [0u8; 5];
        echo.read_exact(&mut back).unwrap();
        assert_eq!(&back, b"hello");
        // A new connection is served without waiting for a tick: many in
        // a row take less than one tick each on average.
        let t = std::time::Instant::now();
        for _ in 0..20 {
            let mut c = TcpStream::connect(addr).unwrap();
            c.write_all(b"ex").unwrap();
            c.read_exact(&mut back[..1]).unwrap();
        }
        assert!(
            t.elapsed() < TICK * 4,
            "{:?} for 20 connections",
            t.elapsed()
        );
        let mut up = TcpStream::connect(addr).unwrap();
        up.write_all(&[b'u'; 100_000]).unwrap();
        up.shutdown(Shutdown::Write).unwrap();
        let mut ack = Vec::new();
        up.read_to_end(&mut ack).unwrap();
        assert_eq!(ack, b"k");
        let mut down = TcpStream::connect(addr).unwrap();
        down.write_all(b"d").unwrap();
        let mut got = vec![0u8; 200_000];
        down.read_exact(&mut got).unwrap();
        // Dropping the server ends connections still open (echo, down).
        drop(server);
        let mut rest = Vec::new();
        let _ = down.read_to_end(&mut rest);
        assert!(echo.read(&mut back).map_or(true, |n| n == 0));
        assert!(TcpStream::connect(addr).is_err());
    }
}
