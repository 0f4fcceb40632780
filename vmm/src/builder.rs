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
use vmlab_workload::bootinfo::VIRTIO_FLAG_SELFTEST;

use crate::arch::x86_64::{gdt, paging, regs};
use crate::devices::port::PortBus;
use crate::devices::virtio::bus::MmioBus;
use crate::devices::virtio::MMIO_BASE;
use crate::kvm::KvmHandle;
use crate::loader::{bare, linux};
use crate::timer::KickTimer;
use crate::{jail, layout, memory, vcpu, vm, Error, Guest, VmConfig, VmOutcome};

/// Smallest memory for the bare guest (its image lives at 1 MiB).
pub(crate) const BARE_MIN_MIB: u64 = 2;
/// Smallest memory for a Linux guest.
pub(crate) const LINUX_MIN_MIB: u64 = 32;

/// Timestamps of named steps since one start.
struct Timeline {
    start: Instant,
    phases: Vec<(&'static str, u64)>,
}

impl Timeline {
    fn mark(&mut self, name: &'static str) {
        self.phases
            .push((name, self.start.elapsed().as_nanos() as u64));
    }
}

fn vm_step<T>(what: &'static str, r: Result<T, kvm_ioctls::Error>) -> Result<T, Error> {
    r.map_err(|source| Error::Vm { what, source })
}

/// Creates the VM; a Linux guest also gets KVM's TSS area, the in-kernel
/// irqchip (PIC, IOAPIC, LAPIC) and the PIT.
fn create_vm(kvm: &KvmHandle, linux: bool) -> Result<VmFd, Error> {
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
    let mut t = Timeline {
        start: Instant::now(),
        phases: Vec::with_capacity(12),
    };
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
    if config.jail && !config.virtio.is_empty() {
        return Err(Error::VirtioInJail);
    }

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

/// Everything after opening KVM: create, load, (jail,) run, tear down.
fn boot(
    mut t: Timeline,
    kvm: KvmHandle,
    mut config: VmConfig<'_>,
    linux_files: Option<&linux::Files>,
    jailed: Option<(RawFd, Pid)>,
) -> Result<VmOutcome, Error> {
    let is_linux = linux_files.is_some();
    let virtio = MmioBus::new(std::mem::take(&mut config.virtio))?;
    let vm = create_vm(&kvm, is_linux)?;
    t.mark("vm_create");
    let mem = memory::create(config.mem_mib)?;
    memory::register(&vm, &mem)?;
    t.mark("memory");
    let mut vcpu = vcpu::create(&vm)?;
    let tsc_khz = vcpu::tsc_khz(&vcpu);
    t.mark("vcpu_create");

    let mem_bytes = memory::bytes(config.mem_mib).ok_or(memory::Error::BeyondLimit {
        mib: config.mem_mib,
        max_mib: memory::MAX_MIB,
    })?;
    let low_end = layout::low_mem_end(mem_bytes);
    let (mode, regs, entry_kind) = match (&config.guest, linux_files) {
        (Guest::Bare { elf, args }, _) => {
            let loaded = bare::load(&mem, mem_bytes, low_end, elf, args, tsc_khz)?;
            t.mark("load");
            let cr3 = paging::write_identity(&mem, low_end)?;
            if !virtio.is_empty() {
                let flags = if config.virtio_selftest {
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
            let entry = linux::load(&mem, mem_bytes, files, &l)?;
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

    let mut bus = PortBus::new(config.serial_stream);
    bus.virtio = virtio;
    // Armed before the jail: the filter does not allow creating timers.
    let timer = KickTimer::arm(config.timeout).map_err(|e| Error::Guest {
        failure: vm::Error::Timer(e),
        console: Vec::new(),
        console_dropped_bytes: 0,
        exits: vm::ExitCounts::default(),
    })?;
    if let Some((report, parent)) = jailed {
        let keep = [kvm.kvm.as_raw_fd(), vm.as_raw_fd(), vcpu.as_raw_fd()];
        jail::enter(&keep, report, parent)?;
        t.mark("jail");
    }
    let probe = config.probe.map(jail::Probe::attempt);
    let params = vm::RunParams {
        start: t.start,
        timeout: config.timeout,
        irqchip: is_linux,
    };
    let mut ran = vm::Ran::default();
    let result = vm::run(&vm, &mut vcpu, &mem, &mut bus, &params, &timer, &mut ran);

    // Tear down in order: timer, vCPU, VM, memory, KVM.
    let kvm_kind = kvm.kind;
    drop(timer);
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
    let ready = ran.ready.expect("run() returns Ok only after ready");
    // The last step: from the end of setup through the vCPU's entry and the
    // guest's own code to its ready event, so that the steps add up to
    // `to_ready_ns`.
    let mut phases = t.phases;
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
        mem_mib: config.mem_mib,
        entry: entry_kind,
        jailed: jailed.is_some(),
        probe,
        virtio,
    })
}
