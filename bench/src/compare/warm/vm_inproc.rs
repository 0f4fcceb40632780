//! vm-bare in this process, unjailed (`vm-bare-inproc`, as in `vmlab
//! scale`): cold, restored and from a pool, interleaved in one run, on one
//! guest (the embedded bare guest, `vmlab run`'s memory size and default
//! workload).
//!
//! - cold: `vmlab_vmm::run` from its call to the ready mark (opens
//!   `/dev/kvm`, creates, loads and runs the VM);
//! - restore: `snapshot::restore` of a snapshot taken at the ready mark,
//!   from its call to the restored guest's ready mark (opens and checks the
//!   file, opens `/dev/kvm`, creates the VM, maps the image, loads the
//!   state, runs);
//! - pool: a [`VmPool`] of one VM prepared from that snapshot (created,
//!   mapped, state loaded, paused before its first `KVM_RUN`), from the
//!   hand-off request to the ready mark; its preparation and the refill
//!   after each run are untimed, as the sandbox pool's are.
use std::time::Duration;

use vmlab_reports::model::{BackendKind, KvmKind, StartKind, Timing, WarmRow};
use vmlab_vmm::snapshot::{self, RestoreConfig};
use vmlab_vmm::{Host, VmConfig, VmOutcome, VmPool};

use super::median_phases;
use crate::compare::probe::HostView;

/// The rows' backend name.
pub const BACKEND: &str = "vm-bare-inproc";
/// Guest RAM: `vmlab run`'s default, as the jailed vm-bare rows.
const MEM_MIB: u64 = 256;
/// How long one boot, restore or hand-off may take.
const LIMIT: Duration = Duration::from_secs(30);

fn ready_of(r: Result<VmOutcome, vmlab_vmm::Error>) -> Result<VmOutcome, String> {
    match r {
        Ok(o) if o.exit_code == 0 => Ok(o),
        Ok(o) => Err(format!("the workload ended with code {}", o.exit_code)),
        Err(e) => Err(e.to_string()),
    }
}

fn restore_cfg(path: &std::path::Path) -> RestoreConfig {
    RestoreConfig {
        mem_mib: Some(MEM_MIB),
        ..RestoreConfig::new(path, LIMIT)
    }
}

/// The cold, restore and pool rows, `runs` each after one unmeasured start
/// of each.
pub fn rows(host: &HostView, runs: u32) -> Vec<WarmRow> {
    let row = |start, method: &str| {
        let mut r = WarmRow::new(BACKEND, BackendKind::Vm, start, Timing::InProcess, method);
        r.emulated = host.host.kvm != KvmKind::Hardware;
        r
    };
    let mut rows = [
        row(
            StartKind::Cold,
            "vmlab_vmm::run in this process, unjailed (VM created, guest booted to ready)",
        ),
        row(
            StartKind::Restore,
            "snapshot::restore in this process, unjailed (snapshot taken at ready)",
        ),
        row(
            StartKind::Pool,
            "VmPool hand-off (restored from the snapshot, paused before its first KVM_RUN)",
        ),
    ];
    if host.kvm_open_error.is_some() || host.host.kvm == KvmKind::None {
        return rows.map(|r| r.skip("no usable /dev/kvm")).to_vec();
    }
    if let Err(why) = measure(runs, &mut rows) {
        return rows.map(|r| r.skip(why.clone())).to_vec();
    }
    rows.to_vec()
}

fn measure(runs: u32, rows: &mut [WarmRow; 3]) -> Result<(), String> {
    let elf = vmlab_images::embedded::GUEST;
    let cold = || VmConfig::bare(elf, "", MEM_MIB, LIMIT);
    let dir = tempfile::Builder::new()
        .prefix("vmlab-vm-inproc-snapshot-")
        .tempdir()
        .map_err(|e| format!("cannot create a directory for the snapshot: {e}"))?;
    let path = dir.path().join("vm-bare.snap");
    let taken = snapshot::take(cold(), &path).map_err(|e| format!("cannot snapshot: {e}"))?;
    rows[1].snapshot_bytes = Some(taken.disk_bytes);
    let host = Host::open().map_err(|e| e.to_string())?;
    let mut pool = VmPool::new(&host, restore_cfg(&path), 1)
        .map_err(|e| format!("cannot prepare a pooled VM: {e}"))?;
    let mut outs: [Vec<VmOutcome>; 3] = Default::default();
    for i in 0..=runs {
        let got = [
            ready_of(vmlab_vmm::run(cold())),
            ready_of(snapshot::restore(restore_cfg(&path))),
            ready_of(pool.run()),
        ];
        for ((row, outs), r) in rows.iter_mut().zip(outs.iter_mut()).zip(got) {
            match r {
                Ok(o) if i > 0 => outs.push(o),
                Ok(_) => {}
                Err(e) => row.failures.push(e),
            }
        }
    }
    for (row, outs) in rows.iter_mut().zip(&outs) {
        row.to_ready_ns = outs.iter().map(|o| o.to_ready_ns).collect();
        row.phases = median_phases(outs.iter().map(|o| o.phases.as_slice()));
    }
    Ok(())
}
