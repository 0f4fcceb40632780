//! Just enough ELF to check a vmlinux: the identification, the machine, and
//! where the file's contents end (the kernel build appends relocation data
//! after the ELF, which a loader must not mistake for part of it).
//!
//! Every header field is untrusted: offsets and sizes are added and
//! multiplied with checked arithmetic, so a crafted header is an error,
//! never a panic.

/// Why bytes are not an x86-64 executable ELF.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ElfError {
    /// No ELF magic.
    #[error("no ELF magic (\\x7fELF) at the start")]
    NoMagic,
    /// Not the ELF flavour the VMM loads.
    #[error("the ELF is not a little-endian x86-64 executable ({0})")]
    Unsupported(&'static str),
    /// A header table points past the end of the file.
    #[error("the ELF is truncated: its {0} ends past the end of the file")]
    Truncated(&'static str),
    /// Offset plus size of a header table, segment or section overflows.
    #[error(
        "the ELF's {0} offset and size overflow a 64-bit address (a damaged or hostile header)"
    )]
    Overflow(&'static str),
    /// A table's entries are smaller than the ELF64 structure they hold.
    #[error("the ELF's {0} entries are too small for ELF64")]
    EntrySize(&'static str),
    /// A loadable segment claims more file bytes than memory bytes.
    #[error("an ELF segment has {filesz} file bytes but only {memsz} memory bytes")]
    FileSizeAboveMemSize {
        /// `p_filesz`.
        filesz: u64,
        /// `p_memsz`.
        memsz: u64,
    },
}

/// `\x7fELF`.
pub const MAGIC: &[u8; 4] = b"\x7fELF";

const EM_X86_64: u16 = 62;
const ET_EXEC: u16 = 2;
const PT_LOAD: u32 = 1;
const SHT_NOBITS: u32 = 8;
/// Size of an ELF64 program header.
const PHDR_SIZE: u64 = 56;
/// Size of an ELF64 section header.
const SHDR_SIZE: u64 = 64;

/// Whether `bytes` start with the ELF magic.
pub fn is_elf(bytes: &[u8]) -> bool {
    bytes.starts_with(MAGIC)
}

/// `offset + size`, or an overflow error naming `what`.
fn end_of(offset: u64, size: u64, what: &'static str) -> Result<u64, ElfError> {
    offset.checked_add(size).ok_or(ElfError::Overflow(what))
}

/// The end of a table of `num` entries of `entsize` bytes at `offset`,
/// checked against the file length `len`.
fn table_end(
    offset: u64,
    entsize: u64,
    num: u64,
    min_entsize: u64,
    len: u64,
    what: &'static str,
) -> Result<u64, ElfError> {
    if num > 0 && entsize < min_entsize {
        return Err(ElfError::EntrySize(what));
    }
    let size = entsize.checked_mul(num).ok_or(ElfError::Overflow(what))?;
    let end = end_of(offset, size, what)?;
    if end > len {
        return Err(ElfError::Truncated(what));
    }
    Ok(end)
}

/// Entry `i` of a table already checked by [`table_end`]: its offset in the file.
fn entry_at(offset: u64, entsize: u64, i: u64, what: &'static str) -> Result<usize, ElfError> {
    let at = entsize
        .checked_mul(i)
        .and_then(|o| o.checked_add(offset))
        .ok_or(ElfError::Overflow(what))?;
    usize::try_from(at).map_err(|_| ElfError::Overflow(what))
}

/// Checks that `bytes` is a complete 64-bit little-endian x86-64 `ET_EXEC`
/// ELF and returns the length its headers account for (the end of the
/// furthest segment, section or header table).
pub fn check(bytes: &[u8]) -> Result<usize, ElfError> {
    if !is_elf(bytes) {
        return Err(ElfError::NoMagic);
    }
    if bytes.len() < 64 {
        return Err(ElfError::Truncated("file header"));
    }
    if bytes[4] != 2 {
        return Err(ElfError::Unsupported("not 64-bit"));
    }
    if bytes[5] != 1 {
        return Err(ElfError::Unsupported("not little-endian"));
    }
    let short = || ElfError::Truncated("file header");
    if u16_at(bytes, 18).ok_or_else(short)? != EM_X86_64 {
        return Err(ElfError::Unsupported("not x86-64"));
    }
    if u16_at(bytes, 16).ok_or_else(short)? != ET_EXEC {
        return Err(ElfError::Unsupported("not ET_EXEC"));
    }
    let len = u64::try_from(bytes.len()).map_err(|_| ElfError::Overflow("file"))?;
    let field16 = |at| u16_at(bytes, at).map(u64::from).ok_or_else(short);
    let phoff = u64_at(bytes, 0x20).ok_or_else(short)?;
    let shoff = u64_at(bytes, 0x28).ok_or_else(short)?;
    let (phentsize, phnum) = (field16(0x36)?, field16(0x38)?);
    let (shentsize, shnum) = (field16(0x3a)?, field16(0x3c)?);
    const PH: &str = "program header table";
    const SH: &str = "section header table";
    let ph_end = table_end(phoff, phentsize, phnum, PHDR_SIZE, len, PH)?;
    let sh_end = table_end(shoff, shentsize, shnum, SHDR_SIZE, len, SH)?;
    let mut end = ph_end.max(sh_end).max(64);
    for i in 0..phnum {
        let ph = entry_at(phoff, phentsize, i, PH)?;
        let field = |off: usize| {
            ph.checked_add(off)
                .and_then(|at| u64_at(bytes, at))
                .ok_or(ElfError::Truncated(PH))
        };
        let p_type = u32_at(bytes, ph).ok_or(ElfError::Truncated(PH))?;
        let (p_offset, p_filesz, p_memsz) = (field(8)?, field(32)?, field(40)?);
        if p_type == PT_LOAD && p_filesz > p_memsz {
            return Err(ElfError::FileSizeAboveMemSize {
                filesz: p_filesz,
                memsz: p_memsz,
            });
        }
        let seg_end = end_of(p_offset, p_filesz, "segment")?;
        if seg_end > len {
            return Err(ElfError::Truncated("segment"));
        }
        end = end.max(seg_end);
    }
    for i in 0..shnum {
        let sh = entry_at(shoff, shentsize, i, SH)?;
        let field = |off: usize, wide: bool| {
            let at = sh.checked_add(off)?;
            if wide {
                u64_at(bytes, at)
            } else {
                u32_at(bytes, at).map(u64::from)
            }
        };
        let bad = || ElfError::Truncated(SH);
        if field(4, false).ok_or_else(bad)? == u64::from(SHT_NOBITS) {
            continue;
        }
        let (sh_offset, sh_size) = (
            field(24, true).ok_or_else(bad)?,
            field(32, true).ok_or_else(bad)?,
        );
        let sec_end = end_of(sh_offset, sh_size, "section")?;
        if sec_end > len {
            return Err(ElfError::Truncated("section"));
        }
        end = end.max(sec_end);
    }
    usize::try_from(end).map_err(|_| ElfError::Overflow("file"))
}

fn bytes_at<const N: usize>(b: &[u8], at: usize) -> Option<[u8; N]> {
    b.get(at..at.checked_add(N)?)?.try_into().ok()
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    bytes_at(b, at).map(u16::from_le_bytes)
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    bytes_at(b, at).map(u32::from_le_bytes)
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    bytes_at(b, at).map(u64::from_le_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_bare_guest_and_rejects_junk() {
        let guest = crate::embedded::GUEST;
        assert_eq!(check(guest), Ok(guest.len()));
        let mut padded = guest.to_vec();
        padded.extend_from_slice(&[0xaa; 100]);
        assert_eq!(check(&padded), Ok(guest.len()));
        assert_eq!(check(b"MZ not an elf"), Err(ElfError::NoMagic));
        assert_eq!(check(&guest[..40]), Err(ElfError::Truncated("file header")));
        assert!(matches!(
            check(&guest[..guest.len() / 2]),
            Err(ElfError::Truncated(_))
        ));
    }

    /// A minimal valid ELF: the file header, one PT_LOAD program header at
    /// 64, and 16 bytes of segment data at 120.
    fn tiny() -> Vec<u8> {
        let mut b = vec![0u8; 136];
        b[..4].copy_from_slice(MAGIC);
        b[4] = 2;
        b[5] = 1;
        b[16..18].copy_from_slice(&ET_EXEC.to_le_bytes());
        b[18..20].copy_from_slice(&EM_X86_64.to_le_bytes());
        b[0x20..0x28].copy_from_slice(&64u64.to_le_bytes());
        b[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
        b[0x38..0x3a].copy_from_slice(&1u16.to_le_bytes());
        b[64..68].copy_from_slice(&PT_LOAD.to_le_bytes());
        b[72..80].copy_from_slice(&120u64.to_le_bytes()); // p_offset
        b[96..104].copy_from_slice(&16u64.to_le_bytes()); // p_filesz
        b[104..112].copy_from_slice(&16u64.to_le_bytes()); // p_memsz
        b
    }

    fn set_u64(b: &mut [u8], at: usize, v: u64) {
        b[at..at + 8].copy_from_slice(&v.to_le_bytes());
    }

    #[test]
    fn crafted_headers_are_errors_not_panics() {
        assert_eq!(check(&tiny()), Ok(136));

        // e_phoff + phentsize * phnum overflows.
        let mut b = tiny();
        set_u64(&mut b, 0x20, u64::MAX - 10);
        assert_eq!(check(&b), Err(ElfError::Overflow("program header table")));
        // A huge table that does not overflow but points past the file.
        let mut b = tiny();
        b[0x36..0x38].copy_from_slice(&u16::MAX.to_le_bytes());
        b[0x38..0x3a].copy_from_slice(&u16::MAX.to_le_bytes());
        assert_eq!(check(&b), Err(ElfError::Truncated("program header table")));
        // Entries too small to hold a program header.
        let mut b = tiny();
        b[0x36..0x38].copy_from_slice(&8u16.to_le_bytes());
        assert_eq!(check(&b), Err(ElfError::EntrySize("program header table")));
        // p_offset + p_filesz overflows.
        let mut b = tiny();
        set_u64(&mut b, 72, u64::MAX);
        set_u64(&mut b, 104, u64::MAX);
        assert_eq!(check(&b), Err(ElfError::Overflow("segment")));
        // A segment past the end of the file.
        let mut b = tiny();
        set_u64(&mut b, 72, 1 << 40);
        assert_eq!(check(&b), Err(ElfError::Truncated("segment")));
        // p_filesz > p_memsz.
        let mut b = tiny();
        set_u64(&mut b, 104, 8);
        assert_eq!(
            check(&b),
            Err(ElfError::FileSizeAboveMemSize {
                filesz: 16,
                memsz: 8
            })
        );
        // e_shoff + shentsize * shnum overflows.
        let mut b = tiny();
        set_u64(&mut b, 0x28, u64::MAX);
        b[0x3a..0x3c].copy_from_slice(&64u16.to_le_bytes());
        b[0x3c..0x3e].copy_from_slice(&1u16.to_le_bytes());
        assert_eq!(check(&b), Err(ElfError::Overflow("section header table")));
        // A section whose offset + size overflows.
        let mut b = tiny();
        b.resize(200, 0);
        set_u64(&mut b, 0x28, 136);
        b[0x3a..0x3c].copy_from_slice(&64u16.to_le_bytes());
        b[0x3c..0x3e].copy_from_slice(&1u16.to_le_bytes());
        b[140..144].copy_from_slice(&1u32.to_le_bytes()); // SHT_PROGBITS
        set_u64(&mut b, 136 + 24, 1);
        set_u64(&mut b, 136 + 32, u64::MAX);
        assert_eq!(check(&b), Err(ElfError::Overflow("section")));
        set_u64(&mut b, 136 + 32, 8);
        assert_eq!(check(&b), Ok(200));
    }
}
