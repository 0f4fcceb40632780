//! vm-bare restored from one snapshot and held, inside the driver's own
//! process (`vm-bare-restored`): the snapshot is taken once of the bare
//! guest started with `--hold` (at its snapshot mark, just before ready);
//! each instance is a [`restore_held`] of it on one shared `/dev/kvm`
//! ([`Host`]): its memory image mapped privately from the one file, so
//! what an instance adds is the pages it touched after its restore (read
//! from the file's page cache, or copied on write) and KVM's per-VM state.
//! Beside `vm-bare-inproc` (the same guest booted cold and held the same
//! way) it shows what starting from a shared snapshot saves per instance.
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use vmlab_vmm::snapshot::{self, restore_held, RestoreConfig};
use vmlab_vmm::{Host, VmConfig};

use super::held::Held;
use super::holders::Holder;
use super::inproc::{self, MEM_MIB};

/// The row's name in results.
pub const NAME: &str = "vm-bare-restored";

/// The bound on the snapshot's boot, each restore to its hold (and again
/// on its exit).
const TIMEOUT: Duration = Duration::from_secs(60);

/// Restores held bare guests from one snapshot in this process.
pub struct RestoredVm {
    host: Host,
    path: PathBuf,
    /// Holds the snapshot; removed when the holder goes.
    _dir: tempfile::TempDir,
}

impl RestoredVm {
    /// Opens `/dev/kvm` once, lifts the fd limit and takes the snapshot.
    pub fn open() -> anyhow::Result<RestoredVm> {
        let host = Host::open().context("cannot open /dev/kvm for restored VMs")?;
        vmlab_vmm::held::raise_fd_limit(0).context("cannot raise the open-file limit")?;
        let dir = tempfile::Builder::new()
            .prefix("vmlab-scale-restored-")
            .tempdir()
            .context("cannot create a directory for the snapshot")?;
        let path = dir.path().join("held.vmlab");
        let config = VmConfig::bare(vmlab_images::embedded::GUEST, "--hold", MEM_MIB, TIMEOUT);
        snapshot::take(config, &path).context("cannot snapshot the held bare guest")?;
        Ok(RestoredVm {
            host,
            path,
            _dir: dir,
        })
    }
}

impl Holder for RestoredVm {
    fn name(&self) -> &str {
        NAME
    }

    fn start_held(&self) -> anyhow::Result<Held<'_>> {
        let config = RestoreConfig {
            mem_mib: Some(MEM_MIB),
            ..RestoreConfig::new(&self.path, TIMEOUT)
        };
        let vm = restore_held(&self.host, config).context("a restored bare VM did not hold")?;
        Ok(inproc::held(vm))
    }
}

/// The `vm-bare-restored` row: held restored VMs in this process as `s`
/// says (a row with its failure when the snapshot cannot be taken).
pub fn measure(
    s: &super::Settings,
    stop: &super::Stopper,
    emulated: bool,
) -> anyhow::Result<vmlab_reports::model::ScaleResult> {
    super::vm_row(NAME, RestoredVm::open(), s, stop, emulated)
}
