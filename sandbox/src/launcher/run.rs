//! [`run`]: one workload from the plan to its outcome, and the pieces a
//! [`Started`](super::started::Started) sandbox is made of.
use std::os::fd::{BorrowedFd, OwnedFd, RawFd};

use nix::errno::Errno;
use vmlab_workload::protocol::Event;

use super::cgroup_setup::CgroupSetup;
use super::child::child_entry;
use super::fds::read_status;
use super::phases::Phases;
use super::started::Started;
use super::{LaunchError, Outcome};
use crate::cgroup::Cgroup;
use crate::clone::{self, Child};
use crate::config::Config;
use crate::monitor::{Stop, Watched};
use crate::plan::Plan;
use crate::step::{self, Step};
use crate::sys::{monotonic_ns, Real};

/// Clones the child on `plan`, naming the likely cause of a refusal.
pub(super) fn spawn<'p>(
    config: &Config,
    plan: &'p Plan,
    flags: u64,
    into: Option<RawFd>,
) -> Result<Child<'p>, LaunchError> {
    // SAFETY: the child runs `child_entry` on the plan, which the returned
    // Child borrows, so it stays alive and untouched until the child
    // exec'd or was reaped; the child makes raw system calls only and never
    // allocates.
    match unsafe { clone::spawn(flags, into, child_entry, plan) } {
        Ok(child) => Ok(child),
        Err(e)
            if config.ns.user.is_some()
                && matches!(
                    e,
                    Errno::EPERM | Errno::EINVAL | Errno::ENOSPC | Errno::EUSERS
                ) =>
        {
            Err(LaunchError::UserNsDenied(e))
        }
        Err(Errno::EPERM) if flags != 0 && !nix::unistd::geteuid().is_root() => {
            Err(LaunchError::NeedRoot(Errno::EPERM))
        }
        Err(e) => Err(LaunchError::Clone(e)),
    }
}

/// The parent's steps (and the v1 cgroup) after the clone, through `sync`
/// (the sync pipe's write end; `status` names the child's own failure when
/// it closed the pipe first). Returns the parent steps' end times.
pub(super) fn setup(
    config: &Config,
    plan: &Plan,
    child: &Child<'_>,
    (sync, status): (RawFd, &OwnedFd),
    cg: &mut CgroupSetup,
    phases: &mut Phases,
) -> Result<[u64; Step::COUNT], LaunchError> {
    let user_ns = config.ns.user.is_some();
    let mut times = [0u64; Step::COUNT];
    let mut parent = step::parent_steps(plan, &mut Real, child.pid, sync, &mut times);
    if parent.is_ok() && !plan.cgroup_tasks.is_empty() {
        if let Some(h) = &cg.hier {
            // A child in a user namespace has its user's ids when it joins:
            // hand it the tasks files.
            let owner = config.ns.user.map(|u| (u.uid.outside, u.gid.outside));
            let created = Cgroup::create_named(h, &config.limits, config.devices, &cg.name, owner)?;
            cg.cgroup = Some(created);
            phases.mark("cgroup");
            parent = step::release_cgroup(&mut Real, sync, &mut times);
        }
    }
    if let Err(f) = parent {
        // The child may have failed first (and closed the sync pipe): its
        // own report names the real cause.
        let failure = match f.errno {
            Errno::EPIPE => read_status(status, 1_000_000_000)
                .ok()
                .flatten()
                .and_then(|st| st.failure)
                .unwrap_or(f),
            _ => f,
        };
        return Err(LaunchError::setup(failure, user_ns));
    }
    Ok(times)
}

/// Usage read back, the cgroup removed, the outcome assembled.
pub(super) fn finish(
    user_ns: bool,
    mut phases: Phases,
    watched: Watched,
    cgroup: Option<Cgroup>,
    pid: i32,
) -> Result<Outcome, LaunchError> {
    let start = phases.start;
    let rel = |t: u64| t.saturating_sub(start);
    let ready = watched
        .events
        .iter()
        .find(|(e, _)| *e == Event::Ready)
        .map(|(_, t)| rel(*t));
    if let Some(r) = ready {
        phases.list.push(("ready", r));
    }
    // Parent and child run at once: order by time (stable for ties).
    phases.list.sort_by_key(|(_, t)| *t);
    let usage = cgroup.as_ref().map(|c| c.usage());
    let cgroup_mode = cgroup.as_ref().map(|c| c.mode());
    if let Some(c) = cgroup {
        c.remove()?;
    }
    let cleaned = rel(monotonic_ns());
    if let Stop::Interrupted(sig) = watched.stop {
        return Err(LaunchError::Interrupted(sig));
    }
    let oom_killed = usage.and_then(|u| u.oom_kills).is_some_and(|n| n > 0);
    Ok(Outcome {
        start,
        phases: phases.list,
        prepared: Vec::new(),
        events: watched.events.iter().map(|(e, t)| (*e, rel(*t))).collect(),
        bad_words: watched.bad_words,
        ready,
        exited: rel(watched.reaped_at),
        cleaned,
        status: watched.status,
        timed_out: watched.stop == Stop::TimedOut,
        stdout: watched.stdout,
        stderr: watched.stderr,
        usage,
        oom_killed,
        cgroup_mode,
        user_ns,
        dropped: watched.dropped,
        pid,
    })
}

/// Runs `config`'s workload to its end. `cancel`: an fd that becomes
/// readable with a signal number when the run must stop (see
/// [`crate::signal::Interrupt`]).
pub fn run(config: &Config, cancel: Option<BorrowedFd<'_>>) -> Result<Outcome, LaunchError> {
    Started::start(config, false)?.wait(cancel)
}
