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

#[path = "../probe/escape.rs"]
mod escape;
#[path = "../probe/modes.rs"]
mod modes;
#[path = "../probe/syscalls.rs"]
mod syscalls;

use escape::escape;
use modes::{devnode, flood, forkbomb, info, memhog, mounts, tty};

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
