//! The command line, where the initramfs goes, and how the vCPU enters
//! the kernel.
use kvm_bindings::kvm_regs;
use linux_loader::cmdline::Cmdline;

use super::Error;
use crate::arch::x86_64::{paging, regs};
use crate::layout::{CMDLINE_MAX, PVH_INFO_GPA, ZERO_PAGE_GPA};
use crate::memory::GuestMemoryMmap;
use crate::LinuxGuest;

/// The command line every Linux guest gets (before the caller's words).
const BASE_CMDLINE: &str = "console=ttyS0 reboot=k panic=-1 pci=off quiet \
     i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd tsc=reliable VMLAB_PORT=1";

/// What keeps a guest without devices from loading kernel modules (it has
/// none to load).
const NO_MODULES: &str = "nomodule";

/// The full command line for `guest`; `modules`: it may load kernel
/// modules (it has virtio devices, whose drivers its initramfs carries),
/// else `nomodule` forbids it.
pub(crate) fn cmdline(guest: &LinuxGuest, modules: bool) -> Result<Cmdline, Error> {
    let mut c = Cmdline::new(CMDLINE_MAX).map_err(Error::Cmdline)?;
    c.insert_str(BASE_CMDLINE).map_err(Error::Cmdline)?;
    if !modules {
        c.insert_str(NO_MODULES).map_err(Error::Cmdline)?;
    }
    if !guest.cmdline_extra.trim().is_empty() {
        c.insert_str(guest.cmdline_extra.trim())
            .map_err(Error::Cmdline)?;
    }
    if !guest.init_args.is_empty() {
        c.insert_init_args(guest.init_args.join(" "))
            .map_err(Error::Cmdline)?;
    }
    Ok(c)
}

/// Where the initramfs goes: page aligned at the top of low memory, above `floor`.
pub(crate) fn initramfs_addr(size: u64, floor: u64, top: u64) -> Option<u64> {
    let addr = top.checked_sub(size)? & !0xfff;
    (addr >= floor).then_some(addr)
}

/// How the vCPU enters the kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Entry {
    /// 64-bit boot protocol: long mode, `rsi` = zero page.
    Long64 {
        /// Entry point.
        rip: u64,
    },
    /// PVH: 32-bit protected mode, `rbx` = start info.
    Pvh {
        /// Entry point.
        rip: u64,
    },
}

impl Entry {
    /// A short label for reports.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Entry::Long64 { .. } => "Linux 64-bit boot protocol",
            Entry::Pvh { .. } => "Linux PVH (32-bit)",
        }
    }

    /// Writes page tables if needed and returns the entry mode and registers.
    pub(crate) fn registers(
        self,
        mem: &GuestMemoryMmap,
        low_end: u64,
    ) -> Result<(regs::EntryMode, kvm_regs), Error> {
        Ok(match self {
            Entry::Long64 { rip } => {
                let cr3 = paging::write_identity(mem, low_end)?;
                (
                    regs::EntryMode::Long { cr3 },
                    regs::regs(rip, 0, 0, ZERO_PAGE_GPA, 0),
                )
            }
            Entry::Pvh { rip } => (
                regs::EntryMode::Protected32,
                regs::regs(rip, 0, 0, 0, PVH_INFO_GPA),
            ),
        })
    }
}
