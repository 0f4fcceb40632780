//! Test scaffolding: guest memory, a driver that sets a transport up through
//! its registers the way a guest does, and queues built with virtio-queue's
//! `MockSplitQueue` (the driver side of the rings).
use virtio_bindings::virtio_config::{
    VIRTIO_CONFIG_S_ACKNOWLEDGE, VIRTIO_CONFIG_S_DRIVER, VIRTIO_CONFIG_S_DRIVER_OK,
    VIRTIO_CONFIG_S_FEATURES_OK,
};
use virtio_bindings::virtio_mmio::*;
use virtio_queue::desc::split::Descriptor;
use virtio_queue::desc::RawDescriptor;
use virtio_queue::mock::MockSplitQueue;
use vm_memory::GuestAddress;

use super::mmio::MmioTransport;
use crate::memory::GuestMemoryMmap;

/// Mock queues' size.
pub(crate) const QSIZE: u16 = 16;
/// Where queue i's rings are: `QUEUE_GPA + i * 0x1_0000`.
pub(crate) const QUEUE_GPA: u64 = 0x10_0000;
/// Where test buffers go.
pub(crate) const DATA_GPA: u64 = 0x20_0000;
/// Guest memory size (4 MiB).
pub(crate) const MEM_BYTES: u64 = 4 << 20;

/// 4 MiB of guest memory at 0.
pub(crate) fn memory() -> GuestMemoryMmap {
    GuestMemoryMmap::from_ranges(&[(GuestAddress(0), MEM_BYTES as usize)]).unwrap()
}

/// Driver-side queues for `n` device queues.
pub(crate) fn queues(mem: &GuestMemoryMmap, n: u64) -> Vec<MockSplitQueue<'_, GuestMemoryMmap>> {
    (0..n)
        .map(|i| MockSplitQueue::create(mem, GuestAddress(QUEUE_GPA + i * 0x1_0000), QSIZE))
        .collect()
}

/// A descriptor; `next` is used when `flags` has `VRING_DESC_F_NEXT`.
pub(crate) fn desc(addr: u64, len: u32, flags: u32, next: u16) -> RawDescriptor {
    RawDescriptor::from(Descriptor::new(addr, len, flags as u16, next))
}

/// Writes register `off`; returns whether an interrupt is due.
pub(crate) fn wr(t: &mut MmioTransport, mem: &GuestMemoryMmap, off: u32, v: u32) -> bool {
    t.write(u64::from(off), &v.to_le_bytes(), mem)
}

/// Reads register `off`.
pub(crate) fn rd(t: &mut MmioTransport, off: u32) -> u32 {
    let mut b = [0u8; 4];
    t.read(u64::from(off), &mut b);
    u32::from_le_bytes(b)
}

/// Brings the device up as a driver does: status, all offered features,
/// each queue at its mock's rings, DRIVER_OK.
pub(crate) fn activate(
    t: &mut MmioTransport,
    mem: &GuestMemoryMmap,
    qs: &[MockSplitQueue<'_, GuestMemoryMmap>],
) {
    wr(t, mem, VIRTIO_MMIO_STATUS, 0);
    let mut status = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER;
    wr(t, mem, VIRTIO_MMIO_STATUS, status);
    for sel in 0..2 {
        wr(t, mem, VIRTIO_MMIO_DEVICE_FEATURES_SEL, sel);
        let f = rd(t, VIRTIO_MMIO_DEVICE_FEATURES);
        wr(t, mem, VIRTIO_MMIO_DRIVER_FEATURES_SEL, sel);
        wr(t, mem, VIRTIO_MMIO_DRIVER_FEATURES, f);
    }
    status |= VIRTIO_CONFIG_S_FEATURES_OK;
    wr(t, mem, VIRTIO_MMIO_STATUS, status);
    assert_eq!(rd(t, VIRTIO_MMIO_STATUS), status, "features accepted");
    for (i, q) in qs.iter().enumerate() {
        wr(t, mem, VIRTIO_MMIO_QUEUE_SEL, i as u32);
        wr(t, mem, VIRTIO_MMIO_QUEUE_NUM, u32::from(QSIZE));
        let addr = |a: GuestAddress| (a.0 as u32, (a.0 >> 32) as u32);
        let regs = [
            (
                VIRTIO_MMIO_QUEUE_DESC_LOW,
                VIRTIO_MMIO_QUEUE_DESC_HIGH,
                q.desc_table_addr(),
            ),
            (
                VIRTIO_MMIO_QUEUE_AVAIL_LOW,
                VIRTIO_MMIO_QUEUE_AVAIL_HIGH,
                q.avail_addr(),
            ),
            (
                VIRTIO_MMIO_QUEUE_USED_LOW,
                VIRTIO_MMIO_QUEUE_USED_HIGH,
                q.used_addr(),
            ),
        ];
        for (lo, hi, a) in regs {
            let (l, h) = addr(a);
            wr(t, mem, lo, l);
            wr(t, mem, hi, h);
        }
        wr(t, mem, VIRTIO_MMIO_QUEUE_READY, 1);
    }
    status |= VIRTIO_CONFIG_S_DRIVER_OK;
    wr(t, mem, VIRTIO_MMIO_STATUS, status);
}

/// Used-ring entry `i` of `q`: (descriptor head, bytes written).
pub(crate) fn used(q: &MockSplitQueue<'_, GuestMemoryMmap>, i: usize) -> (u32, u32) {
    let e = q.used().ring().ref_at(i).unwrap().load();
    (e.id(), e.len())
}

/// How many entries `q`'s used ring holds.
pub(crate) fn used_idx(q: &MockSplitQueue<'_, GuestMemoryMmap>) -> u16 {
    q.used().idx().load()
}
