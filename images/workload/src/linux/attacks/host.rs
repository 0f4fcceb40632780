//! Attempts on the host's own resources: its files, its processes, the
//! descriptors that lead to it, its network.
use super::{c, in_child, Battery, Scope, Scratch};

/// Reaching the host's secret: directly, through `/proc/1/root`, climbing
/// out of `/proc/self/root`, and the classic chroot break-out.
pub fn files(b: &mut Battery, secret: &str) {
    let open = |path: &str| {
        let p = c(path);
        // SAFETY: a NUL-terminated path; the fd is closed right away.
        let fd = unsafe { libc::open(p.as_ptr(), libc::O_RDONLY) };
        if fd >= 0 {
            // SAFETY: our own fd.
            unsafe { libc::close(fd) };
        }
        i64::from(fd)
    };
    b.attempt("read_host_file", Scope::Host, open(secret));
    b.attempt(
        "proc1_root",
        Scope::Host,
        open(&format!("/proc/1/root{secret}")),
    );
    b.attempt(
        "dotdot_root",
        Scope::Host,
        open(&format!("/proc/self/root/../../..{secret}")),
    );
    let scratch = Scratch::new();
    let jail = c(scratch.path());
    let rc = in_child(|| {
        // SAFETY: NUL-terminated paths; the child exits right after.
        unsafe {
            if libc::chroot(jail.as_ptr()) < 0 {
                return -1;
            }
            // The cwd is still outside the new root: climb, and root there.
            for _ in 0..64 {
                libc::chdir(c"..".as_ptr());
            }
            if libc::chroot(c".".as_ptr()) < 0 {
                return -1;
            }
        }
        open(secret)
    });
    b.attempt("chroot_escape", Scope::Host, rc);
}

/// Reaching the host's processes: signalling and tracing the host pid
/// (tracing from a child, with `PTRACE_SEIZE`, which does not stop it),
/// seeing the host's pids.
pub fn processes(b: &mut Battery, host_pid: i32) {
    // SAFETY: signal 0 only checks that the signal could be sent.
    let rc = unsafe { libc::kill(host_pid, 0) };
    b.attempt("signal_host_pid", Scope::Host, rc.into());
    let rc = in_child(|| {
        // SAFETY: no pointers; the tracee is released when the child exits.
        unsafe { libc::ptrace(libc::PTRACE_SEIZE, host_pid, 0, 0) }
    });
    b.attempt("ptrace_host_pid", Scope::Host, rc);
    let rc = in_child(|| {
        // SAFETY: no pointers; the child exits right after.
        unsafe { libc::ptrace(libc::PTRACE_TRACEME, 0, 0, 0) }
    });
    b.attempt("ptrace_traceme", Scope::Kernel, rc);
    let procs = std::fs::read_dir("/proc")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
                .count()
        })
        .unwrap_or(0);
    // More than a handful of pids visible means the kernel's whole pid space.
    b.attempt(
        "see_host_pids",
        Scope::Kernel,
        if procs > 4 { procs as i64 } else { -1 },
    );
}

/// Descriptors that lead outside: inherited ones, directories among
/// stdio, `/proc/self/fd` links to host files.
pub fn descriptors(b: &mut Battery) {
    // Inherited fds: only 0-3 may be open (3: the protocol channel).
    let mut leaked = -1i64;
    for fd in 4..1024 {
        // SAFETY: F_GETFD on any number only reads its flags.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } >= 0 {
            leaked = fd.into();
            break;
        }
    }
    b.attempt("inherited_fd", Scope::Host, leaked);
    // Directory fds among 0-3 would lead outside (openat "..").
    let mut dir_fd = -1i64;
    for fd in 0..4 {
        // SAFETY: stat is plain data; fstat writes into the local.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: a valid pointer to the local.
        if unsafe { libc::fstat(fd, &mut st) } == 0 && st.st_mode & libc::S_IFMT == libc::S_IFDIR {
            dir_fd = fd.into();
        }
    }
    b.attempt("dir_fd_in_stdio", Scope::Host, dir_fd);
    // /proc/self/fd links must not resolve outside.
    let mut outside = -1i64;
    if let Ok(d) = std::fs::read_dir("/proc/self/fd") {
        for e in d.flatten() {
            if let Ok(target) = std::fs::read_link(e.path()) {
                let t = target.to_string_lossy();
                if t.starts_with('/') && !t.starts_with("/dev/") && !t.starts_with("/proc/") {
                    outside = 1;
                }
            }
        }
    }
    b.attempt("proc_self_fd", Scope::Host, outside);
}

/// The network: the host's listener on 127.0.0.1:`port`, and a route to
/// the outside world.
pub fn network(b: &mut Battery, port: u16) {
    let connect = |ty: i32, addr: [u8; 4], port: u16| {
        // SAFETY: a socket of our own, a sockaddr_in local; closed after.
        unsafe {
            let s = libc::socket(libc::AF_INET, ty | libc::SOCK_CLOEXEC, 0);
            if s < 0 {
                return -1;
            }
            let mut sa: libc::sockaddr_in = std::mem::zeroed();
            sa.sin_family = libc::AF_INET as u16;
            sa.sin_port = port.to_be();
            sa.sin_addr.s_addr = u32::from_be_bytes(addr).to_be();
            let len = std::mem::size_of::<libc::sockaddr_in>() as u32;
            let rc = libc::connect(s, (&sa as *const libc::sockaddr_in).cast(), len);
            let e = super::errno();
            libc::close(s);
            super::set_errno(e);
            i64::from(rc)
        }
    };
    let rc = connect(libc::SOCK_STREAM, [127, 0, 0, 1], port);
    b.attempt("connect_host_loopback", Scope::Host, rc);
    let rc = connect(libc::SOCK_DGRAM, [1, 1, 1, 1], 53);
    b.attempt("route_outside", Scope::Host, rc);
}
