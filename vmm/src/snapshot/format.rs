//! The snapshot file: a fixed header, the state (config, CPUID, vCPU, VM and
//! device state), then guest memory at a page-aligned offset, its all-zero
//! pages left as holes.
//!
//! ```text
//! offset  size  field
//!      0     8  magic "VMLABSNP"
//!      8     4  format version (little-endian, like every field)
//!     12     4  header length (64)
//!     16     8  state length
//!     24     8  memory offset (a multiple of 4096, after the state)
//!     32     8  memory length (guest RAM, its regions in address order)
//!     40     4  CRC-32 of the state
//!     44     4  CRC-32 of the memory image
//!     48    12  reserved (zero)
//!     60     4  CRC-32 of bytes 0..60
//! ```
//! The file is exactly `memory offset + memory length` bytes long.
use std::path::{Path, PathBuf};

use super::Error;

/// The file's first bytes.
pub(crate) const MAGIC: [u8; 8] = *b"VMLABSNP";
/// The format version this VMM writes and reads.
pub const VERSION: u32 = 1;
/// The bare guest's entry label, as the state stores it (tests find the
/// fields after it).
pub const BARE_ENTRY_LABEL: &str = crate::builder::BARE_ENTRY;
/// The header's length.
pub(crate) const HEADER_LEN: usize = 64;
/// Guest pages, and the memory image's alignment in the file.
pub(crate) const PAGE: u64 = 4096;
/// The most state bytes a snapshot may have (a few KiB in practice).
pub(crate) const MAX_STATE: u64 = 16 << 20;

/// The decoded header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    pub version: u32,
    pub state_len: u64,
    pub mem_offset: u64,
    pub mem_len: u64,
    pub state_crc: u32,
    pub mem_crc: u32,
}

impl Header {
    /// A header for `state` and a memory image of `mem_len` bytes with CRC `mem_crc`.
    pub(crate) fn new(state: &[u8], mem_len: u64, mem_crc: u32) -> Header {
        let state_len = state.len() as u64;
        Header {
            version: VERSION,
            state_len,
            mem_offset: (HEADER_LEN as u64 + state_len).div_ceil(PAGE) * PAGE,
            mem_len,
            state_crc: crc32fast::hash(state),
            mem_crc,
        }
    }

    /// The header's bytes.
    pub(crate) fn encode(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[0..8].copy_from_slice(&MAGIC);
        b[8..12].copy_from_slice(&self.version.to_le_bytes());
        b[12..16].copy_from_slice(&(HEADER_LEN as u32).to_le_bytes());
        b[16..24].copy_from_slice(&self.state_len.to_le_bytes());
        b[24..32].copy_from_slice(&self.mem_offset.to_le_bytes());
        b[32..40].copy_from_slice(&self.mem_len.to_le_bytes());
        b[40..44].copy_from_slice(&self.state_crc.to_le_bytes());
        b[44..48].copy_from_slice(&self.mem_crc.to_le_bytes());
        let crc = crc32fast::hash(&b[..60]);
        b[60..64].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// The file length this header describes.
    pub(crate) fn file_len(&self) -> Option<u64> {
        self.mem_offset.checked_add(self.mem_len)
    }

    /// Decodes and checks a header read from `path`, whose length is `file_len`.
    pub(crate) fn decode(b: &[u8], path: &Path, file_len: u64) -> Result<Header, Error> {
        let path = || path.to_path_buf();
        if b.len() < MAGIC.len() || b[..8] != MAGIC {
            return Err(Error::NotASnapshot { path: path() });
        }
        if b.len() < HEADER_LEN {
            return Err(Error::Truncated {
                path: path(),
                expected: HEADER_LEN as u64,
                found: file_len,
            });
        }
        let u32_at = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().expect("4 bytes"));
        let u64_at = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().expect("8 bytes"));
        // The version first: a newer format may lay its header out differently.
        let version = u32_at(8);
        if version > VERSION {
            return Err(Error::NewerVersion {
                path: path(),
                found: version,
                supported: VERSION,
            });
        }
        if crc32fast::hash(&b[..60]) != u32_at(60) {
            return Err(Error::Corrupt {
                path: path(),
                part: "header",
            });
        }
        let h = Header {
            version,
            state_len: u64_at(16),
            mem_offset: u64_at(24),
            mem_len: u64_at(32),
            state_crc: u32_at(40),
            mem_crc: u32_at(44),
        };
        let sane = version == VERSION
            && u32_at(12) as usize == HEADER_LEN
            && h.state_len <= MAX_STATE
            && h.mem_offset % PAGE == 0
            && h.mem_offset >= HEADER_LEN as u64 + h.state_len
            && h.mem_len % PAGE == 0;
        let Some(expected) = h.file_len().filter(|_| sane) else {
            return Err(Error::Malformed {
                path: path(),
                what: "header fields out of range",
            });
        };
        if file_len < expected {
            return Err(Error::Truncated {
                path: path(),
                expected,
                found: file_len,
            });
        }
        Ok(h)
    }
}

/// The temporary file a snapshot is written to before it is renamed to `out`
/// (same directory, so the rename is atomic).
pub(crate) fn temp_path(out: &Path) -> PathBuf {
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "snapshot".into());
    out.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}

/// A page of zeros, compared against (a `memcmp`: fast in every build,
/// where a byte loop is slow in debug builds, as the rig runs them).
static ZERO_PAGE: [u8; PAGE as usize] = [0; PAGE as usize];

/// Runs of pages in `chunk` that are not all zero, as (start, end) byte offsets.
pub(crate) fn data_runs(chunk: &[u8]) -> Vec<(usize, usize)> {
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for (i, page) in chunk.chunks(PAGE as usize).enumerate() {
        if page == &ZERO_PAGE[..page.len()] {
            continue;
        }
        let start = i * PAGE as usize;
        let end = start + page.len();
        match runs.last_mut() {
            Some(last) if last.1 == start => last.1 = end,
            _ => runs.push((start, end)),
        }
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Header {
        Header::new(&[1, 2, 3], 2 << 20, 0xdead_beef)
    }

    #[test]
    fn header_round_trips_and_aligns_memory() {
        let h = header();
        assert_eq!(h.mem_offset, PAGE);
        let b = h.encode();
        let len = h.file_len().unwrap();
        assert_eq!(Header::decode(&b, Path::new("s"), len).unwrap(), h);
        let big = Header::new(&vec![0; 5000], PAGE, 0);
        assert_eq!(big.mem_offset, 2 * PAGE);
    }

    #[test]
    fn bad_headers_are_refused_by_kind() {
        let h = header();
        let len = h.file_len().unwrap();
        let p = Path::new("s");
        let mut b = h.encode();
        b[0] = b'X';
        assert!(matches!(
            Header::decode(&b, p, len),
            Err(Error::NotASnapshot { .. })
        ));
        let mut b = h.encode();
        b[33] ^= 1;
        assert!(matches!(
            Header::decode(&b, p, len),
            Err(Error::Corrupt { part: "header", .. })
        ));
        let newer = Header {
            version: VERSION + 1,
            ..h
        };
        let e = Header::decode(&newer.encode(), p, len).unwrap_err();
        assert!(matches!(e, Error::NewerVersion { found, .. } if found == VERSION + 1));
        assert!(e.to_string().contains("newer"), "{e}");
        assert!(matches!(
            Header::decode(&h.encode(), p, len - 1),
            Err(Error::Truncated { .. })
        ));
        assert!(matches!(
            Header::decode(&h.encode()[..20], p, 20),
            Err(Error::Truncated { .. })
        ));
        let odd = Header {
            mem_offset: 100,
            ..h
        };
        assert!(matches!(
            Header::decode(&odd.encode(), p, len),
            Err(Error::Malformed { .. })
        ));
        let huge = Header {
            mem_len: u64::MAX - PAGE + 1,
            ..h
        };
        assert!(matches!(
            Header::decode(&huge.encode(), p, len),
            Err(Error::Malformed { .. })
        ));
    }

    #[test]
    fn zero_pages_are_holes() {
        let mut chunk = vec![0u8; 5 * PAGE as usize];
        chunk[10] = 1;
        chunk[PAGE as usize + 7] = 1;
        chunk[4 * PAGE as usize] = 9;
        let p = PAGE as usize;
        assert_eq!(data_runs(&chunk), vec![(0, 2 * p), (4 * p, 5 * p)]);
        assert!(data_runs(&vec![0u8; p]).is_empty());
    }

    #[test]
    fn temp_file_is_next_to_the_target() {
        let t = temp_path(Path::new("/a/b/snap.vmlab"));
        assert_eq!(t.parent(), Some(Path::new("/a/b")));
        assert!(t
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with(".snap.vmlab."));
    }
}
