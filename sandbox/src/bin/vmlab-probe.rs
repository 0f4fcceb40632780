//! `vmlab-probe`: a static test program the sandbox's integration tests put
//! into a rootfs and run as PID 1. Not part of the product.
//!
//! Modes (first argument):
//! - `ready CODE`: signal ready, print one line, exit with CODE;
//! - `sleep SECS`: signal ready, sleep;
//! - `escape SECRET HOSTPID TCPPORT`: the workload's escape battery
//!   (`images/workload/src/linux/attacks/`, included here, so there is one
//!   battery), one JSON line per attempt (`"escaped":true` means the
//!   sandbox failed), exit with the number of escapes;
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
//! - `file PATH`: read PATH, append to it, print both and the options of
//!   the mount it is on;
//! - `masked PATH...`: per directory, its entry count, filesystem device,
//!   the errno of creating a file in it and its mount's options;
//! - `syscalls`: call what the seccomp policy refuses and what it must
//!   allow, one JSON line per call (see `src/probe/syscalls.rs`);
//! - `channel`: attack the protocol channel of a held instance (fd 0, a
//!   socket pair with the driver): pass the driver fds with `SCM_RIGHTS`
//!   before ready, then read who the driver is, queue garbage until the
//!   socket is full, wait for the release (see `src/probe/modes.rs`).
//!
//! A last argument `--park` (what a pool parked in the workload adds) makes
//! it park as the vmlab workload does: the park mark, then one byte from
//! stdin (end of file: exit 1 without ready), then the mode.
use std::io::Write;

use std::io::Read;

use vmlab_workload::protocol::{Event, FD_ENV, PARK_MARK};

// The workload's battery; its `attacks` summary line is the workload's own.
#[allow(dead_code)]
#[path = "../../../images/workload/src/linux/attacks/mod.rs"]
mod attacks;
#[path = "../probe/modes.rs"]
mod modes;
#[path = "../probe/syscalls.rs"]
mod syscalls;

use modes::{channel, devnode, file, flood, forkbomb, info, masked, memhog, mounts, pass_fds, tty};

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

/// The battery against `SECRET HOSTPID TCPPORT`; the number of escapes.
fn escape(words: &[String]) -> i32 {
    match attacks::Target::parse(words) {
        Ok(t) => attacks::run(&t).escaped as i32,
        Err(e) => {
            eprintln!("vmlab-probe: {e}");
            2
        }
    }
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if args.last().map(String::as_str) == Some("--park") {
        args.pop();
        send(Event::Mark(PARK_MARK));
        let mut go = [0u8; 1];
        if !matches!(std::io::stdin().read(&mut go), Ok(1)) {
            std::process::exit(1);
        }
    }
    let arg = |i: usize| args.get(i).cloned().unwrap_or_default();
    let passed = (arg(0) == "channel").then(pass_fds);
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
        "escape" => escape(args.get(1..).unwrap_or_default()),
        "forkbomb" => forkbomb(),
        "memhog" => memhog(arg(1).parse().unwrap_or(256)),
        "info" => info(),
        "mounts" => mounts(),
        "devnode" => devnode(&arg(1)),
        "tty" => tty(),
        "file" => file(&arg(1)),
        "masked" => masked(args.get(1..).unwrap_or_default()),
        "flood" => flood(arg(1).parse().unwrap_or(64)),
        "syscalls" => syscalls::run(),
        "channel" => channel(passed.unwrap_or(-1)),
        other => {
            eprintln!("vmlab-probe: unknown mode {other:?}");
            2
        }
    };
    send(Event::Exit(code as u8));
    std::process::exit(code);
}
