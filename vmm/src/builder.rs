//! Ordered construction of one VM, a host timestamp after every step, then
//! the run loop and teardown.
//!
//! Steps: (read kernel and initramfs) → open KVM → create VM (TSS, irqchip,
//! PIT for Linux) → guest memory → vCPU → load guest (ELF + boot info, or
//! kernel + zero page + command line + initramfs + ACPI) → GDT and page
//! tables → registers → (jail) → run → tear down (vCPU, VM, memory, KVM
//! fd). With the jail on, everything from creating the VM runs in a forked
//! child (`fork` is a phase of its own, so is `jail`).
use std::os::fd::RawFd;

use nix::unistd::Pid;

use crate::kvm::KvmHandle;
use crate::loader::linux;
use crate::machine::{self, Timeline};
use crate::{jail, memory, vm, Error, Guest, VmConfig, VmOutcome};

pub(crate) use crate::machine::BARE_ENTRY;

/// Smallest memory for the bare guest (its image lives at 1 MiB).
pub(crate) const BARE_MIN_MIB: u64 = 2;
/// Smallest memory for a Linux guest.
pub(crate) const LINUX_MIN_MIB: u64 = 32;

/// Reads a Linux guest's files (a phase of its own) and checks the memory
/// size against the guest's minimum.
pub(crate) fn prepare(
    t: &mut Timeline,
    guest: &Guest<'_>,
    mem_mib: u64,
) -> Result<Option<linux::Files>, Error> {
    let files = match guest {
        Guest::Linux(l) => {
            let files = linux::Files::read(l)?;
            t.mark("read_files");
            Some(files)
        }
        Guest::Bare { .. } => None,
    };
    let min_mib = if files.is_some() {
        LINUX_MIN_MIB
    } else {
        BARE_MIN_MIB
    };
    memory::check_size(mem_mib, min_mib, memory::host_mib())?;
    Ok(files)
}

/// Boots the configured guest once and returns what it did: in this
/// process, or with [`VmConfig::jail`] in a forked, jailed child ([`jail`]).
pub fn run(config: VmConfig<'_>) -> Result<VmOutcome, Error> {
    let mut t = Timeline::new();
    let linux_files = prepare(&mut t, &config.guest, config.mem_mib)?;
    let kvm = KvmHandle::open(linux_files.is_some())?;
    t.mark("kvm_open");
    if config.jail {
        let start = t.start;
        jail::run_in_child(start, move |report, parent| {
            in_child(t, &kvm, config, linux_files.as_ref(), report, parent)
        })
    } else {
        boot(t, &kvm, config, linux_files.as_ref(), None)
    }
}

/// The jailed child's part (it was forked by `parent` and reports on
/// `report`): the cgroup, then [`boot`] with the jail. The same for a
/// one-shot jailed run and for a jailed VMM started by [`crate::jailed`].
pub(crate) fn in_child(
    mut t: Timeline,
    kvm: &KvmHandle,
    config: VmConfig<'_>,
    linux_files: Option<&linux::Files>,
    report: RawFd,
    parent: Pid,
) -> Result<VmOutcome, Error> {
    t.mark("fork");
    if !config.cgroup_tasks.is_empty() {
        jail::join_cgroup(&config.cgroup_tasks)?;
        t.mark("cgroup");
    }
    boot(t, kvm, config, linux_files, Some((report, parent)))
}

/// Everything after opening KVM: create, load, (jail,) run, tear down
/// (the caller closes `kvm`).
fn boot(
    t: Timeline,
    kvm: &KvmHandle,
    config: VmConfig<'_>,
    linux_files: Option<&linux::Files>,
    jailed: Option<(RawFd, Pid)>,
) -> Result<VmOutcome, Error> {
    let VmConfig {
        guest,
        mem_mib,
        timeout,
        serial_stream,
        probe,
        hold,
        virtio,
        virtio_selftest,
        ..
    } = config;
    let device_fds = jail::DeviceFds::of(&virtio);
    let devices = machine::Devices {
        serial_stream,
        virtio,
        virtio_selftest,
    };
    let mut m = machine::setup(t, kvm, &guest, linux_files, mem_mib, devices)?;
    // Armed before the jail: the filter does not allow creating timers.
    let timer = machine::arm_for(&m, timeout)?;
    if let Some(jailed) = jailed {
        let hold_fd = hold.as_ref().map(crate::HoldGate::raw_fd);
        m.jail(kvm, jailed, hold_fd, &[], &device_fds)?;
    }
    let probe = probe.map(jail::Probe::attempt);
    let mode = hold.as_ref().map_or(vm::Hold::Answer, vm::Hold::Gate);
    // Neither mode parks, so the run ends at the exit event or an error.
    let result = m.run(timeout, mode, &timer).map(|_| ());
    drop(timer);
    m.finish(result, jailed.is_some(), probe)
}
