//! The kernel file: its format recognised and its headers checked against
//! its length before anything is loaded.
use std::path::{Path, PathBuf};

use object::elf::{self, FileHeader64, ProgramHeader64};
use object::read::elf::{FileHeader, ProgramHeader};
use object::{LittleEndian, ReadRef};

use super::Error;
use crate::loader::boot_params;
use crate::LinuxGuest;

/// The kernel image format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KernelFormat {
    /// A bzImage with its setup header.
    BzImage,
    /// An uncompressed ELF.
    Elf,
}

/// The kernel and initramfs bytes, read up front.
pub(crate) struct Files {
    pub(super) kernel_path: PathBuf,
    pub(super) kernel: Vec<u8>,
    pub(super) format: KernelFormat,
    pub(super) initramfs: Option<(PathBuf, Vec<u8>)>,
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
pub(super) struct Segment {
    /// End of its bytes in the file (`p_offset + p_filesz`).
    pub(super) file_end: u64,
    /// End of its memory in the guest (`p_paddr + p_memsz`).
    pub(super) mem_end: u64,
}

/// The `PT_LOAD` segments of the ELF `k`, read with `object`'s ELF types
/// and every header field checked: the program header table lies in the
/// file, no offset plus size overflows, no segment has more file bytes
/// than memory bytes. The file length itself is checked by the caller
/// against what the segments need.
pub(super) fn elf_segments(path: &Path, k: &[u8]) -> Result<(u64, Vec<Segment>), Error> {
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
pub(super) fn check_kernel(path: &Path, k: &[u8]) -> Result<KernelFormat, Error> {
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
    pub(crate) fn read(guest: &LinuxGuest) -> Result<Files, Error> {
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
}
