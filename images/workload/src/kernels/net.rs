//! `net-rr` and `net-stream` over any [`NetDevice`] with smoltcp's TCP
//! (no allocator: the socket buffers are the caller's memory): what the
//! bare guest runs on its virtio-net driver. Same server, same protocol,
//! same sizes and the same result lines as the Linux binary's kernels
//! (`src/linux/net.rs`, which use the kernel's sockets): a mode byte first
//! ([`ECHO`], [`UPLOAD`], [`DOWNLOAD`]), [`MESSAGE`]-byte round trips,
//! [`CHUNK`]-byte stream iterations. The guest's own address comes from
//! `--addr`; the peer (`--peer`) is on that link (no gateway).
use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet, SocketStorage};
use smoltcp::phy::{self, DeviceCapabilities, Medium};
use smoltcp::socket::tcp;
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpAddress, IpCidr, Ipv4Address};

use crate::io::{IoError, NetDevice, MAX_FRAME};
use crate::kernel::Kernel;
use crate::latency::Histogram;
use crate::measure::{measure, Clock, Timing};
use crate::report::{Failure, Measurement};
use crate::target::{Cidr, Peer};

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
/// Bytes of each TCP socket buffer (receive and send).
pub const SOCKET_BUF: usize = 64 << 10;
/// Memory [`rr`] and [`stream`] need from the caller: both socket buffers
/// and one chunk.
pub const MEMORY: usize = 2 * SOCKET_BUF + CHUNK;
/// How long a wait may go without progress before the kernel fails.
const STALL_NS: u64 = 10_000_000_000;

/// smoltcp's view of the device: one frame buffer each way.
struct Phy<'a> {
    dev: &'a mut dyn NetDevice,
    rx: [u8; MAX_FRAME],
    tx: [u8; MAX_FRAME],
    failed: Option<IoError>,
}

struct Rx<'a>(&'a [u8]);

struct Tx<'a> {
    dev: &'a mut dyn NetDevice,
    buf: &'a mut [u8; MAX_FRAME],
    failed: &'a mut Option<IoError>,
}

impl phy::RxToken for Rx<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(self.0)
    }
}

impl phy::TxToken for Tx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let len = len.min(MAX_FRAME);
        let r = f(&mut self.buf[..len]);
        if let Err(e) = self.dev.send(&self.buf[..len]) {
            *self.failed = Some(e);
        }
        r
    }
}

impl phy::Device for Phy<'_> {
    type RxToken<'a>
        = Rx<'a>
    where
        Self: 'a;
    type TxToken<'a>
        = Tx<'a>
    where
        Self: 'a;

    fn receive(&mut self, _: Instant) -> Option<(Rx<'_>, Tx<'_>)> {
        let n = match self.dev.recv(&mut self.rx) {
            Ok(0) => return None,
            Ok(n) => n,
            Err(e) => {
                self.failed = Some(e);
                return None;
            }
        };
        let tx = Tx {
            dev: &mut *self.dev,
            buf: &mut self.tx,
            failed: &mut self.failed,
        };
        Some((Rx(&self.rx[..n]), tx))
    }

    fn transmit(&mut self, _: Instant) -> Option<Tx<'_>> {
        Some(Tx {
            dev: &mut *self.dev,
            buf: &mut self.tx,
            failed: &mut self.failed,
        })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        // The Ethernet header and 1500 bytes of IP.
        caps.max_transmission_unit = 1514;
        caps
    }
}

/// One TCP connection at a time to the peer, over the device.
struct Link<'a, 'c, C: Clock> {
    kernel: Kernel,
    peer: Peer,
    clock: &'c C,
    phy: Phy<'a>,
    iface: Interface,
    sockets: SocketSet<'a>,
    tcp: SocketHandle,
    port: u16,
}

fn fail(kernel: Kernel, peer: Peer, what: &str) -> Failure {
    Failure::new(format_args!("{kernel}: {what} with {peer}"))
}

impl<'a, 'c, C: Clock> Link<'a, 'c, C> {
    fn now(&self) -> Instant {
        Instant::from_micros((self.clock.now_ns() / 1000) as i64)
    }

    /// One pass of the stack: frames in and out, timers.
    fn poll(&mut self) -> Result<(), Failure> {
        let now = self.now();
        self.iface.poll(now, &mut self.phy, &mut self.sockets);
        match self.phy.failed.take() {
            Some(e) => Err(Failure::new(format_args!(
                "{}: the network device failed: {e}",
                self.kernel
            ))),
            None => Ok(()),
        }
    }

    fn socket(&mut self) -> &mut tcp::Socket<'a> {
        self.sockets.get_mut::<tcp::Socket<'a>>(self.tcp)
    }

    /// Polls until `done` says yes (`Ok(true)`), fails on `Err`, or fails
    /// after [`STALL_NS`] without it.
    fn until(
        &mut self,
        what: &str,
        mut done: impl FnMut(&mut tcp::Socket<'a>) -> Result<bool, &'static str>,
    ) -> Result<(), Failure> {
        let start = self.clock.now_ns();
        loop {
            self.poll()?;
            match done(self.socket()) {
                Ok(true) => return Ok(()),
                Ok(false) => {}
                Err(why) => return Err(fail(self.kernel, self.peer, why)),
            }
            if self.clock.now_ns() - start > STALL_NS {
                return Err(fail(self.kernel, self.peer, what));
            }
        }
    }

    /// A new connection in `mode` (the mode byte sent).
    fn connect(&mut self, mode: u8) -> Result<(), Failure> {
        self.port = if self.port >= 65000 {
            49152
        } else {
            self.port + 1
        };
        let remote = (
            IpAddress::Ipv4(Ipv4Address::from(self.peer.addr)),
            self.peer.port,
        );
        let port = self.port;
        let cx = self.iface.context();
        let s = self.sockets.get_mut::<tcp::Socket<'a>>(self.tcp);
        s.abort();
        s.connect(cx, remote, port)
            .map_err(|_| fail(self.kernel, self.peer, "cannot start a connection"))?;
        s.set_nagle_enabled(false);
        s.set_ack_delay(None);
        self.until("no connection (timed out)", |s| match s.state() {
            tcp::State::Established => Ok(true),
            tcp::State::Closed => Err("the connection was refused"),
            _ => Ok(false),
        })?;
        self.send(&[mode])
    }

    /// Queues all of `data`.
    fn send(&mut self, mut data: &[u8]) -> Result<(), Failure> {
        while !data.is_empty() {
            let mut sent = 0;
            self.until("sending stalled", |s| {
                if !s.may_send() {
                    return Err("the connection closed while sending");
                }
                sent = s.send_slice(data).map_err(|_| "send failed")?;
                Ok(sent > 0)
            })?;
            data = &data[sent..];
        }
        Ok(())
    }

    /// Fills `buf` from the connection.
    fn recv(&mut self, buf: &mut [u8]) -> Result<(), Failure> {
        let mut got = 0;
        while got < buf.len() {
            let mut n = 0;
            self.until("receiving stalled", |s| {
                if s.can_recv() {
                    n = s
                        .recv_slice(&mut buf[got..])
                        .map_err(|_| "receive failed")?;
                    return Ok(n > 0);
                }
                if !s.may_recv() {
                    return Err("the connection closed early");
                }
                Ok(false)
            })?;
            got += n;
        }
        Ok(())
    }

    /// Resets the connection (the server sees it end) and sends the reset.
    fn abort(&mut self) -> Result<(), Failure> {
        self.socket().abort();
        self.poll()
    }
}

/// Sets up the stack on `dev` with the socket buffers from `mem`.
fn link<'a, 'c, C: Clock>(
    kernel: Kernel,
    dev: &'a mut dyn NetDevice,
    addr: Option<Cidr>,
    peer: Option<Peer>,
    clock: &'c C,
    mem: &'a mut [u8],
    storage: &'a mut [SocketStorage<'a>],
) -> Result<(Link<'a, 'c, C>, &'a mut [u8]), Failure> {
    let peer = peer.ok_or_else(|| {
        Failure::new(format_args!(
            "{kernel}: no server to talk to: give --peer ADDR:PORT (vmlab's host side runs it)"
        ))
    })?;
    let addr = addr.ok_or_else(|| {
        Failure::new(format_args!(
            "{kernel}: the guest has no address: give --addr ADDR/PREFIX (e.g. 10.77.1.2/24)"
        ))
    })?;
    if mem.len() < MEMORY {
        return Err(Failure::new(format_args!(
            "{kernel}: no {MEMORY} bytes for the socket buffers"
        )));
    }
    let (rx, rest) = mem.split_at_mut(SOCKET_BUF);
    let (tx, rest) = rest.split_at_mut(SOCKET_BUF);
    let mac = dev.mac();
    let mut phy = Phy {
        dev,
        rx: [0; MAX_FRAME],
        tx: [0; MAX_FRAME],
        failed: None,
    };
    let mut config = Config::new(HardwareAddress::Ethernet(EthernetAddress(mac)));
    let t0 = clock.now_ns();
    config.random_seed = t0;
    let now = Instant::from_micros((t0 / 1000) as i64);
    let mut iface = Interface::new(config, &mut phy, now);
    let ip = IpCidr::new(IpAddress::Ipv4(Ipv4Address::from(addr.addr)), addr.prefix);
    iface.update_ip_addrs(|a| {
        // One address on a fresh interface: there is room.
        let _ = a.push(ip);
    });
    let mut sockets = SocketSet::new(storage);
    let socket = tcp::Socket::new(tcp::SocketBuffer::new(rx), tcp::SocketBuffer::new(tx));
    let tcp = sockets.add(socket);
    let link = Link {
        kernel,
        peer,
        clock,
        phy,
        iface,
        sockets,
        tcp,
        port: 49152 + (t0 % 8192) as u16,
    };
    Ok((link, &mut rest[..CHUNK]))
}

/// `net-rr`: 64-byte request, 64-byte response, each trip timed (one
/// untimed trip first, as on Linux).
pub fn rr<C: Clock>(
    dev: &mut dyn NetDevice,
    addr: Option<Cidr>,
    peer: Option<Peer>,
    clock: &C,
    time_ns: u64,
    mem: &mut [u8],
    report: &mut dyn FnMut(&Measurement),
) -> Result<(), Failure> {
    let mut storage = [SocketStorage::EMPTY];
    let (mut l, _) = link(Kernel::NetRr, dev, addr, peer, clock, mem, &mut storage)?;
    l.connect(ECHO)?;
    let request = [0x5au8; MESSAGE];
    let mut response = [0u8; MESSAGE];
    l.send(&request)?;
    l.recv(&mut response)?;
    let mut hist = Histogram::new();
    let timing = measure(clock, time_ns, |n| {
        for _ in 0..n {
            let t0 = clock.now_ns();
            l.send(&request)?;
            l.recv(&mut response)?;
            hist.record(clock.now_ns() - t0);
        }
        Ok(n)
    })?;
    if response != request {
        return Err(fail(Kernel::NetRr, l.peer, "different bytes came back"));
    }
    l.abort()?;
    report(&Measurement {
        bytes_per_iter: 2 * MESSAGE as u64,
        size: Some(MESSAGE as u64),
        latency: hist.latency(),
        ..Measurement::new(Kernel::NetRr, timing)
    });
    Ok(())
}

/// `net-stream`: `up` (writes for the budget, then end of stream and the
/// server's one-byte answer inside the time), then `down` (reads for the
/// budget).
pub fn stream<C: Clock>(
    dev: &mut dyn NetDevice,
    addr: Option<Cidr>,
    peer: Option<Peer>,
    clock: &C,
    time_ns: u64,
    mem: &mut [u8],
    report: &mut dyn FnMut(&Measurement),
) -> Result<(), Failure> {
    let mut storage = [SocketStorage::EMPTY];
    let (mut l, chunk) = link(Kernel::NetStream, dev, addr, peer, clock, mem, &mut storage)?;
    chunk.fill(0xa5);
    for (mode, byte) in [("up", UPLOAD), ("down", DOWNLOAD)] {
        l.connect(byte)?;
        let start = clock.now_ns();
        let mut iters = 0u64;
        while clock.now_ns() - start < time_ns || iters == 0 {
            if byte == UPLOAD {
                l.send(chunk)?;
            } else {
                l.recv(chunk)?;
            }
            iters += 1;
        }
        if byte == UPLOAD {
            l.socket().close();
            let mut ack = [0u8; 1];
            l.recv(&mut ack)?;
        }
        let total_ns = clock.now_ns() - start;
        l.abort()?;
        report(&Measurement {
            mode: Some(mode),
            bytes_per_iter: CHUNK as u64,
            size: Some(CHUNK as u64),
            ..Measurement::new(Kernel::NetStream, Timing { iters, total_ns })
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
