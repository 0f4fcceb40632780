//! Why a file is not a bzImage vmlab can use.
use crate::kernel::elf;

/// Why bytes are not a bzImage vmlab can use.
#[derive(Debug, thiserror::Error)]
pub enum BzImageError {
    /// Too short for a setup header.
    #[error("the file is {0} bytes, too short for a kernel")]
    TooShort(usize),
    /// No `HdrS` magic.
    #[error("no Linux boot header (\"HdrS\" at 0x202) and no ELF magic: not a kernel")]
    NoMagic,
    /// Boot protocol before 2.08 has no payload fields.
    #[error("boot protocol {major}.{minor:02} is too old (2.08 or later is needed)")]
    OldProtocol {
        /// Major version.
        major: u8,
        /// Minor version.
        minor: u8,
    },
    /// A zImage (loaded low) rather than a bzImage.
    #[error("not a bzImage (LOADED_HIGH is clear)")]
    NotBzImage,
    /// The header describes more bytes than the file has.
    #[error("the file is truncated: its header describes {expected} bytes, the file has {actual}")]
    Truncated {
        /// Bytes the header accounts for.
        expected: u64,
        /// Bytes in the file.
        actual: u64,
    },
    /// The payload's compression is not one vmlab decompresses.
    #[error("the kernel payload is compressed with {0}, which vmlab cannot decompress (gzip, zstd and LZ4 can be)")]
    UnsupportedCompression(&'static str),
    /// Decompressing the payload failed.
    #[error("the {0} kernel payload is corrupt: {1}")]
    Corrupt(&'static str, String),
    /// The payload decompresses to more than the image declares or vmlab allows.
    #[error("the {compression} kernel payload decompresses to more than {limit} bytes ({why}): a damaged or hostile image")]
    TooLarge {
        /// The payload's compression.
        compression: &'static str,
        /// The bound that was hit.
        limit: u64,
        /// Where the bound comes from.
        why: &'static str,
    },
    /// The payload did not decompress to a kernel ELF.
    #[error("the decompressed payload is not a kernel ELF")]
    NotElf(#[source] elf::ElfError),
}
