//! Loading a checked kernel and writing its boot parameters.
use std::io::Cursor;

use linux_loader::bootparam::setup_header;
use linux_loader::configurator::linux::LinuxBootConfigurator;
use linux_loader::configurator::pvh::PvhBootConfigurator;
use linux_loader::configurator::{BootConfigurator, BootParams};
use linux_loader::loader::{load_cmdline, BzImage, Elf, KernelLoader, PvhBootCapability};
use vm_memory::{ByteValued, GuestAddress};

use super::kernel::elf_segments;
use super::{cmdline, initramfs_addr, Entry, Error, Files, KernelFormat};
use crate::layout::{self, CMDLINE_GPA, HIGH_MEM_GPA, PVH_INFO_GPA, PVH_MEMMAP_GPA, ZERO_PAGE_GPA};
use crate::loader::acpi;
use crate::loader::boot_params::{self, BootInputs};
use crate::memory::GuestMemoryMmap;
use crate::LinuxGuest;

/// Offset of the 64-bit entry point from the protected-mode kernel's start.
const STARTUP_64_OFFSET: u64 = 0x200;
/// `xloadflags`: the kernel has a 64-bit entry point.
const XLF_KERNEL_64: u16 = 1;
/// Where the PVH module list goes.
const PVH_MODLIST_GPA: u64 = PVH_MEMMAP_GPA + 0x800;

/// Loads the kernel, command line, initramfs, ACPI tables and boot
/// parameters; returns how to enter the kernel.
pub(crate) fn load(
    mem: &GuestMemoryMmap,
    mem_bytes: u64,
    files: &Files,
    guest: &LinuxGuest,
    virtio: &[(u64, u32, u32)],
) -> Result<Entry, Error> {
    let low_end = layout::low_mem_end(mem_bytes);
    let path = &files.kernel_path;
    let mut image = Cursor::new(files.kernel.as_slice());
    let highmem = Some(GuestAddress(HIGH_MEM_GPA));
    let (entry, hdr, kernel_end, initrd_max) = match files.format {
        KernelFormat::BzImage => {
            let hdr_end = 0x1f1 + std::mem::size_of::<setup_header>();
            let hdr = files
                .kernel
                .get(0x1f1..hdr_end)
                .and_then(setup_header::from_slice)
                .copied()
                .ok_or_else(|| Error::Truncated {
                    path: path.clone(),
                    len: files.kernel.len() as u64,
                    need: hdr_end as u64,
                })?;
            let (version, xloadflags, init_size) = (hdr.version, hdr.xloadflags, hdr.init_size);
            if version < 0x020c || xloadflags & XLF_KERNEL_64 == 0 {
                return Err(Error::No64BitEntry(path.clone()));
            }
            let need = u64::from(hdr.code32_start) + u64::from(init_size);
            if need > low_end {
                return Err(Error::KernelTooBig {
                    path: path.clone(),
                    need,
                    have: low_end,
                });
            }
            let res = BzImage::load(mem, None, &mut image, highmem)
                .map_err(|e| Error::Load(path.clone(), e))?;
            let hdr = res.setup_header.unwrap_or(hdr);
            let rip = res.kernel_load.0 + STARTUP_64_OFFSET;
            (
                Entry::Long64 { rip },
                Some(hdr),
                need.max(res.kernel_end),
                u64::from(hdr.initrd_addr_max),
            )
        }
        KernelFormat::Elf => {
            // Refuse segments beyond guest memory before anything is written.
            let (_, segments) = elf_segments(path, &files.kernel)?;
            let need = segments.iter().map(|s| s.mem_end).max().unwrap_or(0);
            if need > low_end {
                return Err(Error::KernelTooBig {
                    path: path.clone(),
                    need,
                    have: low_end,
                });
            }
            let res = Elf::load(mem, None, &mut image, highmem).map_err(|e| match e {
                linux_loader::loader::Error::Elf(
                    linux_loader::loader::elf::Error::ReadKernelImage,
                ) => Error::KernelTooBig {
                    path: path.clone(),
                    need: u64::MAX,
                    have: low_end,
                },
                e => Error::Load(path.clone(), e),
            })?;
            if res.kernel_end > low_end {
                return Err(Error::KernelTooBig {
                    path: path.clone(),
                    need: res.kernel_end,
                    have: low_end,
                });
            }
            let entry = match res.pvh_boot_cap {
                PvhBootCapability::PvhEntryPresent(a) => Entry::Pvh { rip: a.0 },
                _ => Entry::Long64 {
                    rip: res.kernel_load.0,
                },
            };
            (entry, None, res.kernel_end, 0x3fff_ffff)
        }
    };

    let cmdline = cmdline(guest, !virtio.is_empty())?;
    load_cmdline(mem, GuestAddress(CMDLINE_GPA), &cmdline).map_err(Error::CmdlineWrite)?;
    let cmdline_len = cmdline
        .as_cstring()
        .map_err(Error::Cmdline)?
        .as_bytes()
        .len() as u32;

    let initramfs = match &files.initramfs {
        Some((p, bytes)) => {
            let size = bytes.len() as u64;
            let top = low_end.min(initrd_max.saturating_add(1));
            let floor = kernel_end.next_multiple_of(4096);
            let addr = initramfs_addr(size, floor, top).ok_or_else(|| Error::InitramfsTooBig {
                path: p.clone(),
                size,
                avail: top.saturating_sub(floor),
            })?;
            vm_memory::Bytes::write_slice(mem, bytes, GuestAddress(addr))
                .map_err(|e| Error::Write("the initramfs", e))?;
            Some((addr, size))
        }
        None => None,
    };

    let rsdp_gpa = acpi::write(mem, layout::ACPI_GPA, virtio)
        .map_err(|e| Error::Write("the ACPI tables", e))?;
    let inputs = BootInputs {
        cmdline_gpa: CMDLINE_GPA,
        cmdline_len,
        initramfs,
        rsdp_gpa,
    };
    let e820 = boot_params::e820_map(mem_bytes);
    match entry {
        Entry::Long64 { .. } => {
            let zp = boot_params::zero_page(hdr, &inputs, &e820);
            LinuxBootConfigurator::write_bootparams::<GuestMemoryMmap>(
                &BootParams::new(&zp, GuestAddress(ZERO_PAGE_GPA)),
                mem,
            )
            .map_err(Error::BootParams)?;
        }
        Entry::Pvh { .. } => {
            let (info, memmap, modules) =
                boot_params::pvh_start_info(&inputs, &e820, PVH_MEMMAP_GPA, PVH_MODLIST_GPA);
            let mut bp = BootParams::new(&info, GuestAddress(PVH_INFO_GPA));
            bp.set_sections(&memmap, GuestAddress(PVH_MEMMAP_GPA));
            if !modules.is_empty() {
                bp.set_modules(&modules, GuestAddress(PVH_MODLIST_GPA));
            }
            PvhBootConfigurator::write_bootparams::<GuestMemoryMmap>(&bp, mem)
                .map_err(Error::BootParams)?;
        }
    }
    Ok(entry)
}
