//! Just enough ELF to check a vmlinux: the identification, the machine, and
//! where the file's contents end (the kernel build appends relocation data
//! after the ELF, which a loader must not mistake for part of it).
//!
//! Every header field is untrusted: offsets and sizes are added and
//! multiplied with checked arithmetic, so a crafted header is an error,
//! never a panic.
use object::elf::{self, FileHeader64, ProgramHeader64, SectionHeader64};
use object::read::elf::{FileHeader, ProgramHeader, SectionHeader};
use object::{LittleEndian, ReadRef};

/// An ELF64 file header, little-endian.
type Header = FileHeader64<LittleEndian>;
const LE: LittleEndian = LittleEndian;

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
    /// A table's entries are not the size of the ELF64 structure they hold.
    #[error("the ELF's {0} entries are not the size of ELF64's")]
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
pub const MAGIC: &[u8; 4] = &elf::ELFMAG;

/// Whether `bytes` start with the ELF magic.
pub fn is_elf(bytes: &[u8]) -> bool {
    bytes.starts_with(MAGIC)
}

/// `offset + size`, or an overflow error naming `what`.
fn end_of(offset: u64, size: u64, what: &'static str) -> Result<u64, ElfError> {
    offset.checked_add(size).ok_or(ElfError::Overflow(what))
}

/// The end of a table of `num` entries of `entsize` bytes at `offset`
/// (entries of exactly `T`'s size), checked against the file length `len`
/// before the table is read.
fn table_end<T>(
    offset: u64,
    entsize: u16,
    num: u16,
    len: u64,
    what: &'static str,
) -> Result<u64, ElfError> {
    if num > 0 && usize::from(entsize) != std::mem::size_of::<T>() {
        return Err(ElfError::EntrySize(what));
    }
    let size = u64::from(entsize) * u64::from(num);
    let end = end_of(offset, size, what)?;
    if end > len {
        return Err(ElfError::Truncated(what));
    }
    Ok(end)
}

/// Checks that `bytes` is a complete 64-bit little-endian x86-64 `ET_EXEC`
/// ELF and returns the length its headers account for (the end of the
/// furthest segment, section or header table). The headers are read with
/// `object`'s ELF types; every offset and size they hold is checked here.
pub fn check(bytes: &[u8]) -> Result<usize, ElfError> {
    if !is_elf(bytes) {
        return Err(ElfError::NoMagic);
    }
    let header: &Header = bytes
        .read_at(0)
        .map_err(|()| ElfError::Truncated("file header"))?;
    let ident = header.e_ident();
    if ident.class != elf::ELFCLASS64 {
        return Err(ElfError::Unsupported("not 64-bit"));
    }
    if ident.data != elf::ELFDATA2LSB {
        return Err(ElfError::Unsupported("not little-endian"));
    }
    if header.e_machine(LE) != elf::EM_X86_64 {
        return Err(ElfError::Unsupported("not x86-64"));
    }
    if header.e_type(LE) != elf::ET_EXEC {
        return Err(ElfError::Unsupported("not ET_EXEC"));
    }
    let len = u64::try_from(bytes.len()).map_err(|_| ElfError::Overflow("file"))?;
    const PH: &str = "program header table";
    const SH: &str = "section header table";
    let (phnum, shnum) = (header.e_phnum(LE), header.e_shnum(LE));
    let ph_end = table_end::<ProgramHeader64<LittleEndian>>(
        header.e_phoff(LE),
        header.e_phentsize(LE),
        phnum,
        len,
        PH,
    )?;
    let sh_end = table_end::<SectionHeader64<LittleEndian>>(
        header.e_shoff(LE),
        header.e_shentsize(LE),
        shnum,
        len,
        SH,
    )?;
    let mut end = ph_end.max(sh_end).max(std::mem::size_of::<Header>() as u64);
    let segments = header
        .program_headers(LE, bytes)
        .map_err(|_| ElfError::Truncated(PH))?;
    for ph in segments {
        let (filesz, memsz) = (ph.p_filesz(LE), ph.p_memsz(LE));
        if ph.p_type(LE) == elf::PT_LOAD && filesz > memsz {
            return Err(ElfError::FileSizeAboveMemSize { filesz, memsz });
        }
        let seg_end = end_of(ph.p_offset(LE), filesz, "segment")?;
        if seg_end > len {
            return Err(ElfError::Truncated("segment"));
        }
        end = end.max(seg_end);
    }
    let sections = header
        .section_headers(LE, bytes)
        .map_err(|_| ElfError::Truncated(SH))?;
    for sh in sections
        .iter()
        .filter(|sh| sh.sh_type(LE) != elf::SHT_NOBITS)
    {
        let sec_end = end_of(sh.sh_offset(LE), sh.sh_size(LE), "section")?;
        if sec_end > len {
            return Err(ElfError::Truncated("section"));
        }
        end = end.max(sec_end);
    }
    usize::try_from(end).map_err(|_| ElfError::Overflow("file"))
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
        b[16..18].copy_from_slice(&elf::ET_EXEC.0.to_le_bytes());
        b[18..20].copy_from_slice(&elf::EM_X86_64.0.to_le_bytes());
        b[0x20..0x28].copy_from_slice(&64u64.to_le_bytes());
        b[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
        b[0x38..0x3a].copy_from_slice(&1u16.to_le_bytes());
        b[64..68].copy_from_slice(&elf::PT_LOAD.0.to_le_bytes());
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
