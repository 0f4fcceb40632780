//! Writing a snapshot file atomically, reading its header and state back,
//! and mapping its memory image privately as guest RAM.
use std::fs::File;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::Path;
use std::sync::Arc;

use vm_memory::mmap::MmapRegion;
use vm_memory::{Bytes, FileOffset, GuestAddress, GuestMemoryBackend, GuestMemoryRegion};

use super::format::{self, Header, HEADER_LEN};
use super::state::State;
use super::{sweep, Error};
use crate::layout;
use crate::memory::{self, GuestMemoryMmap};

/// Bytes of guest memory read at a time while writing.
const CHUNK: usize = 1 << 20;

fn io<'a>(path: &'a Path, what: &'static str) -> impl FnOnce(std::io::Error) -> Error + 'a {
    move |source| Error::Io {
        path: path.to_path_buf(),
        what,
        source,
    }
}

/// What writing a snapshot produced.
pub(crate) struct Written {
    /// The file's length (memory holes included).
    pub bytes: u64,
    /// Blocks it occupies on disk, in bytes.
    pub disk_bytes: u64,
    /// Guest memory pages written (the rest are holes).
    pub data_pages: u64,
    /// Stale temporary files of dead writers removed first ([`sweep`]).
    pub swept: Vec<std::path::PathBuf>,
}

/// Writes `state` and `mem` to `out`: first to a temporary file next to
/// it, synced, then renamed over `out`. The temporary file goes on failure.
/// Stale temporary files of writers that died are removed first ([`sweep`]).
pub(crate) fn write(out: &Path, state: &State, mem: &GuestMemoryMmap) -> Result<Written, Error> {
    let dir = out.parent().filter(|p| !p.as_os_str().is_empty());
    let swept = sweep::sweep(dir.unwrap_or(Path::new(".")));
    let tmp = format::temp_path(out);
    let r = write_to(&tmp, state, mem).map(|w| Written { swept, ..w });
    let r = r.and_then(|w| {
        std::fs::rename(&tmp, out).map_err(io(out, "rename the finished snapshot to"))?;
        Ok(w)
    });
    if r.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    r
}

fn write_to(tmp: &Path, state: &State, mem: &GuestMemoryMmap) -> Result<Written, Error> {
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(tmp)
        .map_err(io(tmp, "create"))?;
    // The magic first, so that a writer killed mid-write leaves a file the
    // next writer recognises as a snapshot writer's ([`sweep`]); the real
    // header replaces it last.
    file.write_all_at(&format::MAGIC, 0)
        .map_err(io(tmp, "write the header to"))?;
    let state = state.encode();
    let mem_len: u64 = mem.iter().map(|r| r.len()).sum();
    // The offset does not depend on the memory checksum: write memory
    // first, then the header with its CRC.
    let offset = Header::new(&state, mem_len, 0).mem_offset;
    let mut crc = crc32fast::Hasher::new();
    let mut buf = vec![0u8; CHUNK];
    let mut at = offset;
    let mut data_pages = 0;
    for region in mem.iter() {
        let mut done = 0u64;
        while done < region.len() {
            let n = (region.len() - done).min(CHUNK as u64) as usize;
            let chunk = &mut buf[..n];
            mem.read_slice(chunk, GuestAddress(region.start_addr().0 + done))
                .map_err(|_| Error::Malformed {
                    path: tmp.to_path_buf(),
                    what: "guest memory unreadable",
                })?;
            crc.update(chunk);
            for (s, e) in format::data_runs(chunk) {
                file.write_all_at(&chunk[s..e], at + s as u64)
                    .map_err(io(tmp, "write guest memory to"))?;
                data_pages += ((e - s) as u64) / format::PAGE;
            }
            done += n as u64;
            at += n as u64;
        }
    }
    let header = Header::new(&state, mem_len, crc.finalize());
    file.write_all_at(&header.encode(), 0)
        .map_err(io(tmp, "write the header to"))?;
    file.write_all_at(&state, HEADER_LEN as u64)
        .map_err(io(tmp, "write the state to"))?;
    let len = header.file_len().expect("offset + memory fits u64");
    file.set_len(len).map_err(io(tmp, "size"))?;
    file.sync_all().map_err(io(tmp, "sync"))?;
    let meta = file.metadata().map_err(io(tmp, "stat"))?;
    Ok(Written {
        bytes: len,
        disk_bytes: meta.blocks() * 512,
        data_pages,
        swept: Vec::new(),
    })
}

/// An opened snapshot: its file (kept for the memory mapping), header and state.
pub(crate) struct Opened {
    pub file: Arc<File>,
    pub header: Header,
    pub state: State,
}

/// Opens `path`, checks its header, reads and checks its state (CRC, then
/// decoding) and that its memory image matches its configuration.
pub(crate) fn open(path: &Path) -> Result<Opened, Error> {
    let file = File::open(path).map_err(io(path, "open"))?;
    let len = file.metadata().map_err(io(path, "stat"))?.len();
    let mut head = [0u8; HEADER_LEN];
    let n = read_up_to(&file, &mut head, 0).map_err(io(path, "read"))?;
    let header = Header::decode(&head[..n], path, len)?;
    let mut state = vec![0u8; header.state_len as usize];
    file.read_exact_at(&mut state, HEADER_LEN as u64)
        .map_err(io(path, "read the state of"))?;
    if crc32fast::hash(&state) != header.state_crc {
        return Err(Error::Corrupt {
            path: path.to_path_buf(),
            part: "state",
        });
    }
    let state = State::decode(&state).map_err(|_| Error::Malformed {
        path: path.to_path_buf(),
        what: "state does not decode",
    })?;
    let expected = memory::bytes(state.config.mem_mib);
    if expected != Some(header.mem_len) {
        return Err(Error::MemSize {
            path: path.to_path_buf(),
            snapshot_mib: state.config.mem_mib,
            image_bytes: header.mem_len,
        });
    }
    Ok(Opened {
        file: Arc::new(file),
        header,
        state,
    })
}

/// What a snapshot file says about itself.
#[derive(Clone, Debug)]
pub struct Info {
    /// Its format version.
    pub version: u32,
    /// Guest RAM in MiB.
    pub mem_mib: u64,
    /// The file's length (memory holes included).
    pub bytes: u64,
    /// What it occupies on disk.
    pub disk_bytes: u64,
    /// From the start of the boot it was taken of to its snapshot mark, ns.
    pub to_mark_ns: u64,
    /// Whether it is of a Linux guest (in-kernel irqchip and PIT), not
    /// the bare guest.
    pub linux: bool,
    /// How the guest was entered when it booted (the report's `entry`).
    pub entry: String,
}

/// Opens and checks the snapshot `path` (header and state, not the memory
/// image) and describes it.
pub fn inspect(path: &Path) -> Result<Info, Error> {
    let o = open(path)?;
    let meta = o.file.metadata().map_err(io(path, "stat"))?;
    Ok(Info {
        version: o.header.version,
        mem_mib: o.state.config.mem_mib,
        bytes: meta.len(),
        disk_bytes: meta.blocks() * 512,
        to_mark_ns: o.state.config.to_mark_ns,
        linux: o.state.config.irqchip,
        entry: o.state.config.entry.clone(),
    })
}

fn read_up_to(file: &File, buf: &mut [u8], at: u64) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read_at(&mut buf[n..], at + n as u64)? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Reads the whole memory image and checks it against the header's CRC.
pub(crate) fn verify_memory(path: &Path, o: &Opened) -> Result<(), Error> {
    let mut crc = crc32fast::Hasher::new();
    let mut buf = vec![0u8; CHUNK];
    let mut at = o.header.mem_offset;
    let end = at + o.header.mem_len;
    while at < end {
        let n = ((end - at) as usize).min(CHUNK);
        o.file
            .read_exact_at(&mut buf[..n], at)
            .map_err(io(path, "read the memory image of"))?;
        crc.update(&buf[..n]);
        at += n as u64;
    }
    if crc.finalize() != o.header.mem_crc {
        return Err(Error::Corrupt {
            path: path.to_path_buf(),
            part: "memory image",
        });
    }
    Ok(())
}

/// Maps the memory image as guest RAM: private (the guest's writes are
/// copied on write and never reach the file), read on first touch.
pub(crate) fn map(path: &Path, o: &Opened) -> Result<GuestMemoryMmap, Error> {
    let bytes = o.header.mem_len;
    let mut at = o.header.mem_offset;
    let mut regions = Vec::new();
    for (start, len) in layout::ram_ranges(bytes) {
        let size = usize::try_from(len).map_err(|_| Error::Map {
            path: path.to_path_buf(),
        })?;
        let region = MmapRegion::build(
            Some(FileOffset::from_arc(o.file.clone(), at)),
            size,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_NORESERVE,
        )
        .map_err(|_| Error::Map {
            path: path.to_path_buf(),
        })?;
        regions.push(
            vm_memory::GuestRegionMmap::new(region, GuestAddress(start)).ok_or(Error::Map {
                path: path.to_path_buf(),
            })?,
        );
        at += len;
    }
    GuestMemoryMmap::from_regions(regions).map_err(|_| Error::Map {
        path: path.to_path_buf(),
    })
}
