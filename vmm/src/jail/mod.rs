//! The VMM's jail: a guest that breaks the VMM gets an unprivileged,
//! empty-rooted, seccomp-filtered process with nothing but its own VM.
//!
//! # Design
//! [`crate::run`] with [`VmConfig::jail`](crate::VmConfig::jail) on opens
//! `/dev/kvm` and reads the guest's files in the calling process, then forks
//! one child: the jailed VMM. The child creates the VM (a VM belongs to the
//! process that creates it), maps guest memory, loads the guest and sets the
//! vCPU up, and only then calls [`enter`]:
//!
//! 1. every fd but the KVM, VM and vCPU fds, stdio and the report pipe is
//!    closed;
//! 2. ids: started by root, it drops to uid/gid 65534 (`nobody`/`nogroup`,
//!    no supplementary groups) in the host's user namespace; otherwise it
//!    keeps the caller's own ids. Then it creates a user namespace *as that
//!    unprivileged user* and maps root inside to it (`0 <id> 1`, written by
//!    the process itself: a one-id map of one's own id needs no privilege,
//!    so no helper process or handshake is needed);
//! 3. new mount, ipc, uts, network (nothing in it) and cgroup namespaces,
//!    all owned by that user namespace. No pid namespace: `unshare` of one
//!    affects only children, the filter kills `clone`, `fork` and `vfork`
//!    so the VMM can have none, and on software nested KVM (`kvm_pvm`)
//!    `KVM_RUN` fails with `EINVAL` once the caller has unshared one;
//! 4. an empty root: a tmpfs mounted on `/tmp` (in the new mount namespace
//!    only), `pivot_root` into it, the old root detached, the new one
//!    remounted read-only, `nosuid`, `nodev`, `noexec` (where the host's
//!    root is an initramfs, which `pivot_root` cannot leave, the tmpfs is
//!    moved over `/` and `chroot`ed into instead);
//! 5. every capability cleared: bounding, ambient, inheritable, effective,
//!    permitted; `no_new_privs` set;
//! 6. the seccomp filter of [`seccomp::TABLE`] installed (kill on anything
//!    else).
//!
//! The child then runs the guest, tears the VM down, writes its result to
//! the parent through a pipe ([`wire`]) and exits. The parent reads the
//! report and reaps the child; a child killed by `SIGSYS` becomes
//! [`Error::Seccomp`] (with its pid: the kernel's audit line for the kill,
//! `type=1326`, names the pid and the call), another death
//! [`Error::Died`]. The child gets
//! `SIGKILL` if the parent dies first, so nothing outlives a run.
//!
//! Between dropping to the unprivileged id and writing the id maps, the
//! process is briefly dumpable (the kernel requires it to write its own
//! maps): another process of uid 65534 could attach to it in those
//! microseconds.
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{unshare, CloneFlags};
use nix::sys::signal::Signal;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{Gid, Pid, Uid};

use crate::VmOutcome;

pub mod seccomp;
mod sys;
pub mod wire;

/// The uid and gid a VMM started by root runs as on the host.
pub const NOBODY: u32 = 65534;

/// Where the empty root is mounted before `pivot_root` (in the VMM's own
/// mount namespace; the host's `/tmp` is not touched).
pub const NEW_ROOT_AT: &str = "/tmp";

/// Exit status of a jailed VMM whose code panicked.
const PANICKED: i32 = 101;
/// Exit status of a jailed VMM whose parent was already gone.
const ORPHANED: i32 = 102;

/// Errors of the jail.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The jailed VMM process could not be started.
    #[error("cannot start the jailed VMM process")]
    Fork(#[source] std::io::Error),
    /// The report pipe could not be created.
    #[error("cannot create the pipe for the jailed VMM's report")]
    Pipe(#[source] nix::Error),
    /// A jail step failed.
    #[error("the VMM's jail could not {step}")]
    Step {
        /// The step.
        step: &'static str,
        /// What the kernel said.
        #[source]
        source: nix::Error,
    },
    /// Writing an id map failed.
    #[error("the VMM's jail could not write {file}")]
    IdMap {
        /// The file.
        file: &'static str,
        /// What the kernel said.
        #[source]
        source: std::io::Error,
    },
    /// Joining the caller's cgroup failed.
    #[error("the jailed VMM could not join its cgroup through {}", file.display())]
    Cgroup {
        /// The control file.
        file: std::path::PathBuf,
        /// What the kernel said.
        #[source]
        source: std::io::Error,
    },
    /// Clearing capabilities failed.
    #[error("the VMM's jail could not clear its {set} capabilities: {message}")]
    Caps {
        /// The set.
        set: &'static str,
        /// What the caps crate said.
        message: String,
    },
    /// The seccomp filter could not be built or installed.
    #[error(transparent)]
    Filter(#[from] seccomp::Error),
    /// The jailed VMM made a call outside its allow-list and was killed.
    #[error(
        "the VMM was killed by its seccomp filter (SIGSYS): it made a system call outside its \
         allow-list (vmm/src/jail/seccomp.rs); the kernel log names the call (`dmesg | grep \
         'type=1326.* pid={pid} '`, syscall=N)"
    )]
    Seccomp {
        /// The VMM process's pid (the kernel's audit line names it).
        pid: i32,
    },
    /// The jailed VMM died some other way.
    #[error("the jailed VMM process {how} without a report")]
    Died {
        /// How: "was killed by signal N", "exited with status N".
        how: String,
    },
    /// The report did not decode.
    #[error("the jailed VMM process sent a malformed report")]
    Malformed,
    /// The jailed VMM could not jail itself, with this message (its error
    /// chain).
    #[error("{0}")]
    Setup(String),
    /// The jailed VMM failed, with this message (its error chain).
    #[error("{0}")]
    InVmm(String),
}

impl Error {
    /// Whether this is a failure to set the jail up (in either process).
    pub fn is_setup(&self) -> bool {
        matches!(
            self,
            Error::Step { .. }
                | Error::IdMap { .. }
                | Error::Cgroup { .. }
                | Error::Caps { .. }
                | Error::Filter(_)
                | Error::Setup(_)
        )
    }
}

fn step(step: &'static str) -> impl FnOnce(nix::Error) -> Error {
    move |source| Error::Step { step, source }
}

/// A forbidden call the VMM attempts after setup, on request: a test hook
/// showing the jail holds (jailed: the VMM is killed) and that the probe
/// itself works (not jailed: the call is made, its result reported).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe {
    /// `openat` of a host file (`/etc/passwd`).
    OpenHostFile,
    /// `execve` of a path that does not exist (made, it fails `ENOENT`).
    Exec,
    /// `socket(AF_INET, SOCK_DGRAM)`.
    Socket,
}

impl Probe {
    /// By name: `open`, `exec`, `socket`.
    pub fn from_name(name: &str) -> Option<Probe> {
        match name {
            "open" => Some(Probe::OpenHostFile),
            "exec" => Some(Probe::Exec),
            "socket" => Some(Probe::Socket),
            _ => None,
        }
    }

    /// Makes the call; says what it returned.
    pub fn attempt(self) -> String {
        match self {
            Probe::OpenHostFile => match File::open("/etc/passwd") {
                Ok(_) => "openat(/etc/passwd): opened".into(),
                Err(e) => format!("openat(/etc/passwd): {e}"),
            },
            Probe::Exec => {
                let path = c"/nonexistent/vmlab-probe";
                match nix::unistd::execve::<&std::ffi::CStr, &std::ffi::CStr>(path, &[path], &[]) {
                    Err(e) => format!("execve(/nonexistent/vmlab-probe): {e}"),
                }
            }
            Probe::Socket => match std::net::UdpSocket::bind((std::net::Ipv4Addr::LOCALHOST, 0)) {
                Ok(_) => "socket(AF_INET, SOCK_DGRAM): created".into(),
                Err(e) => format!("socket(AF_INET, SOCK_DGRAM): {e}"),
            },
        }
    }
}

/// The ids the jailed VMM runs as on the host: 65534 when started by root,
/// else the caller's own.
pub fn host_ids() -> (Uid, Gid) {
    if Uid::effective().is_root() {
        (Uid::from_raw(NOBODY), Gid::from_raw(NOBODY))
    } else {
        (Uid::effective(), Gid::effective())
    }
}

/// Moves the calling (single-threaded) process into a cgroup by writing
/// `0` to each of its control files.
pub fn join_cgroup(files: &[std::path::PathBuf]) -> Result<(), Error> {
    for file in files {
        std::fs::write(file, "0").map_err(|source| Error::Cgroup {
            file: file.clone(),
            source,
        })?;
    }
    Ok(())
}

fn write_proc(file: &'static str, text: &str) -> Result<(), Error> {
    std::fs::write(file, text).map_err(|source| Error::IdMap { file, source })
}

fn clear_caps() -> Result<(), Error> {
    use caps::CapSet;
    // Every capability the kernel knows, up to the first it does not (one
    // prctl each: no file to read, the root is empty by now).
    for cap in 0..=63 {
        match sys::drop_bounding(cap) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                return Err(Error::Caps {
                    set: "bounding",
                    message: e.to_string(),
                })
            }
        }
    }
    for (set, name) in [
        (CapSet::Ambient, "ambient"),
        (CapSet::Inheritable, "inheritable"),
        (CapSet::Permitted, "permitted and effective"),
    ] {
        caps::clear(None, set).map_err(|e| Error::Caps {
            set: name,
            message: e.to_string(),
        })?;
    }
    Ok(())
}

/// Jails the calling process (the forked VMM, single-threaded, after
/// setup): see the module documentation for the steps. `keep` are the fds
/// it still needs besides stdio and `report`; `parent` is the process that
/// waits for it.
pub fn enter(keep: &[RawFd], report: RawFd, parent: Pid) -> Result<(), Error> {
    let mut fds = keep.to_vec();
    fds.push(report);
    sys::close_fds_except(&fds).map_err(|e| Error::Step {
        step: "close inherited fds",
        source: nix::Error::from_raw(e.raw_os_error().unwrap_or(libc::EBADF)),
    })?;
    let program = seccomp::program(&seccomp::Context { report_fd: report })?;

    let (uid, gid) = host_ids();
    if Uid::effective().is_root() {
        nix::unistd::setgroups(&[]).map_err(step("drop supplementary groups"))?;
        nix::unistd::setresgid(gid, gid, gid).map_err(step("drop to gid 65534"))?;
        nix::unistd::setresuid(uid, uid, uid).map_err(step("drop to uid 65534"))?;
    } else {
        nix::unistd::setresgid(gid, gid, gid).map_err(step("set its gid"))?;
        nix::unistd::setresuid(uid, uid, uid).map_err(step("set its uid"))?;
    }
    unshare(CloneFlags::CLONE_NEWUSER).map_err(step(
        "create a user namespace (are user namespaces disabled? see user.max_user_namespaces)",
    ))?;
    // Changing ids made the process non-dumpable, which makes its /proc
    // files root's; writing its own maps needs them its own.
    nix::sys::prctl::set_dumpable(true).map_err(step("become dumpable to write its id maps"))?;
    write_proc("/proc/self/setgroups", "deny")?;
    write_proc("/proc/self/uid_map", &format!("0 {uid} 1"))?;
    write_proc("/proc/self/gid_map", &format!("0 {gid} 1"))?;
    nix::sys::prctl::set_dumpable(false).map_err(step("become non-dumpable"))?;

    unshare(
        CloneFlags::CLONE_NEWNS
            | CloneFlags::CLONE_NEWIPC
            | CloneFlags::CLONE_NEWUTS
            | CloneFlags::CLONE_NEWNET
            | CloneFlags::CLONE_NEWCGROUP,
    )
    .map_err(step(
        "create its mount, ipc, uts, network and cgroup namespaces",
    ))?;

    let none: Option<&str> = None;
    mount(none, "/", none, MsFlags::MS_REC | MsFlags::MS_PRIVATE, none)
        .map_err(step("make its mounts private"))?;
    let sealed = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    mount(
        Some("tmpfs"),
        NEW_ROOT_AT,
        Some("tmpfs"),
        sealed,
        Some("size=4k,nr_inodes=4,mode=0555"),
    )
    .map_err(step("mount its empty root (a tmpfs on /tmp)"))?;
    nix::unistd::chdir(NEW_ROOT_AT).map_err(step("enter its empty root"))?;
    match nix::unistd::pivot_root(".", ".") {
        Ok(()) => {
            umount2(".", MntFlags::MNT_DETACH).map_err(step("detach the host's root"))?;
        }
        // The host's root is the initramfs (rootfs), which cannot be
        // pivoted away: move the empty root over it and chroot instead
        // (leaving a chroot needs CAP_SYS_CHROOT and calls the filter kills).
        Err(nix::Error::EINVAL) => {
            mount(Some("."), "/", none, MsFlags::MS_MOVE, none)
                .map_err(step("move its empty root over the initramfs"))?;
            nix::unistd::chroot(".").map_err(step("chroot into its empty root"))?;
        }
        Err(e) => return Err(step("pivot_root into its empty root")(e)),
    }
    nix::unistd::chdir("/").map_err(step("enter its empty root"))?;
    mount(
        none,
        "/",
        none,
        MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_RDONLY | sealed,
        none,
    )
    .map_err(step("make its root read-only"))?;

    clear_caps()?;
    nix::sys::prctl::set_no_new_privs().map_err(step("set no_new_privs"))?;
    // Changing ids cleared the parent-death signal: set it again, and make
    // sure the parent did not die before.
    nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(step("set its parent-death signal"))?;
    if nix::unistd::getppid() != parent {
        sys::exit_now(ORPHANED);
    }
    seccomp::install(&program)?;
    Ok(())
}

/// Runs `boot` in a forked, jailed child and returns what it reported.
/// `boot` gets the report pipe's fd (for [`enter`]) and the parent's pid.
/// The outcome's `to_exit_ns` is taken here, from `start` to the child
/// reaped.
pub(crate) fn run_in_child<F>(start: std::time::Instant, boot: F) -> Result<VmOutcome, crate::Error>
where
    F: FnOnce(RawFd, Pid) -> Result<VmOutcome, crate::Error>,
{
    let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(Error::Pipe)?;
    let parent = nix::unistd::getpid();
    match sys::fork().map_err(Error::Fork)? {
        sys::Forked::Child => {
            drop(read);
            sys::exit_now(child(write, parent, boot))
        }
        sys::Forked::Parent(pid) => {
            drop(write);
            let mut report = Vec::new();
            // A report too long is cut short here and fails to decode.
            let read_ok = File::from(read)
                .take(wire::MAX_REPORT as u64 + 1)
                .read_to_end(&mut report)
                .is_ok();
            let status = loop {
                match waitpid(Pid::from_raw(pid), None) {
                    Err(nix::Error::EINTR) => continue,
                    other => break other,
                }
            };
            match status {
                Ok(WaitStatus::Exited(_, 0)) if read_ok => {
                    let mut result = wire::decode(&report).map_err(|_| Error::Malformed)?;
                    if let Ok(o) = &mut result {
                        o.to_exit_ns = start.elapsed().as_nanos() as u64;
                    }
                    result
                }
                Ok(WaitStatus::Signaled(_, Signal::SIGSYS, _)) => {
                    Err(Error::Seccomp { pid }.into())
                }
                Ok(WaitStatus::Signaled(_, sig, _)) => Err(Error::Died {
                    how: format!("was killed by {sig}"),
                }
                .into()),
                Ok(WaitStatus::Exited(_, PANICKED)) => Err(Error::Died {
                    how: "panicked (see its message above)".into(),
                }
                .into()),
                Ok(WaitStatus::Exited(_, code)) => Err(Error::Died {
                    how: format!("exited with status {code}"),
                }
                .into()),
                Ok(other) => Err(Error::Died {
                    how: format!("ended as {other:?}"),
                }
                .into()),
                Err(e) => Err(Error::Died {
                    how: format!("could not be waited for ({e})"),
                }
                .into()),
            }
        }
    }
}

/// The child's side: boot, report, and the exit status.
fn child<F>(report: OwnedFd, parent: Pid, boot: F) -> i32
where
    F: FnOnce(RawFd, Pid) -> Result<VmOutcome, crate::Error>,
{
    if nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).is_err() || nix::unistd::getppid() != parent
    {
        return ORPHANED;
    }
    // A panic ends the process with a status the parent names, not with
    // abort(), whose calls the filter does not allow.
    std::panic::set_hook(Box::new(|info| {
        eprintln!("the jailed VMM panicked: {info}");
        sys::exit_now(PANICKED)
    }));
    let fd = report.as_raw_fd();
    let result = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| boot(fd, parent))) {
        Ok(r) => r,
        Err(_) => return PANICKED,
    };
    let bytes = wire::encode(&result);
    let _ = std::io::stdout().flush();
    let mut file = File::from(report);
    match file.write_all(&bytes) {
        Ok(()) => 0,
        Err(_) => 1,
    }
}
