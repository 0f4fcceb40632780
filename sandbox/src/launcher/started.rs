//! [`Started`]: a sandbox cloned on a plan it owns, set up either to its
//! `execve` (a cold run) or to just before it, parked (a pool's sandbox).
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::time::Duration;

use super::cgroup_setup::{cgroup_before_clone, CgroupSetup};
use super::fds::{read_first_status, read_status};
use super::phases::Phases;
use super::run::{finish, setup, spawn};
use super::wiring::Wiring;
use super::{LaunchError, Outcome};
use crate::cgroup::Cgroup;
use crate::clone::Child;
use crate::config::Config;
use crate::monitor::{self, Early, Kill, NotYet, Pipes};
use crate::plan::{self, Plan, PlanError};
use crate::step::Step;
use crate::sys::{monotonic_ns, Real, Sys};
use nix::poll::{PollFd, PollFlags, PollTimeout};
use vmlab_workload::protocol::Event;

/// A cloned child and everything the parent holds for it. Dropping it
/// kills and reaps the child first, then closes the pipes, removes the
/// cgroup and frees the plan the child was reading.
pub(crate) struct Started {
    /// `None` once the monitor reaped it.
    child: Option<Child<'static>>,
    /// Boxed: the child reads it through a pointer, so it must not move.
    /// Freed only after the child exec'd or was reaped (see [`Drop`]).
    plan: Box<Plan>,
    /// The sync pipe, kept open while parked: one byte releases the child.
    sync: Option<OwnedFd>,
    /// The status pipe, until the child's `execve` closed its end.
    status: Option<OwnedFd>,
    pipes: Option<Pipes>,
    cgroup: Option<Cgroup>,
    phases: Phases,
    /// A released sandbox: its preparation's phases.
    prepared: Vec<(&'static str, u64)>,
    timeout: Duration,
    kill: Kill,
    user_ns: bool,
    /// The detached bind mount of a host file the child attaches.
    _bind: Option<super::bind::Bound>,
}

impl Started {
    /// Checks `config`, creates the cgroup, clones the child and runs the
    /// setup: to `execve` when `park` is false, else to the `park` step.
    pub(crate) fn start(config: &Config, park: bool) -> Result<Started, LaunchError> {
        Started::start_with(config, park, false)
    }

    /// [`Started::start`]; `held` wires the child's stdin to the protocol
    /// channel, which [`Started::let_go`] then ends (and
    /// `config.pass_stdio` does not apply: nothing of the caller's stdio
    /// reaches the child).
    pub(crate) fn start_with(
        config: &Config,
        park: bool,
        held: bool,
    ) -> Result<Started, LaunchError> {
        let mut phases = Phases {
            start: monotonic_ns(),
            list: Vec::new(),
        };
        config.validate().map_err(PlanError::from)?;
        let mut cg = cgroup_before_clone(config, &mut phases)?;
        let pass = config.pass_stdio && !held;
        let wiring = Wiring::new(pass, held)?;
        let into = cg.cgroup.as_ref().and_then(|c| c.clone_fd());
        let bind = match &config.bind_file {
            Some(b) => Some(super::bind::detached(&b.host, config.ns.user.as_ref())?),
            None => None,
        };
        let tasks = std::mem::take(&mut cg.tasks);
        let mut plan = Box::new(plan::build(
            config,
            wiring.child_fds(),
            into.is_some(),
            tasks,
        )?);
        plan.park = park;
        if let (Some(b), Some(file)) = (&bind, plan.root.as_mut().and_then(|r| r.file.as_mut())) {
            file.fd = b.mount.as_ref().map_or(-1, |m| m.as_raw_fd());
            file.id = b.id;
        }
        let flags = plan::clone_flags(config, into.is_some());
        phases.mark("plan");
        // SAFETY: the plan lives on the heap, which does not move with the
        // Box, and `Started` owns both: its Drop kills and reaps the child
        // before the Box is freed, and nothing mutates the plan meanwhile.
        let plan_ref: &'static Plan = unsafe { &*(&*plan as *const Plan) };
        let child = spawn(config, plan_ref, flags, into)?;
        crate::fault::after_clone(child.pid);
        phases.mark("clone");
        let w = wiring;
        drop((w.sync.child, w.status.child, w.proto.child));
        drop((w.stdout.child, w.stderr.child, w.devnull, w.passed_stdout));
        let mut s = Started {
            child: Some(child),
            plan,
            sync: Some(w.sync.parent),
            status: Some(w.status.parent),
            pipes: Some(Pipes {
                proto: w.proto.parent,
                stdout: w.stdout.parent,
                stderr: w.stderr.parent,
            }),
            cgroup: None,
            phases,
            prepared: Vec::new(),
            timeout: config.timeout,
            kill: if config.ns.pid {
                Kill::Pid
            } else {
                Kill::Group
            },
            user_ns: config.ns.user.is_some(),
            _bind: bind,
        };
        s.setup(config, cg)?;
        if let Some(c) = &mut s.cgroup {
            c.close_fd();
        }
        Ok(s)
    }

    /// The parent's steps and the child's status record; the step times
    /// become phases. On error `self` is dropped by the caller: the child
    /// dies before `cg` is removed (it is dropped after `self`'s child).
    fn setup(&mut self, config: &Config, mut cg: CgroupSetup) -> Result<(), LaunchError> {
        let (Some(child), Some(sync), Some(status)) = (&self.child, &self.sync, &self.status)
        else {
            return Err(LaunchError::DiedInSetup);
        };
        let sync_fd = sync.as_raw_fd();
        let res = setup(
            config,
            &self.plan,
            child,
            (sync_fd, status),
            &mut cg,
            &mut self.phases,
        );
        self.cgroup = cg.cgroup.take();
        let parent = res?;
        if !self.plan.park {
            self.sync = None;
        }
        let st = if self.plan.park {
            read_first_status(status, self.timeout.as_nanos() as u64)?
        } else {
            read_status(status, self.timeout.as_nanos() as u64)?
        };
        if !self.plan.park {
            // Read to its end: the child exec'd (or failed); nothing more comes.
            self.status = None;
        }
        let st = st.ok_or(LaunchError::DiedInSetup)?;
        if let Some(f) = st.failure {
            return Err(LaunchError::setup(f, self.user_ns));
        }
        for s in Step::ALL {
            let t = st.times[s as usize].max(parent[s as usize]);
            if t != 0 {
                self.phases.at(s.name(), t);
            }
        }
        Ok(())
    }

    /// A parked child: the release byte, then its `execve`. Times from
    /// here on are relative to the release request; the preparation's
    /// phases are kept apart.
    pub(crate) fn release(&mut self) -> Result<(), LaunchError> {
        self.restart_clock();
        let sync = self.sync.take().ok_or(LaunchError::DiedParked)?;
        Real.send_byte(sync.as_raw_fd())
            .map_err(|_| LaunchError::DiedParked)?;
        drop(sync);
        let status = self.status.take().ok_or(LaunchError::DiedParked)?;
        let st =
            read_status(&status, self.timeout.as_nanos() as u64)?.ok_or(LaunchError::DiedParked)?;
        if let Some(f) = st.failure {
            return Err(LaunchError::setup(f, self.user_ns));
        }
        self.phases
            .at(Step::Exec.name(), st.times[Step::Exec as usize]);
        Ok(())
    }

    /// Ends a held child's wait: shuts down the parent's writing side of
    /// the protocol channel (the child's stdin reads end of file). Its
    /// protocol words still arrive. A no-op once the child is watched.
    pub(crate) fn let_go(&self) {
        if let Some(p) = &self.pipes {
            // ENOTCONN once the child is gone: nothing to release.
            let _ =
                nix::sys::socket::shutdown(p.proto.as_raw_fd(), nix::sys::socket::Shutdown::Write);
        }
    }

    /// A workload parked in itself: one go byte on the protocol channel
    /// (its stdin), then the parent's writing side shut down.
    pub(crate) fn go(&self) -> Result<(), nix::errno::Errno> {
        let p = self.pipes.as_ref().ok_or(nix::errno::Errno::EPIPE)?;
        Real.send_byte(p.proto.as_raw_fd())?;
        self.let_go();
        Ok(())
    }

    /// A parked sandbox's release request: times from here on count from
    /// now (phase `release` at 0); the preparation's phases are kept apart.
    pub(crate) fn restart_clock(&mut self) {
        let t0 = monotonic_ns();
        let before = std::mem::replace(
            &mut self.phases,
            Phases {
                start: t0,
                list: Vec::new(),
            },
        );
        self.prepared = before.list;
        // `release`: the request (the child may run before the write returns).
        self.phases.at("release", t0);
    }

    /// Ends phase `name` now.
    pub(crate) fn mark(&mut self, name: &'static str) {
        self.phases.mark(name);
    }

    /// Ends phase `name` at `t` (`CLOCK_MONOTONIC` ns).
    pub(crate) fn mark_at(&mut self, name: &'static str, t: u64) {
        self.phases.at(name, t);
    }

    /// The timeout of its configuration.
    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// `CLOCK_MONOTONIC` ns when the current phases began (the start, or
    /// once released, the release request).
    pub(crate) fn phases_start(&self) -> u64 {
        self.phases.start
    }

    /// The child's pid on the host.
    pub(crate) fn pid(&self) -> i32 {
        self.child.as_ref().map_or(0, |c| c.pid)
    }

    /// The phases so far, ns since [`Started::phases_start`].
    pub(crate) fn phases(&self) -> &[(&'static str, u64)] {
        &self.phases.list
    }

    /// Reads the protocol pipe into `early` until `event` arrives (see
    /// [`monitor::until`]).
    pub(crate) fn until(
        &self,
        event: Event,
        limit: Duration,
        early: &mut Early,
    ) -> Result<u64, NotYet> {
        let (Some(child), Some(pipes)) = (&self.child, &self.pipes) else {
            return Err(NotYet::Exited);
        };
        monitor::until(child, pipes.proto.as_fd(), event, limit, early)
    }

    /// Whether the child has exited (it is not reaped).
    pub(crate) fn exited(&self) -> bool {
        let Some(child) = &self.child else {
            return true;
        };
        let mut p = [PollFd::new(child.pidfd.as_fd(), PollFlags::POLLIN)];
        matches!(nix::poll::poll(&mut p, PollTimeout::ZERO), Ok(n) if n > 0)
    }

    /// Watches the workload to its end, then reads the usage and removes
    /// the cgroup.
    pub(crate) fn wait(self, cancel: Option<BorrowedFd<'_>>) -> Result<Outcome, LaunchError> {
        let timeout = self.timeout;
        self.wait_from(cancel, Early::default(), timeout)
    }

    /// [`Started::wait`], going on from the protocol words `early` read,
    /// with `timeout` from now.
    pub(crate) fn wait_from(
        mut self,
        cancel: Option<BorrowedFd<'_>>,
        early: Early,
        timeout: Duration,
    ) -> Result<Outcome, LaunchError> {
        let (Some(child), Some(pipes)) = (self.child.take(), self.pipes.take()) else {
            return Err(LaunchError::DiedInSetup);
        };
        let watched = monitor::watch_from(&child, pipes, timeout, cancel, self.kill, early);
        let phases = std::mem::replace(
            &mut self.phases,
            Phases {
                start: 0,
                list: Vec::new(),
            },
        );
        let mut out = finish(self.user_ns, phases, watched, self.cgroup.take(), child.pid)?;
        out.prepared = std::mem::take(&mut self.prepared);
        Ok(out)
    }
}

impl Drop for Started {
    fn drop(&mut self) {
        if let Some(child) = self.child.take() {
            monitor::kill(&child);
            monitor::reap(&child);
        }
        // Then the fields: pipes closed, cgroup removed, plan freed.
    }
}
