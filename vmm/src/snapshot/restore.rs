//! Restoring a snapshot: check the file, create the VM, map its memory
//! privately, set the state back and run.
use std::os::fd::AsRawFd;
use std::os::fd::RawFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::unistd::Pid;

use super::file::{self, Opened};
use super::touched::{self, Touched};
use super::{ioctls, Error};
use crate::builder;
use crate::devices::port::PortBus;
use crate::held::{self, HeldVm, Host};
use crate::kvm::KvmHandle;
use crate::machine::{self, Machine, Timeline};
use crate::{jail, memory, vcpu, vm, VmOutcome};

/// What to restore and how.
pub struct RestoreConfig {
    /// The snapshot file.
    pub path: PathBuf,
    /// The memory size the caller expects (MiB); another size in the
    /// snapshot is refused. `None`: the snapshot's.
    pub mem_mib: Option<u64>,
    /// Kill the guest after this long.
    pub timeout: Duration,
    /// Where to copy the guest's serial output after the restore.
    pub serial_stream: Option<Box<dyn std::io::Write + Send>>,
    /// Run the restored VMM in its jail (see [`crate::VmConfig::jail`]).
    pub jail: bool,
    /// With `jail`: cgroup files the jailed VMM joins (see
    /// [`crate::VmConfig::cgroup_tasks`]).
    pub cgroup_tasks: Vec<PathBuf>,
    /// Also read the whole memory image and check its checksum (costs a
    /// read of guest RAM; off, only the header and state are checked).
    pub verify_memory: bool,
}

impl RestoreConfig {
    /// Restores `path` at the snapshot's own memory size, unjailed, with
    /// the serial output kept in the outcome and only the header and state
    /// checked; a guest still running after `timeout` is killed.
    pub fn new(path: impl Into<PathBuf>, timeout: Duration) -> RestoreConfig {
        RestoreConfig {
            path: path.into(),
            mem_mib: None,
            timeout,
            serial_stream: None,
            jail: false,
            cgroup_tasks: Vec::new(),
            verify_memory: false,
        }
    }
}

/// Restores the snapshot of `config` and runs the guest from its snapshot
/// mark to its exit. `to_ready_ns` and the phases count from the call.
pub fn restore(config: RestoreConfig) -> Result<VmOutcome, crate::Error> {
    restore_measured(config).map(|(o, _)| o)
}

/// Opens and checks `config`'s snapshot: header, state, (memory image,)
/// the memory size asked for and the host's RAM.
pub(crate) fn open_checked(config: &RestoreConfig) -> Result<Opened, crate::Error> {
    let path = &config.path;
    let opened = file::open(path)?;
    if config.verify_memory {
        file::verify_memory(path, &opened)?;
    }
    let snap_mib = opened.state.config.mem_mib;
    if let Some(requested_mib) = config.mem_mib.filter(|&m| m != snap_mib) {
        return Err(Error::MemMismatch {
            path: path.clone(),
            snapshot_mib: snap_mib,
            requested_mib,
        }
        .into());
    }
    memory::check_size(snap_mib, builder::BARE_MIN_MIB, memory::host_mib())?;
    Ok(opened)
}

/// Refuses a snapshot taken on other CPU features than this host's.
pub(crate) fn check_cpu(path: &Path, o: &Opened) -> Result<(), Error> {
    let here = ioctls::host_cpuid();
    match ioctls::cpuid_difference(&o.state.host_cpuid, here) {
        Some(detail) => Err(Error::CpuMismatch {
            path: path.to_path_buf(),
            detail,
        }),
        None => Ok(()),
    }
}

/// [`restore`], also reporting how much guest memory the host backed at
/// the guest's exit ([`Touched`]; `None` in the jail, which cannot read
/// `/proc`).
pub fn restore_measured(
    config: RestoreConfig,
) -> Result<(VmOutcome, Option<Touched>), crate::Error> {
    let mut t = Timeline::new();
    t.first_exit_phase = true;
    let opened = open_checked(&config)?;
    t.mark("open");
    let kvm = KvmHandle::open(opened.state.config.irqchip)?;
    check_cpu(&config.path, &opened)?;
    t.mark("kvm_open");
    if config.jail {
        let start = t.start;
        let o = jail::run_in_child(start, move |report, parent| {
            t.mark("fork");
            if !config.cgroup_tasks.is_empty() {
                jail::join_cgroup(&config.cgroup_tasks)?;
                t.mark("cgroup");
            }
            resume(t, kvm, opened, config, Some((report, parent))).map(|(o, _)| o)
        })?;
        Ok((o, None))
    } else {
        resume(t, kvm, opened, config, None)
    }
}

/// [`restore`] in this process on `host`'s `/dev/kvm` (opened once for
/// many VMs): no `kvm_open` phase; `cpu_check` instead. Unjailed only.
pub fn restore_on(host: &Host, config: RestoreConfig) -> Result<VmOutcome, crate::Error> {
    let timeout = config.timeout;
    let mut m = build_on(host, config)?;
    let timer = machine::arm(timeout)?;
    let result = m.run(timeout, vm::Hold::Answer, &timer).map(|_| ());
    drop(timer);
    m.finish(result, false, None)
}

/// [`restore_on`] for a snapshot of a guest started with `--hold`: runs
/// the restored guest until it waits at its hold port (after ready and its
/// kernels) and returns it parked there, as [`HeldVm::start`] does after a
/// cold boot; its `to_ready_ns` counts from this call.
pub fn restore_held(host: &Host, config: RestoreConfig) -> Result<HeldVm, crate::Error> {
    let timeout = config.timeout;
    let mut m = build_on(host, config)?;
    let timer = machine::arm(timeout)?;
    let stop = m.run(timeout, vm::Hold::Park, &timer);
    drop(timer);
    match stop {
        Ok(vm::Stop::Held) => Ok(HeldVm::parked(m, timeout)),
        Ok(vm::Stop::Exited | vm::Stop::Snapshot) => Err(held::Error::NotHeld {
            code: m.exit_code(),
        }
        .into()),
        Err(failure) => Err(m
            .finish(Err(failure), false, None)
            .expect_err("a failed run is an error")),
    }
}

/// The checks and [`build`] of a restore on a shared `/dev/kvm`.
fn build_on(host: &Host, config: RestoreConfig) -> Result<Machine, crate::Error> {
    if config.jail {
        return Err(Error::InProcess(
            "a restore on a shared /dev/kvm runs in the calling process and cannot be jailed",
        )
        .into());
    }
    let mut t = Timeline::new();
    t.first_exit_phase = true;
    let opened = open_checked(&config)?;
    t.mark("open");
    let kvm = host.handle();
    if opened.state.config.irqchip {
        kvm.check_caps(true)?;
    }
    check_cpu(&config.path, &opened)?;
    t.mark("cpu_check");
    build(t, kvm, &opened, &config.path, config.serial_stream)
}

/// Creates the VM on `kvm`, maps `o`'s memory image privately, creates the
/// vCPU and sets the snapshot's state: a machine ready for its first
/// `KVM_RUN` (phases `vm_create`, `map`, `load_state`).
pub(crate) fn build(
    mut t: Timeline,
    kvm: &KvmHandle,
    o: &Opened,
    path: &Path,
    serial_stream: Option<Box<dyn std::io::Write + Send>>,
) -> Result<Machine, crate::Error> {
    let s = &o.state;
    let vm = machine::create_vm(kvm, s.config.irqchip)?;
    t.mark("vm_create");
    let mem = file::map(path, o)?;
    memory::register(&vm, &mem)?;
    t.mark("map");
    let mut vcpu = vcpu::create(&vm)?;
    let tsc_khz = vcpu::tsc_khz(&vm, &vcpu);
    if tsc_khz != s.config.tsc_khz && vcpu.set_tsc_khz(s.config.tsc_khz).is_err() {
        return Err(Error::CpuMismatch {
            path: path.to_path_buf(),
            detail: format!(
                "a TSC of {} kHz, this host's KVM gives {tsc_khz} kHz and cannot set it",
                s.config.tsc_khz
            ),
        }
        .into());
    }
    ioctls::apply_vm(&vm, &s.vm)?;
    ioctls::apply_vcpu(&mut vcpu, &s.vcpu, ioctls::can_sync_regs(&kvm.kvm))?;
    let malformed = |what| Error::Malformed {
        path: path.to_path_buf(),
        what,
    };
    let bus = PortBus::from_state(&s.devices, serial_stream)
        .ok_or_else(|| malformed("serial FIFO longer than a UART's"))?;
    t.mark("load_state");
    let entry = crate::jail::wire::known_entry(&s.config.entry)
        .ok_or_else(|| malformed("unknown entry label"))?;
    Ok(Machine {
        t,
        vcpu,
        vm,
        mem,
        kvm: None,
        bus,
        ran: vm::Ran::default(),
        kvm_kind: kvm.kind,
        tsc_khz: s.config.tsc_khz,
        mem_mib: s.config.mem_mib,
        entry,
        is_linux: s.config.irqchip,
    })
}

/// Everything after the checks: VM, memory, state, (jail,) run, tear down.
fn resume(
    t: Timeline,
    kvm: KvmHandle,
    o: Opened,
    config: RestoreConfig,
    jailed: Option<(RawFd, Pid)>,
) -> Result<(VmOutcome, Option<Touched>), crate::Error> {
    let mut m = build(t, &kvm, &o, &config.path, config.serial_stream)?;
    // Armed before the jail: the filter does not allow creating timers.
    let timer = machine::arm(config.timeout)?;
    if let Some(jailed) = jailed {
        // The file stays open: guest memory is mapped from it.
        m.jail(
            &kvm,
            jailed,
            None,
            &[o.file.as_raw_fd()],
            &jail::DeviceFds::default(),
        )?;
    }
    m.kvm = Some(kvm);
    let result = m.run(config.timeout, vm::Hold::Answer, &timer).map(|_| ());
    drop(timer);
    drop(o);
    let touched = jailed.is_none().then(|| touched::measure(&m.mem)).flatten();
    let outcome = m.finish(result, jailed.is_some(), None)?;
    Ok((outcome, touched))
}
