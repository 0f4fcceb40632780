//! PID 1 duties: the file systems the kernels need, a console, reaping
//! orphans, and ending the run (flush, drain, exit event, power off).
use std::ffi::CStr;
use std::fmt;
use std::fs::OpenOptions;
use std::io::{self, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

use vmlab_workload::Event;

use super::channel::Channel;
use super::sys;

/// One file system PID 1 mounts when it is not there yet.
struct Fs {
    source: &'static CStr,
    target: &'static str,
    target_c: &'static CStr,
    fstype: &'static CStr,
    flags: libc::c_ulong,
    data: Option<&'static CStr>,
    /// Without it the workload cannot run at all.
    required: bool,
}

const NOSUID_NODEV: libc::c_ulong = libc::MS_NOSUID | libc::MS_NODEV;

const FILE_SYSTEMS: [Fs; 4] = [
    Fs {
        source: c"proc",
        target: "/proc",
        target_c: c"/proc",
        fstype: c"proc",
        flags: NOSUID_NODEV | libc::MS_NOEXEC,
        data: None,
        required: true,
    },
    Fs {
        source: c"sysfs",
        target: "/sys",
        target_c: c"/sys",
        fstype: c"sysfs",
        flags: NOSUID_NODEV | libc::MS_NOEXEC,
        data: None,
        required: false,
    },
    Fs {
        source: c"devtmpfs",
        target: "/dev",
        target_c: c"/dev",
        fstype: c"devtmpfs",
        flags: libc::MS_NOSUID,
        data: None,
        required: false,
    },
    Fs {
        source: c"tmpfs",
        target: "/tmp",
        target_c: c"/tmp",
        fstype: c"tmpfs",
        flags: NOSUID_NODEV,
        data: Some(c"mode=1777"),
        required: false,
    },
];

/// Whether `fs` is already mounted (or its content already there).
fn present(fs: &Fs) -> bool {
    match fs.target {
        "/proc" => Path::new("/proc/self/stat").exists(),
        "/sys" => Path::new("/sys/kernel").exists(),
        "/dev" => Path::new("/dev/null").exists(),
        // A mount point lives on another device than its parent.
        target => match (std::fs::metadata(target), std::fs::metadata("/")) {
            (Ok(t), Ok(root)) => t.dev() != root.dev(),
            _ => false,
        },
    }
}

/// A required file system could not be mounted.
#[derive(Debug)]
pub struct MountError {
    target: &'static str,
    fstype: &'static CStr,
    source: io::Error,
}

impl fmt::Display for MountError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "as PID 1, cannot mount {} on {} ({}); the workload needs a writable mount point and CAP_SYS_ADMIN",
            self.fstype.to_string_lossy(),
            self.target,
            self.source
        )
    }
}

impl std::error::Error for MountError {}

/// Mounts what the kernels need and makes sure stdout and stderr go
/// somewhere. Optional file systems that fail are reported on stderr.
pub fn setup() -> Result<(), MountError> {
    let mut warnings = Vec::new();
    for fs in &FILE_SYSTEMS {
        if present(fs) {
            continue;
        }
        let mounted = std::fs::create_dir_all(fs.target)
            .and_then(|()| sys::mount(fs.source, fs.target_c, fs.fstype, fs.flags, fs.data));
        match mounted {
            Ok(()) => {}
            Err(source) if fs.required => {
                ensure_console();
                return Err(MountError {
                    target: fs.target,
                    fstype: fs.fstype,
                    source,
                });
            }
            Err(e) => warnings.push(format!(
                "vmlab-workload: warning: cannot mount {} on {}: {e}",
                fs.fstype.to_string_lossy(),
                fs.target
            )),
        }
    }
    ensure_console();
    for w in warnings {
        eprintln!("{w}");
    }
    Ok(())
}

/// Without a `/dev/console` in the initramfs, Linux starts init with no
/// stdio; then open the console from devtmpfs.
fn ensure_console() {
    if sys::fd_is_open(1) && sys::fd_is_open(2) {
        return;
    }
    if let Ok(console) = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY)
        .open("/dev/console")
    {
        let _ = sys::console_as_stdio(console.as_fd());
    }
}

/// Reaps every exited child. Called between kernels only, so it never
/// takes a child a kernel is waiting for.
pub fn reap_orphans() {
    while sys::reap_any().is_some() {}
}

/// The inode number of the initial PID namespace (`PROC_PID_INIT_INO`).
const INIT_PID_NS_INO: u64 = 0xEFFF_FFFC;

/// Whether this process is in the machine's first PID namespace: PID 1
/// there is the init of a (virtual) machine, not of a container.
fn in_initial_pid_namespace() -> bool {
    // stat follows the magic link to the namespace's own inode.
    std::fs::metadata("/proc/self/ns/pid")
        .map(|m| m.ino() == INIT_PID_NS_INO)
        .unwrap_or(false)
}

/// Ends the run with `code`: flushes the console (and, as PID 1, waits
/// until a serial console has transmitted it), sends the exit event, and as
/// the init of a VM powers off; otherwise exits with the code.
pub fn finish(mut channel: Channel, code: u8, pid1: bool) -> ! {
    let _ = io::stdout().flush();
    let _ = io::stderr().flush();
    if pid1 {
        sys::tcdrain(1);
        sys::tcdrain(2);
        reap_orphans();
    }
    channel.send(Event::Exit(code));
    if pid1 && in_initial_pid_namespace() {
        // Under a VMM that stops on the exit event this is never reached;
        // under a plain hypervisor it ends the VM instead of a kernel panic.
        let e = sys::power_off();
        eprintln!("vmlab-workload: cannot power off: {e}");
    }
    std::process::exit(code.into())
}
