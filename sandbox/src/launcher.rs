//! Starting one workload: cgroup, pipes, plan, clone, parent steps, the
//! child's status record, watching, usage, cleanup.
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use vmlab_workload::protocol::Event;

use crate::cgroup::{Cgroup, CgroupError, Hierarchy, Mode, Usage};
use crate::clone::{self, Child};
use crate::config::Config;
use crate::monitor::{self, ExitStatus, Pipes, Stop};
use crate::plan::{self, PlanError};
use crate::step::{self, ChildFds, Failure, Plan, Status, Step, STATUS_LEN};
use crate::sys::{monotonic_ns, Real, Sys};

/// Starting or watching the workload failed.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    /// The plan could not be built.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// The cgroup could not be set up.
    #[error(transparent)]
    Cgroup(#[from] CgroupError),
    /// A pipe or `/dev/null` could not be opened.
    #[error("cannot create the pipes to the workload")]
    Pipe(#[source] Errno),
    /// The kernel refused to create a user namespace.
    #[error("user namespaces are not permitted here (check sysctl user.max_user_namespaces, kernel.unprivileged_userns_clone and AppArmor's kernel.apparmor_restrict_unprivileged_userns); as root, a sandbox without a user namespace runs the workload as real root on the host")]
    UserNsDenied(#[source] Errno),
    /// Namespaces without a user namespace need root.
    #[error("creating namespaces without a user namespace needs root; keep the user namespace or run as root")]
    NeedRoot(#[source] Errno),
    /// `clone3` failed.
    #[error("cannot create the sandbox process (clone3)")]
    Clone(#[source] Errno),
    /// A named setup step failed.
    #[error("sandbox setup failed at step `{}`: {}{hint}", failure.step.name(), failure.errno.desc())]
    Setup {
        /// The step and its error.
        failure: Failure,
        /// What probably caused it.
        hint: &'static str,
    },
    /// The child vanished before reporting.
    #[error("the sandbox process died during setup without reporting (killed from outside?)")]
    DiedInSetup,
    /// Setup did not finish in time.
    #[error("the sandbox setup did not finish within the timeout")]
    SetupTimeout,
    /// The parent was interrupted; everything was torn down.
    #[error("interrupted by signal {0}; the workload was killed and its cgroup removed")]
    Interrupted(i32),
}

/// What one run produced. Times are ns since the start of [`run`].
#[derive(Clone, Debug)]
pub struct Outcome {
    /// `CLOCK_MONOTONIC` ns at the start (all other times are relative).
    pub start: u64,
    /// Named phases, each with its end time, ordered by time.
    pub phases: Vec<(&'static str, u64)>,
    /// Protocol events.
    pub events: Vec<(Event, u64)>,
    /// Protocol words that were not events.
    pub bad_words: Vec<u32>,
    /// The ready event.
    pub ready: Option<u64>,
    /// The workload reaped (teardown of the cgroup not included).
    pub exited: u64,
    /// Everything cleaned up.
    pub cleaned: u64,
    /// The exit status.
    pub status: ExitStatus,
    /// Whether the timeout killed it.
    pub timed_out: bool,
    /// stdout.
    pub stdout: Vec<u8>,
    /// stderr.
    pub stderr: Vec<u8>,
    /// Cgroup usage (when a cgroup was used).
    pub usage: Option<Usage>,
    /// The OOM killer killed a task of the workload.
    pub oom_killed: bool,
    /// The cgroup mode used, if any.
    pub cgroup_mode: Option<Mode>,
    /// Ran in a user namespace (root inside, an unprivileged id outside);
    /// `false`: real root on the host.
    pub user_ns: bool,
    /// What the bounded output and event buffers did not keep.
    pub dropped: monitor::Dropped,
    /// The child's pid on the host.
    pub pid: i32,
}

/// The parent's and the child's ends of one pipe.
struct Pipe {
    parent: OwnedFd,
    child: OwnedFd,
}

/// A pipe whose child end is moved to at least [`ChildFds::MIN`].
fn pipe(child_reads: bool) -> Result<Pipe, Errno> {
    let (r, w) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
    let (parent, child) = if child_reads { (w, r) } else { (r, w) };
    Ok(Pipe {
        parent,
        child: high(child)?,
    })
}

fn high(fd: OwnedFd) -> Result<OwnedFd, Errno> {
    let n = fcntl(&fd, FcntlArg::F_DUPFD_CLOEXEC(ChildFds::MIN))?;
    // SAFETY: F_DUPFD_CLOEXEC returned a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(n) })
}

fn hint(f: Failure, rootless: bool) -> &'static str {
    match (f.step, f.errno) {
        (Step::IdMaps | Step::SetIds, _) => {
            " (the uid/gid map was refused; a rootless sandbox may only map its own ids)"
        }
        (Step::MountProc, Errno::EPERM) if rootless => {
            " (/proc in a user namespace needs a pid namespace and a /proc the host does not overmount)"
        }
        (Step::MountSys, Errno::EPERM) if rootless => {
            " (sysfs in a user namespace needs a network namespace: use --net none or loopback)"
        }
        (
            Step::MountProc | Step::MountDev | Step::MountSys | Step::MountTmp,
            Errno::ELOOP | Errno::ENOTDIR,
        ) => " (its mount point in the rootfs is a symbolic link or not a directory: mount points must be real directories)",
        (_, Errno::ENOSYS) => {
            " (the sandbox needs Linux 5.12 or later: openat2, open_tree, fsmount, mount_setattr)"
        }
        (Step::BindRootfs, Errno::EACCES) => {
            " (a mount point (proc, dev, sys, tmp) is missing in the rootfs and cannot be created there)"
        }
        (Step::MaskPaths, _) => " (a masked or read-only path under /proc or /sys could not be covered; the sandbox does not start without every mask)",
        (Step::VerifyMounts, Errno::EXDEV) => {
            " (a mount is not where it was made: the root filesystem changed during setup)"
        }
        (Step::Exec, Errno::ENOENT) => " (the entry or its interpreter is missing in the rootfs)",
        (Step::Exec, Errno::EACCES) => {
            " (the entry is not executable by the sandbox user, or the rootfs is mounted noexec)"
        }
        (Step::JoinCgroup, _) => " (cannot move the process into its cgroup)",
        _ => "",
    }
}

/// The child's entry on its own stack: `arg` is the address of the plan.
extern "C" fn child_entry(arg: usize) -> ! {
    // SAFETY: `run` passes the address of a plan that outlives the child's
    // setup (it is dropped only after the child exec'd or was reaped).
    let plan = unsafe { &*(arg as *const Plan) };
    child_main(plan)
}

/// The child: run the steps, report a failure, never return.
fn child_main(plan: &Plan) -> ! {
    let mut st = Status::new();
    let mut sys = Real;
    let failure = match step::child_steps(plan, &mut sys, &mut st) {
        Err(f) => f,
        Ok(()) => Failure {
            step: Step::Exec,
            errno: Errno::EINVAL,
        },
    };
    st.failure = Some(failure);
    let _ = sys.write_all(plan.fds.status, &st.encode());
    // SAFETY: exit_group ends this process without touching shared memory.
    let _ = unsafe { crate::sys::raw::sys!(libc::SYS_exit_group, 127) };
    // exit_group does not return.
    loop {
        std::hint::spin_loop();
    }
}

/// Reads the status pipe to EOF (the child's `execve` closes it); the last
/// record counts.
fn read_status(fd: &OwnedFd, timeout_ns: u64) -> Result<Option<Status>, LaunchError> {
    let deadline = monotonic_ns().saturating_add(timeout_ns);
    let mut buf = Vec::with_capacity(2 * STATUS_LEN);
    loop {
        let left = deadline.saturating_sub(monotonic_ns());
        if left == 0 {
            return Err(LaunchError::SetupTimeout);
        }
        let mut p = [nix::poll::PollFd::new(
            std::os::fd::AsFd::as_fd(fd),
            nix::poll::PollFlags::POLLIN,
        )];
        let ms = left.div_ceil(1_000_000).min(i32::MAX as u64) as i32;
        match nix::poll::poll(
            &mut p,
            nix::poll::PollTimeout::try_from(ms).unwrap_or(nix::poll::PollTimeout::MAX),
        ) {
            Ok(0) => continue,
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => return Err(LaunchError::Pipe(e)),
        }
        let mut chunk = [0u8; 2 * STATUS_LEN];
        match nix::unistd::read(fd, &mut chunk) {
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(Errno::EINTR | Errno::EAGAIN) => {}
            Err(e) => return Err(LaunchError::Pipe(e)),
        }
    }
    let records = buf.len() / STATUS_LEN;
    if records == 0 {
        return Ok(None);
    }
    Ok(Status::decode(
        &buf[(records - 1) * STATUS_LEN..records * STATUS_LEN],
    ))
}

/// Kills and reaps the child after a failure in setup.
fn abort(child: &Child) {
    monitor::kill(child);
    monitor::reap(child);
}

/// Runs `config`'s workload to its end. `cancel`: an fd that becomes
/// readable with a signal number when the run must stop (see
/// [`crate::signal::Interrupt`]).
pub fn run(config: &Config, cancel: Option<BorrowedFd<'_>>) -> Result<Outcome, LaunchError> {
    let start = monotonic_ns();
    let mut phases: Vec<(&'static str, u64)> = Vec::new();
    let mark = |phases: &mut Vec<(&'static str, u64)>, name| {
        phases.push((name, monotonic_ns().saturating_sub(start)))
    };
    config.validate().map_err(PlanError::from)?;

    // Cgroup v2: created now, the child is born in it. v1: created by the
    // parent while the child mounts; the child then moves itself in.
    let hier = if config.cgroup {
        Some(Hierarchy::cached()?)
    } else {
        None
    };
    let name = crate::cgroup::unique_name();
    let mut cgroup = match &hier {
        Some(h) if h.mode == Mode::V2 => {
            let cg = Cgroup::create_named(h, &config.limits, config.devices, &name, None)?;
            mark(&mut phases, "cgroup");
            Some(cg)
        }
        Some(h) => {
            h.check(&config.limits)?;
            h.check_devices(config.devices)?;
            None
        }
        None => None,
    };
    let into = cgroup.as_ref().and_then(|c| c.clone_fd());
    let tasks: Vec<std::ffi::CString> = match &hier {
        Some(h) => Cgroup::v1_tasks_files(h, &config.limits, config.devices, &name)
            .into_iter()
            .filter_map(|p| std::ffi::CString::new(p.into_os_string().into_encoded_bytes()).ok())
            .collect(),
        None => Vec::new(),
    };
    let sync = pipe(true).map_err(LaunchError::Pipe)?;
    let status = pipe(false).map_err(LaunchError::Pipe)?;
    let proto = pipe(false).map_err(LaunchError::Pipe)?;
    let stdout = pipe(false).map_err(LaunchError::Pipe)?;
    let stderr = pipe(false).map_err(LaunchError::Pipe)?;
    let devnull = nix::fcntl::open(
        c"/dev/null",
        OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .and_then(high)
    .map_err(LaunchError::Pipe)?;
    let fds = ChildFds {
        sync: sync.child.as_raw_fd(),
        status: status.child.as_raw_fd(),
        stdin: devnull.as_raw_fd(),
        stdout: stdout.child.as_raw_fd(),
        stderr: stderr.child.as_raw_fd(),
        proto: proto.child.as_raw_fd(),
    };
    let ns_at_clone = into.is_some();
    let plan = plan::build(config, fds, ns_at_clone, tasks)?;
    let flags = plan::clone_flags(config, ns_at_clone);
    mark(&mut phases, "plan");

    // SAFETY: the child runs `child_entry` on the plan, which stays
    // untouched and alive until the child exec'd (EOF on the status pipe)
    // or was reaped; the child makes raw system calls only and never
    // allocates.
    let spawned = unsafe { clone::spawn(flags, into, child_entry, &plan as *const Plan as usize) };
    let child = match spawned {
        Ok(child) => child,
        Err(e)
            if config.ns.user.is_some()
                && matches!(
                    e,
                    Errno::EPERM | Errno::EINVAL | Errno::ENOSPC | Errno::EUSERS
                ) =>
        {
            return Err(LaunchError::UserNsDenied(e))
        }
        // SAFETY: geteuid cannot fail.
        Err(Errno::EPERM) if flags != 0 && unsafe { libc::geteuid() } != 0 => {
            return Err(LaunchError::NeedRoot(Errno::EPERM))
        }
        Err(e) => return Err(LaunchError::Clone(e)),
    };
    mark(&mut phases, "clone");
    drop((
        sync.child,
        status.child,
        proto.child,
        stdout.child,
        stderr.child,
        devnull,
    ));

    let rootless = config.ns.user.is_some();
    let mut times = [0u64; Step::COUNT];
    let parent = step::parent_steps(
        &plan,
        &mut Real,
        child.pid,
        sync.parent.as_raw_fd(),
        &mut times,
    );
    let mut cgroup_error: Option<CgroupError> = None;
    let mut parent = parent;
    if parent.is_ok() && !plan.cgroup_tasks.is_empty() {
        if let Some(h) = &hier {
            // A rootless child has its user's ids when it joins: hand it the
            // tasks files.
            let owner = config.ns.user.map(|u| (u.uid.outside, u.gid.outside));
            match Cgroup::create_named(h, &config.limits, config.devices, &name, owner) {
                Ok(cg) => {
                    cgroup = Some(cg);
                    mark(&mut phases, "cgroup");
                    parent = step::release_cgroup(&mut Real, sync.parent.as_raw_fd(), &mut times);
                }
                Err(e) => cgroup_error = Some(e),
            }
        }
    }
    drop(sync.parent);
    if let Some(e) = cgroup_error {
        abort(&child);
        return Err(e.into());
    }
    if let Err(f) = parent {
        // The child may have failed first (and closed the sync pipe): its
        // own report names the real cause.
        let failure = match f.errno {
            Errno::EPIPE => read_status(&status.parent, 1_000_000_000)
                .ok()
                .flatten()
                .and_then(|st| st.failure)
                .unwrap_or(f),
            _ => f,
        };
        abort(&child);
        return Err(LaunchError::Setup {
            failure,
            hint: hint(failure, rootless),
        });
    }
    let st = match read_status(&status.parent, config.timeout.as_nanos() as u64) {
        Ok(Some(st)) => st,
        Ok(None) => {
            abort(&child);
            return Err(LaunchError::DiedInSetup);
        }
        Err(e) => {
            abort(&child);
            return Err(e);
        }
    };
    if let Some(f) = st.failure {
        abort(&child);
        return Err(LaunchError::Setup {
            failure: f,
            hint: hint(f, rootless),
        });
    }
    for (i, t) in st.times.iter().enumerate() {
        times[i] = times[i].max(*t);
    }
    for s in Step::ALL {
        let t = times[s as usize];
        if t != 0 {
            phases.push((s.name(), t.saturating_sub(start)));
        }
    }

    let watched = monitor::watch(
        &child,
        Pipes {
            proto: proto.parent,
            stdout: stdout.parent,
            stderr: stderr.parent,
        },
        config.timeout,
        cancel,
        if config.ns.pid {
            monitor::Kill::Pid
        } else {
            monitor::Kill::Group
        },
    );
    let rel = |t: u64| t.saturating_sub(start);
    let ready = watched
        .events
        .iter()
        .find(|(e, _)| *e == Event::Ready)
        .map(|(_, t)| rel(*t));
    if let Some(r) = ready {
        phases.push(("ready", r));
    }
    // Parent and child run at once: order by time (stable for ties).
    phases.sort_by_key(|(_, t)| *t);
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
        phases,
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
        user_ns: rootless,
        dropped: watched.dropped,
        pid: child.pid,
    })
}
