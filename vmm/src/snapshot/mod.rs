//! Snapshot and restore of the bare guest and of a Linux guest (one vCPU).
//!
//! [`take`] boots the guest with the workload's `--snapshot` flag; at
//! the snapshot mark (sent just before ready) the run loop stops, the
//! pending `out` is completed without running guest code
//! (`immediate_exit`), and the vCPU's registers (regs, sregs, FPU, xsave,
//! XCRs, the MSRs that read and set back, LAPIC, events, mp_state, debug
//! registers, CPUID), the VM's clock (and irqchip and PIT where created),
//! the devices (COM1's registers, the CMOS index, the unhandled-traffic
//! counters), the configuration and the host CPU's feature leaves go to one
//! file with guest memory ([`format`]), written atomically. A Linux guest
//! adds what it depends on: its CPUID, the PICs, IOAPIC, LAPIC (timer
//! included: the TSC deadline is set again after the LAPIC) and PIT, and
//! among the MSRs the TSC and kvmclock's; a guest with virtio devices is
//! refused ([`Error::Unsupported`]).
//!
//! [`restore`] opens that file, checks it (header and state checksums,
//! version, length, memory size, CPU features and TSC frequency), creates a
//! VM, maps the memory image `MAP_PRIVATE` (copy on write, demand paged:
//! the file never changes), sets the state back and runs the vCPU: the
//! guest continues after its snapshot mark and sends ready. Its phases:
//! `open` (read and check the file), `kvm_open` (and the CPU check),
//! `vm_create`, `map`, `load_state`, `first_exit` (the first `KVM_RUN`
//! returned), `guest_to_ready`. With the jail, the file is opened and
//! mapped before the child jails itself and its fd is kept.
mod file;
pub mod format;
mod ioctls;
mod pool;
mod probe;
mod restore;
pub(crate) mod state;
mod sweep;
mod take;
mod touched;

use std::path::PathBuf;

pub use file::{inspect, Info};
pub use pool::{PooledVm, VmPool};
pub use probe::{check_ioctls, IoctlCheck};
pub use restore::{restore, restore_held, restore_measured, restore_on, RestoreConfig};
pub use take::{take, Taken, SNAPSHOT_FLAG};
pub use touched::Touched;

/// Errors taking, reading or restoring a snapshot.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file operation failed.
    #[error("cannot {what} the snapshot {}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operation.
        what: &'static str,
        /// What the system reported.
        #[source]
        source: std::io::Error,
    },
    /// The file does not start with the snapshot magic.
    #[error("{} is not a vmlab snapshot (wrong magic): give a file the snapshot command wrote", path.display())]
    NotASnapshot {
        /// The file.
        path: PathBuf,
    },
    /// The file is shorter than its header says.
    #[error("the snapshot {} is truncated ({found} bytes, {expected} expected): take it again", path.display())]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Bytes the header describes.
        expected: u64,
        /// Bytes the file has.
        found: u64,
    },
    /// A checksum does not match.
    #[error("the snapshot {} is corrupt (its {part} checksum does not match): take it again", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Which part: header, state or memory image.
        part: &'static str,
    },
    /// The file is of a newer format than this VMM reads.
    #[error("the snapshot {} has format version {found}, newer than the {supported} this VMM reads: restore it with the vmlab that wrote it, or take it again", path.display())]
    NewerVersion {
        /// The file.
        path: PathBuf,
        /// Its version.
        found: u32,
        /// The version this VMM reads.
        supported: u32,
    },
    /// The file's fields or state make no sense although its checksums match.
    #[error("the snapshot {} is malformed ({what}): take it again", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        what: &'static str,
    },
    /// The memory image's size is not the configured memory size.
    #[error("the snapshot {} is of a {snapshot_mib} MiB guest but holds {image_bytes} bytes of memory: take it again", path.display())]
    MemSize {
        /// The file.
        path: PathBuf,
        /// The configured size.
        snapshot_mib: u64,
        /// The image's size.
        image_bytes: u64,
    },
    /// The caller asked for another memory size than the snapshot's.
    #[error("the snapshot {} is of a {snapshot_mib} MiB guest, not {requested_mib} MiB: restore it with its own size or take a snapshot of that size", path.display())]
    MemMismatch {
        /// The file.
        path: PathBuf,
        /// The snapshot's size.
        snapshot_mib: u64,
        /// The requested size.
        requested_mib: u64,
    },
    /// The snapshot was taken on other CPU features.
    #[error("the snapshot {} was taken on other CPU features ({detail}): take it again on this host", path.display())]
    CpuMismatch {
        /// The file.
        path: PathBuf,
        /// The first difference.
        detail: String,
    },
    /// A KVM state ioctl failed.
    #[error("KVM could not {what}")]
    Ioctl {
        /// The step.
        what: &'static str,
        /// What KVM reported.
        #[source]
        source: kvm_ioctls::Error,
    },
    /// KVM accepted only some of the saved MSRs.
    #[error("KVM accepted only {set} of the snapshot's {total} MSRs")]
    Msrs {
        /// Accepted.
        set: usize,
        /// Saved.
        total: usize,
    },
    /// The memory image could not be mapped.
    #[error("cannot map the memory image of the snapshot {}", path.display())]
    Map {
        /// The file.
        path: PathBuf,
    },
    /// The guest exited without sending the snapshot mark.
    #[error("the guest exited with code {code} without sending the snapshot mark (is it the vmlab workload?)")]
    NoMark {
        /// Its exit code.
        code: u8,
    },
    /// A restore on a shared `/dev/kvm`, or a pool, asked for what only a
    /// restore of its own offers.
    #[error("{0}")]
    InProcess(&'static str),
    /// Something this VMM does not snapshot.
    #[error("snapshots are not supported for {0}")]
    Unsupported(&'static str),
}
