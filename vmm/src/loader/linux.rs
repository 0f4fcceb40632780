//! A Linux guest: bzImage (64-bit boot protocol) or uncompressed vmlinux
//! (PVH entry when its note is present, else 64-bit entry at `e_entry`),
//! the command line, the initramfs at the top of low memory, the e820 map,
//! ACPI tables and the zero page / PVH start info.
use std::io::Cursor;
use std::path::{Path, PathBuf};

use kvm_bindings::kvm_regs;
use linux_loader::bootparam::setup_header;
use linux_loader::cmdline::Cmdline;
use linux_loader::configurator::linux::LinuxBootConfigurator;
use linux_loader::configurator::pvh::PvhBootConfigurator;
use linux_loader::configurator::{BootConfigurator, BootParams};
use linux_loader::loader::{load_cmdline, BzImage, Elf, KernelLoader, PvhBootCapability};
use object::elf::{self, FileHeader64, ProgramHeader64};
use object::read::elf::{FileHeader, ProgramHeader};
use object::{LittleEndian, ReadRef};
use vm_memory::{ByteValued, GuestAddress};

use super::acpi;
use super::boot_params::{self, BootInputs};
use crate::arch::x86_64::{paging, regs};
use crate::layout::{
    self, CMDLINE_GPA, CMDLINE_MAX, HIGH_MEM_GPA, PVH_INFO_GPA, PVH_MEMMAP_GPA, ZERO_PAGE_GPA,
};
use crate::memory::GuestMemoryMmap;
use crate::LinuxGuest;

/// The command line every Linux guest gets (before the caller's words).
pub const BASE_CMDLINE: &str = "console=ttyS0 reboot=k panic=-1 pci=off nomodule quiet \
     i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd tsc=reliable VMLAB_PORT=1";

/// Offset of the 64-bit entry point from the protected-mode kernel's start.
const STARTUP_64_OFFSET: u64 = 0x200;
/// `xloadflags`: the kernel has a 64-bit entry point.
const XLF_KERNEL_64: u16 = 1;
/// Where the PVH module list goes.
const PVH_MODLIST_GPA: u64 = PVH_MEMMAP_GPA + 0x800;

/// Errors loading a Linux guest.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The kernel file does not exist.
    #[error("kernel {0} does not exist (pass --kernel or set VMLAB_KERNEL)")]
    KernelMissing(PathBuf),
    /// The initramfs file does not exist.
    #[error(
        "initramfs {0} does not exist (build it with `vmlab images build` or pass --initramfs)"
    )]
    InitramfsMissing(PathBuf),
    /// A file could not be read.
    #[error("cannot read {0}")]
    Read(PathBuf, #[source] std::io::Error),
    /// The kernel is neither a bzImage nor an ELF.
    #[error("{0} is not a Linux kernel (neither a bzImage nor a vmlinux ELF)")]
    NotAKernel(PathBuf),
    /// The kernel file is shorter than its headers say.
    #[error("kernel {path} is truncated: {len} bytes, its headers need {need}")]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Its length.
        len: u64,
        /// What the headers need.
        need: u64,
    },
    /// The ELF headers are inconsistent (offsets that overflow, a segment
    /// with more file bytes than memory bytes, entries too small).
    #[error("kernel {path} has a damaged ELF header: {what}")]
    BadElf {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        what: &'static str,
    },
    /// The bzImage has no 64-bit entry point.
    #[error(
        "kernel {0} has no 64-bit entry point (boot protocol 2.12+ with XLF_KERNEL_64 needed)"
    )]
    No64BitEntry(PathBuf),
    /// linux-loader refused the kernel.
    #[error("cannot load kernel {0}")]
    Load(PathBuf, #[source] linux_loader::loader::Error),
    /// The kernel (with its decompression space) does not fit.
    #[error("kernel {path} needs memory up to {need:#x} but the guest has {have:#x} bytes below 3 GiB (raise --mem)")]
    KernelTooBig {
        /// The kernel.
        path: PathBuf,
        /// End of what it needs.
        need: u64,
        /// Low memory end.
        have: u64,
    },
    /// The initramfs does not fit between the kernel and the top of low memory.
    #[error("initramfs {path} ({size} bytes) does not fit in guest memory: {avail} bytes free above the kernel (raise --mem)")]
    InitramfsTooBig {
        /// The initramfs.
        path: PathBuf,
        /// Its size.
        size: u64,
        /// Free bytes.
        avail: u64,
    },
    /// The command line is invalid or too long.
    #[error("invalid kernel command line")]
    Cmdline(#[source] linux_loader::cmdline::Error),
    /// Writing the command line failed.
    #[error("cannot write the kernel command line into guest memory")]
    CmdlineWrite(#[source] linux_loader::loader::Error),
    /// Writing boot structures failed.
    #[error("cannot write the boot parameters into guest memory")]
    BootParams(#[source] linux_loader::configurator::Error),
    /// Writing guest memory failed.
    #[error("cannot write {0} into guest memory")]
    Write(&'static str, #[source] vm_memory::GuestMemoryError),
    /// The page tables could not be written.
    #[error(transparent)]
    Paging(#[from] paging::Error),
}

/// The kernel image format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KernelFormat {
    /// A bzImage with its setup header.
    BzImage,
    /// An uncompressed ELF.
    Elf,
}

/// The kernel and initramfs bytes, read up front.
pub struct Files {
    kernel_path: PathBuf,
    kernel: Vec<u8>,
    format: KernelFormat,
    initramfs: Option<(PathBuf, Vec<u8>)>,
}

fn read(path: &Path, missing: fn(PathBuf) -> Error) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => missing(path.to_path_buf()),
        _ => Error::Read(path.to_path_buf(), e),
    })
}

fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    let bytes = b.get(off..off.checked_add(4)?)?;
    bytes.try_into().ok().map(u32::from_le_bytes)
}

/// A loadable segment of an ELF kernel, its arithmetic checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Segment {
    /// End of its bytes in the file (`p_offset + p_filesz`).
    file_end: u64,
    /// End of its memory in the guest (`p_paddr + p_memsz`).
    mem_end: u64,
}

/// The `PT_LOAD` segments of the ELF `k`, read with `object`'s ELF types
/// and every header field checked: the program header table lies in the
/// file, no offset plus size overflows, no segment has more file bytes
/// than memory bytes. The file length itself is checked by the caller
/// against what the segments need.
fn elf_segments(path: &Path, k: &[u8]) -> Result<(u64, Vec<Segment>), Error> {
    const LE: LittleEndian = LittleEndian;
    let len = k.len() as u64;
    let bad = |what| Error::BadElf {
        path: path.to_path_buf(),
        what,
    };
    let truncated = |need: u64| Error::Truncated {
        path: path.to_path_buf(),
        len,
        need,
    };
    let header: &FileHeader64<LittleEndian> = k.read_at(0).map_err(|()| truncated(64))?;
    let phoff = header.e_phoff(LE);
    let phentsize = u64::from(header.e_phentsize(LE));
    let phnum = u64::from(header.e_phnum(LE));
    if phnum > 0 && phentsize != std::mem::size_of::<ProgramHeader64<LittleEndian>>() as u64 {
        return Err(bad("its program headers are not ELF64's 56 bytes each"));
    }
    let ph_end = phentsize
        .checked_mul(phnum)
        .and_then(|size| phoff.checked_add(size))
        .ok_or_else(|| bad("the program header table's offset and size overflow"))?;
    if len < ph_end {
        return Err(truncated(ph_end));
    }
    let table = header
        .program_headers(LE, k)
        .map_err(|_| truncated(ph_end))?;
    let mut segments = Vec::new();
    for ph in table.iter().filter(|ph| ph.p_type(LE) == elf::PT_LOAD) {
        let (offset, paddr) = (ph.p_offset(LE), ph.p_paddr(LE));
        let (filesz, memsz) = (ph.p_filesz(LE), ph.p_memsz(LE));
        if filesz > memsz {
            return Err(bad("a segment has more file bytes than memory bytes"));
        }
        let file_end = offset
            .checked_add(filesz)
            .ok_or_else(|| bad("a segment's file offset and size overflow"))?;
        let mem_end = paddr
            .checked_add(memsz)
            .ok_or_else(|| bad("a segment's address and size overflow"))?;
        segments.push(Segment { file_end, mem_end });
    }
    Ok((ph_end, segments))
}

/// Recognises the kernel format and checks the file holds what its headers promise.
pub fn check_kernel(path: &Path, k: &[u8]) -> Result<KernelFormat, Error> {
    let len = k.len() as u64;
    let truncated = |need: u64| Error::Truncated {
        path: path.to_path_buf(),
        len,
        need,
    };
    if k.starts_with(&elf::ELFMAG) {
        if k.len() < 64 {
            return Err(truncated(64));
        }
        let (ph_end, segments) = elf_segments(path, k)?;
        let need = segments.iter().map(|s| s.file_end).fold(ph_end, u64::max);
        return if len < need {
            Err(truncated(need))
        } else {
            Ok(KernelFormat::Elf)
        };
    }
    if k.len() >= 0x206 && u32_at(k, 0x202) == Some(boot_params::HDRS_MAGIC) {
        let setup_sects = match k[0x1f1] {
            0 => 4,
            n => u64::from(n),
        };
        let syssize = u64::from(u32_at(k, 0x1f4).unwrap_or(0));
        // At most (255 + 1) * 512 + (2^32 - 1) * 16: no overflow in u64.
        let need = (setup_sects + 1) * 512 + syssize * 16;
        return if len < need {
            Err(truncated(need))
        } else {
            Ok(KernelFormat::BzImage)
        };
    }
    Err(Error::NotAKernel(path.to_path_buf()))
}

impl Files {
    /// Reads and checks the kernel and initramfs of `guest`.
    pub fn read(guest: &LinuxGuest) -> Result<Files, Error> {
        let kernel = read(&guest.kernel, Error::KernelMissing)?;
        let format = check_kernel(&guest.kernel, &kernel)?;
        let initramfs = match &guest.initramfs {
            Some(p) => Some((p.clone(), read(p, Error::InitramfsMissing)?)),
            None => None,
        };
        Ok(Files {
            kernel_path: guest.kernel.clone(),
            kernel,
            format,
            initramfs,
        })
    }

    /// The kernel's format.
    pub fn format(&self) -> KernelFormat {
        self.format
    }
}

/// The full command line for `guest`.
pub fn cmdline(guest: &LinuxGuest) -> Result<Cmdline, Error> {
    let mut c = Cmdline::new(CMDLINE_MAX).map_err(Error::Cmdline)?;
    c.insert_str(BASE_CMDLINE).map_err(Error::Cmdline)?;
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
pub fn initramfs_addr(size: u64, floor: u64, top: u64) -> Option<u64> {
    let addr = top.checked_sub(size)? & !0xfff;
    (addr >= floor).then_some(addr)
}

/// How the vCPU enters the kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Entry {
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
    pub fn label(self) -> &'static str {
        match self {
            Entry::Long64 { .. } => "Linux 64-bit boot protocol",
            Entry::Pvh { .. } => "Linux PVH (32-bit)",
        }
    }

    /// Writes page tables if needed and returns the entry mode and registers.
    pub fn registers(
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

/// Loads the kernel, command line, initramfs, ACPI tables and boot
/// parameters; returns how to enter the kernel.
pub fn load(
    mem: &GuestMemoryMmap,
    mem_bytes: u64,
    files: &Files,
    guest: &LinuxGuest,
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

    let cmdline = cmdline(guest)?;
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

    let rsdp_gpa =
        acpi::write(mem, layout::ACPI_GPA).map_err(|e| Error::Write("the ACPI tables", e))?;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake bzImage: setup header fields only, `payload` bytes of "kernel".
    fn fake_bzimage(payload: usize, version: u16, xloadflags: u16) -> Vec<u8> {
        let setup_sects = 4u8;
        let mut k = vec![0u8; (setup_sects as usize + 1) * 512 + payload];
        k[0x1f1] = setup_sects;
        k[0x1f4..0x1f8].copy_from_slice(&((payload as u32).div_ceil(16)).to_le_bytes());
        k[0x1fe..0x200].copy_from_slice(&0xaa55u16.to_le_bytes());
        k[0x202..0x206].copy_from_slice(b"HdrS");
        k[0x206..0x208].copy_from_slice(&version.to_le_bytes());
        k[0x211] = 1; // loadflags: LOADED_HIGH
        k[0x214..0x218].copy_from_slice(&0x10_0000u32.to_le_bytes()); // code32_start
        k[0x22c..0x230].copy_from_slice(&0x7fff_ffffu32.to_le_bytes()); // initrd_addr_max
        k[0x236..0x238].copy_from_slice(&xloadflags.to_le_bytes());
        k[0x238..0x23c].copy_from_slice(&(CMDLINE_MAX as u32).to_le_bytes());
        k[0x260..0x264].copy_from_slice(&0x40_0000u32.to_le_bytes()); // init_size: 4 MiB
        k
    }

    fn files(kernel: Vec<u8>, initramfs: Option<Vec<u8>>) -> Files {
        let path = PathBuf::from("k");
        let format = check_kernel(&path, &kernel).unwrap();
        Files {
            kernel_path: path,
            kernel,
            format,
            initramfs: initramfs.map(|b| (PathBuf::from("i"), b)),
        }
    }

    fn mem(mib: u64) -> GuestMemoryMmap {
        crate::memory::create(mib).unwrap()
    }

    #[test]
    fn recognises_formats_and_truncation() {
        let p = Path::new("k");
        let bz = fake_bzimage(4096, 0x020f, 1);
        assert_eq!(check_kernel(p, &bz).unwrap(), KernelFormat::BzImage);
        assert!(matches!(
            check_kernel(p, &bz[..3000]),
            Err(Error::Truncated { .. })
        ));
        assert!(matches!(
            check_kernel(p, &[0x55; 5000]),
            Err(Error::NotAKernel(_))
        ));
        assert!(matches!(check_kernel(p, b""), Err(Error::NotAKernel(_))));
        assert!(matches!(
            check_kernel(p, b"\x7fELF\x02\x01"),
            Err(Error::Truncated { .. })
        ));
    }

    #[test]
    fn command_line_has_base_extra_and_init_args() {
        let g = LinuxGuest {
            cmdline_extra: "loglevel=8".into(),
            init_args: vec!["cpu".into(), "--exit".into(), "3".into()],
            ..Default::default()
        };
        let c = cmdline(&g)
            .unwrap()
            .as_cstring()
            .unwrap()
            .into_string()
            .unwrap();
        assert!(c.starts_with("console=ttyS0 reboot=k panic=-1 pci=off"));
        assert!(c.contains("VMLAB_PORT=1 loglevel=8"));
        assert!(c.ends_with(" -- cpu --exit 3"));
    }

    #[test]
    fn initramfs_goes_to_the_top() {
        assert_eq!(
            initramfs_addr(0x1800, 0x20_0000, 0x400_0000),
            Some(0x3ff_e000)
        );
        assert_eq!(initramfs_addr(0x400_0000, 0x20_0000, 0x400_0000), None);
        assert_eq!(initramfs_addr(u64::MAX, 0, 0x400_0000), None);
    }

    #[test]
    fn loads_a_bzimage_with_initramfs() {
        let mem = mem(64);
        let f = files(fake_bzimage(4096, 0x020f, 1), Some(vec![7u8; 10_000]));
        let g = LinuxGuest {
            init_args: vec!["x".into()],
            ..Default::default()
        };
        let e = load(&mem, 64 << 20, &f, &g).unwrap();
        assert_eq!(e, Entry::Long64 { rip: 0x10_0200 });
        let zp: linux_loader::bootparam::boot_params =
            vm_memory::Bytes::read_obj(&mem, GuestAddress(ZERO_PAGE_GPA)).unwrap();
        let (rd, rds, cmd) = (
            zp.hdr.ramdisk_image,
            zp.hdr.ramdisk_size,
            zp.hdr.cmd_line_ptr,
        );
        assert_eq!(rds, 10_000);
        assert_eq!(u64::from(rd), ((64 << 20) - 10_000) & !0xfff);
        assert_eq!(u64::from(cmd), CMDLINE_GPA);
        assert_eq!(zp.e820_entries, 3);
        let rsdp = zp.acpi_rsdp_addr;
        assert_eq!(rsdp, layout::ACPI_GPA);
        let (mode, r) = e.registers(&mem, 64 << 20).unwrap();
        assert_eq!(
            mode,
            regs::EntryMode::Long {
                cr3: layout::PML4_GPA
            }
        );
        assert_eq!((r.rip, r.rsi), (0x10_0200, ZERO_PAGE_GPA));
    }

    #[test]
    fn rejects_what_does_not_fit_or_cannot_boot() {
        let g = LinuxGuest::default();
        let too_big = files(fake_bzimage(4096, 0x020f, 1), Some(vec![0u8; 30 << 20]));
        assert!(matches!(
            load(&mem(32), 32 << 20, &too_big, &g),
            Err(Error::InitramfsTooBig { .. })
        ));
        let old = files(fake_bzimage(4096, 0x020a, 0), None);
        assert!(matches!(
            load(&mem(32), 32 << 20, &old, &g),
            Err(Error::No64BitEntry(_))
        ));
        let f = files(fake_bzimage(4096, 0x020f, 1), None);
        assert!(matches!(
            load(&mem(4), 4 << 20, &f, &g),
            Err(Error::KernelTooBig { .. })
        ));
    }

    /// A minimal ELF kernel: file header, one PT_LOAD program header at 64
    /// (load at 1 MiB, 16 file bytes at 120, `memsz` in memory).
    fn tiny_elf(memsz: u64) -> Vec<u8> {
        let mut k = vec![0u8; 136];
        k[..4].copy_from_slice(b"\x7fELF");
        k[4] = 2;
        k[5] = 1;
        k[16..18].copy_from_slice(&2u16.to_le_bytes());
        k[18..20].copy_from_slice(&62u16.to_le_bytes());
        k[24..32].copy_from_slice(&0x10_0000u64.to_le_bytes()); // e_entry
        k[32..40].copy_from_slice(&64u64.to_le_bytes()); // e_phoff
        k[54..56].copy_from_slice(&56u16.to_le_bytes());
        k[56..58].copy_from_slice(&1u16.to_le_bytes());
        k[64..68].copy_from_slice(&elf::PT_LOAD.0.to_le_bytes());
        set(&mut k, 72, 120); // p_offset
        set(&mut k, 80, 0x10_0000); // p_vaddr
        set(&mut k, 88, 0x10_0000); // p_paddr
        set(&mut k, 96, 16); // p_filesz
        set(&mut k, 104, memsz); // p_memsz
        k
    }

    fn set(k: &mut [u8], at: usize, v: u64) {
        k[at..at + 8].copy_from_slice(&v.to_le_bytes());
    }

    #[test]
    fn crafted_elf_headers_are_errors_not_panics() {
        let p = Path::new("k");
        assert_eq!(check_kernel(p, &tiny_elf(16)).unwrap(), KernelFormat::Elf);
        let bad = |k: &[u8]| match check_kernel(p, k) {
            Err(Error::BadElf { what, .. }) => what,
            other => panic!("{other:?}"),
        };
        // e_phoff + phentsize * phnum overflows.
        let mut k = tiny_elf(16);
        set(&mut k, 32, u64::MAX - 10);
        assert!(bad(&k).contains("program header table"));
        // A table far past the end of the file.
        let mut k = tiny_elf(16);
        set(&mut k, 32, 1 << 40);
        assert!(matches!(
            check_kernel(p, &k),
            Err(Error::Truncated { need, .. }) if need == (1 << 40) + 56
        ));
        // Entries too small for a program header.
        let mut k = tiny_elf(16);
        k[54..56].copy_from_slice(&4u16.to_le_bytes());
        assert!(bad(&k).contains("56 bytes"));
        // p_offset + p_filesz overflows.
        let mut k = tiny_elf(u64::MAX);
        set(&mut k, 72, u64::MAX);
        assert!(bad(&k).contains("file offset"));
        // p_filesz > p_memsz.
        assert!(bad(&tiny_elf(8)).contains("more file bytes"));
        // p_paddr + p_memsz overflows.
        let mut k = tiny_elf(u64::MAX - 10);
        set(&mut k, 88, 1 << 20);
        assert!(bad(&k).contains("address"));
    }

    #[test]
    fn an_elf_segment_beyond_guest_memory_is_refused_before_loading() {
        let g = LinuxGuest::default();
        let f = files(tiny_elf(1 << 40), None);
        assert!(matches!(
            load(&mem(32), 32 << 20, &f, &g),
            Err(Error::KernelTooBig { need, .. }) if need == (1 << 20) + (1 << 40)
        ));
        let f = files(tiny_elf(64 << 20), None);
        assert!(matches!(
            load(&mem(32), 32 << 20, &f, &g),
            Err(Error::KernelTooBig { .. })
        ));
        // A segment placed beyond guest memory: refused with what it needs,
        // before linux-loader tries (and fails) to write it.
        let mut k = tiny_elf(16);
        set(&mut k, 88, 1 << 40);
        let f = files(k, None);
        assert!(matches!(
            load(&mem(32), 32 << 20, &f, &g),
            Err(Error::KernelTooBig { need, .. }) if need == (1 << 40) + 16
        ));
    }
}
