//! vm-bare held inside the driver's own process: one [`HeldVm`] per
//! instance on one shared `/dev/kvm` ([`Host`]), no launcher process and no
//! thread while it waits. This is the density a VMM that hosts many guests
//! in one process reaches; it runs without the VMM's jail (which is a
//! process of its own per guest), so it is reported as its own row,
//! `vm-bare-inproc`, beside the jailed `vm-bare` launched as `vmlab run`.
use std::time::Duration;

use anyhow::Context;
use vmlab_vmm::{HeldVm, Host, VmConfig};

use super::held::{Held, Instance};
use super::holders::Holder;

/// The row's name in results.
pub const NAME: &str = "vm-bare-inproc";

/// Guest RAM of a held bare guest, MiB: the bare guest's minimum (KVM's
/// per-page metadata grows with the slot, so held guests stay small).
pub const MEM_MIB: u64 = 2;

/// The bound on a held guest's boot to its hold (and again on its exit).
const TIMEOUT: Duration = Duration::from_secs(60);

/// Starts bare guests with `--hold` in this process.
pub struct InProcessVm {
    host: Host,
}

impl InProcessVm {
    /// Opens and checks `/dev/kvm` once, and lifts the fd limit (each held
    /// VM keeps two fds).
    pub fn open() -> anyhow::Result<InProcessVm> {
        let host = Host::open().context("cannot open /dev/kvm for held VMs")?;
        vmlab_vmm::held::raise_fd_limit(0).context("cannot raise the open-file limit")?;
        Ok(InProcessVm { host })
    }
}

impl Holder for InProcessVm {
    fn name(&self) -> &str {
        NAME
    }

    fn start_held(&self) -> anyhow::Result<Held<'_>> {
        let config = VmConfig::bare(vmlab_images::embedded::GUEST, "--hold", MEM_MIB, TIMEOUT);
        let vm = HeldVm::start(&self.host, config).context("a held bare VM did not start")?;
        Ok(held(vm))
    }
}

/// A parked VM as a held instance (released when reaped).
pub(super) fn held(vm: HeldVm) -> Held<'static> {
    let ns = vm.to_ready_ns();
    Held::new(
        ns,
        Box::new(Parked {
            vm: Some(vm),
            code: None,
        }),
    )
}

/// One parked VM; released (run to its exit) when reaped.
struct Parked {
    vm: Option<HeldVm>,
    code: Option<i32>,
}

impl Instance for Parked {
    fn pid(&self) -> Option<u32> {
        None
    }

    fn exited(&mut self) -> bool {
        // A parked guest runs no code until it is released.
        false
    }

    fn let_go(&mut self) {}

    fn reap(&mut self, _limit: Duration) -> anyhow::Result<i32> {
        if let Some(code) = self.code {
            return Ok(code);
        }
        let vm = self
            .vm
            .take()
            .context("the held VM was already torn down")?;
        let outcome = vm.release().context("a released bare VM failed")?;
        let code = i32::from(outcome.exit_code);
        self.code = Some(code);
        Ok(code)
    }
}

/// The `vm-bare-inproc` row: held VMs in this process as `s` says (a row
/// with its failure when `/dev/kvm` cannot be opened).
pub fn measure(
    s: &super::Settings,
    stop: &super::Stopper,
    emulated: bool,
) -> anyhow::Result<vmlab_reports::model::ScaleResult> {
    super::vm_row(NAME, InProcessVm::open(), s, stop, emulated)
}
