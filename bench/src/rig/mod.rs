//! `vmlab rig`: prove the VMM on hardware-style KVM (Intel VT-x or AMD SVM)
//! without hardware virtualisation, through nested virtualisation under
//! emulation.
//!
//! 1. L1 is an emulated PC with VT-x (Bochs, see [`bochs`]) or SVM (QEMU
//!    TCG, see [`qemu`]), booting the same Debian cloud kernel the VMM boots,
//!    with one uncompressed initramfs (see [`image`]) that holds busybox,
//!    that kernel's `irqbypass`, `kvm` and vendor module, `tun` and `loop`,
//!    this (static) `vmlab` binary and the L2 artifacts (the workload
//!    initramfs, also with the virtio modules for the I/O check).
//! 2. L1's `/init` waits for its TSC clocksource to be final, loads the
//!    modules, then runs each check (`vmlab run --backend vm-linux|vm-bare`,
//!    the Linux guest's I/O kernels over virtio (`vm-linux-io`), then
//!    `vmlab snapshot` of the Linux guest and two `vmlab run --restore`
//!    from it) and frames its output on a second serial port (see
//!    [`outcome`]).
//! 3. The host runs the emulator under a timeout (see [`proc`]), parses that
//!    channel and judges every check (see [`check`], [`report`]).
//!
//! Every time the rig reports is emulated time, and the KVM kind vmlab sees
//! inside L1 ("hardware ...") is relabelled as emulated: the rig proves
//! behaviour, never performance.
mod args;
mod bochs;
mod check;
mod cpu;
mod disk;
mod image;
mod needs;
mod outcome;
mod proc;
mod qemu;
mod report;
mod run;

pub use args::RigArgs;
pub use needs::doctor_section;
pub use run::main;
