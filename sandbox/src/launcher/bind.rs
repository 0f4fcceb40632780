//! The host side of a file bind ([`crate::config::FileBind`]): the host
//! file opened by the launcher without following a link, refused unless it
//! is a regular file the sandbox's user can read and write, and cloned as a
//! detached `nosuid,nodev,noexec` bind mount from that same fd (so what was
//! checked is what gets bound). The child attaches it beneath its rootfs
//! (`step::mounts::bind_file`).
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::{Mode, SFlag};

use crate::config::UserNs;
use crate::sys::{attr, Real, Sys};

/// Why a host file cannot be bound in.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    /// It cannot be opened (missing, or a directory on the way not searchable).
    #[error("cannot open the file {path} to bind into the sandbox: {errno}")]
    Open {
        /// The host file.
        path: PathBuf,
        /// Why.
        errno: Errno,
    },
    /// It is a symbolic link (never followed).
    #[error(
        "the file {0} to bind into the sandbox is a symbolic link; give the file it points to"
    )]
    Symlink(PathBuf),
    /// It is not a regular file.
    #[error(
        "the file {path} to bind into the sandbox is {kind}; only a regular file can be bound"
    )]
    NotRegular {
        /// The host file.
        path: PathBuf,
        /// What it is (a directory, a device node, ...).
        kind: &'static str,
    },
    /// The sandbox's user cannot read and write it.
    #[error("the file {path} is not readable and writable by uid {uid} (gid {gid}), which the sandbox runs as on the host; chown it to {uid} or make it mode 0666")]
    NotAccessible {
        /// The host file.
        path: PathBuf,
        /// The host uid of the sandbox's root.
        uid: u32,
        /// Its host gid.
        gid: u32,
    },
    /// `open_tree` or `mount_setattr` failed otherwise.
    #[error("cannot make the bind mount of {path}: {errno}")]
    Mount {
        /// The host file.
        path: PathBuf,
        /// Why.
        errno: Errno,
    },
}

/// What a file type is, in words, or `None` for a regular file.
fn kind(mode: u32) -> Option<&'static str> {
    match SFlag::from_bits_truncate(mode & SFlag::S_IFMT.bits()) {
        SFlag::S_IFREG => None,
        SFlag::S_IFDIR => Some("a directory"),
        SFlag::S_IFCHR | SFlag::S_IFBLK => Some("a device node"),
        SFlag::S_IFIFO => Some("a FIFO"),
        SFlag::S_IFSOCK => Some("a socket"),
        SFlag::S_IFLNK => Some("a symbolic link"),
        _ => Some("not a regular file"),
    }
}

/// Whether `uid`/`gid` may read and write a file of `mode` owned by
/// `owner`/`group` (the permission bits alone: the workload has no
/// capability over the host's ids).
fn may_read_write(mode: u32, (owner, group): (u32, u32), (uid, gid): (u32, u32)) -> bool {
    let bits = if owner == uid {
        mode >> 6
    } else if group == gid {
        mode >> 3
    } else {
        mode
    };
    bits & 0o6 == 0o6
}

/// The host file checked, and its bind where the launcher may make one.
#[derive(Debug)]
pub(super) struct Bound {
    /// The detached bind mount; `None` when the launcher is not privileged
    /// to clone mounts (the child then clones it in its own namespaces).
    pub(super) mount: Option<OwnedFd>,
    /// The device and inode checked, which the child's open must match.
    pub(super) id: (u64, u64),
}

/// The host file `host` checked and, where the launcher may, its detached
/// bind mount, for a sandbox whose root maps to `user`'s ids (`None`: real
/// root, which may open anything).
pub(super) fn detached(host: &Path, user: Option<&UserNs>) -> Result<Bound, BindError> {
    let path = || host.to_path_buf();
    let flags = OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let fd = nix::fcntl::open(host, flags, Mode::empty()).map_err(|errno| BindError::Open {
        path: path(),
        errno,
    })?;
    let st = nix::sys::stat::fstat(&fd).map_err(|errno| BindError::Open {
        path: path(),
        errno,
    })?;
    // O_PATH | O_NOFOLLOW opens a link itself rather than failing.
    if st.st_mode & libc::S_IFMT == libc::S_IFLNK {
        return Err(BindError::Symlink(path()));
    }
    if let Some(kind) = kind(st.st_mode) {
        return Err(BindError::NotRegular { path: path(), kind });
    }
    if let Some(u) = user {
        let ids = (u.uid.outside, u.gid.outside);
        if !may_read_write(st.st_mode, (st.st_uid, st.st_gid), ids) {
            return Err(BindError::NotAccessible {
                path: path(),
                uid: ids.0,
                gid: ids.1,
            });
        }
    }
    let id = Real
        .file_id(fd.as_raw_fd())
        .map_err(|errno| BindError::Open {
            path: path(),
            errno,
        })?;
    let mount = match Real.clone_tree(fd.as_raw_fd(), c"", false) {
        Ok(m) => m,
        // Not privileged over this mount namespace: the child, root of its
        // own, clones the same file there.
        Err(Errno::EPERM) if user.is_some() => return Ok(Bound { mount: None, id }),
        Err(errno) => {
            return Err(BindError::Mount {
                path: path(),
                errno,
            })
        }
    };
    // SAFETY: open_tree returned a new fd that nothing else owns.
    let mount = unsafe { OwnedFd::from_raw_fd(mount) };
    let hardened = attr::NOSUID | attr::NODEV | attr::NOEXEC;
    Real.set_mount_attrs(mount.as_raw_fd(), hardened, false)
        .map_err(|errno| BindError::Mount {
            path: path(),
            errno,
        })?;
    Ok(Bound {
        mount: Some(mount),
        id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_permission_bits() {
        assert_eq!(kind(libc::S_IFREG | 0o644), None);
        assert_eq!(kind(libc::S_IFDIR | 0o755), Some("a directory"));
        assert_eq!(kind(libc::S_IFCHR | 0o666), Some("a device node"));
        assert_eq!(kind(libc::S_IFBLK | 0o660), Some("a device node"));
        assert_eq!(kind(libc::S_IFLNK | 0o777), Some("a symbolic link"));
        assert_eq!(kind(libc::S_IFIFO | 0o600), Some("a FIFO"));
        let me = (1000, 1000);
        assert!(may_read_write(0o600, me, me));
        assert!(!may_read_write(0o400, me, me));
        assert!(!may_read_write(0o600, (0, 0), me));
        assert!(may_read_write(0o660, (0, 1000), me));
        assert!(may_read_write(0o606, (0, 0), me));
        // The owner's bits decide for the owner, even when others may.
        assert!(!may_read_write(0o066, me, me));
    }

    #[test]
    fn links_devices_and_directories_are_refused_before_any_mount() {
        let dir = vmlab_test_util::TempDir::new("bind");
        let file = dir.path().join("disk");
        std::fs::write(&file, b"x").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        let e = detached(&link, None).unwrap_err();
        assert!(matches!(e, BindError::Symlink(_)), "{e}");
        let e = detached(dir.path(), None).unwrap_err();
        assert!(
            matches!(
                e,
                BindError::NotRegular {
                    kind: "a directory",
                    ..
                }
            ),
            "{e}"
        );
        let e = detached(Path::new("/dev/null"), None).unwrap_err();
        assert!(
            matches!(
                e,
                BindError::NotRegular {
                    kind: "a device node",
                    ..
                }
            ),
            "{e}"
        );
        let e = detached(&dir.path().join("missing"), None).unwrap_err();
        assert!(
            matches!(
                e,
                BindError::Open {
                    errno: Errno::ENOENT,
                    ..
                }
            ),
            "{e}"
        );
        let nobody = UserNs {
            uid: crate::config::IdMap {
                inside: 0,
                outside: 65534,
                count: 1,
            },
            gid: crate::config::IdMap {
                inside: 0,
                outside: 65534,
                count: 1,
            },
        };
        let me = nix::unistd::geteuid().as_raw();
        if me != 65534 {
            std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o600))
                .unwrap();
            let e = detached(&file, Some(&nobody)).unwrap_err();
            assert!(
                matches!(e, BindError::NotAccessible { uid: 65534, .. }),
                "{e}"
            );
        }
    }
}
