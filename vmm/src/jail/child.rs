//! The fork: the jailed child boots and reports, the parent reads the
//! report and reaps the child.
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use nix::sys::signal::Signal;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;

use super::error::Error;
use super::{sys, wire};
use crate::VmOutcome;

/// Exit status of a jailed VMM whose code panicked.
pub(super) const PANICKED: i32 = 101;
/// Exit status of a jailed VMM whose parent was already gone.
pub(super) const ORPHANED: i32 = 102;

/// A forked, jailed VMM not waited for yet: its pid and the read end of
/// its report pipe.
pub(crate) struct Child {
    /// The child's pid.
    pub pid: libc::pid_t,
    /// The read end of its report pipe (end of file once it exited).
    pub report: OwnedFd,
}

/// Forks the jailed child that runs `boot` and returns at once. `boot`
/// gets the report pipe's fd (for [`enter`]) and this process's pid.
pub(crate) fn spawn<F>(boot: F) -> Result<Child, crate::Error>
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
            Ok(Child { pid, report: read })
        }
    }
}

/// Runs `boot` in a forked, jailed child and returns what it reported.
/// The outcome's `to_exit_ns` is taken here, from `start` to the child
/// reaped.
pub(crate) fn run_in_child<F>(start: std::time::Instant, boot: F) -> Result<VmOutcome, crate::Error>
where
    F: FnOnce(RawFd, Pid) -> Result<VmOutcome, crate::Error>,
{
    let Child { pid, report } = spawn(boot)?;
    let mut bytes = Vec::new();
    // A report too long is cut short here and fails to decode.
    let read_ok = File::from(report)
        .take(wire::MAX_REPORT as u64 + 1)
        .read_to_end(&mut bytes)
        .is_ok();
    let status = loop {
        match waitpid(Pid::from_raw(pid), None) {
            Err(nix::Error::EINTR) => continue,
            other => break other,
        }
    };
    conclude(read_ok.then_some(&bytes[..]), status, start)
}

/// What a reaped jailed VMM's report (`None`: it could not be read) and
/// wait status say; `to_exit_ns` is from `start` to now.
pub(crate) fn conclude(
    report: Option<&[u8]>,
    status: nix::Result<WaitStatus>,
    start: std::time::Instant,
) -> Result<VmOutcome, crate::Error> {
    match status {
        Ok(WaitStatus::Exited(_, 0)) if report.is_some() => {
            let bytes = report.unwrap_or_default();
            let mut result = wire::decode(bytes).map_err(|_| Error::Malformed)?;
            if let Ok(o) = &mut result {
                o.to_exit_ns = start.elapsed().as_nanos() as u64;
            }
            result
        }
        Ok(WaitStatus::Signaled(pid, Signal::SIGSYS, _)) => {
            Err(Error::Seccomp { pid: pid.as_raw() }.into())
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
