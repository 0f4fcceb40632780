//! What a backend provides to the shared kernels.
use crate::args::Spec;
use crate::kernel::Kernel;
use crate::measure::Clock;
use crate::protocol::Event;
use crate::report::{Failure, Measurement};

/// A backend's services: a clock, the isolation boundary, memory and the
/// protocol. The Linux binary and the bare guest each implement it once.
pub trait Platform {
    /// The platform's monotonic clock.
    type Clock: Clock;

    /// A copy of the clock (kernels keep it while they borrow memory).
    fn clock(&self) -> Self::Clock;

    /// One round trip across the isolation boundary: a raw null system
    /// call on Linux, an `in` from the vmlab port in the bare guest.
    fn cross(&mut self);

    /// Sends a protocol event (port or fd); the console line is the
    /// caller's business.
    fn event(&mut self, event: Event);

    /// A reusable buffer of `words` 64-bit words (contents unspecified),
    /// or `None` if the platform cannot provide that much.
    fn scratch(&mut self, words: usize) -> Option<&mut [u64]>;

    /// `bytes` of memory never touched before, page aligned, or `None` when
    /// none is left. Each call hands out a new region; all stay valid until
    /// [`release`](Platform::release).
    fn fresh(&mut self, bytes: usize) -> Option<&mut [u8]>;

    /// Gives back every region [`fresh`](Platform::fresh) handed out (where
    /// the platform can).
    fn release(&mut self);

    /// Blocks until the host says the workload may exit (`--hold`): Linux
    /// reads the fd in [`HOLD_FD_ENV`](crate::protocol::HOLD_FD_ENV) or
    /// stdin, the bare guest reads [`HOLD_PORT`](crate::protocol::HOLD_PORT).
    /// Returns at once where nobody holds it (end of file, a VMM that does
    /// not answer the port).
    fn hold(&mut self);

    /// Blocks until the host's go (`--park`): Linux reads one byte from the
    /// fd in [`PARK_FD_ENV`](crate::protocol::PARK_FD_ENV) or stdin.
    /// `false`: the host is gone (end of file, a read error), so the
    /// workload must not start. The default (the bare guest, whose VMM
    /// parks it at the snapshot mark instead) goes on at once.
    fn park(&mut self) -> bool {
        true
    }

    /// Runs a kernel that is not [shared](Kernel::is_shared), passing each
    /// result to `report`. The default says the kernel is unsupported.
    fn native(
        &mut self,
        kernel: Kernel,
        spec: &Spec,
        report: &mut dyn FnMut(&Measurement),
    ) -> Result<(), Failure> {
        let _ = (spec, report);
        Err(Failure::unsupported(kernel))
    }

    /// The network device that crosses the boundary, if the platform has
    /// one (the bare guest: its virtio-net driver). The default: none.
    fn net(&mut self) -> Option<&mut dyn crate::io::NetDevice> {
        None
    }

    /// The disk that crosses the boundary, if the platform has one (the
    /// bare guest: its virtio-blk driver). The default: none.
    fn block(&mut self) -> Option<&mut dyn crate::io::BlockDevice> {
        None
    }
}
