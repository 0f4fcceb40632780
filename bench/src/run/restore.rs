//! `vmlab run --backend vm-bare|vm-linux --restore FILE`: one boot from a
//! snapshot in the tiny VMM, in this process (jailed like a cold boot
//! unless `--no-jail`). Timings count from the start of the restore.
use anyhow::{bail, Context};
use vmlab_bench::record::RunRecord;
use vmlab_bench::BackendId;
use vmlab_sandbox::cgroup::{Cgroup, Mode};
use vmlab_vmm::snapshot::{self, RestoreConfig};

use super::{vm, RunArgs};

/// Restores the snapshot `--restore` names and runs it to its exit.
pub fn run(args: &RunArgs) -> anyhow::Result<RunRecord> {
    let Some(path) = &args.restore else {
        bail!("no snapshot to restore: pass --restore FILE");
    };
    if !matches!(args.backend, BackendId::VmBare | BackendId::VmLinux) {
        bail!(
            "--restore boots the tiny VMM's guests only: use --backend vm-bare or vm-linux (not {})",
            args.backend
        );
    }
    if args.disk.is_some() || args.tap.is_some() {
        bail!("--restore boots a snapshot without devices: drop --disk and --tap");
    }
    if args.kernel.is_some() || args.initramfs.is_some() {
        bail!(
            "--restore takes no --kernel or --initramfs: the guest in {} is already booted; take \
             a snapshot of another kernel with `vmlab snapshot --backend vm-linux --kernel PATH`",
            path.display()
        );
    }
    if !args.workload.is_empty() {
        bail!(
            "--restore takes no workload arguments: the guest in {} continues with the ones it \
             was snapshotted with; take a snapshot with others: `vmlab snapshot --backend \
             {} --out FILE -- ARGS`",
            path.display(),
            args.backend
        );
    }
    let timeout = super::timeout(args.timeout)?;
    // The jailed VMM's cgroup is sized for the snapshot's memory.
    let info = snapshot::inspect(path)?;
    let taken_of = if info.linux {
        BackendId::VmLinux
    } else {
        BackendId::VmBare
    };
    if taken_of != args.backend {
        bail!(
            "{} is a snapshot of {taken_of} ({}), not {}: restore it with --backend {taken_of}",
            path.display(),
            info.entry,
            args.backend
        );
    }
    let sized = RunArgs {
        mem: info.mem_mib,
        ..args.clone()
    };
    let (cgroup, cgroup_fact) = vm::vmm_cgroup(&sized)?;
    let cgroup_tasks = cgroup.as_ref().map_or_else(Vec::new, |cg| {
        let file = match cg.mode() {
            Mode::V2 => "cgroup.procs",
            Mode::V1 | Mode::Hybrid => "tasks",
        };
        cg.dirs().map(|d| d.join(file)).collect()
    });
    let serial_stream: Option<Box<dyn std::io::Write + Send>> = if args.json {
        None
    } else {
        Some(Box::new(std::io::stdout()))
    };
    let result = snapshot::restore_measured(RestoreConfig {
        path: path.clone(),
        mem_mib: None,
        timeout,
        serial_stream,
        jail: !args.no_jail,
        cgroup_tasks,
        verify_memory: args.verify_snapshot,
    });
    let usage = cgroup.as_ref().map(Cgroup::usage);
    if let Some(cg) = cgroup {
        cg.remove()
            .context("cannot remove the jailed VMM's cgroup")?;
    }
    let (o, touched) = match result {
        Ok(r) => r,
        Err(e) => {
            if let vmlab_vmm::Error::Guest { console, .. } = &e {
                if args.json && !console.is_empty() {
                    eprintln!("--- guest console ---\n{}\n---", vm::tail(console));
                }
            }
            let hint = super::hint::flag_hint(&e);
            let mut err = anyhow::Error::new(e);
            if let Some(hint) = hint {
                err = err.context(hint);
            }
            return Err(err.context(format!("restoring {} failed", path.display())));
        }
    };
    let mut out = vm::output(args.backend, o);
    out.facts.insert("start".into(), "restore".into());
    out.facts
        .insert("snapshot".into(), path.display().to_string());
    out.facts
        .insert("snapshot_bytes".into(), info.bytes.to_string());
    out.facts
        .insert("snapshot_disk_bytes".into(), info.disk_bytes.to_string());
    out.facts.insert("vmm_cgroup".into(), cgroup_fact);
    // Unjailed only: the jailed VMM cannot read its /proc/self/smaps.
    if let Some(t) = touched {
        out.counters
            .insert("restored_resident_bytes".into(), t.resident_bytes);
        out.counters
            .insert("restored_copied_bytes".into(), t.copied_bytes);
        out.counters
            .insert("restored_mapped_bytes".into(), t.mapped_bytes);
    }
    if let Some(peak) = usage.and_then(|u| u.memory_peak) {
        out.facts
            .insert("vmm_memory_peak_bytes".into(), peak.to_string());
    }
    Ok(out)
}
