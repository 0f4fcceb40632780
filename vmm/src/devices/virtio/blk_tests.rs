//! virtio-blk and the MMIO transport against in-memory guest memory, with
//! well-formed and malformed descriptor chains.
use std::io::{Read, Seek, Write};

use virtio_bindings::virtio_blk::*;
use virtio_bindings::virtio_config::{VIRTIO_CONFIG_S_DRIVER, VIRTIO_CONFIG_S_FAILED};
use virtio_bindings::virtio_mmio::*;
use virtio_bindings::virtio_ring::{VRING_DESC_F_NEXT as NEXT, VRING_DESC_F_WRITE as WRITE};
use vm_memory::{Bytes, GuestAddress};

use super::blk::Block;
use super::mmio::{MmioTransport, MAGIC, VERSION};
use super::testing::*;
use crate::memory::GuestMemoryMmap;

const HDR_GPA: u64 = DATA_GPA;
const BUF_GPA: u64 = DATA_GPA + 0x1000;
const STATUS_GPA: u64 = DATA_GPA + 0x10_0000;
/// The disk: 64 sectors.
const DISK: u64 = 64 * 512;

fn disk() -> std::fs::File {
    let mut f = tempfile_in_target();
    f.write_all(&vec![0u8; DISK as usize]).unwrap();
    f
}

/// An anonymous file (removed when closed).
fn tempfile_in_target() -> std::fs::File {
    let dir = std::env::temp_dir();
    let path = dir.join(format!(
        "vmlab-blk-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)
        .unwrap();
    std::fs::remove_file(&path).unwrap();
    f
}

fn device(file: std::fs::File, read_only: bool) -> MmioTransport {
    MmioTransport::new(Box::new(Block::new(file, read_only).unwrap()))
}

fn header(mem: &GuestMemoryMmap, kind: u32, sector: u64) {
    let mut h = [0u8; 16];
    h[0..4].copy_from_slice(&kind.to_le_bytes());
    h[8..16].copy_from_slice(&sector.to_le_bytes());
    mem.write_slice(&h, GuestAddress(HDR_GPA)).unwrap();
}

fn status(mem: &GuestMemoryMmap) -> u8 {
    mem.read_obj(GuestAddress(STATUS_GPA)).unwrap()
}

/// A three-part request chain: header, data of `len` (writable for reads), status.
fn request(
    q: &virtio_queue::mock::MockSplitQueue<'_, GuestMemoryMmap>,
    at: u16,
    len: u32,
    read: bool,
) {
    let data_flags = NEXT | if read { WRITE } else { 0 };
    q.add_desc_chains(
        &[
            desc(HDR_GPA, 16, NEXT, at + 1),
            desc(BUF_GPA, len, data_flags, at + 2),
            desc(STATUS_GPA, 1, WRITE, 0),
        ],
        at,
    )
    .unwrap();
}

#[test]
fn registers_identify_a_block_device_with_its_capacity() {
    let mem = memory();
    let mut t = device(disk(), false);
    assert_eq!(rd(&mut t, VIRTIO_MMIO_MAGIC_VALUE), MAGIC);
    assert_eq!(rd(&mut t, VIRTIO_MMIO_VERSION), VERSION);
    assert_eq!(rd(&mut t, VIRTIO_MMIO_DEVICE_ID), 2);
    assert_eq!(rd(&mut t, VIRTIO_MMIO_QUEUE_NUM_MAX), 256);
    let mut cap = [0u8; 8];
    t.read(u64::from(VIRTIO_MMIO_CONFIG), &mut cap);
    assert_eq!(u64::from_le_bytes(cap), DISK / 512);
    wr(&mut t, &mem, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
    assert_ne!(
        rd(&mut t, VIRTIO_MMIO_DEVICE_FEATURES) & 1 << VIRTIO_BLK_F_FLUSH,
        0
    );
    assert_eq!(t.counters().bad_registers, 0);
}

#[test]
fn write_read_flush_and_get_id_round_trip_through_the_file() {
    let mem = memory();
    let mut file = disk();
    let mut t = device(file.try_clone().unwrap(), false);
    let qs = queues(&mem, 1);
    activate(&mut t, &mem, &qs);

    let pattern: Vec<u8> = (0..4096u32).map(|i| (i * 7 % 251) as u8).collect();
    mem.write_slice(&pattern, GuestAddress(BUF_GPA)).unwrap();
    header(&mem, VIRTIO_BLK_T_OUT, 8);
    request(&qs[0], 0, 4096, false);
    assert!(
        wr(&mut t, &mem, VIRTIO_MMIO_QUEUE_NOTIFY, 0),
        "interrupt due"
    );
    assert_eq!(status(&mem), VIRTIO_BLK_S_OK as u8);
    assert_eq!(used(&qs[0], 0), (0, 1));
    assert_eq!(
        rd(&mut t, VIRTIO_MMIO_INTERRUPT_STATUS),
        VIRTIO_MMIO_INT_VRING
    );
    wr(
        &mut t,
        &mem,
        VIRTIO_MMIO_INTERRUPT_ACK,
        VIRTIO_MMIO_INT_VRING,
    );
    assert_eq!(rd(&mut t, VIRTIO_MMIO_INTERRUPT_STATUS), 0);

    let mut on_disk = vec![0u8; 4096];
    file.seek(std::io::SeekFrom::Start(8 * 512)).unwrap();
    file.read_exact(&mut on_disk).unwrap();
    assert_eq!(on_disk, pattern, "sectors 8..16 hold what the guest wrote");

    mem.write_slice(&[0u8; 4096], GuestAddress(BUF_GPA))
        .unwrap();
    header(&mem, VIRTIO_BLK_T_IN, 8);
    request(&qs[0], 3, 4096, true);
    wr(&mut t, &mem, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
    let mut back = vec![0u8; 4096];
    mem.read_slice(&mut back, GuestAddress(BUF_GPA)).unwrap();
    assert_eq!(back, pattern);
    assert_eq!(used(&qs[0], 1), (3, 4097));

    header(&mem, VIRTIO_BLK_T_FLUSH, 0);
    qs[0]
        .add_desc_chains(
            &[desc(HDR_GPA, 16, NEXT, 7), desc(STATUS_GPA, 1, WRITE, 0)],
            6,
        )
        .unwrap();
    wr(&mut t, &mem, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
    assert_eq!(status(&mem), VIRTIO_BLK_S_OK as u8);

    header(&mem, VIRTIO_BLK_T_GET_ID, 0);
    request(&qs[0], 8, 20, true);
    wr(&mut t, &mem, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
    let mut id = [0u8; 9];
    mem.read_slice(&mut id, GuestAddress(BUF_GPA)).unwrap();
    assert_eq!(&id, b"vmlab-blk");

    let c = t.counters();
    assert_eq!((c.completed, c.notifies), (4, 4));
    assert_eq!((c.bytes_from_guest, c.bytes_to_guest), (4096, 4096));
    assert_eq!(
        c.bad_chains + c.bad_requests + c.io_errors + c.bad_registers,
        0
    );
}

#[test]
fn unaligned_out_of_range_read_only_and_unknown_requests_fail_with_a_status() {
    let mem = memory();
    let mut t = device(disk(), false);
    let qs = queues(&mem, 1);
    activate(&mut t, &mem, &qs);
    let cases = [
        (VIRTIO_BLK_T_IN, 0, 100, VIRTIO_BLK_S_IOERR), // not whole sectors
        (VIRTIO_BLK_T_IN, 63, 1024, VIRTIO_BLK_S_IOERR), // past the end
        (VIRTIO_BLK_T_OUT, u64::MAX, 512, VIRTIO_BLK_S_IOERR), // sector overflows
        (99, 0, 512, VIRTIO_BLK_S_UNSUPP),
    ];
    for (i, &(kind, sector, len, want)) in cases.iter().enumerate() {
        header(&mem, kind, sector);
        request(&qs[0], 3 * i as u16, len, kind != VIRTIO_BLK_T_OUT);
        wr(&mut t, &mem, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
        assert_eq!(status(&mem), want as u8, "case {i}");
    }
    let c = t.counters();
    assert_eq!((c.bad_requests, c.completed, c.bad_chains), (4, 0, 0));

    let mut ro = device(disk(), true);
    let qs2 = queues(&mem, 1);
    activate(&mut ro, &mem, &qs2);
    header(&mem, VIRTIO_BLK_T_OUT, 0);
    request(&qs2[0], 0, 512, false);
    wr(&mut ro, &mem, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
    assert_eq!(status(&mem), VIRTIO_BLK_S_IOERR as u8);
    assert_eq!(ro.counters().bad_requests, 1);
}

#[test]
fn malformed_chains_are_returned_unused_and_counted() {
    let mem = memory();
    let mut t = device(disk(), false);
    let qs = queues(&mem, 1);
    activate(&mut t, &mem, &qs);
    header(&mem, VIRTIO_BLK_T_IN, 0);
    // Data outside guest memory.
    qs[0]
        .add_desc_chains(
            &[
                desc(HDR_GPA, 16, NEXT, 1),
                desc(MEM_BYTES - 256, 512, NEXT | WRITE, 2),
                desc(STATUS_GPA, 1, WRITE, 0),
            ],
            0,
        )
        .unwrap();
    // A writable header before a readable descriptor: wrong order.
    qs[0]
        .add_desc_chains(
            &[
                desc(HDR_GPA, 16, NEXT | WRITE, 4),
                desc(STATUS_GPA, 1, 0, 0),
            ],
            3,
        )
        .unwrap();
    // No status byte.
    qs[0]
        .add_desc_chains(&[desc(HDR_GPA, 16, 0, 0)], 5)
        .unwrap();
    // A cycle: 6 → 7 → 6 …, all readable; the walk stops at the queue size.
    qs[0]
        .add_desc_chains(&[desc(HDR_GPA, 16, NEXT, 7), desc(BUF_GPA, 16, NEXT, 6)], 6)
        .unwrap();
    // A head index beyond the queue.
    qs[0]
        .add_desc_chains(&[desc(HDR_GPA, 16, 0, 0)], 8)
        .unwrap();
    // … made to name head 200, beyond the queue of 16.
    qs[0].avail().ring().ref_at(4).unwrap().store(200u16);
    wr(&mut t, &mem, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
    let c = t.counters();
    assert_eq!(c.bad_chains, 5, "{c:?}");
    assert_eq!(c.completed, 0);
    // Each chain with a head inside the queue is given back, empty.
    assert_eq!(used_idx(&qs[0]), 4);
    for i in 0..4 {
        assert_eq!(used(&qs[0], i).1, 0, "nothing written into chain {i}");
    }
}

#[test]
fn registers_refuse_out_of_order_and_wrong_width_accesses() {
    let mem = memory();
    let mut t = device(disk(), false);
    let qs = queues(&mem, 1);
    // A notify before the driver is ready does nothing.
    assert!(!wr(&mut t, &mem, VIRTIO_MMIO_QUEUE_NOTIFY, 0));
    // Features without VERSION_1: FEATURES_OK is refused, FAILED is set.
    wr(&mut t, &mem, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_DRIVER);
    wr(
        &mut t,
        &mem,
        VIRTIO_MMIO_DRIVER_FEATURES,
        1 << VIRTIO_BLK_F_FLUSH,
    );
    wr(&mut t, &mem, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_DRIVER | 8);
    assert_ne!(rd(&mut t, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_FAILED, 0);
    // A 2-byte register read, an unknown register, a queue out of range.
    let mut two = [0u8; 2];
    t.read(u64::from(VIRTIO_MMIO_STATUS), &mut two);
    assert_eq!(rd(&mut t, 0x0a8), 0);
    wr(&mut t, &mem, VIRTIO_MMIO_QUEUE_SEL, 5);
    wr(&mut t, &mem, VIRTIO_MMIO_QUEUE_NUM, 16);
    // A queue size that is no power of two.
    wr(&mut t, &mem, VIRTIO_MMIO_QUEUE_SEL, 0);
    wr(&mut t, &mem, VIRTIO_MMIO_QUEUE_NUM, 12);
    assert_eq!(t.counters().bad_registers, 6);
    // A reset and a proper start work afterwards.
    activate(&mut t, &mem, &qs);
    header(&mem, VIRTIO_BLK_T_IN, 0);
    request(&qs[0], 0, 512, true);
    assert!(wr(&mut t, &mem, VIRTIO_MMIO_QUEUE_NOTIFY, 0));
    assert_eq!(status(&mem), VIRTIO_BLK_S_OK as u8);
}

#[test]
fn a_file_opened_with_o_direct_serves_reads_and_writes() {
    use std::os::unix::fs::OpenOptionsExt;
    // A file beside the crate (on a disk filesystem, where /tmp may be tmpfs).
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let path = dir.join(format!("vmlab-blk-direct-{}", std::process::id()));
    std::fs::write(&path, vec![0u8; DISK as usize]).unwrap();
    let direct = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_DIRECT)
        .open(&path);
    std::fs::remove_file(&path).unwrap();
    let Ok(direct) = direct else {
        eprintln!("the crate's filesystem does not take O_DIRECT: nothing to check");
        return;
    };
    let mem = memory();
    let mut t = device(direct, false);
    let qs = queues(&mem, 1);
    activate(&mut t, &mem, &qs);
    let pattern: Vec<u8> = (0..4096u32).map(|i| (i % 253) as u8).collect();
    mem.write_slice(&pattern, GuestAddress(BUF_GPA)).unwrap();
    header(&mem, VIRTIO_BLK_T_OUT, 16);
    request(&qs[0], 0, 4096, false);
    wr(&mut t, &mem, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
    assert_eq!(status(&mem), VIRTIO_BLK_S_OK as u8, "an aligned write");
    mem.write_slice(&[0u8; 4096], GuestAddress(BUF_GPA))
        .unwrap();
    header(&mem, VIRTIO_BLK_T_IN, 16);
    request(&qs[0], 3, 4096, true);
    wr(&mut t, &mem, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
    assert_eq!(status(&mem), VIRTIO_BLK_S_OK as u8, "an aligned read");
    let mut back = vec![0u8; 4096];
    mem.read_slice(&mut back, GuestAddress(BUF_GPA)).unwrap();
    assert_eq!(back, pattern);
    header(&mem, VIRTIO_BLK_T_FLUSH, 0);
    qs[0]
        .add_desc_chains(
            &[desc(HDR_GPA, 16, NEXT, 7), desc(STATUS_GPA, 1, WRITE, 0)],
            6,
        )
        .unwrap();
    wr(&mut t, &mem, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
    assert_eq!(status(&mem), VIRTIO_BLK_S_OK as u8, "fdatasync");
    assert_eq!(t.counters().io_errors, 0);
}
