//! Legacy devices the guests talk to through port I/O, and virtio devices
//! on MMIO ([`virtio`]).
pub(crate) mod lazy;
pub(crate) mod port;
pub(crate) mod rtc;
pub mod serial;
pub mod virtio;
