//! What the parent prepares for the child: plain data, every string and
//! pointer array built before the clone.
use std::ffi::{c_char, CString};
use std::os::fd::RawFd;

use crate::capability::CapPlan;
use crate::config::UserNs;
use crate::sys::FsSpec;

/// A filesystem to mount on a directory of a mount we hold an fd of.
#[derive(Debug)]
pub struct NewMount {
    /// The mount point: one path component (`proc`), opened beneath the
    /// parent mount without following links.
    pub name: CString,
    /// What to mount there.
    pub fs: FsSpec,
    /// Its `statfs` magic, checked once the root is pivoted.
    pub magic: i64,
}

/// Which of our mounts a mask lies in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Under {
    /// Our `/proc`.
    Proc,
    /// Our `/sys`.
    Sys,
}

/// What a mask does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MaskKind {
    /// Hide a file (our `/dev/null` bound over it) or a directory (an empty
    /// read-only tmpfs over it).
    Hide {
        /// The path is a directory.
        dir: bool,
    },
    /// Bind the path onto itself, read-only.
    ReadOnly,
}

/// One masked or read-only path. A mask that cannot be applied fails the
/// start; it is never skipped.
#[derive(Debug)]
pub struct Mask {
    /// The mount it lies in.
    pub under: Under,
    /// Its path inside that mount (`kcore`, `devices/virtual/powercap`).
    pub path: CString,
    /// What to do.
    pub kind: MaskKind,
}

/// The most host device nodes `/dev` may hold (the child keeps their fds
/// in a fixed array).
pub const MAX_DEV_NODES: usize = 8;

/// Our `/dev`: a tmpfs holding only what we put there.
#[derive(Debug)]
pub struct DevPlan {
    /// The tmpfs.
    pub mount: NewMount,
    /// Host device nodes bound in: `(host path, name in /dev)`.
    pub nodes: Vec<(CString, CString)>,
    /// `/dev/pts`: a devpts instance of our own.
    pub pts: NewMount,
    /// `/dev/shm`.
    pub shm: NewMount,
    /// `(target, name)` symbolic links (`ptmx`, `fd`, `stdin`, ...).
    pub links: Vec<(CString, CString)>,
}

/// A host file bound in ([`crate::config::FileBind`]).
#[derive(Debug)]
pub struct FileMount {
    /// The detached bind mount of the host file (`open_tree` by the
    /// launcher, `nosuid,nodev,noexec`), or -1: the launcher may not clone
    /// mounts (not root), so the child clones it in its own namespaces from
    /// `host`, which must still be the file the launcher checked (`id`).
    pub fd: RawFd,
    /// The host file (opened by the child when `fd` is -1).
    pub host: CString,
    /// The device and inode the launcher checked ([`crate::sys::Sys::file_id`]).
    pub id: (u64, u64),
    /// The directory it goes in, relative to the root (`tmp`; `.` for one
    /// directly under `/`), opened beneath the root without following links.
    pub dir: CString,
    /// Its name in that directory (created as an empty file when missing).
    pub name: CString,
    /// The whole inside path relative to the root (checked after the pivot).
    pub path: CString,
}

/// What the child does with a root filesystem. Every path inside it is
/// resolved beneath a mount fd without following links (`openat2`) and
/// every filesystem is attached through fds (the new mount API), so a
/// hostile rootfs (a symlinked mount point, a directory swapped during
/// setup) cannot steer a mount elsewhere; after the pivot each mount is
/// checked to be the one we made.
#[derive(Debug)]
pub struct RootPlan {
    /// The rootfs directory (host path).
    pub dir: CString,
    /// `MOUNT_ATTR_*` set on the rootfs and every mount below it
    /// (`nosuid`, `nodev`, and `rdonly` when read-only).
    pub attrs: u64,
    /// `/proc`.
    pub proc: NewMount,
    /// `/dev`.
    pub dev: DevPlan,
    /// `/sys`, if any.
    pub sys: Option<NewMount>,
    /// A tmpfs on `/tmp`, if wanted.
    pub tmp: Option<NewMount>,
    /// A host file bound in, if any (after `/tmp`).
    pub file: Option<FileMount>,
    /// Masked and read-only paths (after `pivot_root`).
    pub masks: Vec<Mask>,
    /// The empty read-only tmpfs put over masked directories.
    pub empty: FsSpec,
}

impl RootPlan {
    /// The mount points directly under the root, in mount order.
    pub fn mount_points(&self) -> impl Iterator<Item = &NewMount> {
        [
            Some(&self.proc),
            Some(&self.dev.mount),
            self.sys.as_ref(),
            self.tmp.as_ref(),
        ]
        .into_iter()
        .flatten()
    }
}

/// The fds the child starts with, each above [`ChildFds::MIN`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChildFds {
    /// Read end of the sync pipe (parent releases the child).
    pub sync: RawFd,
    /// The parent's (write) end of the sync pipe, which the clone copied:
    /// the child closes it before its first wait, so that a parent dead
    /// by then reads as end of file instead of blocking the child forever.
    pub sync_writer: RawFd,
    /// Write end of the status pipe (close-on-exec).
    pub status: RawFd,
    /// Becomes fd 0.
    pub stdin: RawFd,
    /// Becomes fd 1.
    pub stdout: RawFd,
    /// Becomes fd 2.
    pub stderr: RawFd,
    /// Becomes fd 3, the protocol fd.
    pub proto: RawFd,
}

impl ChildFds {
    /// Every fd the child starts from is at least this, so the `dup2`s
    /// onto 0-3 never overwrite one not yet moved.
    pub const MIN: RawFd = 10;
    /// The protocol fd number inside.
    pub const PROTO: RawFd = 3;
}

/// The program to execute, with its NULL-terminated pointer arrays.
#[derive(Debug)]
pub struct Exec {
    pub(crate) path: CString,
    _strings: Vec<CString>,
    pub(crate) argv: Vec<*const c_char>,
    pub(crate) envp: Vec<*const c_char>,
}

impl Exec {
    /// `path` with `argv` (`argv[0]` included) and `env`.
    pub fn new(path: CString, argv: Vec<CString>, env: Vec<CString>) -> Exec {
        let nul = std::iter::once(std::ptr::null());
        let a: Vec<*const c_char> = argv.iter().map(|s| s.as_ptr()).chain(nul.clone()).collect();
        let e: Vec<*const c_char> = env.iter().map(|s| s.as_ptr()).chain(nul).collect();
        let mut strings = argv;
        strings.extend(env);
        Exec {
            path,
            _strings: strings,
            argv: a,
            envp: e,
        }
    }
}

/// Everything the parent prepared for the child; nothing is computed after
/// the clone.
#[derive(Debug)]
pub struct Plan {
    /// Wait for the parent's release (id maps to write first).
    pub sync: bool,
    /// `tasks` files (cgroup v1) the child writes `0` to, once the parent
    /// has created them (a second byte on the sync pipe).
    pub cgroup_tasks: Vec<CString>,
    /// The user namespace, when rootless.
    pub user: Option<UserNs>,
    /// Whether the child may call `setgroups` (the parent had `CAP_SETGID`).
    pub setgroups: bool,
    /// Create a cgroup namespace after joining the cgroup.
    pub unshare_cgroup: bool,
    /// The root filesystem, or `None` for the host's.
    pub root: Option<RootPlan>,
    /// Hostname to set.
    pub hostname: Option<CString>,
    /// Bring `lo` up.
    pub loopback: bool,
    /// No controlling terminal, no way to the caller's one (`TIOCNOTTY`, or
    /// `setsid` where that cannot be done), and a process group of its own.
    pub new_session: bool,
    /// Otherwise `setpgid(0, 0)`: a process group of its own.
    pub own_group: bool,
    /// `(resource, limit)` pairs.
    pub rlimits: Vec<(u32, u64)>,
    /// Capability reduction.
    pub caps: Option<CapPlan>,
    /// Set `no_new_privs`.
    pub no_new_privs: bool,
    /// Seccomp program.
    pub seccomp: Option<seccompiler::BpfProgram>,
    /// Park before `execve` until the parent's release (a pool's sandbox).
    pub park: bool,
    /// Starting fds.
    pub fds: ChildFds,
    /// What to execute.
    pub exec: Exec,
}
