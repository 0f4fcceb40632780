//! The setup header: the fields vmlab reads, each checked against the file.
use super::BzImageError;

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

pub(super) fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

pub(super) fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}
