//! Jailed VMMs started without waiting: the building block of a fork server
//! that keeps many jailed, held guests (one VMM process each).
//!
//! [`JailedVm::start`] forks one child exactly as [`crate::run`] with
//! [`VmConfig::jail`] does (the same child code: cgroup, VM created in the
//! child, setup, jail, run), on a [`Host`] opened once, and returns at once
//! with the child's pid and the read end of its report pipe. Whoever holds
//! the report reads it to its end ([`read_report`]), whoever is the child's
//! parent reaps it, and [`conclude`] turns both into the [`VmOutcome`] or
//! error a one-shot jailed run would have returned. The two may be
//! different processes (a fork server reaps, its client reads), hence the
//! pieces.
use std::io::Read;
use std::os::fd::OwnedFd;
use std::time::Instant;

use nix::sys::wait::WaitStatus;
use nix::unistd::Pid;

use crate::builder::{in_child, prepare};
use crate::machine::Timeline;
use crate::{jail, Error, Host, VmConfig, VmOutcome};

/// Most bytes a jailed VMM's report takes.
pub const MAX_REPORT: usize = jail::wire::MAX_REPORT;

/// A jailed VMM process running one guest, not waited for.
#[derive(Debug)]
pub struct JailedVm {
    pid: i32,
    report: OwnedFd,
}

impl JailedVm {
    /// Forks the jailed VMM for `config` (its `jail` must be on) on `host`'s
    /// `/dev/kvm`. Errors before the fork (memory size, devices, a Linux
    /// guest's files) are returned here; later ones come through the report.
    /// The child gets `SIGKILL` when this process dies.
    pub fn start(host: &Host, config: VmConfig<'_>) -> Result<JailedVm, Error> {
        if !config.jail {
            return Err(crate::held::Error::NotJailed.into());
        }
        let mut t = Timeline::new();
        let linux_files = prepare(&mut t, &config.guest, config.mem_mib)?;
        if linux_files.is_some() {
            host.handle().check_caps(true)?;
        }
        let kvm = host.handle();
        let child = jail::spawn(move |report, parent| {
            in_child(t, kvm, config, linux_files.as_ref(), report, parent)
        })?;
        Ok(JailedVm {
            pid: child.pid,
            report: child.report,
        })
    }

    /// The VMM process's pid.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Its pid and the read end of its report pipe (end of file when it
    /// exited), for whoever reads the report.
    pub fn into_parts(self) -> (i32, OwnedFd) {
        (self.pid, self.report)
    }
}

/// Reads a report to its end (at most [`MAX_REPORT`] bytes, and one more
/// so that an overlong one fails to decode); `None` when reading failed.
pub fn read_report(from: impl Read) -> Option<Vec<u8>> {
    let mut bytes = Vec::new();
    from.take(MAX_REPORT as u64 + 1)
        .read_to_end(&mut bytes)
        .ok()
        .map(|_| bytes)
}

/// What the jailed VMM `pid` did, from its report (`None`: unreadable) and
/// its raw wait status (as `waitpid` gives it); `to_exit_ns` counts from
/// `start` to now.
pub fn conclude(
    pid: i32,
    report: Option<&[u8]>,
    raw_status: i32,
    start: Instant,
) -> Result<VmOutcome, Error> {
    let status = WaitStatus::from_raw(Pid::from_raw(pid), raw_status);
    jail::conclude(report, status, start)
}
