//! The root filesystem's mounts, made through fds: nothing a hostile
//! rootfs can redirect (see the module doc of [`crate::step`]).
use std::ffi::CStr;
use std::os::fd::RawFd;

use nix::errno::Errno;

use crate::plan::{DevPlan, FileMount, Mask, MaskKind, NewMount, RootPlan, Under, MAX_DEV_NODES};
use crate::sys::{attr, Sys};

/// Mounts `m` on its mount point beneath `parent`; returns the new
/// mount's fd. A mount point that is a link or not a directory fails
/// (`ELOOP`, `ENOTDIR`).
pub(super) fn mount_new<S: Sys>(sys: &mut S, parent: RawFd, m: &NewMount) -> Result<RawFd, Errno> {
    let target = sys.open_beneath(parent, &m.name, true)?;
    let mounted = sys
        .new_fs(&m.fs)
        .and_then(|fs| match sys.move_mount(fs, target) {
            Ok(()) => Ok(fs),
            Err(e) => {
                sys.close(fs);
                Err(e)
            }
        });
    sys.close(target);
    mounted
}

/// Attaches the bind of a host file at `f` beneath `tree`: the launcher's
/// detached bind, or (`f.fd` is -1) one cloned here from the host path
/// opened without following a link, refused (`EXDEV`) unless it is the
/// file the launcher checked. Its directory is opened beneath `tree`
/// without following links and the file created there when missing
/// (`O_EXCL | O_NOFOLLOW`: a link planted there stays a link), then the
/// whole path is opened beneath `tree` without following links (`ELOOP` on
/// a link anywhere on it) and the bind moved onto what was opened. Returns
/// the bind's fd.
pub(super) fn bind_file<S: Sys>(sys: &mut S, tree: RawFd, f: &FileMount) -> Result<RawFd, Errno> {
    let bind = if f.fd >= 0 { f.fd } else { clone_file(sys, f)? };
    let dir = sys.open_beneath(tree, &f.dir, true)?;
    let created = match sys.create_at(dir, &f.name) {
        Ok(()) | Err(Errno::EEXIST) => Ok(()),
        Err(e) => Err(e),
    };
    sys.close(dir);
    created?;
    let target = sys.open_beneath(tree, &f.path, false)?;
    let r = sys.move_mount(bind, target);
    sys.close(target);
    r.map(|()| bind)
}

/// The child's own detached, hardened bind of `f.host`.
fn clone_file<S: Sys>(sys: &mut S, f: &FileMount) -> Result<RawFd, Errno> {
    let fd = sys.open_nofollow(&f.host)?;
    let cloned = match sys.file_id(fd) {
        Ok(id) if id == f.id => sys.clone_tree(fd, c"", false),
        Ok(_) => Err(Errno::EXDEV),
        Err(e) => Err(e),
    };
    sys.close(fd);
    let m = cloned?;
    match sys.set_mount_attrs(m, attr::NOSUID | attr::NODEV | attr::NOEXEC, false) {
        Ok(()) => Ok(m),
        Err(e) => {
            sys.close(m);
            Err(e)
        }
    }
}

/// Host device nodes cloned as detached mounts, before the pivot.
pub(super) struct HostNodes {
    fds: [RawFd; MAX_DEV_NODES],
    len: usize,
}

pub(super) fn clone_host_nodes<S: Sys>(sys: &mut S, dev: &DevPlan) -> Result<HostNodes, Errno> {
    let mut nodes = HostNodes {
        fds: [-1; MAX_DEV_NODES],
        len: 0,
    };
    for (host, _) in dev.nodes.iter().take(MAX_DEV_NODES) {
        nodes.fds[nodes.len] = sys.clone_tree(libc::AT_FDCWD, host, false)?;
        nodes.len += 1;
    }
    Ok(nodes)
}

/// The rootfs bound (recursively) onto itself with `attrs` on every mount
/// in it, after its missing mount points were created; returns its fd.
pub(super) fn bind_rootfs<S: Sys>(sys: &mut S, root: &RootPlan) -> Result<RawFd, Errno> {
    let dir = sys.open_dir(&root.dir)?;
    let bound = (|| {
        for m in root.mount_points() {
            sys.mkdir_at(dir, &m.name, 0o755)?;
        }
        let tree = sys.clone_tree(dir, c"", true)?;
        sys.set_mount_attrs(tree, root.attrs, true)?;
        sys.move_mount(tree, dir)?;
        Ok(tree)
    })();
    sys.close(dir);
    bound
}

/// Our `/dev`: the tmpfs, the host nodes bound in, devpts, links, shm.
pub(super) fn mount_dev<S: Sys>(
    sys: &mut S,
    tree: RawFd,
    dev: &DevPlan,
    nodes: &HostNodes,
) -> Result<RawFd, Errno> {
    let fd = mount_new(sys, tree, &dev.mount)?;
    for (i, (_, name)) in dev.nodes.iter().take(nodes.len).enumerate() {
        sys.create_at(fd, name)?;
        let target = sys.open_beneath(fd, name, false)?;
        let r = sys.move_mount(nodes.fds[i], target);
        sys.close(target);
        r?;
    }
    sys.mkdir_at(fd, &dev.pts.name, 0o755)?;
    let pts = mount_new(sys, fd, &dev.pts)?;
    sys.close(pts);
    for (target, name) in &dev.links {
        sys.symlink_at(target, fd, name)?;
    }
    sys.mkdir_at(fd, &dev.shm.name, 0o1777)?;
    let shm = mount_new(sys, fd, &dev.shm)?;
    sys.close(shm);
    Ok(fd)
}

/// The fds of the mounts made under the root.
pub(super) struct Mounted {
    pub(super) tree: RawFd,
    pub(super) proc: RawFd,
    pub(super) dev: RawFd,
    pub(super) sys: RawFd,
    pub(super) tmp: RawFd,
    /// The file bind's mount, or -1.
    pub(super) file: RawFd,
}

/// The masks, in order. Every masked directory gets a mount of one empty
/// read-only tmpfs: the first mask makes it, the others bind that mount.
/// One superblock for all of them, not one each: each superblock alive
/// takes a slot in every memory cgroup's shrinker table on the host
/// (docs/METHODOLOGY.md, "What an extra instance costs").
pub(super) fn apply_masks<S: Sys>(sys: &mut S, root: &RootPlan, m: &Mounted) -> Result<(), Errno> {
    let mut empty = -1;
    let r = root
        .masks
        .iter()
        .try_for_each(|mask| apply_mask(sys, root, m, mask, &mut empty));
    if empty >= 0 {
        sys.close(empty);
    }
    r
}

/// One mask; `empty` is the fd of the empty tmpfs once a directory mask
/// mounted it (else -1), kept open for the next directory masks to bind.
fn apply_mask<S: Sys>(
    sys: &mut S,
    root: &RootPlan,
    m: &Mounted,
    mask: &Mask,
    empty: &mut RawFd,
) -> Result<(), Errno> {
    let base = match mask.under {
        Under::Proc => m.proc,
        Under::Sys if m.sys >= 0 => m.sys,
        Under::Sys => return Err(Errno::ENOENT),
    };
    let target = sys.open_beneath(base, &mask.path, false)?;
    let first_empty = mask.kind == MaskKind::Hide { dir: true } && *empty < 0;
    let over = match mask.kind {
        MaskKind::Hide { dir: true } if first_empty => sys.new_fs(&root.empty),
        // A bind of the mounted empty tmpfs: the same superblock, and its
        // mount's attributes (read-only, nosuid, nodev, noexec) with it.
        MaskKind::Hide { dir: true } => sys.clone_tree(*empty, c"", false),
        MaskKind::Hide { dir: false } => sys.clone_tree(m.dev, c"null", false),
        MaskKind::ReadOnly => sys.clone_tree(target, c"", true).and_then(|r| {
            let ro = attr::RDONLY | attr::NOSUID | attr::NODEV | attr::NOEXEC;
            match sys.set_mount_attrs(r, ro, true) {
                Ok(()) => Ok(r),
                Err(e) => {
                    sys.close(r);
                    Err(e)
                }
            }
        }),
    };
    let r = over.and_then(|over| {
        let r = sys.move_mount(over, target);
        if first_empty && r.is_ok() {
            *empty = over;
        } else {
            sys.close(over);
        }
        r
    });
    sys.close(target);
    r
}

/// After the pivot: `/` and every mount point hold exactly the mounts we
/// made, of the filesystem we meant (`EXDEV` if not: the rootfs changed
/// under us).
pub(super) fn verify_mounts<S: Sys>(
    sys: &mut S,
    root: &RootPlan,
    m: &Mounted,
) -> Result<(), Errno> {
    // `magic`: the filesystem a directory mount must be of; a file bind
    // (no magic) is opened as a file.
    let mut check = |name: &CStr, fd: RawFd, magic: Option<i64>| -> Result<(), Errno> {
        let at = sys.open_beneath(libc::AT_FDCWD, name, magic.is_some() || fd == m.tree)?;
        let same = (|| {
            let mut ok = sys.mount_id(at)? == sys.mount_id(fd)?;
            if let Some(magic) = magic {
                ok &= sys.fs_magic(at)? == magic;
            }
            Ok(ok)
        })();
        sys.close(at);
        match same {
            Ok(true) => Ok(()),
            Ok(false) => Err(Errno::EXDEV),
            Err(e) => Err(e),
        }
    };
    check(c".", m.tree, None)?;
    check(&root.proc.name, m.proc, Some(root.proc.magic))?;
    check(&root.dev.mount.name, m.dev, Some(root.dev.mount.magic))?;
    if let Some(sysfs) = &root.sys {
        check(&sysfs.name, m.sys, Some(sysfs.magic))?;
    }
    if let Some(tmp) = &root.tmp {
        check(&tmp.name, m.tmp, Some(tmp.magic))?;
    }
    if let Some(file) = &root.file {
        check(&file.path, m.file, None)?;
    }
    Ok(())
}
