//! The probe's other modes: resource exhaustion, what the process is, the
//! kernel mounts and device nodes it can reach, the terminal, an output
//! flood. Included into `vmlab-probe` with `#[path]`.
use std::io::Write;

use crate::{c, errno, line, report};

pub fn forkbomb() -> i32 {
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

pub fn memhog(mib: usize) -> i32 {
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

pub fn info() -> i32 {
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

pub fn mounts() -> i32 {
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

pub fn devnode(path: &str) -> i32 {
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

pub fn tty() -> i32 {
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

pub fn flood(mib: usize) -> i32 {
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
