//! The x86 bzImage: its setup header, and the compressed vmlinux inside.
//!
//! The setup header sits at 0x1f1 (`setup_sects`) .. 0x250; `HdrS` at 0x202
//! marks it. The protected-mode code starts at `(setup_sects + 1) * 512`
//! and is `syssize * 16` bytes long; within it, `payload_offset` (0x248) and
//! `payload_length` (0x24c) locate the compressed kernel (boot protocol
//! 2.08 and later). Debian's kernels compress it with LZ4 (legacy frame
//! format); gzip and zstd are supported too. The payload decompresses to the
//! kernel ELF followed by relocation data, which [`vmlinux`] cuts off.
//!
//! Decompression is bounded: never more than the header's `init_size`
//! (0x260, boot protocol 2.10 and later: the memory the kernel needs to
//! decompress and run, so at least the decompressed payload) nor
//! [`MAX_DECOMPRESSED`], so a decompression bomb costs a bounded amount of
//! memory and is refused.
//!
//! - `header`: [`SetupHeader`], parsed and checked;
//! - `decompress`: [`Compression`], [`decompress`] and [`vmlinux`].
mod decompress;
mod error;
mod header;

pub use decompress::{decompress, vmlinux, Compression};
pub use error::BzImageError;
pub use header::{SetupHeader, MAX_DECOMPRESSED};

#[cfg(test)]
pub(crate) mod tests;
