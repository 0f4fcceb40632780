//! virtio-net against in-memory guest memory, with a `SOCK_SEQPACKET`
//! socketpair standing in for the TAP (one message per frame, like a TAP).
use std::os::fd::OwnedFd;

use nix::errno::Errno;
use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
use virtio_bindings::virtio_mmio::*;
use virtio_bindings::virtio_ring::{VRING_DESC_F_NEXT as NEXT, VRING_DESC_F_WRITE as WRITE};
use vm_memory::{Bytes, GuestAddress};

use super::mmio::MmioTransport;
use super::net::{Net, HDR, MAX_FRAME};
use super::testing::*;

const MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
const TX_GPA: u64 = DATA_GPA;
const RX_GPA: u64 = DATA_GPA + 0x10_0000;

fn device() -> (MmioTransport, OwnedFd) {
    let (ours, theirs) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_NONBLOCK,
    )
    .unwrap();
    let t = MmioTransport::new(Box::new(Net::new(ours, MAC).unwrap()));
    (t, theirs)
}

fn frame(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 253) as u8).collect()
}

#[test]
fn config_space_holds_the_mac() {
    let (mut t, _peer) = device();
    assert_eq!(rd(&mut t, VIRTIO_MMIO_DEVICE_ID), 1);
    let mut mac = [0u8; 6];
    t.read(u64::from(VIRTIO_MMIO_CONFIG), &mut mac);
    assert_eq!(mac, MAC);
}

#[test]
fn frames_go_out_and_come_in() {
    let mem = memory();
    let (mut t, peer) = device();
    let qs = queues(&mem, 2);
    activate(&mut t, &mem, &qs);

    // Transmit: header and frame in two readable descriptors.
    let out = frame(60);
    mem.write_slice(&[0u8; HDR], GuestAddress(TX_GPA)).unwrap();
    mem.write_slice(&out, GuestAddress(TX_GPA + 0x100)).unwrap();
    qs[1]
        .add_desc_chains(
            &[
                desc(TX_GPA, HDR as u32, NEXT, 1),
                desc(TX_GPA + 0x100, 60, 0, 0),
            ],
            0,
        )
        .unwrap();
    assert!(wr(&mut t, &mem, VIRTIO_MMIO_QUEUE_NOTIFY, 1));
    let mut got = [0u8; 2048];
    let n = nix::unistd::read(&peer, &mut got).unwrap();
    assert_eq!(&got[..n], &out[..]);
    assert_eq!(used(&qs[1], 0), (0, 0));

    // Receive: a frame arrives before any buffer is posted; it waits.
    let back = frame(100);
    nix::unistd::write(&peer, &back).unwrap();
    assert!(!t.poll(&mem));
    qs[0]
        .add_desc_chains(&[desc(RX_GPA, (HDR + MAX_FRAME) as u32, WRITE, 0)], 0)
        .unwrap();
    assert!(t.poll(&mem), "the waiting frame fills the posted buffer");
    let mut hdr = [0u8; HDR];
    mem.read_slice(&mut hdr, GuestAddress(RX_GPA)).unwrap();
    assert_eq!(hdr[10..12], 1u16.to_le_bytes(), "num_buffers");
    let mut inbound = vec![0u8; 100];
    mem.read_slice(&mut inbound, GuestAddress(RX_GPA + HDR as u64))
        .unwrap();
    assert_eq!(inbound, back);
    assert_eq!(used(&qs[0], 0), (0, (HDR + 100) as u32));

    let c = t.counters();
    assert_eq!(
        (c.completed, c.bytes_from_guest, c.bytes_to_guest),
        (2, 60, 100)
    );
    assert_eq!(c.bad_chains + c.bad_requests + c.dropped + c.io_errors, 0);
}

#[test]
fn oversize_frames_small_buffers_and_wrong_directions_are_refused() {
    let mem = memory();
    let (mut t, peer) = device();
    let qs = queues(&mem, 2);
    activate(&mut t, &mem, &qs);

    // TX: an oversize frame and a chain with a writable descriptor.
    qs[1]
        .add_desc_chains(&[desc(TX_GPA, (HDR + MAX_FRAME + 1) as u32, 0, 0)], 0)
        .unwrap();
    qs[1]
        .add_desc_chains(
            &[
                desc(TX_GPA, HDR as u32, NEXT, 2),
                desc(TX_GPA + 0x100, 60, WRITE, 0),
            ],
            1,
        )
        .unwrap();
    // TX: outside guest memory.
    qs[1]
        .add_desc_chains(&[desc(MEM_BYTES - 8, 64, 0, 0)], 3)
        .unwrap();
    wr(&mut t, &mem, VIRTIO_MMIO_QUEUE_NOTIFY, 1);
    let mut got = [0u8; 64];
    assert_eq!(
        nix::unistd::read(&peer, &mut got),
        Err(Errno::EAGAIN),
        "nothing sent"
    );
    assert_eq!(used_idx(&qs[1]), 3, "all given back");

    // RX: an oversize frame from the host is dropped; a buffer too small
    // for the next frame is returned empty; a readable RX buffer is refused.
    nix::unistd::write(&peer, &frame(MAX_FRAME + 1)).unwrap();
    nix::unistd::write(&peer, &frame(60)).unwrap();
    qs[0]
        .add_desc_chains(&[desc(RX_GPA, (HDR + 10) as u32, WRITE, 0)], 0)
        .unwrap();
    nix::unistd::write(&peer, &frame(60)).unwrap();
    qs[0]
        .add_desc_chains(&[desc(RX_GPA, (HDR + MAX_FRAME) as u32, 0, 0)], 1)
        .unwrap();
    assert!(t.poll(&mem));
    assert_eq!(used(&qs[0], 0), (0, 0));
    assert_eq!(used(&qs[0], 1), (1, 0));

    let c = t.counters();
    assert_eq!(c.bad_chains, 3, "{c:?}");
    assert_eq!(c.bad_requests, 3, "{c:?}");
    assert_eq!(c.dropped, 2, "{c:?}");
    assert_eq!(c.completed, 0);
}
