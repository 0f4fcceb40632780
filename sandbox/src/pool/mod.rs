//! Warm sandboxes: prepared up to just before the workload's `execve` and
//! parked there, then released on demand.
//!
//! A [`Parked`] sandbox has done every setup step of a cold run (the
//! namespaces, the mounts and `pivot_root`, the cgroup joined, the ids,
//! capabilities dropped, `no_new_privs`, the seccomp filter loaded) and
//! then blocks in the `park` step: a `read` of one byte from the sync pipe,
//! a call its own seccomp filter allows. [`Parked::release`] writes that
//! byte; the child's next step is the `execve` of the workload, so what the
//! workload sees is exactly what a cold run's workload sees. The sync fd is
//! close-on-exec like every setup fd: the workload inherits fds 0-3 only.
//!
//! Dropping a [`Parked`] (or a [`Pool`]) kills and reaps the child, closes
//! its pipes and removes its cgroup; its mount and other namespaces die
//! with it. If the parent dies, the parent-death signal kills the parked
//! child, and a closed sync pipe fails its `park` step instead of running
//! the workload. The parent-death signal follows the thread that prepared
//! the sandbox: prepare and release on one long-lived thread.
//!
//! A [`Pool`] keeps N of them warm and refills after each run.
use std::collections::VecDeque;
use std::os::fd::BorrowedFd;

use crate::config::Config;
use crate::launcher::{LaunchError, Outcome, Started};
use crate::sys::monotonic_ns;

#[cfg(test)]
mod tests;

/// A sandbox parked just before its workload's `execve`.
pub struct Parked {
    started: Started,
    /// `CLOCK_MONOTONIC` ns when the preparation ended.
    parked_at: u64,
}

impl std::fmt::Debug for Parked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Parked").field("pid", &self.pid()).finish()
    }
}

impl Parked {
    /// Prepares a sandbox for `config` and parks it before `execve`.
    pub fn prepare(config: &Config) -> Result<Parked, LaunchError> {
        let started = Started::start(config, true)?;
        Ok(Parked {
            started,
            parked_at: monotonic_ns(),
        })
    }

    /// The parked process's pid on the host.
    pub fn pid(&self) -> i32 {
        self.started.pid()
    }

    /// How long the preparation took, ns.
    pub fn prepare_ns(&self) -> u64 {
        self.parked_at.saturating_sub(self.started.phases_start())
    }

    /// Releases the workload: the child execs at once. Returns when it has
    /// (or its `execve` failed, which is an error like a cold run's).
    pub fn release(mut self) -> Result<Running, LaunchError> {
        self.started.release()?;
        Ok(Running {
            started: self.started,
        })
    }

    /// Releases the workload and watches it to its end.
    pub fn run(self, cancel: Option<BorrowedFd<'_>>) -> Result<Outcome, LaunchError> {
        self.release()?.wait(cancel)
    }
}

/// A released workload, running.
pub struct Running {
    started: Started,
}

impl Running {
    /// Watches the workload to its end (times since the release request).
    pub fn wait(self, cancel: Option<BorrowedFd<'_>>) -> Result<Outcome, LaunchError> {
        self.started.wait(cancel)
    }
}

/// N parked sandboxes of one [`Config`], kept warm.
pub struct Pool {
    config: Config,
    size: usize,
    warm: VecDeque<Parked>,
}

impl Pool {
    /// A pool of `size` sandboxes of `config`, all prepared now.
    pub fn new(config: Config, size: usize) -> Result<Pool, LaunchError> {
        let mut pool = Pool {
            config,
            size,
            warm: VecDeque::with_capacity(size),
        };
        pool.refill()?;
        Ok(pool)
    }

    /// Sandboxes parked now.
    pub fn warm(&self) -> usize {
        self.warm.len()
    }

    /// Tops the pool up to its size; returns how many were prepared.
    pub fn refill(&mut self) -> Result<usize, LaunchError> {
        let mut n = 0;
        while self.warm.len() < self.size {
            self.warm.push_back(Parked::prepare(&self.config)?);
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
            None => Parked::prepare(&self.config)?,
        };
        let out = parked.run(cancel)?;
        self.refill()?;
        Ok(out)
    }
}
