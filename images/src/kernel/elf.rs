//! Just enough ELF to check a vmlinux: the identification, the machine, and
//! where the file's contents end (the kernel build appends relocation data
//! after the ELF, which a loader must not mistake for part of it).

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
}

/// `\x7fELF`.
pub const MAGIC: &[u8; 4] = b"\x7fELF";

const EM_X86_64: u16 = 62;
const ET_EXEC: u16 = 2;
const SHT_NOBITS: u32 = 8;

/// Whether `bytes` start with the ELF magic.
pub fn is_elf(bytes: &[u8]) -> bool {
    bytes.starts_with(MAGIC)
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
    if u16_at(bytes, 18) != EM_X86_64 {
        return Err(ElfError::Unsupported("not x86-64"));
    }
    if u16_at(bytes, 16) != ET_EXEC {
        return Err(ElfError::Unsupported("not ET_EXEC"));
    }
    let len = bytes.len() as u64;
    let phoff = u64_at(bytes, 0x20);
    let shoff = u64_at(bytes, 0x28);
    let (phentsize, phnum) = (u16_at(bytes, 0x36) as u64, u16_at(bytes, 0x38) as u64);
    let (shentsize, shnum) = (u16_at(bytes, 0x3a) as u64, u16_at(bytes, 0x3c) as u64);
    let ph_end = phoff + phentsize * phnum;
    if ph_end > len || (phnum > 0 && phentsize < 56) {
        return Err(ElfError::Truncated("program header table"));
    }
    let sh_end = shoff + shentsize * shnum;
    if sh_end > len || (shnum > 0 && shentsize < 64) {
        return Err(ElfError::Truncated("section header table"));
    }
    let mut end = ph_end.max(sh_end).max(64);
    for i in 0..phnum {
        let ph = (phoff + i * phentsize) as usize;
        let seg_end = u64_at(bytes, ph + 8).saturating_add(u64_at(bytes, ph + 32));
        if seg_end > len {
            return Err(ElfError::Truncated("segment"));
        }
        end = end.max(seg_end);
    }
    for i in 0..shnum {
        let sh = (shoff + i * shentsize) as usize;
        if u32_at(bytes, sh + 4) == SHT_NOBITS {
            continue;
        }
        let sec_end = u64_at(bytes, sh + 24).saturating_add(u64_at(bytes, sh + 32));
        if sec_end > len {
            return Err(ElfError::Truncated("section"));
        }
        end = end.max(sec_end);
    }
    Ok(end as usize)
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
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
}
