//! Opening a TAP interface (`/dev/net/tun` + `TUNSETIFF`) for virtio-net.
//! The caller owns the interface's setup (addresses, namespace); the VMM
//! only gets the fd.
use std::fs::OpenOptions;
use std::os::fd::{AsRawFd, OwnedFd};

/// `TUNSETIFF`: `_IOW('T', 202, int)`.
const TUNSETIFF: libc::c_ulong = 0x4004_54ca;
/// `IFF_TAP | IFF_NO_PI`: Ethernet frames without the packet-info prefix.
const FLAGS: libc::c_short = (libc::IFF_TAP | libc::IFF_NO_PI) as libc::c_short;

/// Errors opening a TAP.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The name does not fit an interface name.
    #[error("TAP name {0:?} is empty, too long (15 bytes at most) or contains a NUL")]
    Name(String),
    /// `/dev/net/tun` could not be opened.
    #[error(
        "cannot open /dev/net/tun (is the tun module loaded, and are we root or CAP_NET_ADMIN?)"
    )]
    Open(#[source] std::io::Error),
    /// The kernel refused `TUNSETIFF`.
    #[error("cannot attach to TAP {name:?} (TUNSETIFF)")]
    Attach {
        /// The interface.
        name: String,
        /// What the kernel said.
        #[source]
        source: std::io::Error,
    },
}

/// `struct ifreq` as `TUNSETIFF` reads it: the name and the flags.
#[repr(C)]
struct IfReq {
    name: [u8; libc::IFNAMSIZ],
    flags: libc::c_short,
    _pad: [u8; 22],
}

/// Opens (creating if needed) TAP interface `name` in the calling thread's
/// network namespace.
pub fn open(name: &str) -> Result<OwnedFd, Error> {
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.len() >= libc::IFNAMSIZ || bytes.contains(&0) {
        return Err(Error::Name(name.to_string()));
    }
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/net/tun")
        .map_err(Error::Open)?;
    let mut req = IfReq {
        name: [0; libc::IFNAMSIZ],
        flags: FLAGS,
        _pad: [0; 22],
    };
    req.name[..bytes.len()].copy_from_slice(bytes);
    // SAFETY: `file` is an open tun fd; TUNSETIFF reads and writes one
    // `struct ifreq`, and `req` is a live, properly laid out one (40 bytes:
    // the name, then the flags in the union) for the whole call.
    let rc = unsafe { libc::ioctl(file.as_raw_fd(), TUNSETIFF, &mut req as *mut IfReq) };
    if rc < 0 {
        return Err(Error::Attach {
            name: name.to_string(),
            source: std::io::Error::last_os_error(),
        });
    }
    Ok(file.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ifreq_has_the_kernel_layout() {
        assert_eq!(std::mem::size_of::<IfReq>(), 40);
        assert_eq!(std::mem::offset_of!(IfReq, flags), 16);
    }

    #[test]
    fn bad_names_are_refused_before_any_system_call() {
        for name in ["", "a-name-far-too-long", "nul\0"] {
            assert!(matches!(open(name), Err(Error::Name(_))), "{name:?}");
        }
    }
}
