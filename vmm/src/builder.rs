//! Ordered construction of one VM, a host timestamp after every step, then
//! the run loop and teardown.
//!
//! Steps: (read kernel and initramfs) → open KVM → create VM (TSS, irqchip,
//! PIT for Linux) → guest memory → vCPU → load guest (ELF + boot info, or
//! kernel + zero page + command line + initramfs + ACPI) → GDT and page
//! tables → registers → (jail) → run → tear down (vCPU, VM, memory, KVM
//! fd). With the jail on, everything from creating the VM runs in a forked
//! child (`fork` is a phase of its own, so is `jail`).
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};

use kvm_bindings::{kvm_pit_config, KVM_PIT_SPEAKER_DUMMY};
use kvm_ioctls::VmFd;
use nix::unistd::Pid;

use crate::arch::x86_64::{gdt, paging, regs};
use crate::devices::port::PortBus;
use crate::kvm::KvmHandle;
use crate::loader::{bare, linux};
use crate::timer::KickTimer;
use crate::{jail, layout, memory, vcpu, vm, Error, Guest, VmConfig, VmOutcome};

/// Smallest memory for the bare guest (its image lives at 1 MiB).
pub(crate) const BARE_MIN_MIB: u64 = 2;
/// Smallest memory for a Linux guest.
pub(crate) const LINUX_MIN_MIB: u64 = 32;

/// Timestamps of named steps since one start.
pub(crate) struct Timeline {
    pub start: Instant,
    pub phases: Vec<(&'static str, u64)>,
    /// Whether the first `KVM_RUN` gets a phase of its own (restores).
    pub first_exit_phase: bool,
}

impl Timeline {
    /// A timeline starting now.
    pub(crate) fn new() -> Timeline {
        Timeline {
            start: Instant::now(),
            phases: Vec::with_capacity(12),
            first_exit_phase: false,
        }
    }

    /// Records the end of step `name`.
    pub(crate) fn mark(&mut self, name: &'static str) {
        self.phases
            .push((name, self.start.elapsed().as_nanos() as u64));
    }
}

fn vm_step<T>(what: &'static str, r: Result<T, kvm_ioctls::Error>) -> Result<T, Error> {
    r.map_err(|source| Error::Vm { what, source })
}

/// Creates the VM; a Linux guest also gets KVM's TSS area, the in-kernel
/// irqchip (PIC, IOAPIC, LAPIC) and the PIT.
pub(crate) fn create_vm(kvm: &KvmHandle, linux: bool) -> Result<VmFd, Error> {
    let vm = vm_step("create the VM", kvm.kvm.create_vm())?;
    if linux {
        vm_step(
            "set the TSS address",
            vm.set_tss_address(layout::KVM_TSS_GPA as usize),
        )?;
        vm_step("create the in-kernel irqchip", vm.create_irq_chip())?;
        let pit = kvm_pit_config {
            flags: KVM_PIT_SPEAKER_DUMMY,
            ..Default::default()
        };
        vm_step("create the PIT", vm.create_pit2(pit))?;
    }
    Ok(vm)
}

/// How the bare guest is entered (the report's `entry`).
pub(crate) const BARE_ENTRY: &str = "bare ELF, 64-bit";

/// Boots the configured guest once and returns what it did: in this
/// process, or with [`VmConfig::jail`] in a forked, jailed child ([`jail`]).
pub fn run(config: VmConfig<'_>) -> Result<VmOutcome, Error> {
    let mut t = Timeline::new();
    let linux_files = match &config.guest {
        Guest::Linux(l) => {
            let files = linux::Files::read(l)?;
            t.mark("read_files");
            Some(files)
        }
        Guest::Bare { .. } => None,
    };
    let min_mib = if linux_files.is_some() {
        LINUX_MIN_MIB
    } else {
        BARE_MIN_MIB
    };
    memory::check_size(config.mem_mib, min_mib, memory::host_mib())?;

    let kvm = KvmHandle::open(linux_files.is_some())?;
    t.mark("kvm_open");
    if config.jail {
        let start = t.start;
        jail::run_in_child(start, move |report, parent| {
            t.mark("fork");
            if !config.cgroup_tasks.is_empty() {
                jail::join_cgroup(&config.cgroup_tasks)?;
                t.mark("cgroup");
            }
            boot(t, kvm, config, linux_files.as_ref(), Some((report, parent)))
        })
    } else {
        boot(t, kvm, config, linux_files.as_ref(), None)
    }
}

/// A VM set up to run: KVM, the VM, its memory and its vCPU.
pub(crate) struct Machine {
    pub kvm: KvmHandle,
    pub vm: VmFd,
    pub vcpu: kvm_ioctls::VcpuFd,
    pub mem: memory::GuestMemoryMmap,
    pub tsc_khz: u32,
    pub entry: &'static str,
    pub irqchip: bool,
    pub mem_mib: u64,
}

/// Everything after opening KVM: create, load, (jail,) run, tear down.
fn boot(
    mut t: Timeline,
    kvm: KvmHandle,
    config: VmConfig<'_>,
    linux_files: Option<&linux::Files>,
    jailed: Option<(RawFd, Pid)>,
) -> Result<VmOutcome, Error> {
    let m = setup(&mut t, kvm, &config.guest, config.mem_mib, linux_files)?;
    let bus = PortBus::new(config.serial_stream);
    let ctl = Control {
        timeout: config.timeout,
        jailed,
        keep: Vec::new(),
        probe: config.probe,
        stop_at_snapshot: false,
    };
    let (m, bus, result, ran, probe) = drive(&mut t, m, bus, &ctl)?;
    report(t, m, bus, result.map(|_| ()), ran, jailed.is_some(), probe)
}

/// Creates the VM, its memory and vCPU, loads the guest and sets the
/// registers for its entry.
pub(crate) fn setup(
    t: &mut Timeline,
    kvm: KvmHandle,
    guest: &Guest<'_>,
    mem_mib: u64,
    linux_files: Option<&linux::Files>,
) -> Result<Machine, Error> {
    let is_linux = linux_files.is_some();
    let vm = create_vm(&kvm, is_linux)?;
    t.mark("vm_create");
    let mem = memory::create(mem_mib)?;
    memory::register(&vm, &mem)?;
    t.mark("memory");
    let vcpu = vcpu::create(&vm)?;
    let tsc_khz = vcpu::tsc_khz(&vcpu);
    t.mark("vcpu_create");

    let mem_bytes = memory::bytes(mem_mib).ok_or(memory::Error::BeyondLimit {
        mib: mem_mib,
        max_mib: memory::MAX_MIB,
    })?;
    let low_end = layout::low_mem_end(mem_bytes);
    let (mode, regs, entry_kind) = match (guest, linux_files) {
        (Guest::Bare { elf, args }, _) => {
            let loaded = bare::load(&mem, mem_bytes, low_end, elf, args, tsc_khz)?;
            t.mark("load");
            let cr3 = paging::write_identity(&mem, low_end)?;
            gdt::write(&mem, layout::GDT_GPA).map_err(Error::Gdt)?;
            // Enter `_start` as if called: the System V ABI wants rsp to be
            // 8 mod 16 at a function's first instruction (the return address
            // slot), and compiled code relies on it for aligned SSE stores
            // (`movaps`), which fault on hardware when misaligned.
            let r = regs::regs(
                loaded.entry,
                layout::STACK_TOP_GPA - 8,
                layout::BOOTINFO_GPA,
                0,
                0,
            );
            (regs::EntryMode::Long { cr3 }, r, BARE_ENTRY)
        }
        (Guest::Linux(l), Some(files)) => {
            let entry = linux::load(&mem, mem_bytes, files, l)?;
            t.mark("load");
            gdt::write(&mem, layout::GDT_GPA).map_err(Error::Gdt)?;
            vcpu::set_linux_state(&kvm.kvm, &vcpu)?;
            let (mode, r) = entry.registers(&mem, low_end)?;
            (mode, r, entry.label())
        }
        (Guest::Linux(_), None) => unreachable!("Linux files are read above"),
    };
    vcpu::set_entry(&vcpu, mode, &regs)?;
    t.mark("vcpu_setup");
    Ok(Machine {
        kvm,
        vm,
        vcpu,
        mem,
        tsc_khz,
        entry: entry_kind,
        irqchip: is_linux,
        mem_mib,
    })
}

/// How to run a set-up machine.
pub(crate) struct Control {
    pub timeout: Duration,
    /// Jail first (the report pipe and the parent).
    pub jailed: Option<(RawFd, Pid)>,
    /// Further fds the jail keeps open (a snapshot file under guest memory).
    pub keep: Vec<RawFd>,
    pub probe: Option<jail::Probe>,
    /// Stop at the snapshot mark instead of running to the exit event.
    pub stop_at_snapshot: bool,
}

/// What [`drive`] hands back: the machine, its devices, how the run ended,
/// what it saw, and the probe's result.
pub(crate) type Driven = (
    Machine,
    PortBus,
    Result<vm::Stop, vm::Error>,
    vm::Ran,
    Option<String>,
);

/// Arms the timeout, jails (when asked) and runs the vCPU.
pub(crate) fn drive(
    t: &mut Timeline,
    mut m: Machine,
    bus: PortBus,
    ctl: &Control,
) -> Result<Driven, Error> {
    let mut bus = bus;
    // Armed before the jail: the filter does not allow creating timers.
    let timer = KickTimer::arm(ctl.timeout).map_err(|e| Error::Guest {
        failure: vm::Error::Timer(e),
        console: Vec::new(),
        console_dropped_bytes: 0,
        exits: vm::ExitCounts::default(),
    })?;
    if let Some((report, parent)) = ctl.jailed {
        let mut keep = vec![m.kvm.kvm.as_raw_fd(), m.vm.as_raw_fd(), m.vcpu.as_raw_fd()];
        keep.extend_from_slice(&ctl.keep);
        jail::enter(&keep, report, parent)?;
        t.mark("jail");
    }
    let probe = ctl.probe.map(jail::Probe::attempt);
    let params = vm::RunParams {
        start: t.start,
        timeout: ctl.timeout,
        irqchip: m.irqchip,
        stop_at_snapshot: ctl.stop_at_snapshot,
    };
    let mut ran = vm::Ran::default();
    let result = vm::run(
        &m.vm,
        &mut m.vcpu,
        &m.mem,
        &mut bus,
        &params,
        &timer,
        &mut ran,
    );
    drop(timer);
    Ok((m, bus, result, ran, probe))
}

/// Tears the machine down and reports the run.
pub(crate) fn report(
    t: Timeline,
    m: Machine,
    bus: PortBus,
    result: Result<(), vm::Error>,
    ran: vm::Ran,
    jailed: bool,
    probe: Option<String>,
) -> Result<VmOutcome, Error> {
    let Machine {
        kvm,
        vm,
        vcpu,
        mem,
        tsc_khz,
        entry,
        mem_mib,
        ..
    } = m;
    // Tear down in order: vCPU, VM, memory, KVM (the timer went first).
    let kvm_kind = kvm.kind;
    drop(vcpu);
    drop(vm);
    drop(mem);
    drop(kvm);
    let gone = t.start.elapsed();
    let unhandled = bus.unhandled;
    let (console, console_dropped_bytes) = bus.serial.into_output();
    if let Err(failure) = result {
        return Err(Error::Guest {
            failure,
            console,
            console_dropped_bytes,
            exits: ran.exits,
        });
    }
    let ns = |d: Duration| d.as_nanos() as u64;
    let ready = ran.ready.expect("run() returns Ok only after ready");
    let mut phases = t.phases;
    // A restore times its first `KVM_RUN` (to its first exit) apart.
    if let Some(first) = ran.first_exit.filter(|_| t.first_exit_phase) {
        phases.push(("first_exit", ns(first.min(ready))));
    }
    // The last step: from the end of setup through the vCPU's entry and the
    // guest's own code to its ready event, so that the steps add up to
    // `to_ready_ns`.
    phases.push(("guest_to_ready", ns(ready)));
    Ok(VmOutcome {
        exit_code: ran.exit_code,
        kvm_kind,
        to_ready_ns: ns(ready),
        exit_event_ns: ns(ran.exit),
        to_exit_ns: ns(gone),
        phases,
        marks: ran.marks.iter().map(|&(id, d)| (id, ns(d))).collect(),
        marks_dropped: ran.marks_dropped,
        exits: ran.exits,
        unhandled,
        console,
        console_dropped_bytes,
        tsc_khz,
        mem_mib,
        entry,
        jailed,
        probe,
    })
}
