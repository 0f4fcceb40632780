//! A pool of VMs restored from one snapshot and paused before their first
//! `KVM_RUN`, handed off on demand.
//!
//! Each prepared VM has done every step of a restore but running the
//! guest: its VM and vCPU exist on the pool's [`Host`], the snapshot's
//! memory image is mapped privately (copy on write, nothing touched yet)
//! and registered, its registers, MSRs, clock and devices are set. The
//! snapshot file is read and checked once, when the pool is made. A
//! hand-off ([`VmPool::handoff`]) takes the oldest prepared VM (or prepares
//! one then, inside the clock, when none is left) and its clock starts at
//! that request: phases `handoff`, `arm` (the timeout timer), `first_exit`
//! (the first `KVM_RUN` returned), `guest_to_ready`. [`VmPool::run`] hands
//! one off, runs it to its exit and refills the pool.
//!
//! No thread waits and no timer is armed for a prepared VM: what it holds
//! is its VM and vCPU fds, KVM's state for them and its mapping of the
//! file. Dropping the pool (or a [`PooledVm`]) tears them down.
use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::file::Opened;
use super::restore::{build, check_cpu, open_checked};
use super::{Error, RestoreConfig};
use crate::held::Host;
use crate::machine::{self, Machine, Timeline};
use crate::{vm, VmOutcome};

/// Prepared VMs restored from one snapshot (see the module docs).
pub struct VmPool<'h> {
    host: &'h Host,
    path: PathBuf,
    opened: Opened,
    timeout: Duration,
    size: usize,
    ready: VecDeque<Machine>,
}

/// A VM handed off by a [`VmPool`]: run it with [`PooledVm::run`];
/// dropping it tears it down without running the guest.
pub struct PooledVm {
    m: Machine,
    timeout: Duration,
}

impl std::fmt::Debug for VmPool<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VmPool")
            .field("path", &self.path)
            .field("size", &self.size)
            .field("ready", &self.ready.len())
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for PooledVm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PooledVm").finish_non_exhaustive()
    }
}

impl<'h> VmPool<'h> {
    /// Opens and checks `config`'s snapshot once and prepares `size` VMs
    /// from it on `host`. The pool runs in this process: `jail` and a
    /// serial stream are refused.
    pub fn new(host: &'h Host, config: RestoreConfig, size: usize) -> Result<Self, crate::Error> {
        if config.jail {
            return Err(Error::InProcess(
                "a VM pool runs in the calling process and cannot be jailed",
            )
            .into());
        }
        if config.serial_stream.is_some() {
            return Err(Error::InProcess("a VM pool does not copy the guests' serial output as it arrives (it is captured in each outcome)").into());
        }
        let opened = open_checked(&config)?;
        if opened.state.config.irqchip {
            host.handle().check_caps(true)?;
        }
        check_cpu(&config.path, &opened)?;
        let mut pool = VmPool {
            host,
            path: config.path,
            opened,
            timeout: config.timeout,
            size,
            ready: VecDeque::with_capacity(size),
        };
        pool.refill()?;
        Ok(pool)
    }

    fn prepare(&self, t: Timeline) -> Result<Machine, crate::Error> {
        build(t, self.host.handle(), &self.opened, &self.path, None)
    }

    /// Prepares VMs until the pool holds its size.
    pub fn refill(&mut self) -> Result<(), crate::Error> {
        while self.ready.len() < self.size {
            let m = self.prepare(Timeline::new())?;
            self.ready.push_back(m);
        }
        Ok(())
    }

    /// Prepared VMs waiting.
    pub fn ready(&self) -> usize {
        self.ready.len()
    }

    /// Hands off the oldest prepared VM, its clock started now (an empty
    /// pool prepares one inside that clock).
    pub fn handoff(&mut self) -> Result<PooledVm, crate::Error> {
        let start = Instant::now();
        let mut m = match self.ready.pop_front() {
            Some(m) => m,
            None => self.prepare(Timeline::new())?,
        };
        m.t = Timeline::new();
        m.t.start = start;
        m.t.first_exit_phase = true;
        m.t.mark("handoff");
        Ok(PooledVm {
            m,
            timeout: self.timeout,
        })
    }

    /// Hands one off, runs it to its exit, then refills the pool (after
    /// the outcome's clock stopped).
    pub fn run(&mut self) -> Result<VmOutcome, crate::Error> {
        let outcome = self.handoff().and_then(PooledVm::run);
        let refilled = self.refill();
        let outcome = outcome?;
        refilled.map(|()| outcome)
    }
}

impl PooledVm {
    /// Runs the guest from its snapshot mark to its exit on the calling
    /// thread and tears it down; the outcome's times count from the
    /// hand-off.
    pub fn run(self) -> Result<VmOutcome, crate::Error> {
        let PooledVm { mut m, timeout } = self;
        let timer = machine::arm(timeout)?;
        m.t.mark("arm");
        let result = m.run(timeout, vm::Hold::Answer, &timer).map(|_| ());
        drop(timer);
        m.finish(result, false, None)
    }
}
