//! The jailed VMM's seccomp allow-list: one table, [`TABLE`], with a reason
//! per entry, compiled by seccompiler; anything else kills the process
//! (`SECCOMP_RET_KILL_PROCESS`), as does any architecture but x86_64.
//!
//! The filter is installed on the VMM's only thread after setup, before the
//! first `KVM_RUN`; it covers the run loop, teardown and the report to the
//! parent. Setup (creating the VM, mapping memory, loading the guest, the
//! namespaces) happens before it, so none of that is on the list.
//!
//! Arguments the kernel takes as 32-bit (`ioctl`'s request, `write`'s fd,
//! `fcntl`'s command) are compared on their low 32 bits, so high bits
//! cannot make a value look different to the filter than to the kernel.
use std::collections::BTreeMap;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

/// The filter could not be built or installed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// seccompiler refused the table.
    #[error("the VMM's seccomp filter could not be compiled")]
    Compile(#[source] seccompiler::BackendError),
    /// The kernel refused the filter.
    #[error("the kernel refused the VMM's seccomp filter")]
    Install(#[source] seccompiler::Error),
}

const KVMIO: u64 = 0xae;

/// `_IO(KVMIO, nr)`.
const fn kvm_io(nr: u64) -> u64 {
    (KVMIO << 8) | nr
}

/// `_IOR(KVMIO, nr, size)`.
const fn kvm_ior(nr: u64, size: usize) -> u64 {
    (2 << 30) | ((size as u64) << 16) | (KVMIO << 8) | nr
}

/// `_IOW(KVMIO, nr, size)`.
const fn kvm_iow(nr: u64, size: usize) -> u64 {
    (1 << 30) | ((size as u64) << 16) | (KVMIO << 8) | nr
}

/// `KVM_RUN`.
pub(crate) const KVM_RUN: u64 = kvm_io(0x80);
/// `KVM_GET_REGS` (read after an internal error, for the report).
pub(crate) const KVM_GET_REGS: u64 = kvm_ior(0x81, size_of::<kvm_bindings::kvm_regs>());
/// `KVM_IRQ_LINE` (the serial interrupt of a Linux guest).
pub(crate) const KVM_IRQ_LINE: u64 = kvm_iow(0x61, size_of::<kvm_bindings::kvm_irq_level>());

/// The `ioctl` requests the run loop issues.
pub(crate) const KVM_REQUESTS: [(u64, &str); 3] = [
    (KVM_RUN, "KVM_RUN"),
    (KVM_IRQ_LINE, "KVM_IRQ_LINE"),
    (KVM_GET_REGS, "KVM_GET_REGS"),
];

/// What an allowed call's arguments must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Args {
    /// Anything.
    Any,
    /// `ioctl`: the request (argument 1) is one of `KVM_REQUESTS`
    /// (`KVM_RUN`, `KVM_GET_REGS`, `KVM_IRQ_LINE`).
    KvmRequest,
    /// `write`: the fd (argument 0) is stdout, stderr or the report pipe.
    OwnFds,
    /// `mmap`/`mprotect`: the protection (argument 2) lacks `PROT_EXEC`.
    NoExec,
    /// `fcntl`: the command (argument 1) is `F_GETFD`.
    GetFd,
    /// `read`: the fd (argument 0) is the hold gate's. Only in the filter
    /// of a VMM with a hold gate.
    HoldFd,
    /// `poll`: one fd (argument 1 is 1), for a non-blocking hold gate. Only
    /// in the filter of a VMM with a hold gate.
    HoldPoll,
    /// The fd (argument 0) is a virtio-blk disk's backing file. Only in the
    /// filter of a VMM with a disk.
    DiskFd,
    /// The fd (argument 0) is a virtio-net device's TAP. Only in the filter
    /// of a VMM with a network device.
    TapFd,
}

/// One allowed call.
#[derive(Clone, Copy, Debug)]
pub struct Allowed {
    /// Its x86_64 number.
    pub nr: i64,
    /// Its name.
    pub name: &'static str,
    /// Argument conditions.
    pub args: Args,
    /// Why the VMM needs it after setup.
    pub why: &'static str,
}

const fn allow(nr: i64, name: &'static str, args: Args, why: &'static str) -> Allowed {
    Allowed {
        nr,
        name,
        args,
        why,
    }
}

/// Every call the jailed VMM may make; the rest kill it. Entries with
/// [`Args::HoldFd`] or [`Args::HoldPoll`] are in the filter only when the
/// VMM has a hold gate, those with [`Args::DiskFd`] or [`Args::TapFd`] only
/// when it has such a device. A call listed twice is allowed when either
/// entry's condition holds.
pub const TABLE: [Allowed; 22] = [
    allow(libc::SYS_ioctl, "ioctl", Args::KvmRequest,
        "KVM_RUN; KVM_IRQ_LINE for a Linux guest's serial interrupt; KVM_GET_REGS to report an internal error"),
    allow(libc::SYS_write, "write", Args::OwnFds,
        "the console stream (stdout), panic messages (stderr) and the report to the parent (its pipe)"),
    allow(libc::SYS_rt_sigreturn, "rt_sigreturn", Args::Any,
        "return from the kick-timer signal handler that interrupts KVM_RUN"),
    allow(libc::SYS_timer_delete, "timer_delete", Args::Any,
        "the kick timer is deleted after the run"),
    allow(libc::SYS_clock_gettime, "clock_gettime", Args::Any,
        "timestamps, when the vDSO cannot read the clock itself"),
    allow(libc::SYS_close, "close", Args::Any,
        "teardown: the vCPU, VM and KVM fds"),
    allow(libc::SYS_fcntl, "fcntl", Args::GetFd,
        "F_GETFD only: debug builds check an fd is open before closing it"),
    allow(libc::SYS_munmap, "munmap", Args::Any,
        "teardown: guest memory and the vCPU's kvm_run area; the allocator"),
    allow(libc::SYS_mmap, "mmap", Args::NoExec,
        "the allocator (marks, the report), never executable"),
    allow(libc::SYS_mprotect, "mprotect", Args::NoExec,
        "the allocator growing a thread arena, never executable"),
    allow(libc::SYS_mremap, "mremap", Args::Any,
        "the allocator growing a large buffer (the mark list)"),
    allow(libc::SYS_brk, "brk", Args::Any,
        "the allocator's main heap"),
    allow(libc::SYS_madvise, "madvise", Args::Any,
        "the allocator returning memory"),
    allow(libc::SYS_read, "read", Args::HoldFd,
        "a held guest waits for a read of its hold gate to return (with a gate only)"),
    allow(libc::SYS_poll, "poll", Args::HoldPoll,
        "waiting for a non-blocking hold gate to become readable (with a gate only)"),
    allow(libc::SYS_pread64, "pread64", Args::DiskFd,
        "virtio-blk reads: the disk file at the request's offset (with a disk only)"),
    allow(libc::SYS_pwrite64, "pwrite64", Args::DiskFd,
        "virtio-blk writes (with a disk only)"),
    allow(libc::SYS_fdatasync, "fdatasync", Args::DiskFd,
        "virtio-blk flush requests (with a disk only)"),
    allow(libc::SYS_read, "read", Args::TapFd,
        "virtio-net receive: one frame per read of the TAP (with a network device only)"),
    allow(libc::SYS_write, "write", Args::TapFd,
        "virtio-net transmit: one frame per write to the TAP (with a network device only)"),
    allow(libc::SYS_exit, "exit", Args::Any,
        "the end of the process"),
    allow(libc::SYS_exit_group, "exit_group", Args::Any,
        "the end of the process: after the report, or on a panic (the panic hook exits, it does not abort)"),
];

/// The runtime values the argument conditions need.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Context {
    /// The write end of the report pipe.
    pub report_fd: i32,
    /// The hold gate's fd, if the VMM has one.
    pub hold_fd: Option<i32>,
    /// The virtio devices' fds.
    pub devices: DeviceFds,
}

/// The fds of a VMM's virtio devices, which its filter lets it do their
/// I/O on (and no other).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeviceFds {
    /// virtio-blk backing files.
    pub disks: Vec<i32>,
    /// virtio-net TAPs.
    pub taps: Vec<i32>,
}

impl DeviceFds {
    /// The fds of `devices` (each keeps its fd for the VM's life).
    pub fn of(devices: &[crate::devices::virtio::DeviceConfig]) -> DeviceFds {
        use crate::devices::virtio::DeviceConfig;
        use std::os::fd::AsRawFd;
        let mut fds = DeviceFds::default();
        for d in devices {
            match d {
                DeviceConfig::Block { file, .. } => fds.disks.push(file.as_raw_fd()),
                DeviceConfig::Net { tap, .. } => fds.taps.push(tap.as_raw_fd()),
            }
        }
        fds
    }

    /// Every fd, for the jail to keep open.
    pub fn all(&self) -> impl Iterator<Item = i32> + '_ {
        self.disks.iter().chain(&self.taps).copied()
    }
}

/// The fds `write` may use.
pub(crate) fn write_fds(ctx: &Context) -> [i32; 3] {
    [1, 2, ctx.report_fd]
}

fn cond(arg: u8, op: SeccompCmpOp, value: u64) -> Result<SeccompCondition, Error> {
    SeccompCondition::new(arg, SeccompCmpArgLen::Dword, op, value).map_err(Error::Compile)
}

fn rule(conds: Vec<SeccompCondition>) -> Result<SeccompRule, Error> {
    SeccompRule::new(conds).map_err(Error::Compile)
}

/// The rules of an entry, or `None` when the entry is not in this filter.
fn rules(args: Args, ctx: &Context) -> Result<Option<Vec<SeccompRule>>, Error> {
    let eq = |arg: u8, v: u64| -> Result<SeccompRule, Error> {
        rule(vec![cond(arg, SeccompCmpOp::Eq, v)?])
    };
    Ok(Some(match args {
        // No rules: the call matches whatever its arguments.
        Args::Any => Vec::new(),
        Args::KvmRequest => KVM_REQUESTS
            .iter()
            .map(|&(req, _)| eq(1, req))
            .collect::<Result<_, _>>()?,
        Args::OwnFds => write_fds(ctx)
            .iter()
            .map(|&fd| eq(0, fd as u32 as u64))
            .collect::<Result<_, _>>()?,
        Args::GetFd => vec![eq(1, libc::F_GETFD as u64)?],
        Args::NoExec => vec![rule(vec![cond(
            2,
            SeccompCmpOp::MaskedEq(libc::PROT_EXEC as u64),
            0,
        )?])?],
        Args::HoldFd => match ctx.hold_fd {
            Some(fd) => vec![eq(0, fd as u32 as u64)?],
            None => return Ok(None),
        },
        Args::HoldPoll => match ctx.hold_fd {
            Some(_) => vec![eq(1, 1)?],
            None => return Ok(None),
        },
        Args::DiskFd | Args::TapFd => {
            let fds = match args {
                Args::DiskFd => &ctx.devices.disks,
                _ => &ctx.devices.taps,
            };
            if fds.is_empty() {
                return Ok(None);
            }
            fds.iter()
                .map(|&fd| eq(0, fd as u32 as u64))
                .collect::<Result<_, _>>()?
        }
    }))
}

/// Compiles [`TABLE`] for this process.
pub(crate) fn program(ctx: &Context) -> Result<BpfProgram, Error> {
    let mut map: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    for a in &TABLE {
        if let Some(r) = rules(a.args, ctx)? {
            // A call listed twice: either entry's rules allow it (none has
            // `Args::Any`, whose empty rule list would allow everything).
            map.entry(a.nr).or_default().extend(r);
        }
    }
    let filter = SeccompFilter::new(
        map,
        SeccompAction::KillProcess,
        SeccompAction::Allow,
        TargetArch::x86_64,
    )
    .map_err(Error::Compile)?;
    BpfProgram::try_from(filter).map_err(Error::Compile)
}

/// Installs `program` on the calling thread (it sets `no_new_privs` too).
pub(crate) fn install(program: &BpfProgram) -> Result<(), Error> {
    seccompiler::apply_filter(program).map_err(Error::Install)
}

#[cfg(test)]
mod tests;
