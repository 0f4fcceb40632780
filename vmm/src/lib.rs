//! The tiny vmlab VMM: boots the bare vmlab guest or a Linux kernel with the
//! workload initramfs on KVM, and times every step.
//!
//! One call, [`run`], does everything on the calling thread:
//!
//! 1. open `/dev/kvm`, check the API version and capabilities, and tell
//!    hardware KVM from software nested KVM ([`kvm`]);
//! 2. create the VM (Linux: TSS area, in-kernel irqchip, PIT) and map guest
//!    RAM through vm-memory, untouched until used ([`memory`], `layout`);
//! 3. create the vCPU and load the guest ([`loader`]): the bare ELF with its
//!    boot info, or a bzImage / vmlinux with zero page, e820 map, command
//!    line, initramfs and ACPI tables;
//! 4. write the GDT and identity page tables and set the registers for 64-bit
//!    entry (PVH: 32-bit), plus CPUID, MSRs, LAPIC and FPU for Linux (`arch`, `vcpu`);
//! 5. run the vCPU ([`vm`]): port I/O goes to COM1, the vmlab protocol port,
//!    the i8042 reset line and the CMOS RTC, MMIO to the virtio devices
//!    ([`devices`]); ready, marks and exit
//!    are timestamped as they arrive; a timer (`timer`) enforces the timeout;
//! 6. tear everything down and report ([`VmOutcome`]).
//!
//! With [`VmConfig::jail`] on, steps 2 to 6 run in a forked child that jails
//! itself after step 4 ([`jail`]: namespaces, an empty root, an unprivileged
//! uid, no capabilities, a seccomp allow-list) and reports back.
//!
//! The vCPU run loop needs no helper thread, so nothing outlives the call.
//!
//! A guest started with `--hold` reads the hold port after its kernels
//! ([`hold`]): with [`VmConfig::hold`] the vCPU waits on a gate fd there;
//! [`held::HeldVm`] instead parks the VM at that point, without a thread,
//! so one process can keep thousands of held guests and release each one.
//!
//! [`snapshot`] takes the guest's (bare or Linux) state and memory at its snapshot
//! mark into one file and restores it into a fresh VM (the same run loop
//! and teardown as a cold boot).
#![deny(missing_docs)]

pub(crate) mod arch;
pub(crate) mod builder;
pub mod devices;
pub mod held;
pub mod hold;
pub mod jail;
pub mod jailed;
pub mod kvm;
pub(crate) mod layout;
pub mod loader;
pub(crate) mod machine;
pub mod memory;
pub mod snapshot;
pub(crate) mod timer;
pub(crate) mod vcpu;
pub mod vm;

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

pub use builder::run;
pub use devices::port::Unhandled;
pub use held::{HeldVm, Host};
pub use hold::HoldGate;
pub use jailed::JailedVm;
pub use kvm::KvmKind;
pub use snapshot::VmPool;
pub use vm::ExitCounts;

/// What to boot and how.
pub struct VmConfig<'a> {
    /// The guest.
    pub guest: Guest<'a>,
    /// Guest RAM in MiB.
    pub mem_mib: u64,
    /// Kill the guest after this long.
    pub timeout: Duration,
    /// Where to copy the guest's serial output as it arrives (it is captured
    /// either way). With [`jail`](Self::jail) on it is written by the jailed
    /// child, whose filter allows writes to stdout and stderr only.
    pub serial_stream: Option<Box<dyn Write + Send>>,
    /// Run the VMM in its jail ([`jail`]): a forked child in its own
    /// namespaces and empty root, unprivileged, without capabilities, under
    /// a seccomp allow-list. Off: in the calling process, as the caller.
    pub jail: bool,
    /// Test hook: a forbidden call to attempt after setup ([`jail::Probe`]).
    pub probe: Option<jail::Probe>,
    /// With [`jail`](Self::jail): cgroup files (v1 `tasks`, v2
    /// `cgroup.procs`) the jailed VMM writes itself into right after the
    /// fork, before guest memory exists, so its limits cover the guest's
    /// memory too. The caller creates and removes the cgroup.
    pub cgroup_tasks: Vec<PathBuf>,
    /// What a held guest (`--hold`) waits on at the hold port ([`hold`]):
    /// `None` answers at once (the guest does not wait). A jailed VMM keeps
    /// the gate's fd and may read it.
    pub hold: Option<HoldGate>,
    /// virtio-mmio devices to attach, in order: device i has its registers
    /// at [`devices::virtio::MMIO_BASE`] + i × [`devices::virtio::MMIO_SIZE`]
    /// and interrupt line [`devices::virtio::FIRST_IRQ`] + i. A Linux guest
    /// is told on its command line (`virtio_mmio.device=`), the bare guest
    /// in its boot info's virtio table. With [`jail`](Self::jail), the
    /// jail keeps their fds and its filter allows their I/O on those fds
    /// only ([`jail::DeviceFds`]).
    pub virtio: Vec<devices::virtio::DeviceConfig>,
    /// Ask the bare guest to run its virtio self-test instead of its
    /// kernels (a test hook: `VIRTIO_FLAG_SELFTEST` in the boot info).
    pub virtio_selftest: bool,
}

impl<'a> VmConfig<'a> {
    /// The bare guest `elf` with workload arguments `args` (space
    /// separated), `mem_mib` of RAM and `timeout`: in the calling process
    /// (no jail), no serial copy, no hold gate, no devices. Callers change
    /// the fields they need.
    pub fn bare(elf: &'a [u8], args: &str, mem_mib: u64, timeout: Duration) -> VmConfig<'a> {
        VmConfig {
            guest: Guest::Bare {
                elf,
                args: args.to_string(),
            },
            mem_mib,
            timeout,
            serial_stream: None,
            jail: false,
            probe: None,
            cgroup_tasks: Vec::new(),
            hold: None,
            virtio: Vec::new(),
            virtio_selftest: false,
        }
    }
}

/// The guest to boot.
pub enum Guest<'a> {
    /// The bare vmlab guest ELF, with its argument string (space separated).
    Bare {
        /// The ELF image.
        elf: &'a [u8],
        /// Arguments for the workload.
        args: String,
    },
    /// A Linux kernel with an initramfs.
    Linux(LinuxGuest),
}

/// A Linux guest.
#[derive(Clone, Debug, Default)]
pub struct LinuxGuest {
    /// bzImage or uncompressed vmlinux ELF.
    pub kernel: PathBuf,
    /// The initramfs (cpio, optionally compressed).
    pub initramfs: Option<PathBuf>,
    /// Extra kernel command-line words (before `--`).
    pub cmdline_extra: String,
    /// Arguments for init (after `--` on the command line).
    pub init_args: Vec<String>,
}

/// What one boot did.
#[derive(Clone, Debug)]
pub struct VmOutcome {
    /// The guest's exit code.
    pub exit_code: u8,
    /// The KVM kind that ran it.
    pub kvm_kind: KvmKind,
    /// Start to the ready event, ns.
    pub to_ready_ns: u64,
    /// Start to the exit event, ns.
    pub exit_event_ns: u64,
    /// Start to the VM torn down, ns (jailed: to the VMM process reaped).
    pub to_exit_ns: u64,
    /// Setup steps, each as (name, ns since start) at its end.
    pub phases: Vec<(&'static str, u64)>,
    /// Protocol marks (id, ns since start): the first [`vm::MAX_MARKS`].
    pub marks: Vec<(u32, u64)>,
    /// Marks sent after [`vm::MAX_MARKS`] were kept (counted, not kept).
    pub marks_dropped: u64,
    /// vCPU exits by kind.
    pub exits: ExitCounts,
    /// Port traffic no device handled.
    pub unhandled: Unhandled,
    /// What the guest wrote to COM1: the last
    /// [`devices::serial::CONSOLE_CAP`] bytes.
    pub console: Vec<u8>,
    /// Bytes written to COM1 before those kept (counted, not kept).
    pub console_dropped_bytes: u64,
    /// TSC frequency KVM gave the guest (kHz; 0 when unknown).
    pub tsc_khz: u32,
    /// Guest RAM in MiB.
    pub mem_mib: u64,
    /// How the guest was entered (bare ELF, Linux 64-bit boot protocol, Linux PVH).
    pub entry: &'static str,
    /// Whether the VMM ran in its jail.
    pub jailed: bool,
    /// What the [`VmConfig::probe`] call returned (it ran: not jailed).
    pub probe: Option<String>,
    /// The virtio devices and their counters (refused guest input included).
    pub virtio: Vec<devices::virtio::DeviceReport>,
}

/// Errors booting a guest.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Opening or checking KVM failed.
    #[error(transparent)]
    Kvm(#[from] kvm::Error),
    /// Guest memory could not be set up.
    #[error(transparent)]
    Memory(#[from] memory::Error),
    /// A VM-level ioctl failed.
    #[error("KVM could not {what}")]
    Vm {
        /// The step.
        what: &'static str,
        /// What KVM reported.
        #[source]
        source: kvm_ioctls::Error,
    },
    /// The page tables could not be written.
    #[error(transparent)]
    Paging(#[from] arch::x86_64::paging::Error),
    /// The GDT could not be written.
    #[error("cannot write the GDT into guest memory")]
    Gdt(#[source] vm_memory::GuestMemoryError),
    /// The bare guest could not be loaded.
    #[error(transparent)]
    Bare(#[from] loader::bare::Error),
    /// The Linux guest could not be loaded.
    #[error(transparent)]
    Linux(#[from] loader::linux::Error),
    /// The vCPU could not be set up.
    #[error(transparent)]
    Vcpu(#[from] vcpu::Error),
    /// The virtio devices could not be attached.
    #[error(transparent)]
    Virtio(#[from] devices::virtio::bus::Error),
    /// A snapshot could not be taken or restored.
    #[error(transparent)]
    Snapshot(#[from] snapshot::Error),
    /// The jail could not be set up, or the jailed VMM died.
    #[error(transparent)]
    Jail(#[from] jail::Error),
    /// A held VM could not be started as asked.
    #[error(transparent)]
    Held(#[from] held::Error),
    /// The guest ran and failed; its console output is kept.
    #[error("{failure}")]
    Guest {
        /// What went wrong.
        failure: vm::Error,
        /// What it wrote to COM1: the last [`devices::serial::CONSOLE_CAP`] bytes.
        console: Vec<u8>,
        /// Bytes written to COM1 before those kept (counted, not kept).
        console_dropped_bytes: u64,
        /// vCPU exits until it failed.
        exits: ExitCounts,
    },
}
