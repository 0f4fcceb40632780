//! The probe's `escape` mode: every way out of the sandbox it knows, one
//! JSON line per attempt (`"escaped":true` means the sandbox failed).
//! Included into `vmlab-probe` with `#[path]`.
use crate::{c, report};

/// The attempt reporter: a name and the call's result.
type Try<'a> = &'a mut dyn FnMut(&str, i64);

/// Tries every escape; returns how many succeeded.
pub fn escape(secret: &str, host_pid: i32, port: u16) -> i32 {
    let mut n = 0;
    let mut t = |name: &str, rc: i64| n += report(name, rc, true) as i32;
    host_files(&mut t, secret);
    processes(&mut t, host_pid);
    privileged(&mut t);
    kernel_files(&mut t);
    descriptors(&mut t);
    network(&mut t, port);
    n
}

/// Reaching host files: directly, through `/proc/1/root`, climbing out of
/// `/proc/self/root`.
fn host_files(t: Try<'_>, secret: &str) {
    // SAFETY: each call gets valid pointers to locals or to NUL-terminated
    // strings; its result is only reported.
    unsafe {
        let p = c(secret);
        t(
            "read_host_file",
            libc::open(p.as_ptr(), libc::O_RDONLY) as i64,
        );
        let via_proc1 = c(&format!("/proc/1/root{secret}"));
        t(
            "proc1_root",
            libc::open(via_proc1.as_ptr(), libc::O_RDONLY) as i64,
        );
        let via_parent = c(&format!("/proc/self/root/../../..{secret}"));
        t(
            "dotdot_root",
            libc::open(via_parent.as_ptr(), libc::O_RDONLY) as i64,
        );
    }
}

/// Reaching other processes: signalling or tracing the host pid, seeing
/// the host's pids.
fn processes(t: Try<'_>, host_pid: i32) {
    // SAFETY: each call gets valid pointers to locals or to NUL-terminated
    // strings; its result is only reported.
    unsafe {
        t("signal_host_pid", libc::kill(host_pid, 0) as i64);
        t(
            "ptrace_host_pid",
            libc::ptrace(libc::PTRACE_ATTACH, host_pid, 0, 0) as i64,
        );
        t(
            "ptrace_traceme",
            libc::ptrace(libc::PTRACE_TRACEME, 0, 0, 0) as i64,
        );
        let procs = std::fs::read_dir("/proc")
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
                    .count()
            })
            .unwrap_or(0);
        // More than a handful of pids visible means the host's pid namespace.
        t("see_host_pids", if procs > 4 { procs as i64 } else { -1 });
    }
}

/// What only a privileged process may do: mounts, device nodes, kernel
/// modules, names and clocks, namespaces, chroot, bpf, keys, handles, reboot.
fn privileged(t: Try<'_>) {
    // SAFETY: each call gets valid pointers to locals or to NUL-terminated
    // strings; its result is only reported.
    unsafe {
        let tmp = c("/tmp");
        let tmpfs = c("tmpfs");
        t(
            "mount",
            libc::mount(
                tmpfs.as_ptr(),
                tmp.as_ptr(),
                tmpfs.as_ptr(),
                0,
                std::ptr::null(),
            ) as i64,
        );
        let node = c("/dev/shm/vmlab-sda");
        t(
            "mknod",
            libc::mknod(node.as_ptr(), libc::S_IFBLK | 0o600, libc::makedev(8, 0)) as i64,
        );
        t(
            "init_module",
            libc::syscall(
                libc::SYS_init_module,
                std::ptr::null::<u8>(),
                0,
                c"".as_ptr(),
            ),
        );
        t(
            "finit_module",
            libc::syscall(libc::SYS_finit_module, 0, c"".as_ptr(), 0),
        );
        let name = c("escaped");
        t("sethostname", libc::sethostname(name.as_ptr(), 7) as i64);
        let ts = libc::timespec {
            tv_sec: 1,
            tv_nsec: 0,
        };
        t(
            "clock_settime",
            libc::clock_settime(libc::CLOCK_REALTIME, &ts) as i64,
        );
        let tv = libc::timeval {
            tv_sec: 1,
            tv_usec: 0,
        };
        t(
            "settimeofday",
            libc::settimeofday(&tv, std::ptr::null()) as i64,
        );
        t("unshare_user", libc::unshare(libc::CLONE_NEWUSER) as i64);
        t("unshare_mount", libc::unshare(libc::CLONE_NEWNS) as i64);
        let dot = c(".");
        t("chroot", libc::chroot(dot.as_ptr()) as i64);
        t(
            "bpf",
            libc::syscall(libc::SYS_bpf, 0, std::ptr::null::<u8>(), 0),
        );
        t(
            "keyctl",
            libc::syscall(libc::SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3, 0),
        );
        t(
            "open_by_handle_at",
            libc::syscall(
                libc::SYS_open_by_handle_at,
                libc::AT_FDCWD,
                std::ptr::null::<u8>(),
                0,
            ),
        );
        t(
            "reboot",
            libc::syscall(libc::SYS_reboot, 0, 0, 0, std::ptr::null::<u8>()),
        );
    }
}

/// Host-wide kernel files: sysrq, `/proc/sys`, kernel memory.
fn kernel_files(t: Try<'_>) {
    // SAFETY: each call gets valid pointers to locals or to NUL-terminated
    // strings; its result is only reported.
    unsafe {
        let sysrq = c("/proc/sysrq-trigger");
        t(
            "write_sysrq",
            libc::open(sysrq.as_ptr(), libc::O_WRONLY) as i64,
        );
        let host = c("/proc/sys/kernel/hostname");
        t(
            "write_proc_sys",
            libc::open(host.as_ptr(), libc::O_WRONLY) as i64,
        );
        let kcore = c("/proc/kcore");
        let fd = libc::open(kcore.as_ptr(), libc::O_RDONLY);
        let mut b = [0u8; 4];
        let got = if fd >= 0 {
            libc::read(fd, b.as_mut_ptr().cast(), 4) as i64
        } else {
            -1
        };
        t("read_kcore", if got > 0 { got } else { -1 });
    }
}

/// Descriptors that lead outside: inherited ones, directories among
/// stdio, `/proc/self/fd` links.
fn descriptors(t: Try<'_>) {
    // SAFETY: each call gets valid pointers to locals or to NUL-terminated
    // strings; its result is only reported.
    unsafe {
        // Inherited fds: only 0-3 may be open.
        let mut leaked = -1i64;
        for fd in 4..1024 {
            if libc::fcntl(fd, libc::F_GETFD) >= 0 {
                leaked = fd as i64;
                break;
            }
        }
        t("inherited_fd", leaked);
        // Directory fds among 0-3 would lead outside (openat "..").
        let mut dir_fd = -1i64;
        for fd in 0..4 {
            let mut st: libc::stat = std::mem::zeroed();
            if libc::fstat(fd, &mut st) == 0 && st.st_mode & libc::S_IFMT == libc::S_IFDIR {
                dir_fd = fd as i64;
            }
        }
        t("dir_fd_in_stdio", dir_fd);
        // /proc/self/fd links must not resolve outside.
        let mut outside = -1i64;
        if let Ok(d) = std::fs::read_dir("/proc/self/fd") {
            for e in d.flatten() {
                if let Ok(target) = std::fs::read_link(e.path()) {
                    let t = target.to_string_lossy().to_string();
                    if t.starts_with('/') && !t.starts_with("/dev/") && !t.starts_with("/proc/") {
                        outside = 1;
                    }
                }
            }
        }
        t("proc_self_fd", outside);
    }
}

/// The network: a host listener on 127.0.0.1:`port`, and the outside world.
fn network(t: Try<'_>, port: u16) {
    // SAFETY: each call gets valid pointers to locals or to NUL-terminated
    // strings; its result is only reported.
    unsafe {
        // Network: a host listener on 127.0.0.1:port, and the outside world.
        let s = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        let mut sa: libc::sockaddr_in = std::mem::zeroed();
        sa.sin_family = libc::AF_INET as u16;
        sa.sin_port = port.to_be();
        sa.sin_addr.s_addr = u32::from_be_bytes([127, 0, 0, 1]).to_be();
        let len = std::mem::size_of::<libc::sockaddr_in>() as u32;
        t(
            "connect_host_loopback",
            libc::connect(s, (&sa as *const libc::sockaddr_in).cast(), len) as i64,
        );
        let u = libc::socket(libc::AF_INET, libc::SOCK_DGRAM, 0);
        sa.sin_port = 53u16.to_be();
        sa.sin_addr.s_addr = u32::from_be_bytes([1, 1, 1, 1]).to_be();
        t(
            "route_outside",
            libc::connect(u, (&sa as *const libc::sockaddr_in).cast(), len) as i64,
        );
    }
}
