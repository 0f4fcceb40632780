//! Every raw system call the workload binary makes, behind safe functions.
//!
//! This is the only module with `unsafe`. The binary runs its kernels on
//! the main thread and no other thread is alive when it forks (the `tcp`
//! kernel joins its echo thread before it returns), which is what makes
//! [`fork_child`] sound.
use std::ffi::{CStr, CString};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::ptr::NonNull;

/// Turns a `-1` return into the thread's `errno`.
fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// One null system call (`getppid`) issued with the `syscall` instruction,
/// bypassing libc: the cheapest round trip into the kernel.
#[inline(always)]
pub fn null_syscall() {
    let ret: usize;
    // SAFETY: getppid takes no arguments, touches no user memory and cannot
    // fail; the `syscall` instruction clobbers only rcx and r11 besides rax.
    unsafe {
        core::arch::asm!(
            "syscall",
            inlateout("rax") libc::SYS_getppid as usize => ret,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack, preserves_flags)
        );
    }
    core::hint::black_box(ret);
}

/// A private anonymous memory mapping, unmapped on drop.
pub struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
}

impl Mapping {
    /// Maps `len` bytes (> 0) of fresh, untouched memory.
    pub fn new(len: usize) -> io::Result<Mapping> {
        // SAFETY: an anonymous mapping at an address the kernel picks
        // aliases no existing Rust object.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr = NonNull::new(ptr.cast()).ok_or_else(|| io::Error::other("mmap returned 0"))?;
        let mapping = Mapping { ptr, len };
        // Small pages whatever the host's transparent-huge-page policy, so
        // a first touch costs one fault per 4 KiB everywhere. Advisory: a
        // kernel without THP refuses it, which changes nothing.
        // SAFETY: advice on the mapping just created; no data changes.
        unsafe { libc::madvise(ptr.as_ptr().cast(), len, libc::MADV_NOHUGEPAGE) };
        Ok(mapping)
    }

    /// The mapped bytes.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: the mapping is `len` readable and writable bytes that live
        // until drop, and only this `Mapping` refers to them.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the region mapped in `new`; no slice of it
        // outlives `self` (`as_mut_slice` borrows `self`).
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

/// `mount(2)` with mount flags (`libc::MS_*`) and an optional data string.
pub fn mount(
    source: &CStr,
    target: &CStr,
    fstype: &CStr,
    flags: libc::c_ulong,
    data: Option<&CStr>,
) -> io::Result<()> {
    let data = data.map_or(std::ptr::null(), |d| d.as_ptr().cast());
    // SAFETY: every pointer is a NUL-terminated string (or null data) that
    // lives across the call.
    check(unsafe {
        libc::mount(
            source.as_ptr(),
            target.as_ptr(),
            fstype.as_ptr(),
            flags,
            data,
        )
    })
    .map(drop)
}

/// `finit_module(2)`: loads the kernel module in `file` without parameters.
pub fn finit_module(file: &File) -> io::Result<()> {
    // SAFETY: the fd is open for the call and the parameter string is a
    // NUL-terminated empty string.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_finit_module,
            file.as_raw_fd(),
            c"".as_ptr(),
            0 as libc::c_int,
        )
    };
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Gives interface `name` the IPv4 `addr` and `mask` and sets it up,
/// with `SIOCSIFADDR`, `SIOCSIFNETMASK` and `SIOCSIFFLAGS` on a UDP socket.
pub fn ipv4_up(name: &str, addr: [u8; 4], mask: [u8; 4]) -> io::Result<()> {
    let bytes = name.as_bytes();
    if bytes.len() >= libc::IFNAMSIZ || bytes.contains(&0) {
        return Err(io::Error::from(io::ErrorKind::InvalidInput));
    }
    // SAFETY: a plain socket call; the fd is owned at once.
    let fd =
        check(unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) })?;
    // SAFETY: `fd` was just returned by socket and is owned by nobody else.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: `ifreq` is plain data, valid when zeroed.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(bytes) {
        *dst = *src as libc::c_char;
    }
    let sockaddr = |ip: [u8; 4]| {
        // SAFETY: `sockaddr_in` is plain data, valid when zeroed.
        let mut sin: libc::sockaddr_in = unsafe { std::mem::zeroed() };
        sin.sin_family = libc::AF_INET as libc::sa_family_t;
        sin.sin_addr.s_addr = u32::from_ne_bytes(ip);
        // SAFETY: `sockaddr_in` fits in `sockaddr` (both 16 bytes) and
        // every bit pattern is a valid `sockaddr`.
        unsafe { std::mem::transmute::<libc::sockaddr_in, libc::sockaddr>(sin) }
    };
    let ioctl = |req: &mut libc::ifreq, op: libc::Ioctl| {
        // SAFETY: `req` is a valid `ifreq` for these requests, which read
        // (and for SIOCGIFFLAGS write) it only within its size.
        check(unsafe { libc::ioctl(sock.as_raw_fd(), op, req as *mut libc::ifreq) }).map(drop)
    };
    req.ifr_ifru.ifru_addr = sockaddr(addr);
    ioctl(&mut req, libc::SIOCSIFADDR)?;
    req.ifr_ifru.ifru_netmask = sockaddr(mask);
    ioctl(&mut req, libc::SIOCSIFNETMASK)?;
    ioctl(&mut req, libc::SIOCGIFFLAGS)?;
    // SAFETY: SIOCGIFFLAGS just wrote the flags member of the union.
    let flags = unsafe { req.ifr_ifru.ifru_flags };
    req.ifr_ifru.ifru_flags = flags | libc::IFF_UP as libc::c_short;
    ioctl(&mut req, libc::SIOCSIFFLAGS)
}

/// Grants this process access to `count` I/O ports from `port`.
pub fn ioperm(port: u16, count: u16) -> io::Result<()> {
    // SAFETY: ioperm only changes this thread's I/O permission bitmap.
    check(unsafe { libc::ioperm(port.into(), count.into(), 1) }).map(drop)
}

/// `out dx, eax`: writes one 32-bit word to an I/O port.
///
/// The port must have been granted with [`ioperm`] (else SIGSEGV).
pub fn out32(port: u16, word: u32) {
    // SAFETY: port output has no effect on this process's memory; access
    // was granted by `ioperm` (the caller's contract, checked at startup).
    unsafe {
        core::arch::asm!("out dx, eax", in("dx") port, in("eax") word, options(nomem, nostack, preserves_flags));
    }
}

/// `in eax, dx`: reads one 32-bit word from an I/O port (granted with
/// [`ioperm`], as for [`out32`]).
pub fn in32(port: u16) -> u32 {
    let word: u32;
    // SAFETY: port input writes only `eax`; access was granted by `ioperm`
    // (the caller's contract, checked at startup).
    unsafe {
        core::arch::asm!("in eax, dx", in("dx") port, out("eax") word, options(nomem, nostack, preserves_flags));
    }
    word
}

/// Takes ownership of an inherited fd named by the environment, after
/// checking it is open.
pub fn inherited_fd(fd: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: F_GETFD only queries the descriptor.
    check(unsafe { libc::fcntl(fd, libc::F_GETFD) })?;
    if fd <= 2 {
        return Err(io::Error::other("it is one of stdin, stdout and stderr"));
    }
    // SAFETY: the fd is open, is not stdio, and the protocol hands it to
    // this process; nothing else in the process owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// A pipe (close-on-exec): the read end and the write end.
pub fn pipe() -> io::Result<(File, File)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two fds into the array it is given.
    check(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) })?;
    // SAFETY: both fds were just created and nothing else owns them.
    let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    Ok((File::from(r), File::from(w)))
}

/// Whether `fd` is open.
pub fn fd_is_open(fd: RawFd) -> bool {
    // SAFETY: F_GETFD only queries the descriptor.
    unsafe { libc::fcntl(fd, libc::F_GETFD) != -1 }
}

/// Makes `fd` 0, 1 and 2 (stdin, stdout, stderr) copies of `console`.
pub fn console_as_stdio(console: BorrowedFd<'_>) -> io::Result<()> {
    for target in 0..=2 {
        // SAFETY: dup2 onto the stdio numbers; std holds no other object for
        // them (they were closed, which is why this runs).
        check(unsafe { libc::dup2(console.as_raw_fd(), target) })?;
    }
    Ok(())
}

/// Waits until everything written to terminal `fd` has been transmitted
/// (a no-op error for non-terminals, which is ignored).
pub fn tcdrain(fd: RawFd) {
    // SAFETY: tcdrain only waits on the descriptor.
    unsafe { libc::tcdrain(fd) };
}

/// Powers the machine off (PID 1 in a VM); returns only on failure.
pub fn power_off() -> io::Error {
    // SAFETY: reboot has no memory effects; filesystems are tmpfs/proc.
    unsafe { libc::reboot(libc::RB_POWER_OFF) };
    io::Error::last_os_error()
}

/// Reaps one exited child of any kind without blocking; its pid, if any.
pub fn reap_any() -> Option<libc::pid_t> {
    let mut status = 0;
    // SAFETY: status is a valid out pointer.
    let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
    (pid > 0).then_some(pid)
}

/// A forked child process; killed and reaped on drop if not waited for.
pub struct Child {
    pid: libc::pid_t,
    reaped: bool,
}

impl Child {
    /// Waits for the child; its exit code, or an error naming the signal.
    pub fn wait(mut self) -> io::Result<i32> {
        let status = self.wait_raw()?;
        if libc::WIFEXITED(status) {
            Ok(libc::WEXITSTATUS(status))
        } else {
            Err(io::Error::other(format!(
                "child killed by signal {}",
                libc::WTERMSIG(status)
            )))
        }
    }

    fn wait_raw(&mut self) -> io::Result<libc::c_int> {
        let mut status = 0;
        loop {
            // SAFETY: waits for our own child; status is a valid out pointer.
            let ret = unsafe { libc::waitpid(self.pid, &mut status, 0) };
            if ret == self.pid {
                self.reaped = true;
                return Ok(status);
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                self.reaped = true;
                return Err(err);
            }
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if !self.reaped {
            // SAFETY: signals our own unreaped child (its pid cannot have
            // been reused before it is reaped).
            unsafe { libc::kill(self.pid, libc::SIGKILL) };
            let _ = self.wait_raw();
        }
    }
}

/// Forks; the child closes `close` (the parent's ends of shared pipes),
/// runs `child` and exits with its result; the parent gets the child.
///
/// The child dies with the parent (PR_SET_PDEATHSIG) so nothing is left
/// behind if the workload is killed.
pub fn fork_child(close: &[BorrowedFd<'_>], child: impl FnOnce() -> i32) -> io::Result<Child> {
    // SAFETY: the process is single-threaded here (see the module doc), so
    // the child may run ordinary code; it never returns into the parent's
    // frames (it `_exit`s), so the fds it closes are not closed twice.
    let pid = check(unsafe { libc::fork() })?;
    if pid == 0 {
        // SAFETY: prctl and close affect only the child; `_exit` skips the
        // parent's atexit handlers and stdio buffers.
        unsafe {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            for fd in close {
                libc::close(fd.as_raw_fd());
            }
            libc::_exit(child());
        }
    }
    Ok(Child { pid, reaped: false })
}

/// A prepared `execve` of this program, built before forking so that the
/// child does not allocate.
pub struct SelfExec {
    path: CString,
    argv: [*const libc::c_char; 3],
    _arg0: CString,
    _arg1: CString,
}

impl SelfExec {
    /// Prepares `execve("/proc/self/exe", [arg0, arg1], [])`.
    pub fn new(arg0: &str, arg1: &str) -> SelfExec {
        let arg0 = CString::new(arg0).expect("no NUL in a constant");
        let arg1 = CString::new(arg1).expect("no NUL in a constant");
        SelfExec {
            path: c"/proc/self/exe".to_owned(),
            argv: [arg0.as_ptr(), arg1.as_ptr(), std::ptr::null()],
            _arg0: arg0,
            _arg1: arg1,
        }
    }

    /// Replaces the process image; returns only if `execve` failed.
    pub fn exec(&self) -> io::Error {
        let envp: [*const libc::c_char; 1] = [std::ptr::null()];
        // SAFETY: path, argv and envp are NUL-terminated and live across the
        // call (the CStrings are owned by `self`).
        unsafe { libc::execve(self.path.as_ptr(), self.argv.as_ptr(), envp.as_ptr()) };
        io::Error::last_os_error()
    }
}

/// Brings network interface `lo` up if it is down. Returns whether it had
/// to.
pub fn loopback_up() -> io::Result<bool> {
    // SAFETY: creates a new socket, owned right away.
    let sock =
        check(unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) })?;
    // SAFETY: `sock` is a fresh fd that nothing else owns.
    let sock = unsafe { OwnedFd::from_raw_fd(sock) };
    // SAFETY: ifreq is plain old data; all zeroes is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS fills the flags of the ifreq it is given.
    check(unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) })?;
    // SAFETY: SIOCGIFFLAGS set the flags member of the union.
    let flags = unsafe { req.ifr_ifru.ifru_flags };
    if flags & libc::IFF_UP as libc::c_short != 0 {
        return Ok(false);
    }
    req.ifr_ifru.ifru_flags = flags | libc::IFF_UP as libc::c_short;
    // SAFETY: SIOCSIFFLAGS reads the ifreq it is given.
    check(unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &req) })?;
    Ok(true)
}
