//! One VM between setup and teardown: created, loaded and set up
//! ([`setup`]), run ([`Machine::run`], again after a hold), then torn down
//! into its outcome ([`Machine::finish`]). A snapshot's restore builds a
//! [`Machine`] from the mapped image and loaded state instead of [`setup`].
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};

use kvm_bindings::{kvm_pit_config, KVM_PIT_SPEAKER_DUMMY};
use kvm_ioctls::{VcpuFd, VmFd};
use nix::unistd::Pid;

use crate::arch::x86_64::{gdt, paging, regs};
use crate::devices::port::PortBus;
use crate::devices::virtio::bus::MmioBus;
use crate::devices::virtio::{DeviceConfig, MMIO_BASE};
use crate::kvm::{KvmHandle, KvmKind};
use crate::loader::{bare, linux};
use crate::memory::GuestMemoryMmap;
use crate::timer::KickTimer;
use crate::{jail, layout, memory, vcpu, vm, Error, Guest, VmOutcome};
use vmlab_workload::bootinfo::VIRTIO_FLAG_SELFTEST;

/// How the bare guest is entered (the report's `entry`).
pub(crate) const BARE_ENTRY: &str = "bare ELF, 64-bit";

/// Timestamps of named steps since one start.
pub(crate) struct Timeline {
    /// The origin of every timestamp.
    pub start: Instant,
    phases: Vec<(&'static str, u64)>,
    /// Whether the first `KVM_RUN` (to its first exit) gets a phase of its
    /// own (restores).
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

/// A VM ready to run, or parked at its hold. Fields drop in order: vCPU,
/// VM, guest memory, then the KVM fd if this machine owns one. Built by
/// [`setup`], or from a snapshot's memory and state (`crate::snapshot`).
pub(crate) struct Machine {
    pub t: Timeline,
    pub vcpu: VcpuFd,
    pub vm: VmFd,
    pub mem: GuestMemoryMmap,
    /// Owned by a one-shot run; a shared one (held VMs) stays with its owner.
    pub kvm: Option<KvmHandle>,
    pub bus: PortBus,
    pub ran: vm::Ran,
    pub kvm_kind: KvmKind,
    pub tsc_khz: u32,
    pub mem_mib: u64,
    pub entry: &'static str,
    pub is_linux: bool,
}

/// The devices a machine gets besides the port devices.
pub(crate) struct Devices {
    /// Where COM1's output is copied as it arrives.
    pub serial_stream: Option<Box<dyn std::io::Write + Send>>,
    /// The virtio devices ([`crate::VmConfig::virtio`]).
    pub virtio: Vec<DeviceConfig>,
    /// The bare guest's virtio self-test flag.
    pub virtio_selftest: bool,
}

/// Creates the VM on `kvm`, maps and loads the guest, sets the vCPU up.
pub(crate) fn setup(
    mut t: Timeline,
    kvm: &KvmHandle,
    guest: &Guest<'_>,
    linux_files: Option<&linux::Files>,
    mem_mib: u64,
    devices: Devices,
) -> Result<Machine, Error> {
    let is_linux = linux_files.is_some();
    let virtio = MmioBus::new(devices.virtio)?;
    let vm = create_vm(kvm, is_linux)?;
    t.mark("vm_create");
    let mem = memory::create(mem_mib)?;
    memory::register(&vm, &mem)?;
    t.mark("memory");
    let vcpu = vcpu::create(&vm)?;
    let tsc_khz = vcpu::tsc_khz(&vm, &vcpu);
    t.mark("vcpu_create");

    let mem_bytes = memory::bytes(mem_mib).ok_or(memory::Error::BeyondLimit {
        mib: mem_mib,
        max_mib: memory::MAX_MIB,
    })?;
    let low_end = layout::low_mem_end(mem_bytes);
    let (mode, regs, entry) = match (guest, linux_files) {
        (Guest::Bare { elf, args }, _) => {
            let loaded = bare::load(&mem, mem_bytes, low_end, elf, args, tsc_khz)?;
            t.mark("load");
            let cr3 = paging::write_identity(&mem, low_end)?;
            if !virtio.is_empty() {
                let flags = if devices.virtio_selftest {
                    VIRTIO_FLAG_SELFTEST
                } else {
                    0
                };
                bare::write_virtio_table(&mem, &virtio.entries(), flags)?;
                paging::map_mmio(&mem, MMIO_BASE)?;
            }
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
            let mut l = l.clone();
            if !virtio.is_empty() {
                l.cmdline_extra = format!("{} {}", l.cmdline_extra, virtio.cmdline());
            }
            let entry = linux::load(&mem, mem_bytes, files, &l, &virtio.acpi_devices())?;
            t.mark("load");
            gdt::write(&mem, layout::GDT_GPA).map_err(Error::Gdt)?;
            vcpu::set_linux_state(&kvm.kvm, &vcpu)?;
            let (mode, r) = entry.registers(&mem, low_end)?;
            (mode, r, entry.label())
        }
        (Guest::Linux(_), None) => unreachable!("Linux files are read before setup"),
    };
    vcpu::set_entry(&vcpu, mode, &regs)?;
    t.mark("vcpu_setup");
    let mut bus = PortBus::new(devices.serial_stream);
    bus.virtio = virtio;
    Ok(Machine {
        t,
        vcpu,
        vm,
        mem,
        kvm: None,
        bus,
        ran: vm::Ran::default(),
        kvm_kind: kvm.kind,
        tsc_khz,
        mem_mib,
        entry,
        is_linux,
    })
}

/// How often the run loop of a Linux guest with a network device looks
/// for frames from the TAP while the guest does not exit (idle in `hlt`,
/// which the in-kernel irqchip handles): a frame waits at most this long
/// before its interrupt.
pub(crate) const RX_TICK: Duration = Duration::from_millis(1);

/// Arms the timeout for the calling thread; a failure is a guest failure
/// with nothing run yet.
pub(crate) fn arm(timeout: Duration) -> Result<KickTimer, Error> {
    arm_timer(KickTimer::arm(timeout))
}

/// Arms the timeout for the calling thread to run `m`: one that also ticks
/// every [`RX_TICK`] when the guest has the in-kernel irqchip and a device
/// with unprompted work (a network device), so that frames reach a guest
/// that idles without exits.
pub(crate) fn arm_for(m: &Machine, timeout: Duration) -> Result<KickTimer, Error> {
    if m.is_linux && m.bus.virtio.has_unprompted_work() {
        arm_timer(KickTimer::arm_ticking(timeout, RX_TICK))
    } else {
        arm(timeout)
    }
}

fn arm_timer(timer: Result<KickTimer, crate::timer::Error>) -> Result<KickTimer, Error> {
    timer.map_err(|e| Error::Guest {
        failure: vm::Error::Timer(e),
        console: Vec::new(),
        console_dropped_bytes: 0,
        exits: vm::ExitCounts::default(),
    })
}

impl Machine {
    /// Runs the vCPU (on the calling thread, which armed `timer` for
    /// `timeout`) until the guest exits, is parked at its hold, or fails.
    pub(crate) fn run(
        &mut self,
        timeout: Duration,
        hold: vm::Hold<'_>,
        timer: &KickTimer,
    ) -> Result<vm::Stop, vm::Error> {
        self.run_until(timeout, hold, false, timer)
    }

    /// [`Machine::run`], stopping at the snapshot mark when
    /// `stop_at_snapshot` ([`vm::Stop::Snapshot`]).
    pub(crate) fn run_until(
        &mut self,
        timeout: Duration,
        hold: vm::Hold<'_>,
        stop_at_snapshot: bool,
        timer: &KickTimer,
    ) -> Result<vm::Stop, vm::Error> {
        let params = vm::RunParams {
            start: self.t.start,
            timeout,
            irqchip: self.is_linux,
            hold,
            stop_at_snapshot,
        };
        vm::run(
            &self.vm,
            &mut self.vcpu,
            &self.mem,
            &mut self.bus,
            &params,
            timer,
            &mut self.ran,
        )
    }

    /// Jails the calling process keeping the fds of `kvm`, this VM, its
    /// vCPU, `hold_fd` and `extra`, then marks the `jail` phase.
    pub(crate) fn jail(
        &mut self,
        kvm: &KvmHandle,
        (report, parent): (RawFd, Pid),
        hold_fd: Option<RawFd>,
        extra: &[RawFd],
        devices: &jail::DeviceFds,
    ) -> Result<(), Error> {
        let mut keep = vec![
            kvm.kvm.as_raw_fd(),
            self.vm.as_raw_fd(),
            self.vcpu.as_raw_fd(),
        ];
        keep.extend(hold_fd);
        keep.extend_from_slice(extra);
        jail::enter(&keep, report, parent, hold_fd, devices)?;
        self.t.mark("jail");
        Ok(())
    }

    /// Whether the guest signalled ready, and when (since start).
    pub(crate) fn ready(&self) -> Option<Duration> {
        self.ran.ready
    }

    /// When the guest first read the hold port (since start).
    pub(crate) fn held(&self) -> Option<Duration> {
        self.ran.held
    }

    /// The guest's exit code (after an exit event).
    pub(crate) fn exit_code(&self) -> u8 {
        self.ran.exit_code
    }

    /// Tears the VM down (vCPU, VM, memory, owned KVM fd) and reports how
    /// `result`, the run's, went.
    pub(crate) fn finish(
        self,
        result: Result<(), vm::Error>,
        jailed: bool,
        probe: Option<String>,
    ) -> Result<VmOutcome, Error> {
        let Machine {
            t,
            vcpu,
            vm,
            mem,
            kvm,
            mut bus,
            ran,
            kvm_kind,
            tsc_khz,
            mem_mib,
            entry,
            ..
        } = self;
        drop(vcpu);
        drop(vm);
        drop(mem);
        drop(kvm);
        let gone = t.start.elapsed();
        let unhandled = bus.unhandled;
        let virtio = bus.virtio.reports();
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
        let ready = ran.ready.expect("a run ends well only after ready");
        // The last step: from the end of setup through the vCPU's entry and
        // the guest's own code to its ready event, so that the steps add up
        // to `to_ready_ns`.
        let mut phases = t.phases;
        // A restore times its first `KVM_RUN` (to its first exit) apart.
        if let Some(first) = ran.first_exit.filter(|_| t.first_exit_phase) {
            phases.push(("first_exit", ns(first.min(ready))));
        }
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
            virtio,
        })
    }
}
