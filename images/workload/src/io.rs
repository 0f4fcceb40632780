//! Devices that cross the boundary: what a [`Platform`](crate::Platform)
//! hands the I/O kernels ([`Platform::net`](crate::Platform::net),
//! [`Platform::block`](crate::Platform::block)). The bare guest's polled
//! virtio drivers implement them; on Linux the kernels use sockets and
//! files instead and the platform offers none.

/// Why a device operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IoError {
    /// The request is outside the device (sector range, frame size).
    OutOfRange,
    /// The buffer is not a whole number of sectors.
    Unaligned,
    /// The device reported an error (its status byte).
    Device(u8),
    /// The device did not complete the request.
    NoCompletion,
}

/// An Ethernet device: whole frames in and out, polled.
pub trait NetDevice {
    /// Sends one frame (Ethernet header included, at most [`MAX_FRAME`]
    /// bytes); returns once the device has taken it.
    fn send(&mut self, frame: &[u8]) -> Result<(), IoError>;
    /// Receives one frame into `buf` if one has arrived; returns its length
    /// (0: none yet). Frames longer than `buf` are cut to it.
    fn recv(&mut self, buf: &mut [u8]) -> Result<usize, IoError>;
    /// The device's MAC address.
    fn mac(&self) -> [u8; 6];
}

/// The largest frame (Ethernet header, 1500 bytes of payload, a VLAN tag).
pub const MAX_FRAME: usize = 1518;

/// A disk of 512-byte sectors.
pub trait BlockDevice {
    /// Reads `buf.len()` bytes (whole sectors) from `sector` on.
    fn read(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), IoError>;
    /// Writes `buf` (whole sectors) from `sector` on.
    fn write(&mut self, sector: u64, buf: &[u8]) -> Result<(), IoError>;
    /// Makes written sectors durable.
    fn flush(&mut self) -> Result<(), IoError>;
    /// The disk's size in sectors.
    fn sectors(&self) -> u64;
}

/// The sector size.
pub const SECTOR: usize = 512;
