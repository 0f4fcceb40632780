//! The device self-test the VMM's KVM tests ask for (`VIRTIO_FLAG_SELFTEST`
//! in the boot info; the workload's kernels never run it):
//!
//! - block: reads sectors 8..16, which the host filled with byte
//!   `(i * 13 + 1) % 256` at offset i, and checks them; writes byte
//!   `(i * 31 + 7) % 256` to sectors 0..8, reads them back and checks;
//!   flushes; then times [`READS`] 4 KiB reads;
//! - network: sends one frame (broadcast, ethertype 0x88b5, payload
//!   `vmlab-selftest ping`), waits up to [`WAIT_NS`] for a frame and sends
//!   it back unchanged.
//!
//! One JSON line per device; the exit code says what failed (0: nothing).
use core::fmt::Write;

use vmlab_workload::io::{BlockDevice, NetDevice, MAX_FRAME};
use vmlab_workload::report::uint;
use vmlab_workload::Clock;

use super::Devices;

/// Timed 4 KiB reads.
pub const READS: u64 = 64;
/// How long to wait for the host's frame.
pub const WAIT_NS: u64 = 5_000_000_000;
/// Exit codes.
pub const NO_DEVICE: u8 = 10;
pub const BLK_HOST_DATA: u8 = 11;
pub const BLK_ROUND_TRIP: u8 = 12;
pub const BLK_ERROR: u8 = 13;
pub const NET_ERROR: u8 = 14;
pub const NET_NO_FRAME: u8 = 15;

/// The ping's ethertype and payload.
pub const ETHERTYPE: [u8; 2] = [0x88, 0xb5];
pub const PING: &[u8] = b"vmlab-selftest ping";

/// Runs the self-test on `devs`.
pub fn run(devs: &mut Devices, clock: &impl Clock, out: &mut impl Write) -> u8 {
    if devs.blk.is_none() && devs.net.is_none() {
        return NO_DEVICE;
    }
    if let Some(b) = devs.blk.as_mut() {
        if let Err(code) = block(b, clock, out) {
            return code;
        }
    }
    if let Some(n) = devs.net.as_mut() {
        if let Err(code) = net(n, clock, out) {
            return code;
        }
    }
    0
}

fn block(b: &mut impl BlockDevice, clock: &impl Clock, out: &mut impl Write) -> Result<(), u8> {
    let mut buf = [0u8; 4096];
    b.read(8, &mut buf).map_err(|_| BLK_ERROR)?;
    if (0..buf.len()).any(|i| buf[i] != (i * 13 + 1) as u8) {
        return Err(BLK_HOST_DATA);
    }
    let mut pattern = [0u8; 4096];
    for (i, p) in pattern.iter_mut().enumerate() {
        *p = (i * 31 + 7) as u8;
    }
    b.write(0, &pattern).map_err(|_| BLK_ERROR)?;
    buf.fill(0);
    b.read(0, &mut buf).map_err(|_| BLK_ERROR)?;
    if buf != pattern {
        return Err(BLK_ROUND_TRIP);
    }
    b.flush().map_err(|_| BLK_ERROR)?;
    let span = b.sectors().saturating_sub(8).max(1);
    let t0 = clock.now_ns();
    for i in 0..READS {
        b.read((i * 8) % span, &mut buf).map_err(|_| BLK_ERROR)?;
    }
    let ns = clock.now_ns().saturating_sub(t0);
    let _ = out.write_str("{\"vmlab\":\"virtio-selftest\",\"device\":\"blk\",\"sectors\":");
    let _ = uint(out, u128::from(b.sectors()));
    let _ = out.write_str(",\"reads_4k\":");
    let _ = uint(out, u128::from(READS));
    let _ = out.write_str(",\"ns\":");
    let _ = uint(out, u128::from(ns));
    let _ = out.write_str("}\n");
    Ok(())
}

fn net(n: &mut impl NetDevice, clock: &impl Clock, out: &mut impl Write) -> Result<(), u8> {
    let mut frame = [0u8; 60];
    frame[0..6].fill(0xff);
    frame[6..12].copy_from_slice(&n.mac());
    frame[12..14].copy_from_slice(&ETHERTYPE);
    frame[14..14 + PING.len()].copy_from_slice(PING);
    n.send(&frame).map_err(|_| NET_ERROR)?;
    let mut buf = [0u8; MAX_FRAME];
    let t0 = clock.now_ns();
    let mut polls: u64 = 0;
    let len = loop {
        polls += 1;
        match n.recv(&mut buf) {
            Ok(0) if clock.now_ns().saturating_sub(t0) > WAIT_NS => return Err(NET_NO_FRAME),
            Ok(0) => {}
            Ok(len) => break len,
            Err(_) => return Err(NET_ERROR),
        }
    };
    n.send(&buf[..len]).map_err(|_| NET_ERROR)?;
    let _ = out.write_str("{\"vmlab\":\"virtio-selftest\",\"device\":\"net\",\"echoed\":");
    let _ = uint(out, len as u128);
    let _ = out.write_str(",\"polls\":");
    let _ = uint(out, u128::from(polls));
    let _ = out.write_str("}\n");
    Ok(())
}
