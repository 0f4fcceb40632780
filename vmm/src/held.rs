//! Held VMs: many guests started with `--hold`, each parked at its hold
//! port in the calling process until its owner releases or drops it.
//!
//! [`HeldVm::start`] boots a guest on the calling thread until it reads the
//! hold port (after ready and its kernels; the workload sends
//! [`HOLD_MARK`](vmlab_workload::protocol::HOLD_MARK) just before), answers
//! the read in the vCPU's run area and returns: no thread waits, no timer
//! stays armed, the vCPU simply is not run. What a parked VM holds is its
//! VM and vCPU fds, KVM's kernel state for them, the guest pages it touched
//! and the VMM's small per-VM state. [`HeldVm::release`] runs the vCPU
//! again (on any thread): the pending `in` completes, the guest exits, and
//! everything is torn down into the [`VmOutcome`]. Dropping a [`HeldVm`]
//! instead tears it down without running the guest again.
//!
//! A [`Host`] is `/dev/kvm` opened and checked once, shared by every held
//! VM of a process (a VM does not need it after its creation).
//!
//! Held VMs are not jailed: they live in the caller's process. A jailed held
//! guest is one VMM process per guest waiting on a [`HoldGate`](crate::HoldGate)
//! ([`VmConfig::hold`]): [`crate::run`] with the jail, or, without waiting
//! for each, [`crate::jailed::JailedVm::start`] on a shared [`Host`].
use std::time::Duration;

use crate::builder::prepare;
use crate::kvm::{KvmHandle, KvmKind};
use crate::machine::{self, Machine, Timeline};
use crate::{jail, vm, VmConfig, VmOutcome};

/// Errors starting a held VM.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration asks for the jail.
    #[error("a held VM runs in the calling process and cannot be jailed; a jailed held guest needs a VMM process of its own with a hold gate")]
    Jailed,
    /// The configuration has a hold gate, which a parked VM does not use.
    #[error(
        "a held VM is parked at its hold port and released by its owner; it takes no hold gate"
    )]
    Gate,
    /// A jailed VMM was asked for without the jail.
    #[error("a jailed VMM process needs the configuration's jail on")]
    NotJailed,
    /// The guest exited without reading the hold port.
    #[error("the guest exited with code {code} without waiting at the hold port (start the workload with --hold)")]
    NotHeld {
        /// Its exit code.
        code: u8,
    },
}

/// `/dev/kvm`, opened and checked once for many VMs.
pub struct Host {
    kvm: KvmHandle,
}

impl Host {
    /// Opens `/dev/kvm` and checks what a bare guest needs (a Linux guest's
    /// extra capabilities are checked when one starts).
    pub fn open() -> Result<Host, crate::Error> {
        Ok(Host {
            kvm: KvmHandle::open(false)?,
        })
    }

    /// The kind of KVM.
    pub fn kind(&self) -> KvmKind {
        self.kvm.kind
    }

    /// The checked `/dev/kvm`.
    pub(crate) fn handle(&self) -> &KvmHandle {
        &self.kvm
    }
}

/// Raises this process's limit on open fds (a held VM keeps two, its VM's
/// and its vCPU's; children inherit the limit) to at least its hard limit,
/// and to `at_least` where that is higher: the hard limit is lifted too,
/// up to the kernel's `fs.nr_open`, when this process holds
/// `CAP_SYS_RESOURCE`; otherwise the hard limit stays. Returns the soft
/// limit now in force.
pub fn raise_fd_limit(at_least: u64) -> Result<u64, nix::Error> {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
    if at_least > hard {
        let ceiling = std::fs::read_to_string("/proc/sys/fs/nr_open")
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .unwrap_or(hard);
        let want = at_least.min(ceiling);
        if want > hard && setrlimit(Resource::RLIMIT_NOFILE, want, want).is_ok() {
            return Ok(want);
        }
    }
    if soft < hard {
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard)?;
    }
    Ok(hard.max(soft))
}

/// A guest parked at its hold port. Dropping it tears it down without
/// running the guest again.
pub struct HeldVm {
    m: Machine,
    timeout: Duration,
    probe: Option<String>,
}

impl std::fmt::Debug for HeldVm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeldVm")
            .field("to_ready_ns", &self.to_ready_ns())
            .field("held_ns", &self.held_ns())
            .finish_non_exhaustive()
    }
}

fn ns(d: Duration) -> u64 {
    d.as_nanos() as u64
}

impl HeldVm {
    /// Boots `config`'s guest on `host` until it waits at the hold port.
    /// The timeout bounds the boot up to there (and, again, the run from
    /// [`release`](Self::release) to the exit); the held time is the
    /// owner's. A guest that exits first, fails or times out is torn down
    /// and reported as the error.
    pub fn start(host: &Host, config: VmConfig<'_>) -> Result<HeldVm, crate::Error> {
        let VmConfig {
            guest,
            mem_mib,
            timeout,
            serial_stream,
            jail,
            probe,
            hold,
            virtio,
            virtio_selftest,
            ..
        } = config;
        if jail {
            return Err(Error::Jailed.into());
        }
        if hold.is_some() {
            return Err(Error::Gate.into());
        }
        let mut t = Timeline::new();
        let linux_files = prepare(&mut t, &guest, mem_mib)?;
        if linux_files.is_some() {
            host.kvm.check_caps(true)?;
        }
        let mut m = machine::setup(
            t,
            &host.kvm,
            &guest,
            linux_files.as_ref(),
            mem_mib,
            machine::Devices {
                serial_stream,
                virtio,
                virtio_selftest,
            },
        )?;
        let probe = probe.map(jail::Probe::attempt);
        let timer = machine::arm(timeout)?;
        let stop = m.run(timeout, vm::Hold::Park, &timer);
        drop(timer);
        match stop {
            Ok(vm::Stop::Held) => Ok(HeldVm { m, timeout, probe }),
            // `run` does not stop at the snapshot mark: the guest exited.
            Ok(vm::Stop::Exited | vm::Stop::Snapshot) => {
                let code = m.exit_code();
                drop(m);
                Err(Error::NotHeld { code }.into())
            }
            Err(failure) => Err(m
                .finish(Err(failure), false, probe)
                .expect_err("a failed run is an error")),
        }
    }

    /// A machine already parked at its hold port (a restored guest's:
    /// [`crate::snapshot::restore_held`]).
    pub(crate) fn parked(m: Machine, timeout: Duration) -> HeldVm {
        HeldVm {
            m,
            timeout,
            probe: None,
        }
    }

    /// Start to the guest's ready event, ns.
    pub fn to_ready_ns(&self) -> u64 {
        self.m.ready().map_or(0, ns)
    }

    /// Start to the guest's read of the hold port, ns.
    pub fn held_ns(&self) -> u64 {
        self.m.held().map_or(0, ns)
    }

    /// Lets the guest go on (on the calling thread): it exits, the VM is
    /// torn down, and the outcome covers the whole life, hold included.
    pub fn release(self) -> Result<VmOutcome, crate::Error> {
        let HeldVm {
            mut m,
            timeout,
            probe,
        } = self;
        let timer = machine::arm(timeout)?;
        // A second read of the hold port is answered at once.
        let result = m.run(timeout, vm::Hold::Answer, &timer).map(|_| ());
        drop(timer);
        m.finish(result, false, probe)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fd_limit_is_raised_to_the_hard_limit_and_beyond_when_privileged() {
        use nix::sys::resource::{getrlimit, Resource};
        let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
        let now = raise_fd_limit(0).unwrap();
        assert_eq!(getrlimit(Resource::RLIMIT_NOFILE).unwrap(), (now, now));
        assert!(now >= hard);
        // One more than the hard limit: granted to root (fs.nr_open permitting), refused
        // without changing anything otherwise.
        let more = raise_fd_limit(now + 1).unwrap();
        let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
        assert_eq!((soft, hard), (more, more));
        let nr_open: u64 = std::fs::read_to_string("/proc/sys/fs/nr_open")
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        // CAP_SYS_RESOURCE (bit 24 of CapEff) lifts a hard limit; root may lack it.
        let cap_eff = std::fs::read_to_string("/proc/self/status")
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("CapEff:"))
            .map(|v| u64::from_str_radix(v.trim(), 16).unwrap())
            .unwrap();
        if cap_eff & (1 << 24) != 0 && now < nr_open {
            assert_eq!(more, now + 1);
        } else {
            assert_eq!(more, now);
        }
    }

    #[test]
    fn held_vms_can_move_between_threads() {
        fn send<T: Send>() {}
        send::<HeldVm>();
        fn sync<T: Sync>() {}
        sync::<Host>();
    }
}
