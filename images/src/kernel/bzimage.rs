//! The x86 bzImage: its setup header, and the compressed vmlinux inside.
//!
//! The setup header sits at 0x1f1 (`setup_sects`) .. 0x250; `HdrS` at 0x202
//! marks it. The protected-mode code starts at `(setup_sects + 1) * 512`
//! and is `syssize * 16` bytes long; within it, `payload_offset` (0x248) and
//! `payload_length` (0x24c) locate the compressed kernel (boot protocol
//! 2.08 and later). Debian's kernels compress it with LZ4 (legacy frame
//! format); gzip and zstd are supported too. The payload decompresses to the
//! kernel ELF followed by relocation data, which [`vmlinux`] cuts off.
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
}

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
        let code_offset = (setup_sects as usize + 1) * 512;
        let syssize = u64::from(u32_at(bytes, 0x1f4)) * 16;
        let expected = code_offset as u64 + syssize;
        let actual = bytes.len() as u64;
        if expected > actual {
            return Err(BzImageError::Truncated { expected, actual });
        }
        let payload_offset = code_offset + u32_at(bytes, 0x248) as usize;
        let payload_length = u32_at(bytes, 0x24c) as usize;
        let payload_end = (payload_offset + payload_length) as u64;
        if payload_end > actual || payload_length < 4 {
            return Err(BzImageError::Truncated {
                expected: payload_end.max(expected),
                actual,
            });
        }
        let version = match u16_at(bytes, 0x20e) {
            0 => None,
            ptr => {
                let start = ptr as usize + 0x200;
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
        })
    }

    /// The compressed payload.
    pub fn payload<'a>(&self, bytes: &'a [u8]) -> &'a [u8] {
        &bytes[self.payload_offset..self.payload_offset + self.payload_length]
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
    let corrupt = |e: std::io::Error| BzImageError::Corrupt(compression.name(), e.to_string());
    let mut out = Vec::new();
    match compression {
        Compression::Gzip => {
            flate2::read::GzDecoder::new(payload)
                .read_to_end(&mut out)
                .map_err(corrupt)?;
        }
        Compression::Zstd => {
            zstd::stream::read::Decoder::new(payload)
                .map_err(corrupt)?
                .single_frame()
                .read_to_end(&mut out)
                .map_err(corrupt)?;
        }
        Compression::Lz4 => out = lz4_legacy(payload)?,
        other => return Err(BzImageError::UnsupportedCompression(other.name())),
    }
    let end = elf::check(&out).map_err(BzImageError::NotElf)?;
    out.truncate(end);
    Ok((out, compression))
}

/// Decodes the LZ4 legacy frame format: the magic, then blocks of at most
/// 8 MiB of output, each preceded by its compressed size (u32 LE). The kernel
/// build appends the uncompressed size (u32 LE) after the last block.
fn lz4_legacy(payload: &[u8]) -> Result<Vec<u8>, BzImageError> {
    const MAGIC: u32 = 0x184c_2102;
    const BLOCK_MAX: usize = 8 << 20;
    let corrupt = |why: String| BzImageError::Corrupt("lz4", why);
    let mut out = Vec::new();
    let mut block = vec![0u8; BLOCK_MAX];
    let mut at = 4;
    while payload.len() - at >= 4 {
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
        let end = at + size as usize;
        let input = payload
            .get(at..end)
            .ok_or_else(|| corrupt(format!("a block of {size} bytes runs past the end")))?;
        let n = lz4_flex::block::decompress_into(input, &mut block)
            .map_err(|e| corrupt(e.to_string()))?;
        out.extend_from_slice(&block[..n]);
        at = end;
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
}
