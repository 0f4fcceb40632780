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
use std::io::Read;

use super::elf;

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

/// The parts of the setup header vmlab uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetupHeader {
    /// Boot protocol version, e.g. 0x020f.
    pub protocol: u16,
    /// Setup sectors (0 in the header means 4).
    pub setup_sects: u32,
    /// Offset of the protected-mode code in the file.
    pub code_offset: usize,
    /// Offset of the compressed payload in the file.
    pub payload_offset: usize,
    /// Length of the compressed payload.
    pub payload_length: usize,
    /// The kernel version string (`6.1.0-56-cloud-amd64 (debian-kernel@…) #1 …`).
    pub version: Option<String>,
    /// `init_size` (boot protocol 2.10+; 0 when absent): memory the kernel
    /// needs from its load address, an upper bound on the decompressed payload.
    pub init_size: u32,
}

/// The most any payload may decompress to, whatever its header says: 512 MiB.
pub const MAX_DECOMPRESSED: u64 = 512 << 20;

impl SetupHeader {
    /// Parses and checks the setup header of `bytes`.
    pub fn parse(bytes: &[u8]) -> Result<Self, BzImageError> {
        if bytes.len() < 0x250 {
            return Err(BzImageError::TooShort(bytes.len()));
        }
        if &bytes[0x202..0x206] != b"HdrS" {
            return Err(BzImageError::NoMagic);
        }
        let protocol = u16_at(bytes, 0x206);
        if protocol < 0x0208 {
            return Err(BzImageError::OldProtocol {
                major: (protocol >> 8) as u8,
                minor: protocol as u8,
            });
        }
        if bytes[0x211] & 1 == 0 {
            return Err(BzImageError::NotBzImage);
        }
        let setup_sects = match bytes[0x1f1] {
            0 => 4,
            n => u32::from(n),
        };
        let actual = bytes.len() as u64;
        // setup_sects <= 255 and the fields are u32: none of this overflows a
        // u64, but the arithmetic is checked all the same.
        let code_offset = (u64::from(setup_sects) + 1) * 512;
        let syssize = u64::from(u32_at(bytes, 0x1f4)) * 16;
        let truncated = |expected: Option<u64>| BzImageError::Truncated {
            expected: expected.unwrap_or(u64::MAX),
            actual,
        };
        let expected = code_offset.checked_add(syssize);
        if expected.is_none_or(|e| e > actual) {
            return Err(truncated(expected));
        }
        let payload_offset = code_offset.checked_add(u64::from(u32_at(bytes, 0x248)));
        let payload_length = u64::from(u32_at(bytes, 0x24c));
        let payload_end = payload_offset.and_then(|o| o.checked_add(payload_length));
        if payload_end.is_none_or(|e| e > actual) || payload_length < 4 {
            return Err(truncated(payload_end.map(|e| e.max(expected.unwrap_or(0)))));
        }
        // All three are at most the file's length, so they fit a usize.
        let to_usize = |v: Option<u64>| {
            v.and_then(|v| usize::try_from(v).ok())
                .ok_or_else(|| truncated(None))
        };
        let code_offset = to_usize(Some(code_offset))?;
        let payload_offset = to_usize(payload_offset)?;
        let payload_length = to_usize(Some(payload_length))?;
        let init_size = if protocol >= 0x020a {
            u32_at(bytes, 0x260)
        } else {
            0
        };
        let version = match u16_at(bytes, 0x20e) {
            0 => None,
            ptr => {
                let start = usize::from(ptr) + 0x200;
                bytes.get(start..).map(|rest| {
                    let end = rest
                        .iter()
                        .position(|&b| b == 0)
                        .unwrap_or(rest.len().min(256));
                    String::from_utf8_lossy(&rest[..end]).into_owned()
                })
            }
        };
        Ok(SetupHeader {
            protocol,
            setup_sects,
            code_offset,
            payload_offset,
            payload_length,
            version,
            init_size,
        })
    }

    /// The compressed payload.
    pub fn payload<'a>(&self, bytes: &'a [u8]) -> &'a [u8] {
        self.payload_offset
            .checked_add(self.payload_length)
            .and_then(|end| bytes.get(self.payload_offset..end))
            .unwrap_or_default()
    }

    /// The most the payload may decompress to, and why: `init_size` when
    /// the header has one, never above [`MAX_DECOMPRESSED`].
    pub fn decompressed_limit(&self) -> (u64, &'static str) {
        match u64::from(self.init_size) {
            n if n > 0 && n < MAX_DECOMPRESSED => (n, "the init_size its setup header declares"),
            _ => (MAX_DECOMPRESSED, "vmlab's limit for a kernel"),
        }
    }

    /// The release (first word of the version string), e.g. `6.1.0-56-cloud-amd64`.
    pub fn release(&self) -> Option<&str> {
        self.version.as_deref()?.split_whitespace().next()
    }
}

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

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::Write;

    /// A synthetic bzImage around `payload`: 1 setup sector plus the boot
    /// sector, protocol 2.15, LOADED_HIGH, version string in the setup code.
    pub(crate) fn synthetic(payload: &[u8]) -> Vec<u8> {
        let code = 1024;
        let mut img = vec![0u8; code];
        img[0x1f1] = 1;
        img[0x202..0x206].copy_from_slice(b"HdrS");
        img[0x206..0x208].copy_from_slice(&0x020fu16.to_le_bytes());
        img[0x211] = 1;
        let version = b"6.1.0-test (x) #1\0";
        img[0x300..0x300 + version.len()].copy_from_slice(version);
        img[0x20e..0x210].copy_from_slice(&0x100u16.to_le_bytes());
        let mut pm = vec![0u8; 64];
        pm.extend_from_slice(payload);
        pm.resize(pm.len().div_ceil(16) * 16, 0);
        img[0x1f4..0x1f8].copy_from_slice(&((pm.len() / 16) as u32).to_le_bytes());
        img[0x248..0x24c].copy_from_slice(&64u32.to_le_bytes());
        img[0x24c..0x250].copy_from_slice(&(payload.len() as u32).to_le_bytes());
        img.extend_from_slice(&pm);
        img
    }

    pub(crate) fn with_trailer(mut compressed: Vec<u8>, len: usize) -> Vec<u8> {
        compressed.extend_from_slice(&(len as u32).to_le_bytes());
        compressed
    }

    fn fake_vmlinux() -> Vec<u8> {
        let mut v = crate::embedded::GUEST.to_vec();
        v.extend_from_slice(b"relocations after the ELF");
        v
    }

    #[test]
    fn decompresses_gzip_zstd_and_lz4_payloads() {
        let elf = fake_vmlinux();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&elf).unwrap();
        let gzip = with_trailer(gz.finish().unwrap(), elf.len());
        let zstd = with_trailer(zstd::encode_all(&elf[..], 3).unwrap(), elf.len());
        let mut lz4 = 0x184c_2102u32.to_le_bytes().to_vec();
        for chunk in elf.chunks(1000) {
            let block = lz4_flex::block::compress(chunk);
            lz4.extend_from_slice(&(block.len() as u32).to_le_bytes());
            lz4.extend_from_slice(&block);
        }
        let lz4 = with_trailer(lz4, elf.len());
        for (payload, expected) in [
            (gzip, Compression::Gzip),
            (zstd, Compression::Zstd),
            (lz4, Compression::Lz4),
        ] {
            let img = synthetic(&payload);
            let header = SetupHeader::parse(&img).unwrap();
            assert_eq!(header.release(), Some("6.1.0-test"));
            let (vmlinux, compression) = vmlinux(&img).unwrap();
            assert_eq!(compression, expected);
            assert_eq!(vmlinux, crate::embedded::GUEST, "{expected:?}");
        }
    }

    #[test]
    fn rejects_junk_truncation_and_unsupported_compression() {
        assert!(matches!(
            SetupHeader::parse(&[0u8; 100]),
            Err(BzImageError::TooShort(100))
        ));
        assert!(matches!(
            SetupHeader::parse(&[0x55u8; 4096]),
            Err(BzImageError::NoMagic)
        ));
        let gz = with_trailer(zstd::encode_all(&fake_vmlinux()[..], 1).unwrap(), 1);
        let img = synthetic(&gz);
        assert!(matches!(
            SetupHeader::parse(&img[..img.len() - 32]),
            Err(BzImageError::Truncated { .. })
        ));
        let xz = synthetic(&[0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 1, 2, 3]);
        assert!(matches!(
            vmlinux(&xz),
            Err(BzImageError::UnsupportedCompression("xz"))
        ));
        let not_elf = synthetic(&with_trailer(zstd::encode_all(&b"text"[..], 1).unwrap(), 4));
        assert!(matches!(vmlinux(&not_elf), Err(BzImageError::NotElf(_))));
        let mut old = img.clone();
        old[0x206..0x208].copy_from_slice(&0x0204u16.to_le_bytes());
        assert!(matches!(
            SetupHeader::parse(&old),
            Err(BzImageError::OldProtocol { major: 2, minor: 4 })
        ));
    }

    /// `compressed` wrapped in a bzImage whose header declares `init_size`.
    fn declaring(init_size: u32, compressed: &[u8]) -> Vec<u8> {
        let mut img = synthetic(compressed);
        img[0x260..0x264].copy_from_slice(&init_size.to_le_bytes());
        img
    }

    fn lz4_legacy_of(data: &[u8]) -> Vec<u8> {
        let mut lz4 = 0x184c_2102u32.to_le_bytes().to_vec();
        for chunk in data.chunks(8 << 20) {
            let block = lz4_flex::block::compress(chunk);
            lz4.extend_from_slice(&(block.len() as u32).to_le_bytes());
            lz4.extend_from_slice(&block);
        }
        with_trailer(lz4, data.len())
    }

    #[test]
    fn a_decompression_bomb_is_refused() {
        // 16 MiB of zeros, in a bzImage that declares 1 MiB.
        let zeros = vec![0u8; 16 << 20];
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&zeros).unwrap();
        let gzip = gz.finish().unwrap();
        let zstd = with_trailer(zstd::encode_all(&zeros[..], 1).unwrap(), zeros.len());
        let lz4 = lz4_legacy_of(&zeros);
        for (payload, name) in [(gzip, "gzip"), (zstd, "zstd"), (lz4, "lz4")] {
            assert!(payload.len() < 1 << 20, "{name}: the bomb is small");
            let img = declaring(1 << 20, &payload);
            match vmlinux(&img) {
                Err(BzImageError::TooLarge {
                    compression, limit, ..
                }) => assert_eq!((compression, limit), (name, 1 << 20)),
                other => panic!("{name}: {other:?}"),
            }
        }
    }

    #[test]
    fn the_limit_is_init_size_capped_by_the_hard_limit() {
        let header = |init_size| {
            SetupHeader::parse(&declaring(init_size, &[0x1f, 0x8b, 0, 0]))
                .unwrap()
                .decompressed_limit()
                .0
        };
        assert_eq!(header(4 << 20), 4 << 20);
        assert_eq!(header(0), MAX_DECOMPRESSED);
        assert_eq!(header(u32::MAX), MAX_DECOMPRESSED);
        // A payload under the limit still decompresses.
        let data = vec![7u8; 100_000];
        let lz4 = lz4_legacy_of(&data);
        let out = decompress(&lz4, Compression::Lz4, 100_000, "test").unwrap();
        assert_eq!(out, data);
        assert!(matches!(
            decompress(&lz4, Compression::Lz4, 99_999, "test"),
            Err(BzImageError::TooLarge { limit: 99_999, .. })
        ));
    }

    #[test]
    fn overflowing_header_fields_are_errors() {
        let mut img = synthetic(&[0x1f, 0x8b, 0, 0, 0, 0]);
        img[0x248..0x24c].copy_from_slice(&u32::MAX.to_le_bytes());
        img[0x24c..0x250].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            SetupHeader::parse(&img),
            Err(BzImageError::Truncated { .. })
        ));
        let mut img = synthetic(&[0x1f, 0x8b, 0, 0, 0, 0]);
        img[0x1f4..0x1f8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            SetupHeader::parse(&img),
            Err(BzImageError::Truncated { .. })
        ));
    }
}
