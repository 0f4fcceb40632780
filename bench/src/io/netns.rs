//! Network namespaces held by a file descriptor only: no `/run/netns` name,
//! no process. A short-lived thread `unshare`s a new namespace, opens its
//! `/proc/thread-self/ns/net` and ends; the descriptor is then the only
//! thing that keeps the namespace alive, so it dies (and every interface
//! in it, and the peer end of each veth pair) when the descriptor closes,
//! also when vmlab is killed. This is the module's only `unsafe`: the
//! `setns` in a child between fork and exec.
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;

use nix::sched::{setns, unshare, CloneFlags};

/// A network namespace of vmlab's own.
#[derive(Debug)]
pub struct NetNs {
    fd: OwnedFd,
}

impl NetNs {
    /// A new, empty network namespace (needs CAP_SYS_ADMIN).
    pub fn new() -> io::Result<NetNs> {
        let thread = std::thread::Builder::new()
            .name("vmlab-netns".into())
            .spawn(|| -> io::Result<OwnedFd> {
                unshare(CloneFlags::CLONE_NEWNET)?;
                Ok(File::open("/proc/thread-self/ns/net")?.into())
            })?;
        let fd = thread
            .join()
            .map_err(|_| io::Error::other("the namespace thread panicked"))??;
        Ok(NetNs { fd })
    }

    /// A path naming the namespace for other processes (OCI runtimes,
    /// `ip ... netns PATH`): vmlab's descriptor under `/proc`, valid while
    /// this value lives.
    pub fn path(&self) -> PathBuf {
        PathBuf::from(format!(
            "/proc/{}/fd/{}",
            std::process::id(),
            self.fd.as_raw_fd()
        ))
    }

    /// The namespace's inode (what `/proc/PID/ns/net` links show).
    pub fn inode(&self) -> io::Result<u64> {
        use std::os::unix::fs::MetadataExt;
        Ok(File::from(self.fd.try_clone()?).metadata()?.ino())
    }

    /// Makes `cmd` run in this namespace: the child joins it before exec,
    /// and dies (SIGKILL) with the thread that spawns it, so that a killed
    /// vmlab leaves no instance holding the namespace (a VMM or QEMU would
    /// otherwise keep its TAP and bridge alive).
    pub fn enter_on_spawn(&self, cmd: &mut Command) -> io::Result<()> {
        let fd = self.fd.try_clone()?;
        let parent = nix::unistd::getpid();
        // SAFETY: the closure runs in the child between fork and exec; it
        // only calls setns(2), prctl(2), getppid(2) and kill(2), which are
        // async-signal-safe, on a descriptor the closure owns (a copy,
        // closed in the parent when `cmd` drops).
        unsafe {
            cmd.pre_exec(move || {
                setns(fd.as_fd(), CloneFlags::CLONE_NEWNET)?;
                nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)?;
                // The parent may have died before the prctl.
                if nix::unistd::getppid() != parent {
                    nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL)?;
                }
                Ok(())
            })
        };
        Ok(())
    }

    /// Runs `f` on a thread inside this namespace (sockets it creates
    /// belong to the namespace for their whole life).
    pub fn run_in<T: Send>(&self, f: impl FnOnce() -> io::Result<T> + Send) -> io::Result<T> {
        std::thread::scope(|s| {
            s.spawn(|| {
                setns(self.fd.as_fd(), CloneFlags::CLONE_NEWNET)?;
                f()
            })
            .join()
            .map_err(|_| io::Error::other("a thread in the namespace panicked"))?
        })
    }
}

/// The distinct network namespaces the host's processes hold, by inode:
/// each process's own (`/proc/PID/ns/net`) and every one a descriptor
/// holds (`/proc/PID/fd/N` linking to `net:[INODE]`), as the leftover
/// tests count them. Namespaces held only by a bind mount are not seen.
pub fn all_inodes() -> Vec<u64> {
    use std::os::unix::fs::MetadataExt;
    let pids = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        });
    let mut out = Vec::new();
    for pid in pids {
        out.extend(
            std::fs::metadata(pid.path().join("ns/net"))
                .ok()
                .map(|m| m.ino()),
        );
        let fds = std::fs::read_dir(pid.path().join("fd"))
            .into_iter()
            .flatten()
            .flatten();
        for fd in fds {
            let Ok(target) = std::fs::read_link(fd.path()) else {
                continue;
            };
            let target = target.to_string_lossy();
            if let Some(ino) = target
                .strip_prefix("net:[")
                .and_then(|t| t.strip_suffix(']'))
            {
                out.extend(ino.parse::<u64>().ok());
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}
