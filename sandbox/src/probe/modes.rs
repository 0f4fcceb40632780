//! The probe's other modes: resource exhaustion, what the process is, the
//! kernel mounts and device nodes it can reach and the terminal (the
//! battery's attempts, `crate::attacks`), an output flood. Included into
//! `vmlab-probe` with `#[path]`.
use std::io::Write;

use crate::attacks::{self, Battery};
use crate::{errno, line};

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

/// Every reachable procfs and sysfs control file, opened for writing.
pub fn mounts() -> i32 {
    let mut b = Battery::default();
    attacks::control_files(&mut b);
    line(&format!(
        "{{\"vmlab\":\"mounts\",\"escapes\":{}}}",
        b.escaped
    ));
    b.escaped as i32
}

pub fn devnode(path: &str) -> i32 {
    let mut b = Battery::default();
    attacks::device_node(&mut b, "open_device_node", path);
    b.escaped as i32
}

pub fn tty() -> i32 {
    let mut b = Battery::default();
    attacks::tiocsti(&mut b, true);
    b.escaped as i32
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

/// `file PATH`: reads PATH, appends `+inside`, and prints what it read and
/// the mount options of the mount PATH is on (from `/proc/self/mountinfo`).
pub fn file(path: &str) -> i32 {
    let read = std::fs::read_to_string(path);
    let wrote = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(b"+inside"));
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    // Field 5 is the mount point, field 6 its per-mount options.
    let opts = info
        .lines()
        .map(|l| l.split(' ').collect::<Vec<_>>())
        .filter(|f| f.len() > 5 && f[4] == path)
        .map(|f| f[5].to_string())
        .next_back()
        .unwrap_or_default();
    let text = read.as_deref().unwrap_or("").escape_default().to_string();
    line(&format!(
        "{{\"vmlab\":\"file\",\"read\":\"{text}\",\"read_ok\":{},\"wrote\":{},\"options\":\"{opts}\"}}",
        read.is_ok(),
        wrote.is_ok()
    ));
    i32::from(read.is_err() || wrote.is_err())
}
