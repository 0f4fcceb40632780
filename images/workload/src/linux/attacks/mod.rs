//! The escape battery: every way out of a sandbox the workload knows, one
//! JSON line per attempt:
//!
//! ```text
//! {"vmlab":"escape","attempt":"read_host_file","escaped":true,"scope":"host","rc":3,"errno":0}
//! ```
//!
//! `escaped` means the isolation failed to stop the attempt. `scope` says
//! what a success reaches: `host`, the host's own resources (a secret file
//! outside every rootfs, the host's pid, its loopback, its descriptors);
//! `kernel`, privilege over the kernel the workload's system calls reach
//! (mounts, device nodes, modules, control files). On a container that
//! kernel is the host's; in a VM (or gVisor) it is the guest's own, which
//! the host side of `vmlab compare` takes into account.
//!
//! Every attempt is harmless where it succeeds, because it succeeds on the
//! plain process backend, on the host, as root (the battery's positive
//! control): nothing is written to a control file or device, the hostname
//! is set to itself, the clock is not moved, a mount and a node are made
//! in a fresh directory and removed, and whatever changes the caller
//! (namespaces, chroot, ptrace) runs in a forked child that then exits.
//!
//! Only `libc` and `std`: `vmlab-probe` (sandbox/) includes this directory
//! with `#[path]`, so there is one battery.
use std::ffi::CString;
use std::io::Write;

mod host;
mod kernel;

// Used by vmlab-probe's `mounts`, `devnode` and `tty` modes.
#[allow(unused_imports)]
pub use kernel::{control_files, device_node, tiocsti};

/// What a success reaches (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// The host's own resources.
    Host,
    /// The kernel the workload's calls reach.
    Kernel,
}

impl Scope {
    fn name(self) -> &'static str {
        match self {
            Scope::Host => "host",
            Scope::Kernel => "kernel",
        }
    }
}

/// What the battery is aimed at: the host's secret file (an absolute
/// path outside every rootfs), the host's pid and a TCP port it listens on
/// at 127.0.0.1.
#[derive(Clone, Debug)]
pub struct Target {
    /// The secret file.
    pub secret: String,
    /// A pid on the host.
    pub host_pid: i32,
    /// The host's listener on 127.0.0.1.
    pub port: u16,
}

/// The workload's mode word: `vmlab-workload attacks SECRET HOSTPID PORT`.
pub const MODE: &str = "attacks";

impl Target {
    /// `SECRET HOSTPID PORT`, the words after the mode.
    pub fn parse(words: &[String]) -> Result<Target, String> {
        let [secret, pid, port] = words else {
            return Err(format!(
                "{MODE} takes three arguments, SECRET HOSTPID PORT (got {})",
                words.len()
            ));
        };
        if !secret.starts_with('/') {
            return Err(format!("{MODE}: SECRET `{secret}` is not an absolute path"));
        }
        let host_pid = pid
            .parse::<i32>()
            .ok()
            .filter(|&p| p > 0)
            .ok_or_else(|| format!("{MODE}: HOSTPID `{pid}` is not a pid"))?;
        let port = port
            .parse::<u16>()
            .ok()
            .filter(|&p| p > 0)
            .ok_or_else(|| format!("{MODE}: PORT `{port}` is not a TCP port"))?;
        Ok(Target {
            secret: secret.clone(),
            host_pid,
            port,
        })
    }
}

/// The attempts tried so far and how many escaped; prints each one.
#[derive(Debug, Default)]
pub struct Battery {
    /// Attempts reported.
    pub tried: u32,
    /// Of them, the ones that escaped.
    pub escaped: u32,
}

impl Battery {
    /// One attempt: `rc >= 0` means the call succeeded, an escape.
    pub fn attempt(&mut self, name: &str, scope: Scope, rc: i64) -> bool {
        let escaped = rc >= 0;
        self.report(name, scope, rc, escaped)
    }

    /// One attempt at a call made with an argument the kernel refuses
    /// after its permission check: a success, or an error other than
    /// `EPERM`, `EACCES` or `ENOSYS`, means the permission check passed.
    pub fn past_gate(&mut self, name: &str, rc: i64) -> bool {
        let denied = rc < 0 && [libc::EPERM, libc::EACCES, libc::ENOSYS].contains(&errno());
        self.report(name, Scope::Kernel, rc, !denied)
    }

    /// A step that is no attempt itself (opening what the next attempts
    /// use): its line says `"escaped":false` and it is not counted.
    pub fn note(&mut self, name: &str, rc: i64) {
        print(name, Scope::Kernel, rc, false);
    }

    /// Prints one attempt's line and counts it.
    pub fn report(&mut self, name: &str, scope: Scope, rc: i64, escaped: bool) -> bool {
        self.tried += 1;
        self.escaped += u32::from(escaped);
        print(name, scope, rc, escaped);
        escaped
    }
}

/// One attempt's line.
fn print(name: &str, scope: Scope, rc: i64, escaped: bool) {
    let err = if rc < 0 { errno() } else { 0 };
    line(&format!(
            "{{\"vmlab\":\"escape\",\"attempt\":{},\"escaped\":{escaped},\"scope\":\"{}\",\"rc\":{rc},\"errno\":{err}}}",
            json_string(name),
        scope.name()
    ));
}

/// Runs the whole battery against `target`.
pub fn run(target: &Target) -> Battery {
    let mut b = Battery::default();
    host::files(&mut b, &target.secret);
    host::processes(&mut b, target.host_pid);
    host::descriptors(&mut b);
    host::network(&mut b, target.port);
    kernel::privileged(&mut b);
    kernel::files(&mut b);
    control_files(&mut b);
    kernel::devices(&mut b);
    tiocsti(&mut b, false);
    b
}

/// `{"vmlab":"attacks","tried":N,"escaped":M}`: the battery ran to its end.
pub fn summary(b: &Battery) {
    line(&format!(
        "{{\"vmlab\":\"attacks\",\"tried\":{},\"escaped\":{}}}",
        b.tried, b.escaped
    ));
}

/// The last error of this thread.
pub fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn set_errno(e: i32) {
    // SAFETY: __errno_location returns this thread's errno slot.
    unsafe { *libc::__errno_location() = e };
}

/// One line on stdout, flushed.
pub fn line(s: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{s}");
    let _ = out.flush();
}

/// `s` as a C string (empty if it holds a NUL).
pub fn c(s: &str) -> CString {
    CString::new(s).unwrap_or_default()
}

/// `s` as a JSON string.
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Runs `f` in a forked child, so that what it changes (namespaces, root,
/// tracer) dies with the child; returns its result as 0, or -1 with
/// `errno` set to the child's error.
fn in_child(f: impl FnOnce() -> i64) -> i64 {
    // SAFETY: the child only makes system calls and `_exit`s; nothing in
    // the battery runs other threads.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let rc = f();
        let code = if rc >= 0 { 0 } else { errno().clamp(1, 255) };
        // SAFETY: ends the child without running the parent's destructors.
        unsafe { libc::_exit(code) };
    }
    if pid < 0 {
        return -1;
    }
    let mut status = 0;
    // SAFETY: waits for our own child into a local.
    if unsafe { libc::waitpid(pid, &mut status, 0) } < 0 {
        return -1;
    }
    match (libc::WIFEXITED(status), libc::WEXITSTATUS(status)) {
        (true, 0) => 0,
        (true, e) => {
            set_errno(e);
            -1
        }
        _ => {
            set_errno(libc::EINTR);
            -1
        }
    }
}

/// A fresh directory for the attempts that make something (a mount, a
/// node), removed when dropped; `None` where nothing is writable.
struct Scratch(Option<String>);

impl Scratch {
    fn new() -> Scratch {
        for base in ["/tmp", "/dev/shm", "/run"] {
            let mut template = format!("{base}/vmlab-attack-XXXXXX\0").into_bytes();
            // SAFETY: a writable, NUL-terminated template that mkdtemp fills in.
            let p = unsafe { libc::mkdtemp(template.as_mut_ptr().cast()) };
            if !p.is_null() {
                template.pop();
                return Scratch(Some(String::from_utf8_lossy(&template).into_owned()));
            }
        }
        Scratch(None)
    }

    /// The directory, or `/tmp` (which exists) when none could be made.
    fn path(&self) -> &str {
        self.0.as_deref().unwrap_or("/tmp")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Some(d) = &self.0 {
            let _ = std::fs::remove_dir(d);
        }
    }
}
