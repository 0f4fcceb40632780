//! The real system calls.
//!
//! Every function here runs in the cloned child between `clone3` and
//! `execve`, in memory shared with the parent: none allocates, takes a lock,
//! panics or touches `errno` (each call goes through [`super::raw`]).
use std::ffi::{c_char, CStr};
use std::os::fd::RawFd;

use nix::errno::Errno;
use nix::mount::MsFlags;

use super::raw::sys;
use super::{FsSpec, Sys};

/// The system calls themselves.
#[derive(Debug, Default)]
pub struct Real;

fn exist_ok(r: Result<usize, Errno>) -> Result<(), Errno> {
    match r {
        Ok(_) | Err(Errno::EEXIST) => Ok(()),
        Err(e) => Err(e),
    }
}

fn ptr(c: Option<&CStr>) -> usize {
    c.map_or(0, |c| c.as_ptr() as usize)
}

/// `struct __user_cap_header_struct`.
#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

/// `struct __user_cap_data_struct`.
#[repr(C)]
#[derive(Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// The kernel's `struct sigaction` (not libc's).
#[repr(C)]
struct KernelSigaction {
    handler: usize,
    flags: u64,
    restorer: usize,
    mask: u64,
}

const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// `struct open_how` (openat2).
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

/// `struct mount_attr` (mount_setattr).
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

// linux/openat2.h, linux/mount.h, linux/fcntl.h.
const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
const RESOLVE_NO_SYMLINKS: u64 = 0x04;
const RESOLVE_BENEATH: u64 = 0x08;
const OPEN_TREE_CLONE: u32 = 1;
const AT_RECURSIVE: u32 = 0x8000;
const FSOPEN_CLOEXEC: u32 = 1;
const FSMOUNT_CLOEXEC: u32 = 1;
const FSCONFIG_SET_FLAG: u32 = 0;
const FSCONFIG_SET_STRING: u32 = 1;
const FSCONFIG_CMD_CREATE: u32 = 6;
const MOVE_MOUNT_F_EMPTY_PATH: u32 = 0x04;
const MOVE_MOUNT_T_EMPTY_PATH: u32 = 0x40;

impl Sys for Real {
    fn write_file(&mut self, path: &CStr, data: &[u8]) -> Result<(), Errno> {
        // SAFETY: `path` is NUL-terminated; the fd is ours and closed below.
        let fd = unsafe {
            sys!(
                libc::SYS_openat,
                libc::AT_FDCWD,
                path.as_ptr(),
                libc::O_WRONLY | libc::O_CLOEXEC
            )
        }? as RawFd;
        let r = self.write_all(fd, data);
        // SAFETY: `fd` was opened above and is not used afterwards.
        let _ = unsafe { sys!(libc::SYS_close, fd) };
        r
    }

    fn wait_byte(&mut self, fd: RawFd) -> Result<(), Errno> {
        let mut b = 0u8;
        loop {
            // SAFETY: reads at most one byte into `b`, a valid local.
            match unsafe { sys!(libc::SYS_read, fd, &mut b as *mut u8, 1) } {
                Ok(1) => return Ok(()),
                Ok(_) => return Err(Errno::EPIPE),
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(e),
            }
        }
    }

    fn send_byte(&mut self, fd: RawFd) -> Result<(), Errno> {
        self.write_all(fd, &[1])
    }

    fn unshare(&mut self, flags: i32) -> Result<(), Errno> {
        // SAFETY: unshare takes flags only.
        unsafe { sys!(libc::SYS_unshare, flags) }.map(drop)
    }

    fn clear_groups(&mut self) -> Result<(), Errno> {
        // SAFETY: an empty list: size 0, the pointer is not read. (glibc's
        // setgroups would signal the threads it believes this process has.)
        unsafe { sys!(libc::SYS_setgroups, 0, 0) }.map(drop)
    }

    fn set_gid(&mut self, gid: u32) -> Result<(), Errno> {
        // SAFETY: integer arguments only.
        unsafe { sys!(libc::SYS_setresgid, gid, gid, gid) }.map(drop)
    }

    fn set_uid(&mut self, uid: u32) -> Result<(), Errno> {
        // SAFETY: integer arguments only.
        unsafe { sys!(libc::SYS_setresuid, uid, uid, uid) }.map(drop)
    }

    fn die_with_parent(&mut self) -> Result<(), Errno> {
        // SAFETY: prctl with integer arguments.
        unsafe { sys!(libc::SYS_prctl, libc::PR_SET_PDEATHSIG, libc::SIGKILL) }.map(drop)
    }

    fn mount(
        &mut self,
        src: Option<&CStr>,
        target: &CStr,
        fstype: Option<&CStr>,
        flags: MsFlags,
        data: Option<&CStr>,
    ) -> Result<(), Errno> {
        // SAFETY: every pointer is null or a NUL-terminated string.
        unsafe {
            sys!(
                libc::SYS_mount,
                ptr(src),
                target.as_ptr(),
                ptr(fstype),
                flags.bits(),
                ptr(data)
            )
        }
        .map(drop)
    }

    fn detach(&mut self, target: &CStr) -> Result<(), Errno> {
        // SAFETY: `target` is NUL-terminated.
        unsafe { sys!(libc::SYS_umount2, target.as_ptr(), libc::MNT_DETACH) }.map(drop)
    }

    fn open_dir(&mut self, path: &CStr) -> Result<RawFd, Errno> {
        // SAFETY: `path` is NUL-terminated; the new fd is returned to the caller.
        unsafe {
            sys!(
                libc::SYS_openat,
                libc::AT_FDCWD,
                path.as_ptr(),
                libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC
            )
        }
        .map(|fd| fd as RawFd)
    }

    fn open_beneath(&mut self, dirfd: RawFd, path: &CStr, dir: bool) -> Result<RawFd, Errno> {
        let mut flags = libc::O_PATH | libc::O_CLOEXEC;
        if dir {
            flags |= libc::O_DIRECTORY;
        }
        let how = OpenHow {
            flags: flags as u64,
            mode: 0,
            resolve: RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
        };
        // SAFETY: `path` is NUL-terminated and `how` a valid open_how of
        // the size passed; the new fd is returned to the caller.
        unsafe {
            sys!(
                libc::SYS_openat2,
                dirfd,
                path.as_ptr(),
                &how as *const OpenHow,
                std::mem::size_of::<OpenHow>()
            )
        }
        .map(|fd| fd as RawFd)
    }

    fn clone_tree(&mut self, dirfd: RawFd, path: &CStr, recursive: bool) -> Result<RawFd, Errno> {
        let mut flags = OPEN_TREE_CLONE | libc::O_CLOEXEC as u32 | libc::AT_SYMLINK_NOFOLLOW as u32;
        if recursive {
            flags |= AT_RECURSIVE;
        }
        if path.is_empty() {
            flags |= libc::AT_EMPTY_PATH as u32;
        }
        // SAFETY: `path` is NUL-terminated; the new fd is returned to the caller.
        unsafe { sys!(libc::SYS_open_tree, dirfd, path.as_ptr(), flags) }.map(|fd| fd as RawFd)
    }

    fn new_fs(&mut self, fs: &FsSpec) -> Result<RawFd, Errno> {
        // SAFETY: `fstype` is NUL-terminated; the fd is closed below.
        let ctx = unsafe { sys!(libc::SYS_fsopen, fs.fstype.as_ptr(), FSOPEN_CLOEXEC) }? as RawFd;
        let configured = (|| {
            for (key, value) in &fs.options {
                let (cmd, v) = match value {
                    Some(v) => (FSCONFIG_SET_STRING, v.as_ptr() as usize),
                    None => (FSCONFIG_SET_FLAG, 0),
                };
                // SAFETY: `key` (and `value`, if any) are NUL-terminated.
                unsafe { sys!(libc::SYS_fsconfig, ctx, cmd, key.as_ptr(), v, 0) }?;
            }
            // SAFETY: a command without arguments on our context fd.
            unsafe { sys!(libc::SYS_fsconfig, ctx, FSCONFIG_CMD_CREATE, 0, 0, 0) }?;
            // SAFETY: creates a detached mount of the context's superblock.
            unsafe { sys!(libc::SYS_fsmount, ctx, FSMOUNT_CLOEXEC, fs.attrs) }
        })();
        // SAFETY: `ctx` was opened above and is not used afterwards.
        let _ = unsafe { sys!(libc::SYS_close, ctx) };
        configured.map(|fd| fd as RawFd)
    }

    fn move_mount(&mut self, from: RawFd, to: RawFd) -> Result<(), Errno> {
        // SAFETY: two fds and empty, NUL-terminated paths.
        unsafe {
            sys!(
                libc::SYS_move_mount,
                from,
                c"".as_ptr(),
                to,
                c"".as_ptr(),
                MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH
            )
        }
        .map(drop)
    }

    fn set_mount_attrs(&mut self, fd: RawFd, attrs: u64, recursive: bool) -> Result<(), Errno> {
        let attr = MountAttr {
            attr_set: attrs,
            attr_clr: 0,
            propagation: 0,
            userns_fd: 0,
        };
        let mut flags = libc::AT_EMPTY_PATH as u32;
        if recursive {
            flags |= AT_RECURSIVE;
        }
        // SAFETY: an empty path on our fd and a valid mount_attr of the size passed.
        unsafe {
            sys!(
                libc::SYS_mount_setattr,
                fd,
                c"".as_ptr(),
                flags,
                &attr as *const MountAttr,
                std::mem::size_of::<MountAttr>()
            )
        }
        .map(drop)
    }

    fn fs_magic(&mut self, fd: RawFd) -> Result<i64, Errno> {
        // SAFETY: statfs is plain data; all zeroes is a valid value.
        let mut st: libc::statfs = unsafe { std::mem::zeroed() };
        // SAFETY: `st` is a valid, writable statfs.
        unsafe { sys!(libc::SYS_fstatfs, fd, &mut st as *mut libc::statfs) }?;
        Ok(st.f_type)
    }

    fn mount_id(&mut self, fd: RawFd) -> Result<u64, Errno> {
        // SAFETY: statx is plain data; all zeroes is a valid value.
        let mut st: libc::statx = unsafe { std::mem::zeroed() };
        // SAFETY: an empty path on our fd; `st` is a valid, writable statx.
        unsafe {
            sys!(
                libc::SYS_statx,
                fd,
                c"".as_ptr(),
                libc::AT_EMPTY_PATH,
                libc::STATX_MNT_ID,
                &mut st as *mut libc::statx
            )
        }?;
        if st.stx_mask & libc::STATX_MNT_ID == 0 {
            return Err(Errno::ENOSYS);
        }
        Ok(st.stx_mnt_id)
    }

    fn mkdir_at(&mut self, dirfd: RawFd, name: &CStr, mode: u32) -> Result<(), Errno> {
        // SAFETY: `name` is NUL-terminated.
        exist_ok(unsafe { sys!(libc::SYS_mkdirat, dirfd, name.as_ptr(), mode) })
    }

    fn create_at(&mut self, dirfd: RawFd, name: &CStr) -> Result<(), Errno> {
        // SAFETY: `name` is NUL-terminated; the fd is closed right away.
        let fd = unsafe {
            sys!(
                libc::SYS_openat,
                dirfd,
                name.as_ptr(),
                libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY | libc::O_CLOEXEC | libc::O_NOFOLLOW,
                0o644
            )
        }?;
        // SAFETY: `fd` was just opened.
        let _ = unsafe { sys!(libc::SYS_close, fd) };
        Ok(())
    }

    fn symlink_at(&mut self, target: &CStr, dirfd: RawFd, name: &CStr) -> Result<(), Errno> {
        // SAFETY: both are NUL-terminated.
        unsafe { sys!(libc::SYS_symlinkat, target.as_ptr(), dirfd, name.as_ptr()) }.map(drop)
    }

    fn fchdir(&mut self, fd: RawFd) -> Result<(), Errno> {
        // SAFETY: fchdir takes an fd only.
        unsafe { sys!(libc::SYS_fchdir, fd) }.map(drop)
    }

    fn close(&mut self, fd: RawFd) {
        // SAFETY: the caller owns `fd` and does not use it afterwards.
        let _ = unsafe { sys!(libc::SYS_close, fd) };
    }

    fn setsid(&mut self) -> Result<(), Errno> {
        // SAFETY: setsid takes no arguments.
        unsafe { sys!(libc::SYS_setsid) }.map(drop)
    }

    fn own_process_group(&mut self) -> Result<(), Errno> {
        // SAFETY: setpgid with integer arguments (0, 0: this process).
        unsafe { sys!(libc::SYS_setpgid, 0, 0) }.map(drop)
    }

    fn chdir(&mut self, path: &CStr) -> Result<(), Errno> {
        // SAFETY: `path` is NUL-terminated.
        unsafe { sys!(libc::SYS_chdir, path.as_ptr()) }.map(drop)
    }

    fn pivot_root(&mut self, new_root: &CStr, put_old: &CStr) -> Result<(), Errno> {
        // SAFETY: both are NUL-terminated.
        unsafe { sys!(libc::SYS_pivot_root, new_root.as_ptr(), put_old.as_ptr()) }.map(drop)
    }

    fn sethostname(&mut self, name: &CStr) -> Result<(), Errno> {
        let b = name.to_bytes();
        // SAFETY: `b` is valid for `b.len()` bytes.
        unsafe { sys!(libc::SYS_sethostname, b.as_ptr(), b.len()) }.map(drop)
    }

    fn loopback_up(&mut self) -> Result<(), Errno> {
        // SAFETY: a plain socket call; the fd is closed below.
        let sock = unsafe {
            sys!(
                libc::SYS_socket,
                libc::AF_INET,
                libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
                0
            )
        }?;
        // SAFETY: ifreq is plain old data; all zeroes is a valid value.
        let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
        for (d, s) in req.ifr_name.iter_mut().zip(b"lo\0") {
            *d = *s as c_char;
        }
        // SAFETY: `req` is a valid ifreq naming "lo"; SIOCGIFFLAGS fills the flags.
        let mut r = unsafe {
            sys!(
                libc::SYS_ioctl,
                sock,
                libc::SIOCGIFFLAGS,
                &mut req as *mut libc::ifreq
            )
        };
        if r.is_ok() {
            // SAFETY: the kernel filled `ifru_flags` above.
            unsafe { req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short };
            // SAFETY: `req` is a valid ifreq; SIOCSIFFLAGS only reads it.
            r = unsafe {
                sys!(
                    libc::SYS_ioctl,
                    sock,
                    libc::SIOCSIFFLAGS,
                    &req as *const libc::ifreq
                )
            };
        }
        // SAFETY: `sock` was opened above.
        let _ = unsafe { sys!(libc::SYS_close, sock) };
        r.map(drop)
    }

    fn setrlimit(&mut self, resource: u32, limit: u64) -> Result<(), Errno> {
        let rl = libc::rlimit {
            rlim_cur: limit,
            rlim_max: limit,
        };
        // SAFETY: `rl` is a valid rlimit; pid 0 is this process.
        unsafe {
            sys!(
                libc::SYS_prlimit64,
                0,
                resource,
                &rl as *const libc::rlimit,
                0
            )
        }
        .map(drop)
    }

    fn dup2(&mut self, old: RawFd, new: RawFd) -> Result<(), Errno> {
        // SAFETY: dup3 on fds the parent prepared (never equal: see ChildFds::MIN).
        unsafe { sys!(libc::SYS_dup3, old, new, 0) }.map(drop)
    }

    fn cloexec_from(&mut self, first: RawFd) -> Result<(), Errno> {
        // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only sets flags.
        unsafe {
            sys!(
                libc::SYS_close_range,
                first as libc::c_uint,
                libc::c_uint::MAX,
                libc::CLOSE_RANGE_CLOEXEC
            )
        }
        .map(drop)
    }

    fn reset_signals(&mut self) -> Result<(), Errno> {
        let empty: u64 = 0;
        // SAFETY: an 8-byte signal mask, as the kernel expects.
        unsafe {
            sys!(
                libc::SYS_rt_sigprocmask,
                libc::SIG_SETMASK,
                &empty as *const u64,
                0,
                8
            )
        }?;
        let dfl = KernelSigaction {
            handler: libc::SIG_DFL,
            flags: 0,
            restorer: 0,
            mask: 0,
        };
        // SAFETY: a valid kernel sigaction; the old one is not asked for.
        unsafe {
            sys!(
                libc::SYS_rt_sigaction,
                libc::SIGPIPE,
                &dfl as *const KernelSigaction,
                0,
                8
            )
        }
        .map(drop)
    }

    fn drop_bounding(&mut self, cap: u8) -> Result<(), Errno> {
        // SAFETY: prctl with integer arguments.
        unsafe { sys!(libc::SYS_prctl, libc::PR_CAPBSET_DROP, cap) }.map(drop)
    }

    fn clear_ambient(&mut self) -> Result<(), Errno> {
        // SAFETY: prctl with integer arguments.
        unsafe {
            sys!(
                libc::SYS_prctl,
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_CLEAR_ALL
            )
        }
        .map(drop)
    }

    fn capset(&mut self, mask: u64) -> Result<(), Errno> {
        let header = CapHeader {
            version: LINUX_CAPABILITY_VERSION_3,
            pid: 0,
        };
        let half = |m: u32| CapData {
            effective: m,
            permitted: m,
            inheritable: 0,
        };
        let data = [half(mask as u32), half((mask >> 32) as u32)];
        // SAFETY: header and two data structs, as version 3 requires.
        unsafe { sys!(libc::SYS_capset, &header as *const CapHeader, data.as_ptr()) }.map(drop)
    }

    fn no_new_privs(&mut self) -> Result<(), Errno> {
        // SAFETY: prctl with integer arguments.
        unsafe { sys!(libc::SYS_prctl, libc::PR_SET_NO_NEW_PRIVS, 1) }.map(drop)
    }

    fn seccomp(&mut self, program: &[seccompiler::sock_filter]) -> Result<(), Errno> {
        let prog = libc::sock_fprog {
            len: program.len() as u16,
            filter: program.as_ptr() as *mut libc::sock_filter,
        };
        // SAFETY: `prog` points at `program`, which outlives the call; the
        // kernel copies it. seccompiler's sock_filter has libc's layout.
        unsafe {
            sys!(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                0,
                &prog as *const libc::sock_fprog
            )
        }
        .map(drop)
    }

    fn write_all(&mut self, fd: RawFd, mut bytes: &[u8]) -> Result<(), Errno> {
        while !bytes.is_empty() {
            // SAFETY: `bytes` is valid for its length.
            match unsafe { sys!(libc::SYS_write, fd, bytes.as_ptr(), bytes.len()) } {
                Ok(n) => bytes = &bytes[n..],
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn execve(
        &mut self,
        path: &CStr,
        argv: &[*const c_char],
        envp: &[*const c_char],
    ) -> Result<(), Errno> {
        // SAFETY: both arrays are NULL-terminated arrays of pointers to
        // NUL-terminated strings that the parent built and that outlive this call.
        unsafe {
            sys!(
                libc::SYS_execve,
                path.as_ptr(),
                argv.as_ptr(),
                envp.as_ptr()
            )
        }
        .map(drop)
    }

    fn now(&mut self) -> u64 {
        super::monotonic_ns()
    }
}
