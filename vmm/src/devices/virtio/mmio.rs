//! The virtio-mmio register file (virtio 1.x section 4.2.2, version 2): one
//! device's features, status, queues and interrupt status, 32-bit registers
//! below 0x100 and the device's configuration space from 0x100.
use virtio_bindings::virtio_config::{
    VIRTIO_CONFIG_S_DRIVER, VIRTIO_CONFIG_S_DRIVER_OK, VIRTIO_CONFIG_S_FAILED,
    VIRTIO_CONFIG_S_FEATURES_OK, VIRTIO_F_VERSION_1,
};
use virtio_bindings::virtio_mmio::*;
use virtio_queue::{Queue, QueueT};

use super::{VirtioCounters, VirtioDevice};
use crate::memory::GuestMemoryMmap;

/// "virt" in little-endian.
pub(crate) const MAGIC: u32 = 0x7472_6976;
/// The modern (non-legacy) MMIO layout.
pub(crate) const VERSION: u32 = 2;
/// The vendor id this VMM reports ("VMLB").
pub(crate) const VENDOR: u32 = 0x424c_4d56;

/// One device behind its MMIO registers.
pub(crate) struct MmioTransport {
    dev: Box<dyn VirtioDevice>,
    queues: Vec<Queue>,
    queue_sel: u32,
    device_features_sel: u32,
    driver_features_sel: u32,
    driver_features: u64,
    status: u32,
    interrupt_status: u32,
    bad_registers: u64,
    notifies: u64,
}

impl MmioTransport {
    /// A transport for `dev`, reset.
    pub(crate) fn new(dev: Box<dyn VirtioDevice>) -> MmioTransport {
        let queues = dev
            .queue_max()
            .iter()
            .map(|&max| Queue::new(max).expect("device queue sizes are powers of two"))
            .collect();
        MmioTransport {
            dev,
            queues,
            queue_sel: 0,
            device_features_sel: 0,
            driver_features_sel: 0,
            driver_features: 0,
            status: 0,
            interrupt_status: 0,
            bad_registers: 0,
            notifies: 0,
        }
    }

    /// The device's kind.
    pub(crate) fn kind(&self) -> &'static str {
        self.dev.kind()
    }

    /// The virtio device id.
    pub(crate) fn device_id(&self) -> u32 {
        self.dev.device_id()
    }

    /// The device's counters plus the transport's.
    pub(crate) fn counters(&mut self) -> VirtioCounters {
        let mut c = *self.dev.counters();
        c.bad_registers += self.bad_registers;
        c.notifies = self.notifies;
        c
    }

    fn selected(&mut self) -> Option<&mut Queue> {
        self.queues.get_mut(self.queue_sel as usize)
    }

    fn driver_ok(&self) -> bool {
        self.status & VIRTIO_CONFIG_S_DRIVER_OK != 0
    }

    /// A guest read of `data.len()` bytes at `offset` into the register page.
    pub(crate) fn read(&mut self, offset: u64, data: &mut [u8]) {
        if offset >= u64::from(VIRTIO_MMIO_CONFIG) {
            self.dev
                .read_config(offset - u64::from(VIRTIO_MMIO_CONFIG), data);
            return;
        }
        if data.len() != 4 {
            self.bad_registers += 1;
            data.fill(0);
            return;
        }
        let features = |sel: u32, f: u64| match sel {
            0 => f as u32,
            1 => (f >> 32) as u32,
            _ => 0,
        };
        let v = match offset as u32 {
            VIRTIO_MMIO_MAGIC_VALUE => MAGIC,
            VIRTIO_MMIO_VERSION => VERSION,
            VIRTIO_MMIO_DEVICE_ID => self.dev.device_id(),
            VIRTIO_MMIO_VENDOR_ID => VENDOR,
            VIRTIO_MMIO_DEVICE_FEATURES => features(self.device_features_sel, self.dev.features()),
            VIRTIO_MMIO_QUEUE_NUM_MAX => self.selected().map_or(0, |q| u32::from(q.max_size())),
            VIRTIO_MMIO_QUEUE_READY => self.selected().map_or(0, |q| u32::from(q.ready())),
            VIRTIO_MMIO_INTERRUPT_STATUS => self.interrupt_status,
            VIRTIO_MMIO_STATUS => self.status,
            VIRTIO_MMIO_CONFIG_GENERATION => 0,
            _ => {
                self.bad_registers += 1;
                0
            }
        };
        data.copy_from_slice(&v.to_le_bytes());
    }

    /// A guest write of `data` at `offset`; returns whether an interrupt is
    /// due (the device used buffers).
    pub(crate) fn write(&mut self, offset: u64, data: &[u8], mem: &GuestMemoryMmap) -> bool {
        let Ok(word) = <[u8; 4]>::try_from(data) else {
            self.bad_registers += 1;
            return false;
        };
        let v = u32::from_le_bytes(word);
        // Queue registers may change only while the queue is not live.
        let setup = !self.driver_ok();
        match offset as u32 {
            VIRTIO_MMIO_DEVICE_FEATURES_SEL => self.device_features_sel = v,
            VIRTIO_MMIO_DRIVER_FEATURES_SEL => self.driver_features_sel = v,
            VIRTIO_MMIO_DRIVER_FEATURES if self.may_set_features() => {
                match self.driver_features_sel {
                    0 => self.driver_features = self.driver_features & !0xffff_ffff | u64::from(v),
                    1 => {
                        self.driver_features =
                            self.driver_features & 0xffff_ffff | u64::from(v) << 32
                    }
                    _ => self.bad_registers += 1,
                }
            }
            VIRTIO_MMIO_QUEUE_SEL => self.queue_sel = v,
            VIRTIO_MMIO_QUEUE_NUM if setup => self.queue_set(|q| q.try_set_size(v as u16).is_ok()),
            VIRTIO_MMIO_QUEUE_READY if setup => self.queue_set(|q| {
                q.set_ready(v == 1);
                true
            }),
            VIRTIO_MMIO_QUEUE_DESC_LOW if setup => self.queue_set(|q| {
                q.set_desc_table_address(Some(v), None);
                true
            }),
            VIRTIO_MMIO_QUEUE_DESC_HIGH if setup => self.queue_set(|q| {
                q.set_desc_table_address(None, Some(v));
                true
            }),
            VIRTIO_MMIO_QUEUE_AVAIL_LOW if setup => self.queue_set(|q| {
                q.set_avail_ring_address(Some(v), None);
                true
            }),
            VIRTIO_MMIO_QUEUE_AVAIL_HIGH if setup => self.queue_set(|q| {
                q.set_avail_ring_address(None, Some(v));
                true
            }),
            VIRTIO_MMIO_QUEUE_USED_LOW if setup => self.queue_set(|q| {
                q.set_used_ring_address(Some(v), None);
                true
            }),
            VIRTIO_MMIO_QUEUE_USED_HIGH if setup => self.queue_set(|q| {
                q.set_used_ring_address(None, Some(v));
                true
            }),
            VIRTIO_MMIO_QUEUE_NOTIFY => return self.notify(v, mem),
            VIRTIO_MMIO_INTERRUPT_ACK => self.interrupt_status &= !v,
            VIRTIO_MMIO_STATUS => self.set_status(v),
            _ => self.bad_registers += 1,
        }
        false
    }

    fn may_set_features(&self) -> bool {
        self.status & VIRTIO_CONFIG_S_DRIVER != 0 && self.status & VIRTIO_CONFIG_S_FEATURES_OK == 0
    }

    fn queue_set(&mut self, f: impl FnOnce(&mut Queue) -> bool) {
        let ok = self.selected().is_some_and(f);
        if !ok {
            self.bad_registers += 1;
        }
    }

    fn set_status(&mut self, v: u32) {
        if v == 0 {
            self.reset();
            return;
        }
        // FEATURES_OK only for a subset of the offer that includes VERSION_1.
        let newly_ok =
            v & VIRTIO_CONFIG_S_FEATURES_OK != 0 && self.status & VIRTIO_CONFIG_S_FEATURES_OK == 0;
        if newly_ok {
            let offered = self.dev.features();
            let version_1 = self.driver_features & 1 << VIRTIO_F_VERSION_1 != 0;
            if self.driver_features & !offered != 0 || !version_1 {
                self.bad_registers += 1;
                self.status = v & !VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_FAILED;
                return;
            }
        }
        // The driver may only add bits (a reset is a write of 0).
        if v & self.status != self.status {
            self.bad_registers += 1;
            return;
        }
        self.status = v;
    }

    fn reset(&mut self) {
        self.queues.iter_mut().for_each(QueueT::reset);
        self.queue_sel = 0;
        self.device_features_sel = 0;
        self.driver_features_sel = 0;
        self.driver_features = 0;
        self.status = 0;
        self.interrupt_status = 0;
        self.dev.reset();
    }

    fn notify(&mut self, index: u32, mem: &GuestMemoryMmap) -> bool {
        self.notifies += 1;
        let live = self.driver_ok()
            && self
                .queues
                .get(index as usize)
                .is_some_and(|q| q.is_valid(mem));
        if !live {
            self.bad_registers += 1;
            return false;
        }
        let used = self.dev.notify(index as usize, &mut self.queues, mem);
        self.used(used)
    }

    /// Lets the device do unprompted work (net RX); returns whether an
    /// interrupt is due.
    pub(crate) fn poll(&mut self, mem: &GuestMemoryMmap) -> bool {
        if !self.driver_ok() || !self.queues.iter().all(|q| q.is_valid(mem)) {
            return false;
        }
        let used = self.dev.poll(&mut self.queues, mem);
        self.used(used)
    }

    fn used(&mut self, used: bool) -> bool {
        if used {
            self.interrupt_status |= VIRTIO_MMIO_INT_VRING;
            self.dev.counters().interrupts += 1;
        }
        used
    }
}
