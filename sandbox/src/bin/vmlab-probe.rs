//! `vmlab-probe`: a static test program the sandbox's integration tests put
//! into a rootfs and run as PID 1. Not part of the product.
//!
//! Modes (first argument):
//! - `ready CODE`: signal ready, print one line, exit with CODE;
//! - `sleep SECS`: signal ready, sleep;
//! - `escape SECRET HOSTPID TCPPORT`: try every escape, one JSON line per
//!   attempt (`"escaped":true` means the sandbox failed), exit with the
//!   number of escapes;
//! - `forkbomb`: fork until refused, print how many, exit 0;
//! - `memhog MIB`: allocate and touch MIB MiB, exit 0 if it survived;
//! - `info`: print uid, hostname and the capability sets;
//! - `mounts`: find every procfs and sysfs reachable (from
//!   `/proc/self/mountinfo` and the top-level directories) and try to open
//!   their host-wide control files for writing (`escaped` = one opened);
//! - `devnode PATH`: try to open a device node (`escaped` = it opened);
//! - `tty`: try to type into a terminal with `TIOCSTI`: through `/dev/tty`
//!   and fds 0-2 (`escaped` = a character was pushed);
//! - `flood MIB`: write MIB MiB to stdout, leave a daemon (its own session)
//!   that keeps writing, and exit 0;
//! - `syscalls`: call what the seccomp policy refuses and what it must
//!   allow, one JSON line per call (see `src/probe/syscalls.rs`).
use std::ffi::CString;
use std::io::Write;

use vmlab_workload::protocol::{Event, FD_ENV};

#[path = "../probe/syscalls.rs"]
mod syscalls;

fn send(e: Event) {
    if let Some(fd) = std::env::var(FD_ENV)
        .ok()
        .and_then(|v| v.parse::<i32>().ok())
    {
        let b = e.to_bytes();
        // SAFETY: writes 4 bytes from a local array to the inherited fd.
        unsafe { libc::write(fd, b.as_ptr().cast(), 4) };
    }
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn line(s: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{s}");
    let _ = out.flush();
}

/// One attempt: `rc >= 0` means the call succeeded.
fn report(name: &str, rc: i64, escaped_if_ok: bool) -> bool {
    let err = if rc < 0 { errno() } else { 0 };
    let escaped = rc >= 0 && escaped_if_ok;
    line(&format!(
        "{{\"vmlab\":\"escape\",\"attempt\":\"{name}\",\"escaped\":{escaped},\"rc\":{rc},\"errno\":{err}}}"
    ));
    escaped
}

fn c(s: &str) -> CString {
    CString::new(s).unwrap_or_default()
}

fn escape(secret: &str, host_pid: i32, port: u16) -> i32 {
    let mut n = 0;
    let mut t = |name: &str, rc: i64| n += report(name, rc, true) as i32;
    // SAFETY: each call in this block gets valid pointers to locals or to
    // NUL-terminated strings; their results are only reported.
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
    n
}

fn forkbomb() -> i32 {
    let mut forks = 0u64;
    loop {
        // SAFETY: fork in a single-threaded program; the child only pauses.
        match unsafe { libc::fork() } {
            0 => loop {
                // SAFETY: pause has no arguments.
                unsafe { libc::pause() };
            },
            -1 => {
                line(&format!(
                    "{{\"vmlab\":\"forkbomb\",\"forks\":{forks},\"errno\":{}}}",
                    errno()
                ));
                return 0;
            }
            _ => forks += 1,
        }
        if forks >= 100_000 {
            line("{\"vmlab\":\"forkbomb\",\"forks\":100000,\"stopped\":false}");
            return 1;
        }
    }
}

fn memhog(mib: usize) -> i32 {
    let mut chunks: Vec<Vec<u8>> = Vec::new();
    for i in 0..mib {
        let mut v = vec![0u8; 1 << 20];
        for p in v.iter_mut().step_by(4096) {
            *p = 1;
        }
        chunks.push(std::hint::black_box(v));
        if i % 16 == 0 {
            line(&format!("{{\"vmlab\":\"memhog\",\"mib\":{i}}}"));
        }
    }
    line(&format!("{{\"vmlab\":\"memhog\",\"survived\":{mib}}}"));
    0
}

fn info() -> i32 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let caps: Vec<String> = status
        .lines()
        .filter(|l| {
            l.starts_with("Cap")
                || l.starts_with("Uid")
                || l.starts_with("NoNewPrivs")
                || l.starts_with("Seccomp:")
        })
        .map(|l| format!("\"{}\"", l.replace('\t', " ")))
        .collect();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    line(&format!(
        "{{\"vmlab\":\"info\",\"pid\":{},\"hostname\":\"{}\",\"status\":[{}]}}",
        std::process::id(),
        host.trim(),
        caps.join(",")
    ));
    0
}

/// The procfs and sysfs mount points this process can see.
fn kernel_mounts() -> Vec<(String, String)> {
    let mut found = Vec::new();
    if let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") {
        for l in info.lines() {
            // id parent maj:min root mountpoint opts ... - fstype source super
            let f: Vec<&str> = l.split_whitespace().collect();
            let Some(dash) = f.iter().position(|x| *x == "-") else {
                continue;
            };
            if let (Some(mp), Some(fstype)) = (f.get(4), f.get(dash + 1)) {
                if *fstype == "proc" || *fstype == "sysfs" {
                    found.push((fstype.to_string(), mp.to_string()));
                }
            }
        }
    }
    // Whatever mountinfo says, look at every top-level directory too.
    if let Ok(d) = std::fs::read_dir("/") {
        for e in d.flatten() {
            let p = e.path();
            let mut st: libc::statfs = unsafe_zeroed_statfs();
            let c = c(&p.display().to_string());
            // SAFETY: a NUL-terminated path and a writable statfs.
            if unsafe { libc::statfs(c.as_ptr(), &mut st) } == 0 {
                let t = match st.f_type {
                    libc::PROC_SUPER_MAGIC => "proc",
                    libc::SYSFS_MAGIC => "sysfs",
                    _ => continue,
                };
                found.push((t.to_string(), p.display().to_string()));
            }
        }
    }
    found.sort();
    found.dedup();
    found
}

fn unsafe_zeroed_statfs() -> libc::statfs {
    // SAFETY: statfs is plain data; all zeroes is a valid value.
    unsafe { std::mem::zeroed() }
}

fn mounts() -> i32 {
    let mut n = 0;
    for (fstype, mp) in kernel_mounts() {
        let files: &[&str] = if fstype == "proc" {
            &[
                "sys/kernel/core_pattern",
                "sys/vm/drop_caches",
                "sysrq-trigger",
            ]
        } else {
            &["kernel/uevent_helper", "power/state"]
        };
        for f in files {
            let path = c(&format!("{mp}/{f}"));
            // SAFETY: a NUL-terminated path; the fd is closed right away.
            let fd = unsafe { libc::open(path.as_ptr(), libc::O_WRONLY) };
            let name = format!("write {mp}/{f}");
            n += report(&name, fd as i64, true) as i32;
            if fd >= 0 {
                // SAFETY: our own fd. Nothing was written.
                unsafe { libc::close(fd) };
            }
        }
    }
    line(&format!("{{\"vmlab\":\"mounts\",\"escapes\":{n}}}"));
    n
}

fn devnode(path: &str) -> i32 {
    let p = c(path);
    // SAFETY: a NUL-terminated path; the fd is closed right away.
    let fd = unsafe { libc::open(p.as_ptr(), libc::O_RDONLY | libc::O_NONBLOCK) };
    let escaped = report("open_device_node", fd as i64, true);
    if fd >= 0 {
        // SAFETY: our own fd.
        unsafe { libc::close(fd) };
    }
    escaped as i32
}

fn tty() -> i32 {
    let mut n = 0;
    let dev_tty = c("/dev/tty");
    // SAFETY: a NUL-terminated path.
    let tty_fd = unsafe { libc::open(dev_tty.as_ptr(), libc::O_RDWR | libc::O_NOCTTY) };
    report("open_dev_tty", tty_fd as i64, false);
    for fd in [tty_fd, 0, 1, 2] {
        if fd < 0 {
            continue;
        }
        for &b in b"#vmlab-injected\n" {
            // SAFETY: TIOCSTI reads one byte from a valid pointer.
            let rc = unsafe { libc::ioctl(fd, libc::TIOCSTI, &b as *const u8) };
            if rc < 0 {
                n += report(&format!("tiocsti_fd{fd}"), rc as i64, true) as i32;
                break;
            }
            if b == b'\n' {
                n += report(&format!("tiocsti_fd{fd}"), 0, true) as i32;
            }
        }
    }
    n
}

fn flood(mib: usize) -> i32 {
    let chunk = vec![b'y'; 1 << 16];
    let mut out = std::io::stdout().lock();
    for _ in 0..mib * 16 {
        if out.write_all(&chunk).is_err() {
            break;
        }
    }
    let _ = out.flush();
    drop(out);
    // A daemon that outlives the workload and keeps the stdout pipe open.
    // SAFETY: fork in a single-threaded program; the child only writes.
    if unsafe { libc::fork() } == 0 {
        // SAFETY: setsid and write take no pointers but the valid chunk.
        unsafe {
            libc::setsid();
            loop {
                if libc::write(1, chunk.as_ptr().cast(), chunk.len()) < 0 {
                    libc::_exit(0);
                }
            }
        }
    }
    0
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).cloned().unwrap_or_default();
    send(Event::Ready);
    let code = match arg(0).as_str() {
        "ready" => {
            line("{\"vmlab\":\"probe\",\"mode\":\"ready\"}");
            arg(1).parse().unwrap_or(0)
        }
        "sleep" => {
            std::thread::sleep(std::time::Duration::from_secs(arg(1).parse().unwrap_or(60)));
            0
        }
        "escape" => escape(
            &arg(1),
            arg(2).parse().unwrap_or(1),
            arg(3).parse().unwrap_or(1),
        ),
        "forkbomb" => forkbomb(),
        "memhog" => memhog(arg(1).parse().unwrap_or(256)),
        "info" => info(),
        "mounts" => mounts(),
        "devnode" => devnode(&arg(1)),
        "tty" => tty(),
        "flood" => flood(arg(1).parse().unwrap_or(64)),
        "syscalls" => syscalls::run(),
        other => {
            eprintln!("vmlab-probe: unknown mode {other:?}");
            2
        }
    };
    send(Event::Exit(code as u8));
    std::process::exit(code);
}
