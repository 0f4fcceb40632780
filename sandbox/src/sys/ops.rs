//! [`Sys`]: the operations the setup steps are made of.
use std::ffi::{c_char, CStr};
use std::os::fd::RawFd;

use nix::errno::Errno;
use nix::mount::MsFlags;

use super::FsSpec;

/// The operations the setup steps are made of.
pub trait Sys {
    /// Writes `data` to the file `path` (id maps, cgroup files).
    fn write_file(&mut self, path: &CStr, data: &[u8]) -> Result<(), Errno>;
    /// Blocks until the parent writes one byte to `fd` (EOF is an error).
    fn wait_byte(&mut self, fd: RawFd) -> Result<(), Errno>;
    /// Sends one byte on `fd`.
    fn send_byte(&mut self, fd: RawFd) -> Result<(), Errno>;
    /// `unshare(flags)`.
    fn unshare(&mut self, flags: i32) -> Result<(), Errno>;
    /// `setgroups([])`, only when the map allows it.
    fn clear_groups(&mut self) -> Result<(), Errno>;
    /// `setresgid(gid, gid, gid)`.
    fn set_gid(&mut self, gid: u32) -> Result<(), Errno>;
    /// `setresuid(uid, uid, uid)`.
    fn set_uid(&mut self, uid: u32) -> Result<(), Errno>;
    /// `prctl(PR_SET_PDEATHSIG, SIGKILL)`.
    fn die_with_parent(&mut self) -> Result<(), Errno>;
    /// `mount(NULL, target, NULL, flags, NULL)`: sets the propagation type
    /// of the mount at `target` (`MS_PRIVATE`; with `MS_REC`, of its
    /// submounts too).
    fn set_propagation(&mut self, target: &CStr, flags: MsFlags) -> Result<(), Errno>;
    /// `umount2(target, MNT_DETACH)`.
    fn detach(&mut self, target: &CStr) -> Result<(), Errno>;
    /// Opens the directory `path` as an `O_PATH` fd (close-on-exec).
    fn open_dir(&mut self, path: &CStr) -> Result<RawFd, Errno>;
    /// `openat2(dirfd, path, O_PATH, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
    /// RESOLVE_NO_MAGICLINKS)`: `path` is resolved inside `dirfd` without
    /// following any link (`ELOOP` on a link); with `dir`, it must be a
    /// directory (`ENOTDIR`).
    fn open_beneath(&mut self, dirfd: RawFd, path: &CStr, dir: bool) -> Result<RawFd, Errno>;
    /// `open_tree(dirfd, path, OPEN_TREE_CLONE)`: a detached copy of the
    /// mount at `path` (an empty `path`: `dirfd` itself), with its submounts
    /// when `recursive`; a trailing link is not followed.
    fn clone_tree(&mut self, dirfd: RawFd, path: &CStr, recursive: bool) -> Result<RawFd, Errno>;
    /// `fsopen` + `fsconfig` + `fsmount`: a new, detached filesystem.
    fn new_fs(&mut self, fs: &FsSpec) -> Result<RawFd, Errno>;
    /// `move_mount(from, "", to, "")`: attaches the detached mount `from`
    /// on the object `to` refers to (both fds, no path is resolved).
    fn move_mount(&mut self, from: RawFd, to: RawFd) -> Result<(), Errno>;
    /// `mount_setattr(fd, "", AT_EMPTY_PATH [| AT_RECURSIVE])`: sets the
    /// `MOUNT_ATTR_*` bits `attrs` (never clears one).
    fn set_mount_attrs(&mut self, fd: RawFd, attrs: u64, recursive: bool) -> Result<(), Errno>;
    /// `fstatfs(fd).f_type`: which filesystem `fd` is on.
    fn fs_magic(&mut self, fd: RawFd) -> Result<i64, Errno>;
    /// `statx(fd, STATX_MNT_ID)`: the id of the mount `fd` is on.
    fn mount_id(&mut self, fd: RawFd) -> Result<u64, Errno>;
    /// `openat(AT_FDCWD, path, O_PATH | O_NOFOLLOW)`: the object at `path`
    /// itself (a link is opened as the link, not followed).
    fn open_nofollow(&mut self, path: &CStr) -> Result<RawFd, Errno>;
    /// `statx(fd)`: the device (major in the high 32 bits, minor in the
    /// low) and inode of what `fd` refers to.
    fn file_id(&mut self, fd: RawFd) -> Result<(u64, u64), Errno>;
    /// `mkdirat(dirfd, name, mode)`; an existing entry is fine (a link
    /// there is caught when it is opened).
    fn mkdir_at(&mut self, dirfd: RawFd, name: &CStr, mode: u32) -> Result<(), Errno>;
    /// Creates the empty regular file `name` in `dirfd` (a bind target):
    /// `O_CREAT | O_EXCL | O_NOFOLLOW`.
    fn create_at(&mut self, dirfd: RawFd, name: &CStr) -> Result<(), Errno>;
    /// `symlinkat(target, dirfd, name)`.
    fn symlink_at(&mut self, target: &CStr, dirfd: RawFd, name: &CStr) -> Result<(), Errno>;
    /// `fchdir(fd)`.
    fn fchdir(&mut self, fd: RawFd) -> Result<(), Errno>;
    /// `chdir(path)`.
    fn chdir(&mut self, path: &CStr) -> Result<(), Errno>;
    /// `close(fd)`.
    fn close(&mut self, fd: RawFd);
    /// `setsid()`: a session of its own, without a controlling terminal.
    fn setsid(&mut self) -> Result<(), Errno>;
    /// `setpgid(0, 0)`: a process group of its own (so that it can be
    /// killed as a group).
    fn own_process_group(&mut self) -> Result<(), Errno>;
    /// Gives up the controlling terminal, if any (`TIOCNOTTY` on
    /// `/dev/tty`, then checks that `/dev/tty` no longer opens): what a
    /// session of its own gives, without the session. (On a host with
    /// scheduler autogroups, `setsid` creates a task group and costs
    /// milliseconds.)
    fn detach_terminal(&mut self) -> Result<(), Errno>;
    /// `pivot_root(new_root, put_old)`.
    fn pivot_root(&mut self, new_root: &CStr, put_old: &CStr) -> Result<(), Errno>;
    /// `sethostname(name)`.
    fn sethostname(&mut self, name: &CStr) -> Result<(), Errno>;
    /// Brings `lo` up with `SIOCSIFFLAGS`.
    fn loopback_up(&mut self) -> Result<(), Errno>;
    /// `setrlimit(resource, {limit, limit})`.
    fn setrlimit(&mut self, resource: u32, limit: u64) -> Result<(), Errno>;
    /// `dup2(old, new)` (clears close-on-exec on `new`).
    fn dup2(&mut self, old: RawFd, new: RawFd) -> Result<(), Errno>;
    /// Marks every fd from `first` up close-on-exec.
    fn cloexec_from(&mut self, first: RawFd) -> Result<(), Errno>;
    /// Closes every fd from `first` up but those in `keep` (in the child's
    /// own fd table: the clone does not share it).
    fn close_from_except(&mut self, first: RawFd, keep: [RawFd; 2]) -> Result<(), Errno>;
    /// Unblocks every signal and restores `SIGPIPE` (ignored by Rust) to default.
    fn reset_signals(&mut self) -> Result<(), Errno>;
    /// `prctl(PR_CAPBSET_DROP, cap)`.
    fn drop_bounding(&mut self, cap: u8) -> Result<(), Errno>;
    /// Clears the ambient set.
    fn clear_ambient(&mut self) -> Result<(), Errno>;
    /// `capset`: permitted = effective = `mask`, inheritable = 0.
    fn capset(&mut self, mask: u64) -> Result<(), Errno>;
    /// `prctl(PR_SET_NO_NEW_PRIVS, 1)`.
    fn no_new_privs(&mut self) -> Result<(), Errno>;
    /// Installs the seccomp filter.
    fn seccomp(&mut self, program: &[seccompiler::sock_filter]) -> Result<(), Errno>;
    /// Writes raw bytes to `fd` (the status record).
    fn write_all(&mut self, fd: RawFd, bytes: &[u8]) -> Result<(), Errno>;
    /// `execve`; returns only on failure.
    fn execve(
        &mut self,
        path: &CStr,
        argv: &[*const c_char],
        envp: &[*const c_char],
    ) -> Result<(), Errno>;
    /// `CLOCK_MONOTONIC` in ns.
    fn now(&mut self) -> u64;
}
