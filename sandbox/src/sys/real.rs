//! The real system calls, made with libc and nix.
//!
//! Every function here runs in the cloned child between `clone3` and
//! `execve`, possibly copied from a multi-threaded parent: none allocates,
//! takes a lock or panics.
use std::ffi::{c_char, CStr};
use std::os::fd::RawFd;

use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags};

use super::Sys;

/// The system calls themselves.
#[derive(Debug, Default)]
pub struct Real;

fn check(rc: libc::c_int) -> Result<(), Errno> {
    Errno::result(rc).map(drop)
}

fn exist_ok(r: Result<(), Errno>) -> Result<(), Errno> {
    match r {
        Err(Errno::EEXIST) => Ok(()),
        r => r,
    }
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

const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

impl Sys for Real {
    fn write_file(&mut self, path: &CStr, data: &[u8]) -> Result<(), Errno> {
        // SAFETY: `path` is NUL-terminated; the fd is ours and closed below.
        let fd =
            Errno::result(unsafe { libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC) })?;
        let r = self.write_all(fd, data);
        // SAFETY: `fd` was opened above and is not used afterwards.
        unsafe { libc::close(fd) };
        r
    }

    fn wait_byte(&mut self, fd: RawFd) -> Result<(), Errno> {
        let mut b = 0u8;
        loop {
            // SAFETY: reads at most one byte into `b`, a valid local.
            let n = unsafe { libc::read(fd, (&mut b as *mut u8).cast(), 1) };
            match n {
                1 => return Ok(()),
                0 => return Err(Errno::EPIPE),
                _ if Errno::last() == Errno::EINTR => continue,
                _ => return Err(Errno::last()),
            }
        }
    }

    fn send_byte(&mut self, fd: RawFd) -> Result<(), Errno> {
        self.write_all(fd, &[1])
    }

    fn unshare(&mut self, flags: i32) -> Result<(), Errno> {
        // SAFETY: unshare takes flags only.
        check(unsafe { libc::unshare(flags) })
    }

    fn clear_groups(&mut self) -> Result<(), Errno> {
        // SAFETY: an empty list: size 0, the pointer is not read.
        check(unsafe { libc::setgroups(0, std::ptr::null()) })
    }

    fn set_gid(&mut self, gid: u32) -> Result<(), Errno> {
        // SAFETY: raw syscall (glibc's setresgid would signal every thread,
        // and the child has only one); integer arguments only.
        check(unsafe { libc::syscall(libc::SYS_setresgid, gid, gid, gid) } as libc::c_int)
    }

    fn set_uid(&mut self, uid: u32) -> Result<(), Errno> {
        // SAFETY: as in set_gid.
        check(unsafe { libc::syscall(libc::SYS_setresuid, uid, uid, uid) } as libc::c_int)
    }

    fn die_with_parent(&mut self) -> Result<(), Errno> {
        // SAFETY: prctl with integer arguments.
        check(unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) })
    }

    fn mount(
        &mut self,
        src: Option<&CStr>,
        target: &CStr,
        fstype: Option<&CStr>,
        flags: MsFlags,
        data: Option<&CStr>,
    ) -> Result<(), Errno> {
        nix::mount::mount(src, target, fstype, flags, data)
    }

    fn detach(&mut self, target: &CStr) -> Result<(), Errno> {
        nix::mount::umount2(target, MntFlags::MNT_DETACH)
    }

    fn mkdir(&mut self, path: &CStr, mode: u32) -> Result<(), Errno> {
        // SAFETY: `path` is NUL-terminated.
        exist_ok(check(unsafe { libc::mkdir(path.as_ptr(), mode) }))
    }

    fn touch(&mut self, path: &CStr) -> Result<(), Errno> {
        // SAFETY: `path` is NUL-terminated; the fd is closed right away.
        let fd = unsafe {
            libc::open(
                path.as_ptr(),
                libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC | libc::O_NOFOLLOW,
                0o644,
            )
        };
        let fd = Errno::result(fd)?;
        // SAFETY: `fd` was just opened.
        unsafe { libc::close(fd) };
        Ok(())
    }

    fn symlink(&mut self, target: &CStr, link: &CStr) -> Result<(), Errno> {
        // SAFETY: both are NUL-terminated.
        exist_ok(check(unsafe {
            libc::symlink(target.as_ptr(), link.as_ptr())
        }))
    }

    fn chdir(&mut self, path: &CStr) -> Result<(), Errno> {
        // SAFETY: `path` is NUL-terminated.
        check(unsafe { libc::chdir(path.as_ptr()) })
    }

    fn pivot_root(&mut self, new_root: &CStr, put_old: &CStr) -> Result<(), Errno> {
        nix::unistd::pivot_root(new_root, put_old)
    }

    fn sethostname(&mut self, name: &CStr) -> Result<(), Errno> {
        let b = name.to_bytes();
        // SAFETY: `b` is valid for `b.len()` bytes.
        check(unsafe { libc::sethostname(b.as_ptr().cast(), b.len()) })
    }

    fn loopback_up(&mut self) -> Result<(), Errno> {
        // SAFETY: a plain socket call; the fd is closed below.
        let sock = Errno::result(unsafe {
            libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0)
        })?;
        // SAFETY: ifreq is plain old data; all zeroes is a valid value.
        let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
        for (d, s) in req.ifr_name.iter_mut().zip(b"lo\0") {
            *d = *s as c_char;
        }
        // SAFETY: `req` is a valid ifreq naming "lo"; SIOCGIFFLAGS fills the flags.
        let mut r = check(unsafe { libc::ioctl(sock, libc::SIOCGIFFLAGS, &mut req) });
        if r.is_ok() {
            // SAFETY: the kernel filled `ifru_flags` above.
            unsafe { req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short };
            // SAFETY: `req` is a valid ifreq; SIOCSIFFLAGS only reads it.
            r = check(unsafe { libc::ioctl(sock, libc::SIOCSIFFLAGS, &req) });
        }
        // SAFETY: `sock` was opened above.
        unsafe { libc::close(sock) };
        r
    }

    fn setrlimit(&mut self, resource: u32, limit: u64) -> Result<(), Errno> {
        let rl = libc::rlimit {
            rlim_cur: limit,
            rlim_max: limit,
        };
        // SAFETY: `rl` is a valid rlimit.
        check(unsafe { libc::setrlimit(resource, &rl) })
    }

    fn dup2(&mut self, old: RawFd, new: RawFd) -> Result<(), Errno> {
        // SAFETY: dup2 on fds the parent prepared; `new` is one of 0..=3.
        Errno::result(unsafe { libc::dup2(old, new) }).map(drop)
    }

    fn cloexec_from(&mut self, first: RawFd) -> Result<(), Errno> {
        // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only sets flags.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_close_range,
                first as libc::c_uint,
                libc::c_uint::MAX,
                libc::CLOSE_RANGE_CLOEXEC,
            )
        };
        check(rc as libc::c_int)
    }

    fn reset_signals(&mut self) -> Result<(), Errno> {
        // SAFETY: `set` is a valid local sigset; sigemptyset initialises it.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            check(libc::pthread_sigmask(
                libc::SIG_SETMASK,
                &set,
                std::ptr::null_mut(),
            ))?;
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
        Ok(())
    }

    fn drop_bounding(&mut self, cap: u8) -> Result<(), Errno> {
        // SAFETY: prctl with integer arguments.
        check(unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) })
    }

    fn clear_ambient(&mut self) -> Result<(), Errno> {
        // SAFETY: prctl with integer arguments.
        check(unsafe {
            libc::prctl(
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
                0,
                0,
                0,
            )
        })
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
        let rc = unsafe { libc::syscall(libc::SYS_capset, &header, data.as_ptr()) };
        check(rc as libc::c_int)
    }

    fn no_new_privs(&mut self) -> Result<(), Errno> {
        // SAFETY: prctl with integer arguments.
        check(unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) })
    }

    fn seccomp(&mut self, program: &[seccompiler::sock_filter]) -> Result<(), Errno> {
        let prog = libc::sock_fprog {
            len: program.len() as u16,
            filter: program.as_ptr() as *mut libc::sock_filter,
        };
        // SAFETY: `prog` points at `program`, which outlives the call; the
        // kernel copies it. seccompiler's sock_filter has libc's layout.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                0,
                &prog as *const libc::sock_fprog,
            )
        };
        check(rc as libc::c_int)
    }

    fn write_all(&mut self, fd: RawFd, mut bytes: &[u8]) -> Result<(), Errno> {
        while !bytes.is_empty() {
            // SAFETY: `bytes` is valid for its length.
            let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
            if n < 0 {
                if Errno::last() == Errno::EINTR {
                    continue;
                }
                return Err(Errno::last());
            }
            bytes = &bytes[n as usize..];
        }
        Ok(())
    }

    fn execve(
        &mut self,
        path: &CStr,
        argv: &[*const c_char],
        envp: &[*const c_char],
    ) -> Result<(), Errno> {
        debug_assert!(argv.last().is_some_and(|p| p.is_null()));
        debug_assert!(envp.last().is_some_and(|p| p.is_null()));
        // SAFETY: both arrays are NULL-terminated arrays of pointers to
        // NUL-terminated strings that the parent built and that outlive this call.
        unsafe { libc::execve(path.as_ptr(), argv.as_ptr(), envp.as_ptr()) };
        Err(Errno::last())
    }

    fn now(&mut self) -> u64 {
        super::monotonic_ns()
    }
}
