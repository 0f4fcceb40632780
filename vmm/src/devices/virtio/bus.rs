//! The MMIO bus: virtio devices at [`MMIO_BASE`] + i × [`MMIO_SIZE`] with
//! interrupt line [`FIRST_IRQ`] + i, guest accesses routed by address, and
//! how the devices are announced (Linux command line, bare boot info).
use vmlab_workload::bootinfo::VirtioEntry;

use super::blk::Block;
use super::mmio::MmioTransport;
use super::net::Net;
use super::{DeviceConfig, DeviceReport, FIRST_IRQ, MAX_DEVICES, MMIO_BASE, MMIO_SIZE};
use crate::memory::GuestMemoryMmap;

/// Errors attaching devices.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// More devices than the bus has slots.
    #[error("{count} virtio devices asked for; this VMM attaches at most {max}")]
    TooMany {
        /// Asked for.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// The block device's file could not be inspected.
    #[error("cannot read the size of the virtio-blk backing file")]
    BlockFile(#[source] std::io::Error),
    /// The TAP fd could not be made non-blocking.
    #[error("cannot make the virtio-net TAP fd non-blocking")]
    TapFd(#[source] nix::Error),
}

/// One attached device.
struct Slot {
    base: u64,
    irq: u32,
    transport: MmioTransport,
}

/// All virtio devices of one VM.
#[derive(Default)]
pub(crate) struct MmioBus {
    slots: Vec<Slot>,
}

impl MmioBus {
    /// Attaches `devices` in order.
    pub(crate) fn new(devices: Vec<DeviceConfig>) -> Result<MmioBus, Error> {
        if devices.len() > MAX_DEVICES {
            return Err(Error::TooMany {
                count: devices.len(),
                max: MAX_DEVICES,
            });
        }
        let mut slots = Vec::with_capacity(devices.len());
        for (i, d) in devices.into_iter().enumerate() {
            let dev: Box<dyn super::VirtioDevice> = match d {
                DeviceConfig::Block { file, read_only } => {
                    Box::new(Block::new(file, read_only).map_err(Error::BlockFile)?)
                }
                DeviceConfig::Net { tap, mac } => {
                    Box::new(Net::new(tap, mac).map_err(Error::TapFd)?)
                }
            };
            slots.push(Slot {
                base: MMIO_BASE + i as u64 * MMIO_SIZE,
                irq: FIRST_IRQ + i as u32,
                transport: MmioTransport::new(dev),
            });
        }
        Ok(MmioBus { slots })
    }

    /// Whether no device is attached.
    pub(crate) fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Whether a device does work nobody notifies it of (a network
    /// device's frames from its TAP), which the run loop must poll for.
    pub(crate) fn has_unprompted_work(&self) -> bool {
        self.slots
            .iter()
            .any(|s| s.transport.device_id() == virtio_bindings::virtio_ids::VIRTIO_ID_NET)
    }

    fn slot(&mut self, addr: u64) -> Option<(&mut Slot, u64)> {
        self.slots
            .iter_mut()
            .find(|s| (s.base..s.base + MMIO_SIZE).contains(&addr))
            .map(|s| {
                let off = addr - s.base;
                (s, off)
            })
    }

    /// A guest read at `addr`; false when no device is there.
    pub(crate) fn read(&mut self, addr: u64, data: &mut [u8]) -> bool {
        match self.slot(addr) {
            Some((s, off)) => {
                s.transport.read(off, data);
                true
            }
            None => false,
        }
    }

    /// A guest write at `addr`: `None` when no device is there, else the
    /// interrupt line to raise, if any.
    pub(crate) fn write(
        &mut self,
        addr: u64,
        data: &[u8],
        mem: &GuestMemoryMmap,
    ) -> Option<Option<u32>> {
        let (s, off) = self.slot(addr)?;
        Some(s.transport.write(off, data, mem).then_some(s.irq))
    }

    /// Polls every device for unprompted work (frames from a TAP); calls
    /// `irq` with the line of each device that used buffers.
    pub(crate) fn poll(&mut self, mem: &GuestMemoryMmap, mut irq: impl FnMut(u32)) {
        for s in &mut self.slots {
            if s.transport.poll(mem) {
                irq(s.irq);
            }
        }
    }

    /// The Linux command-line words announcing the devices.
    pub(crate) fn cmdline(&self) -> String {
        self.slots
            .iter()
            .map(|s| format!("virtio_mmio.device={}@{:#x}:{}", MMIO_SIZE, s.base, s.irq))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The devices as the ACPI tables describe them: register window
    /// base and length, interrupt line (GSI).
    pub(crate) fn acpi_devices(&self) -> Vec<(u64, u32, u32)> {
        self.slots
            .iter()
            .map(|s| (s.base, MMIO_SIZE as u32, s.irq))
            .collect()
    }

    /// The boot-info entries announcing the devices.
    pub(crate) fn entries(&self) -> Vec<VirtioEntry> {
        self.slots
            .iter()
            .map(|s| VirtioEntry {
                mmio_base: s.base,
                mmio_size: MMIO_SIZE,
                irq: s.irq,
                device_id: s.transport.device_id(),
            })
            .collect()
    }

    /// Each device's counters.
    pub(crate) fn reports(&mut self) -> Vec<DeviceReport> {
        self.slots
            .iter_mut()
            .map(|s| DeviceReport {
                kind: s.transport.kind(),
                mmio_base: s.base,
                irq: s.irq,
                counters: s.transport.counters(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};

    use super::*;
    use crate::devices::virtio::testing::memory;

    fn devices() -> Vec<DeviceConfig> {
        let file = std::fs::File::open("/dev/null").unwrap();
        let (tap, _peer) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::empty(),
        )
        .unwrap();
        vec![
            DeviceConfig::Block {
                file,
                read_only: true,
            },
            DeviceConfig::Net {
                tap,
                mac: [2, 0, 0, 0, 0, 1],
            },
        ]
    }

    #[test]
    fn devices_are_announced_and_routed_by_address() {
        let mem = memory();
        let mut bus = MmioBus::new(devices()).unwrap();
        assert_eq!(
            bus.cmdline(),
            "virtio_mmio.device=4096@0xd0000000:5 virtio_mmio.device=4096@0xd0001000:6"
        );
        let e = bus.entries();
        assert_eq!(
            (e[0].mmio_base, e[0].irq, e[0].device_id),
            (0xd000_0000, 5, 2)
        );
        assert_eq!(
            (e[1].mmio_base, e[1].irq, e[1].device_id),
            (0xd000_1000, 6, 1)
        );
        let mut id = [0u8; 4];
        assert!(bus.read(MMIO_BASE + MMIO_SIZE + 8, &mut id));
        assert_eq!(
            u32::from_le_bytes(id),
            1,
            "the second device is the network one"
        );
        assert!(
            !bus.read(MMIO_BASE + 2 * MMIO_SIZE, &mut id),
            "nothing there"
        );
        assert_eq!(bus.write(MMIO_BASE - 4, &[0; 4], &mem), None);
        // A notify before the driver is ready: handled, no interrupt, counted.
        assert_eq!(bus.write(MMIO_BASE + 0x50, &[0; 4], &mem), Some(None));
        let r = bus.reports();
        assert_eq!(r[0].kind, "virtio-blk");
        assert_eq!(r[0].counters.bad_registers, 1);
        assert_eq!(r[0].counters.notifies, 1);
    }

    #[test]
    fn too_many_devices_are_refused() {
        let many: Vec<_> = (0..MAX_DEVICES + 1)
            .map(|_| DeviceConfig::Block {
                file: std::fs::File::open("/dev/null").unwrap(),
                read_only: true,
            })
            .collect();
        let err = MmioBus::new(many).err().unwrap();
        assert!(matches!(err, Error::TooMany { count: 9, max: 8 }), "{err}");
    }
}
