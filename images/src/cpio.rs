//! The initramfs format: a "newc" cpio archive (what the Linux kernel
//! unpacks into its initial rootfs).
//!
//! Each member is a 110-byte ASCII header (magic `070701` and thirteen
//! 8-digit hex fields), the NUL-terminated name, padding to 4 bytes, the data,
//! padding to 4 bytes; the archive ends with a member named `TRAILER!!!`.
//! For reproducible archives every member is owned by root, carries the same
//! mtime, and gets its inode number from its position; names are written in
//! the order of [`Rootfs::entries`](crate::rootfs::Rootfs::entries).
use std::io::{self, Write};

use crate::rootfs::{Entry, Kind};

/// Writing a cpio archive failed.
#[derive(Debug, thiserror::Error)]
pub enum CpioError {
    /// The output could not be written.
    #[error("cannot write the cpio archive")]
    Write(#[from] io::Error),
    /// newc stores sizes in 32 bits.
    #[error("{0} is 4 GiB or larger, too big for a newc cpio archive")]
    TooLarge(String),
}

const MAGIC: &str = "070701";
const TRAILER: &str = "TRAILER!!!";

/// Writes `entries` as a newc archive with every mtime set to `mtime`;
/// returns the number of bytes written.
pub fn write(entries: &[Entry], mtime: u32, mut out: impl Write) -> Result<u64, CpioError> {
    let mut written = 0u64;
    for (index, entry) in entries.iter().enumerate() {
        let data = entry.data();
        let size =
            u32::try_from(data.len()).map_err(|_| CpioError::TooLarge(entry.path.clone()))?;
        let (rmajor, rminor) = match entry.kind {
            Kind::CharDev { major, minor } => (major, minor),
            _ => (0, 0),
        };
        let nlink = if entry.kind == Kind::Dir { 2 } else { 1 };
        let header = Header {
            ino: index as u32 + 1,
            mode: entry.type_bits() | entry.mode,
            nlink,
            mtime,
            size,
            rmajor,
            rminor,
        };
        written += member(&mut out, &header, &entry.path, data)?;
    }
    let trailer = Header {
        ino: 0,
        mode: 0,
        nlink: 1,
        mtime: 0,
        size: 0,
        rmajor: 0,
        rminor: 0,
    };
    written += member(&mut out, &trailer, TRAILER, &[])?;
    Ok(written)
}

/// The header fields that vary; uid, gid, device and checksum are 0.
struct Header {
    ino: u32,
    mode: u32,
    nlink: u32,
    mtime: u32,
    size: u32,
    rmajor: u32,
    rminor: u32,
}

fn member(out: &mut impl Write, h: &Header, name: &str, data: &[u8]) -> io::Result<u64> {
    let namesize = name.len() + 1;
    let text = format!(
        "{MAGIC}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}",
        h.ino, h.mode, 0, 0, h.nlink, h.mtime, h.size, 0, 0, h.rmajor, h.rminor, namesize, 0
    );
    out.write_all(text.as_bytes())?;
    out.write_all(name.as_bytes())?;
    out.write_all(&[0])?;
    let head = text.len() + namesize;
    let head_pad = pad4(head);
    out.write_all(&[0; 3][..head_pad])?;
    out.write_all(data)?;
    let data_pad = pad4(data.len());
    out.write_all(&[0; 3][..data_pad])?;
    Ok((head + head_pad + data.len() + data_pad) as u64)
}

fn pad4(n: usize) -> usize {
    (4 - n % 4) % 4
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rootfs::Rootfs;

    /// One member read back: name, mode, ino, nlink, mtime, rdev, data.
    #[derive(Debug)]
    struct Parsed {
        name: String,
        mode: u32,
        ino: u32,
        nlink: u32,
        mtime: u32,
        rdev: (u32, u32),
        data: Vec<u8>,
    }

    fn parse(mut bytes: &[u8]) -> Vec<Parsed> {
        let mut members = Vec::new();
        let total = bytes.len();
        loop {
            assert_eq!((total - bytes.len()) % 4, 0, "member not 4-aligned");
            assert_eq!(&bytes[..6], MAGIC.as_bytes());
            let field = |i: usize| {
                let s = std::str::from_utf8(&bytes[6 + 8 * i..14 + 8 * i]).unwrap();
                u32::from_str_radix(s, 16).unwrap()
            };
            let (ino, mode, uid, gid, nlink, mtime, size) = (
                field(0),
                field(1),
                field(2),
                field(3),
                field(4),
                field(5),
                field(6),
            );
            assert_eq!((uid, gid, field(7), field(8), field(12)), (0, 0, 0, 0, 0));
            let namesize = field(11) as usize;
            let name = &bytes[110..110 + namesize];
            assert_eq!(name[namesize - 1], 0);
            let name = String::from_utf8(name[..namesize - 1].to_vec()).unwrap();
            let start = 110 + namesize + pad4(110 + namesize);
            let data = bytes[start..start + size as usize].to_vec();
            let next = start + size as usize + pad4(size as usize);
            let done = name == TRAILER;
            members.push(Parsed {
                name,
                mode,
                ino,
                nlink,
                mtime,
                rdev: (field(9), field(10)),
                data,
            });
            bytes = &bytes[next..];
            if done {
                assert!(bytes.is_empty(), "bytes after the trailer");
                return members;
            }
        }
    }

    #[test]
    fn parses_back_to_the_rootfs() {
        let rootfs = Rootfs::new(b"\x7fELF workload, odd length").with_console();
        let mut archive = Vec::new();
        let n = write(rootfs.entries(), 42, &mut archive).unwrap();
        assert_eq!(n as usize, archive.len());
        let members = parse(&archive);
        assert_eq!(members.len(), rootfs.entries().len() + 1);
        for (entry, member) in rootfs.entries().iter().zip(&members) {
            assert_eq!(member.name, entry.path);
            assert_eq!(member.mode, entry.type_bits() | entry.mode);
            assert_eq!(member.data, entry.data());
            assert_eq!(member.mtime, 42);
            assert!(member.ino > 0);
            assert_eq!(member.nlink, if entry.kind == Kind::Dir { 2 } else { 1 });
        }
        let console = members.iter().find(|m| m.name == "dev/console").unwrap();
        assert_eq!(console.mode, 0o020600);
        assert_eq!(console.rdev, (5, 1));
        let link = members.iter().find(|m| m.name == "sbin/init").unwrap();
        assert_eq!(link.data, b"../init");
        assert_eq!(members.last().unwrap().name, TRAILER);
    }

    #[test]
    fn same_input_same_bytes() {
        let rootfs = Rootfs::new(b"abc").with_console();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        write(rootfs.entries(), 0, &mut a).unwrap();
        write(rootfs.entries(), 0, &mut b).unwrap();
        assert_eq!(a, b);
        write(rootfs.entries(), 1, &mut b).unwrap();
        assert_ne!(a, b[a.len()..]);
    }

    #[test]
    fn the_cpio_tool_lists_it() {
        let Ok(out) = std::process::Command::new("cpio").arg("--version").output() else {
            eprintln!("skipped: no cpio tool");
            return;
        };
        assert!(out.status.success());
        let rootfs = Rootfs::new(b"abc").with_console();
        let mut archive = Vec::new();
        write(rootfs.entries(), 0, &mut archive).unwrap();
        let mut child = std::process::Command::new("cpio")
            .args(["-t", "--quiet"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(&archive).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        let listed: Vec<String> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect();
        let expected: Vec<String> = rootfs.entries().iter().map(|e| e.path.clone()).collect();
        assert_eq!(listed, expected);
    }
}
