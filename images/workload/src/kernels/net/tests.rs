//! The network kernels against a peer in memory: a second smoltcp stack
//! inside the fake device, speaking the host side's protocol (mode byte,
//! echo / upload then one byte / download), polled whenever the kernel
//! looks for a frame. The clock moves a fixed step per read.
use core::cell::Cell;
use std::collections::VecDeque;
use std::vec;
use std::vec::Vec;

use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet, SocketStorage};
use smoltcp::phy::{self, DeviceCapabilities, Medium};
use smoltcp::socket::tcp;
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpAddress, IpCidr};

use super::*;
use crate::fake::StepClock;

/// The server side's queues as a smoltcp device.
#[derive(Default)]
struct Queues {
    inbound: VecDeque<Vec<u8>>,
    outbound: VecDeque<Vec<u8>>,
}

struct QRx(Vec<u8>);
struct QTx<'a>(&'a mut VecDeque<Vec<u8>>);

impl phy::RxToken for QRx {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

impl phy::TxToken for QTx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut buf = vec![0u8; len];
        let r = f(&mut buf);
        self.0.push_back(buf);
        r
    }
}

impl phy::Device for Queues {
    type RxToken<'a> = QRx;
    type TxToken<'a> = QTx<'a>;
    fn receive(&mut self, _: Instant) -> Option<(QRx, QTx<'_>)> {
        let f = self.inbound.pop_front()?;
        Some((QRx(f), QTx(&mut self.outbound)))
    }
    fn transmit(&mut self, _: Instant) -> Option<QTx<'_>> {
        Some(QTx(&mut self.outbound))
    }
    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = 1514;
        caps
    }
}

/// A fake NIC whose far end is a server stack at 10.77.9.1:7077.
struct Peer<'a> {
    now: &'a Cell<u64>,
    q: Queues,
    iface: Interface,
    sockets: SocketSet<'static>,
    tcp: SocketHandle,
    mode: Option<u8>,
    sent_ack: bool,
    acks: u32,
    frames: u64,
}

impl<'a> Peer<'a> {
    fn new(now: &'a Cell<u64>) -> Peer<'a> {
        let mut q = Queues::default();
        let mac = EthernetAddress([0x02, 0, 0, 0, 0, 1]);
        let mut iface = Interface::new(
            Config::new(HardwareAddress::Ethernet(mac)),
            &mut q,
            Instant::ZERO,
        );
        iface.update_ip_addrs(|a| {
            a.push(IpCidr::new(IpAddress::v4(10, 77, 9, 1), 24))
                .unwrap();
        });
        let storage: &'static mut [SocketStorage<'static>] = Vec::leak(vec![SocketStorage::EMPTY]);
        let mut sockets = SocketSet::new(storage);
        let rx = tcp::SocketBuffer::new(Vec::leak(vec![0u8; 1 << 16]));
        let tx = tcp::SocketBuffer::new(Vec::leak(vec![0u8; 1 << 16]));
        let tcp = sockets.add(tcp::Socket::new(rx, tx));
        Peer {
            now,
            q,
            iface,
            sockets,
            tcp,
            mode: None,
            sent_ack: false,
            acks: 0,
            frames: 0,
        }
    }

    /// One pass of the server: its stack, then the protocol.
    fn serve(&mut self) {
        let now = Instant::from_micros((self.now.get() / 1000) as i64);
        self.iface.poll(now, &mut self.q, &mut self.sockets);
        let s = self.sockets.get_mut::<tcp::Socket>(self.tcp);
        if !s.is_open() {
            s.listen(7077).unwrap();
            self.mode = None;
            self.sent_ack = false;
        }
        let mut buf = [0u8; 4096];
        if self.mode.is_none() && s.can_recv() {
            let mut m = [0u8; 1];
            s.recv_slice(&mut m).unwrap();
            self.mode = Some(m[0]);
        }
        match self.mode {
            Some(b'e') if s.can_recv() && s.can_send() => {
                let room = s.send_capacity() - s.send_queue();
                let n = s.recv_slice(&mut buf[..room.min(4096)]).unwrap();
                s.send_slice(&buf[..n]).unwrap();
            }
            Some(b'u') => {
                while s.can_recv() {
                    s.recv_slice(&mut buf).unwrap();
                }
                if !s.may_recv() && !self.sent_ack && s.may_send() {
                    s.send_slice(b"k").unwrap();
                    self.sent_ack = true;
                    self.acks += 1;
                }
            }
            Some(b'd') if s.can_send() => {
                let _ = s.send_slice(&[0xa5; 4096]);
            }
            _ => {}
        }
        self.iface.poll(now, &mut self.q, &mut self.sockets);
    }
}

impl NetDevice for Peer<'_> {
    fn send(&mut self, frame: &[u8]) -> Result<(), IoError> {
        self.frames += 1;
        self.q.inbound.push_back(frame.to_vec());
        Ok(())
    }
    fn recv(&mut self, buf: &mut [u8]) -> Result<usize, IoError> {
        self.serve();
        let Some(f) = self.q.outbound.pop_front() else {
            return Ok(0);
        };
        let n = f.len().min(buf.len());
        buf[..n].copy_from_slice(&f[..n]);
        Ok(n)
    }
    fn mac(&self) -> [u8; 6] {
        [0x02, 0x76, 0x6d, 0x6c, 0x61, 0x62]
    }
}

const ADDR: Cidr = Cidr {
    addr: [10, 77, 9, 2],
    prefix: 24,
};
const SERVER: crate::target::Peer = crate::target::Peer {
    addr: [10, 77, 9, 1],
    port: 7077,
};

#[test]
fn rr_round_trips_through_a_tcp_peer() {
    let now = Cell::new(1_000_000);
    let clock = StepClock::new(&now, 1_000);
    let mut peer = Peer::new(&now);
    let mut mem = vec![0u8; MEMORY];
    let mut out = Vec::new();
    rr(
        &mut peer,
        Some(ADDR),
        Some(SERVER),
        &clock,
        5_000_000,
        &mut mem,
        &mut |m| out.push(*m),
    )
    .unwrap();
    assert_eq!(out.len(), 1);
    let m = out[0];
    assert_eq!(
        (m.kernel, m.size, m.bytes_per_iter),
        (Kernel::NetRr, Some(64), 128)
    );
    assert!(m.timing.iters > 1 && m.latency.is_some(), "{m:?}");
    assert!(
        peer.frames > 2 * m.timing.iters,
        "requests crossed as frames"
    );
}

#[test]
fn stream_uploads_then_downloads() {
    let now = Cell::new(1_000_000);
    let clock = StepClock::new(&now, 1_000);
    let mut peer = Peer::new(&now);
    let mut mem = vec![0u8; MEMORY];
    let mut out = Vec::new();
    stream(
        &mut peer,
        Some(ADDR),
        Some(SERVER),
        &clock,
        2_000_000,
        &mut mem,
        &mut |m| out.push(*m),
    )
    .unwrap();
    assert_eq!(
        out.iter().map(|m| m.mode).collect::<Vec<_>>(),
        [Some("up"), Some("down")]
    );
    assert!(out
        .iter()
        .all(|m| m.timing.iters >= 1 && m.bytes_per_iter == CHUNK as u64));
    assert_eq!(peer.acks, 1, "the upload was ended and acknowledged once");
}

#[test]
fn missing_address_peer_memory_and_a_refused_port_fail_clearly() {
    let now = Cell::new(1_000_000);
    let clock = StepClock::new(&now, 1_000);
    let mut peer = Peer::new(&now);
    let mut mem = vec![0u8; MEMORY];
    let mut run = |addr, server, mem: &mut [u8]| {
        rr(&mut peer, addr, server, &clock, 1_000_000, mem, &mut |_| {}).unwrap_err()
    };
    let e = run(None, Some(SERVER), &mut mem);
    assert!(e.message().contains("give --addr"), "{}", e.message());
    let e = run(Some(ADDR), None, &mut mem);
    assert!(e.message().contains("give --peer"), "{}", e.message());
    let e = run(Some(ADDR), Some(SERVER), &mut mem[..10]);
    assert!(e.message().contains("socket buffers"), "{}", e.message());
    let closed = crate::target::Peer { port: 9, ..SERVER };
    let e = run(Some(ADDR), Some(closed), &mut mem);
    assert!(
        e.message()
            .contains("the connection was refused with 10.77.9.1:9"),
        "{}",
        e.message()
    );
}
