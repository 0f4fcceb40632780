//! Checks on a descriptor chain before a device touches its buffers: not
//! longer than the device allows, readable descriptors before writable ones
//! (virtio 1.x 2.7.4.2). Whether the buffers lie in guest memory is checked
//! by virtio-queue's `Reader` and `Writer`, which refuse chains outside it.
use std::ops::Deref;

use virtio_queue::DescriptorChain;
use vm_memory::GuestMemory;

/// What a chain holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Shape {
    /// Bytes in device-readable descriptors.
    pub readable: u64,
    /// Bytes in device-writable descriptors.
    pub writable: u64,
    /// Descriptors.
    pub descs: usize,
}

/// Why a chain is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fault {
    /// More descriptors than the device accepts.
    TooLong,
    /// A readable descriptor after a writable one.
    WrongOrder,
    /// No descriptor at all (the head could not be read).
    Empty,
}

/// The shape of `chain`, or why it is refused.
pub(crate) fn shape<M>(chain: &DescriptorChain<M>, max_descs: usize) -> Result<Shape, Fault>
where
    M: Deref + Clone,
    M::Target: GuestMemory,
{
    let mut s = Shape::default();
    let mut seen_writable = false;
    for d in chain.clone() {
        s.descs += 1;
        if s.descs > max_descs {
            return Err(Fault::TooLong);
        }
        if d.is_write_only() {
            seen_writable = true;
            s.writable += u64::from(d.len());
        } else if seen_writable {
            return Err(Fault::WrongOrder);
        } else {
            s.readable += u64::from(d.len());
        }
    }
    if s.descs == 0 {
        return Err(Fault::Empty);
    }
    Ok(s)
}
