//! Warm sandboxes: prepared ahead, parked, then released on demand. A
//! sandbox parks at one of two points ([`ParkAt`]).
//!
//! **Before `execve`** ([`ParkAt::Exec`]): a [`Parked`] sandbox has done
//! every setup step of a cold run (the namespaces, the mounts and
//! `pivot_root`, the cgroup joined, the ids, capabilities dropped,
//! `no_new_privs`, the seccomp filter loaded) and then blocks in the `park`
//! step: a `read` of one byte from the sync pipe, a call its own seccomp
//! filter allows. [`Parked::release`] writes that byte; the child's next
//! step is the `execve` of the workload, so what the workload sees is
//! exactly what a cold run's workload sees. The sync fd is close-on-exec
//! like every setup fd: the workload inherits fds 0-3 only.
//!
//! **In the workload** ([`ParkAt::Workload`]), the counterpart of the VM
//! pool (a guest booted to its snapshot point and paused): the sandbox is
//! set up and the workload exec'd as in a cold run, with the vmlab
//! workload's `--park` added to its arguments and a pipe the pool holds as
//! its stdin. The workload initialises, sends the park mark
//! ([`PARK_MARK`]) and blocks reading its go from stdin; the sandbox is
//! parked once the mark arrived. [`Parked::release`] writes the go byte and
//! closes the pipe (the workload's stdin then reads end of file, as a cold
//! run's `/dev/null` does); the workload sends ready and runs. It still
//! inherits fds 0-3 only; fd 0 is that pipe instead of `/dev/null`.
//!
//! Dropping a [`Parked`] (or a [`Pool`]) kills and reaps the child, closes
//! its pipes and removes its cgroup; its mount and other namespaces die
//! with it. If the parent dies, the parent-death signal kills the parked
//! child, and a closed sync (or go) pipe fails its `park` step (or ends
//! the workload without ready) instead of running the workload. The
//! parent-death signal follows the thread that prepared the sandbox:
//! prepare and release on one long-lived thread.
//!
//! A [`Pool`] keeps N of them warm and refills after each run.
use std::collections::VecDeque;
use std::os::fd::BorrowedFd;

use vmlab_workload::protocol::{Event, PARK_MARK};

use crate::config::Config;
use crate::held::{last_words, LAST_WORDS};
use crate::launcher::{LaunchError, Outcome, Started};
use crate::monitor::{Early, NotYet};
use crate::sys::monotonic_ns;

/// The vmlab workload's argument that makes it park before ready.
pub const PARK_ARG: &str = "--park";

/// Where a pooled sandbox waits for its release.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParkAt {
    /// Just before the workload's `execve`, every setup step done.
    Exec,
    /// Inside the vmlab workload, after `execve` and its initialisation,
    /// just before ready (its `--park`).
    Workload,
}

impl ParkAt {
    /// What the sandbox is parked before, in words (for reports).
    pub fn label(self) -> &'static str {
        match self {
            ParkAt::Exec => "parked before execve",
            ParkAt::Workload => "parked in the workload after execve, before ready",
        }
    }
}

#[cfg(test)]
mod tests;

/// A sandbox parked before its workload's `execve` or inside the
/// workload (see [`ParkAt`]).
pub struct Parked {
    started: Started,
    at: ParkAt,
    /// [`ParkAt::Workload`]: the protocol words read up to the park mark.
    early: Early,
    /// `CLOCK_MONOTONIC` ns when the preparation ended.
    parked_at: u64,
}

impl std::fmt::Debug for Parked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Parked")
            .field("pid", &self.pid())
            .field("at", &self.at)
            .finish()
    }
}

impl Parked {
    /// Prepares a sandbox for `config` and parks it before `execve`.
    pub fn prepare(config: &Config) -> Result<Parked, LaunchError> {
        Parked::prepare_at(config, ParkAt::Exec)
    }

    /// Prepares a sandbox for `config` and parks it `at` that point. For
    /// [`ParkAt::Workload`] the entry must be the vmlab workload: it gets
    /// [`PARK_ARG`] after `config`'s arguments, and the sandbox is parked
    /// when its park mark arrived (within `config.timeout`; a workload that
    /// exits first or never parks is an error, and torn down).
    pub fn prepare_at(config: &Config, at: ParkAt) -> Result<Parked, LaunchError> {
        let (started, early) = match at {
            ParkAt::Exec => (Started::start(config, true)?, Early::default()),
            ParkAt::Workload => in_workload(config)?,
        };
        Ok(Parked {
            started,
            at,
            early,
            parked_at: monotonic_ns(),
        })
    }

    /// Where it is parked.
    pub fn at(&self) -> ParkAt {
        self.at
    }

    /// The parked process's pid on the host.
    pub fn pid(&self) -> i32 {
        self.started.pid()
    }

    /// How long the preparation took, ns.
    pub fn prepare_ns(&self) -> u64 {
        self.parked_at.saturating_sub(self.started.phases_start())
    }

    /// Releases the workload. Before `execve`: the child execs at once, and
    /// this returns when it has (or its `execve` failed, which is an error
    /// like a cold run's); phases `release`, `exec`. In the workload: the go
    /// byte is written on the protocol channel and the parent's writing
    /// side shut down; phases `release`, `go`.
    pub fn release(mut self) -> Result<Running, LaunchError> {
        match self.at {
            ParkAt::Exec => self.started.release()?,
            ParkAt::Workload => {
                self.started.restart_clock();
                self.started.go().map_err(|_| LaunchError::DiedParked)?;
                self.started.mark("go");
            }
        }
        Ok(Running {
            started: self.started,
            early: self.early,
        })
    }

    /// Releases the workload and watches it to its end.
    pub fn run(self, cancel: Option<BorrowedFd<'_>>) -> Result<Outcome, LaunchError> {
        self.release()?.wait(cancel)
    }
}

/// Starts `config`'s workload with [`PARK_ARG`], its stdin its end of the
/// protocol channel (as a held one's), and waits for its park mark: the
/// started sandbox and the protocol words so far.
fn in_workload(config: &Config) -> Result<(Started, Early), LaunchError> {
    let mut c = config.clone();
    c.args.push(PARK_ARG.to_string());
    let mut started = Started::start_with(&c, false, true)?;
    let mut early = Early::default();
    let limit = config.timeout;
    match started.until(Event::Mark(PARK_MARK), limit, &mut early) {
        Ok(at) => {
            started.mark_at("parked", at);
            Ok((started, early))
        }
        Err(NotYet::Exited) => {
            let out = started.wait_from(None, early, LAST_WORDS)?;
            let (ended, stderr) = last_words(&out);
            Err(LaunchError::EndedBeforePark { ended, stderr })
        }
        Err(NotYet::TimedOut) => Err(LaunchError::NotParked(limit)),
        Err(NotYet::Pipe(e)) => Err(LaunchError::Pipe(e)),
    }
}

/// A released workload, running.
pub struct Running {
    started: Started,
    early: Early,
}

impl Running {
    /// Watches the workload to its end (times since the release request;
    /// a workload parked in the workload: its park mark, which came before,
    /// at 0).
    pub fn wait(self, cancel: Option<BorrowedFd<'_>>) -> Result<Outcome, LaunchError> {
        let timeout = self.started.timeout();
        self.started.wait_from(cancel, self.early, timeout)
    }
}

/// N parked sandboxes of one [`Config`], kept warm.
pub struct Pool {
    config: Config,
    size: usize,
    at: ParkAt,
    warm: VecDeque<Parked>,
}

impl Pool {
    /// A pool of `size` sandboxes of `config` parked before `execve`, all
    /// prepared now.
    pub fn new(config: Config, size: usize) -> Result<Pool, LaunchError> {
        Pool::new_at(config, size, ParkAt::Exec)
    }

    /// A pool of `size` sandboxes of `config` parked `at` that point (see
    /// [`Parked::prepare_at`]), all prepared now.
    pub fn new_at(config: Config, size: usize, at: ParkAt) -> Result<Pool, LaunchError> {
        let mut pool = Pool {
            config,
            size,
            at,
            warm: VecDeque::with_capacity(size),
        };
        pool.refill()?;
        Ok(pool)
    }

    /// Where its sandboxes are parked.
    pub fn at(&self) -> ParkAt {
        self.at
    }

    /// Sandboxes parked now.
    pub fn warm(&self) -> usize {
        self.warm.len()
    }

    /// Tops the pool up to its size; returns how many were prepared.
    pub fn refill(&mut self) -> Result<usize, LaunchError> {
        let mut n = 0;
        while self.warm.len() < self.size {
            self.warm
                .push_back(Parked::prepare_at(&self.config, self.at)?);
            n += 1;
        }
        Ok(n)
    }

    /// The oldest parked sandbox, if any (the pool is not refilled).
    pub fn take(&mut self) -> Option<Parked> {
        self.warm.pop_front()
    }

    /// Runs one workload: a parked sandbox released (or, with none left, one
    /// prepared now), watched to its end, then the pool refilled. The
    /// refill waits until the workload is done so that it does not delay
    /// the timing of its events.
    pub fn run(&mut self, cancel: Option<BorrowedFd<'_>>) -> Result<Outcome, LaunchError> {
        let parked = match self.take() {
            Some(p) => p,
            None => Parked::prepare_at(&self.config, self.at)?,
        };
        let out = parked.run(cancel)?;
        self.refill()?;
        Ok(out)
    }
}
