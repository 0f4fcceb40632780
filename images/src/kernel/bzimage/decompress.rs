//! The compressed payload: its method recognised and its size bounded.
use std::io::Read;

use super::header::u32_at;
use super::{BzImageError, SetupHeader};
use crate::kernel::elf;

/// How a payload is compressed, from its magic number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// gzip (`1f 8b`).
    Gzip,
    /// zstd (`28 b5 2f fd`).
    Zstd,
    /// LZ4 legacy frame (`02 21 4c 18`), Debian's choice.
    Lz4,
    /// xz (`fd 37 7a 58 5a 00`).
    Xz,
    /// lzma (`5d 00 00`).
    Lzma,
    /// bzip2 (`BZh`).
    Bzip2,
    /// lzo (`89 4c 5a 4f`).
    Lzo,
}

impl Compression {
    /// Recognises the payload's magic number.
    pub fn detect(payload: &[u8]) -> Option<Self> {
        const MAGICS: &[(&[u8], Compression)] = &[
            (&[0x1f, 0x8b], Compression::Gzip),
            (&[0x28, 0xb5, 0x2f, 0xfd], Compression::Zstd),
            (&[0x02, 0x21, 0x4c, 0x18], Compression::Lz4),
            (&[0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], Compression::Xz),
            (&[0x5d, 0x00, 0x00], Compression::Lzma),
            (b"BZh", Compression::Bzip2),
            (&[0x89, 0x4c, 0x5a, 0x4f], Compression::Lzo),
        ];
        MAGICS
            .iter()
            .find(|(magic, _)| payload.starts_with(magic))
            .map(|&(_, c)| c)
    }

    /// Its usual name.
    pub fn name(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            Compression::Lz4 => "lz4",
            Compression::Xz => "xz",
            Compression::Lzma => "lzma",
            Compression::Bzip2 => "bzip2",
            Compression::Lzo => "lzo",
        }
    }
}

/// Decompresses the payload of the bzImage `bytes` and returns the vmlinux
/// ELF (trailing relocation data removed) and the compression used.
pub fn vmlinux(bytes: &[u8]) -> Result<(Vec<u8>, Compression), BzImageError> {
    let header = SetupHeader::parse(bytes)?;
    let payload = header.payload(bytes);
    let compression = Compression::detect(payload)
        .ok_or(BzImageError::UnsupportedCompression("an unknown method"))?;
    let (limit, why) = header.decompressed_limit();
    let mut out = decompress(payload, compression, limit, why)?;
    let end = elf::check(&out).map_err(BzImageError::NotElf)?;
    out.truncate(end);
    Ok((out, compression))
}

/// Decompresses `payload`, refusing to produce more than `limit` bytes
/// (`why` says where the limit comes from).
pub fn decompress(
    payload: &[u8],
    compression: Compression,
    limit: u64,
    why: &'static str,
) -> Result<Vec<u8>, BzImageError> {
    let corrupt = |e: std::io::Error| BzImageError::Corrupt(compression.name(), e.to_string());
    let too_large = || BzImageError::TooLarge {
        compression: compression.name(),
        limit,
        why,
    };
    // Read one byte past the limit: getting it means the payload is too big.
    let bounded = |reader: &mut dyn Read| -> Result<Vec<u8>, BzImageError> {
        let mut out = Vec::new();
        reader
            .take(limit.saturating_add(1))
            .read_to_end(&mut out)
            .map_err(corrupt)?;
        if out.len() as u64 > limit {
            return Err(too_large());
        }
        Ok(out)
    };
    match compression {
        Compression::Gzip => bounded(&mut flate2::read::GzDecoder::new(payload)),
        Compression::Zstd => bounded(
            &mut zstd::stream::read::Decoder::new(payload)
                .map_err(corrupt)?
                .single_frame(),
        ),
        Compression::Lz4 => lz4_legacy(payload, limit).map_err(|e| match e {
            Lz4Error::TooLarge => too_large(),
            Lz4Error::Corrupt(why) => BzImageError::Corrupt("lz4", why),
        }),
        other => Err(BzImageError::UnsupportedCompression(other.name())),
    }
}

/// Why an LZ4 legacy frame did not decode.
enum Lz4Error {
    /// It decodes to more than the limit.
    TooLarge,
    /// It is damaged.
    Corrupt(String),
}

/// Decodes the LZ4 legacy frame format: the magic, then blocks of at most
/// 8 MiB of output, each preceded by its compressed size (u32 LE). The kernel
/// build appends the uncompressed size (u32 LE) after the last block.
fn lz4_legacy(payload: &[u8], limit: u64) -> Result<Vec<u8>, Lz4Error> {
    const MAGIC: u32 = 0x184c_2102;
    const BLOCK_MAX: usize = 8 << 20;
    let corrupt = Lz4Error::Corrupt;
    let mut out = Vec::new();
    let mut block = vec![0u8; BLOCK_MAX];
    let mut at = 4;
    while payload.len().saturating_sub(at) >= 4 {
        let size = u32_at(payload, at);
        at += 4;
        if size == MAGIC {
            continue;
        }
        if at == payload.len() {
            // The appended uncompressed size.
            if size as usize != out.len() {
                return Err(corrupt(format!(
                    "{} bytes decompressed, the trailer says {size}",
                    out.len()
                )));
            }
            break;
        }
        let input = usize::try_from(size)
            .ok()
            .and_then(|size| at.checked_add(size))
            .and_then(|end| payload.get(at..end))
            .ok_or_else(|| corrupt(format!("a block of {size} bytes runs past the end")))?;
        let n = lz4_flex::block::decompress_into(input, &mut block)
            .map_err(|e| corrupt(e.to_string()))?;
        if out
            .len()
            .checked_add(n)
            .is_none_or(|total| total as u64 > limit)
        {
            return Err(Lz4Error::TooLarge);
        }
        out.extend_from_slice(&block[..n]);
        at += input.len();
    }
    if out.is_empty() {
        return Err(corrupt("no data".to_string()));
    }
    Ok(out)
}
