//! Polled virtio-mmio drivers for the bare guest: one block device and one
//! network device, found in the boot info's virtio table, one queue each
//! way, no interrupts, no allocator. Their rings and buffers are pages
//! carved from the bottom of the boot info's free range before the
//! platform takes the rest.
//!
//! A request is made available, the queue notified (one MMIO write: one
//! exit, during which the VMM serves it), and the used ring read back.
pub mod blk;
pub mod net;
pub mod regs;
pub mod ring;
pub mod selftest;

use vmlab_workload::bootinfo::VirtioEntry;

use regs::{Dma, Regs};

/// The page size.
const PAGE: u64 = 4096;
/// virtio device ids.
const ID_NET: u32 = 1;
const ID_BLOCK: u32 = 2;
/// Status bits.
const ACKNOWLEDGE: u32 = 1;
const DRIVER: u32 = 2;
const DRIVER_OK: u32 = 4;
const FEATURES_OK: u32 = 8;
/// `VIRTIO_F_VERSION_1` is bit 0 of the upper feature word.
const VERSION_1_HIGH: u32 = 1;
/// How many times a driver looks for a completion before giving up (the
/// VMM completes during the notify's exit, so the first look normally
/// finds it).
const POLLS: u32 = 1000;

/// Pages handed out upwards from a start address.
pub struct Carver {
    pub next: u64,
    end: u64,
}

impl Carver {
    /// Pages from `[start, end)`.
    pub fn new(start: u64, end: u64) -> Carver {
        Carver {
            next: start.next_multiple_of(PAGE),
            end,
        }
    }

    /// `pages` zeroed pages, or `None` when memory is short.
    pub fn take(&mut self, pages: u64) -> Option<Dma> {
        let len = pages * PAGE;
        let end = self.next.checked_add(len)?;
        if end > self.end {
            return None;
        }
        let d = Dma {
            base: self.next,
            len,
        };
        self.next = end;
        d.zero();
        Some(d)
    }
}

/// The devices found.
#[derive(Default)]
pub struct Devices {
    pub blk: Option<blk::Blk>,
    pub net: Option<net::Net>,
}

impl Devices {
    /// Starts the first block and the first network device of `entries`.
    pub fn probe(entries: &[VirtioEntry], carve: &mut Carver) -> Devices {
        let mut d = Devices::default();
        for e in entries {
            // SAFETY: the VMM announced this register page and mapped it
            // uncached; each device is started at most once, here.
            let regs = unsafe { Regs::new(e.mmio_base) };
            match e.device_id {
                ID_BLOCK if d.blk.is_none() => d.blk = blk::Blk::start(regs, carve),
                ID_NET if d.net.is_none() => d.net = net::Net::start(regs, carve),
                _ => {}
            }
        }
        d
    }
}

/// Resets the device, checks what it is and negotiates `VERSION_1` plus
/// the `wanted` low feature bits it offers; leaves it at FEATURES_OK.
fn negotiate(regs: &Regs, device_id: u32, wanted: u32) -> Option<()> {
    let ok = regs.read(regs::MAGIC) == 0x7472_6976
        && regs.read(regs::VERSION) == 2
        && regs.read(regs::DEVICE_ID) == device_id;
    if !ok {
        return None;
    }
    regs.write(regs::STATUS, 0);
    regs.write(regs::STATUS, ACKNOWLEDGE | DRIVER);
    regs.write(regs::DEVICE_FEATURES_SEL, 1);
    if regs.read(regs::DEVICE_FEATURES) & VERSION_1_HIGH == 0 {
        return None;
    }
    regs.write(regs::DEVICE_FEATURES_SEL, 0);
    let low = regs.read(regs::DEVICE_FEATURES) & wanted;
    regs.write(regs::DRIVER_FEATURES_SEL, 0);
    regs.write(regs::DRIVER_FEATURES, low);
    regs.write(regs::DRIVER_FEATURES_SEL, 1);
    regs.write(regs::DRIVER_FEATURES, VERSION_1_HIGH);
    regs.write(regs::STATUS, ACKNOWLEDGE | DRIVER | FEATURES_OK);
    (regs.read(regs::STATUS) & FEATURES_OK != 0).then_some(())
}

/// Marks the device live.
fn driver_ok(regs: &Regs) {
    regs.write(regs::STATUS, ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK);
}
