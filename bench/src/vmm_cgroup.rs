//! The jailed VMM's cgroup: one per VMM process, with a memory and a pids
//! limit, made by whoever starts the VMM (`vmlab run`, the scale driver's
//! fork server) and removed after it was reaped. One code path for both, so
//! that their VMMs are confined alike.
use std::path::PathBuf;

use anyhow::Context;
use vmlab_sandbox::cgroup::{Cgroup, Controller, Hierarchy, Mode};
use vmlab_sandbox::Limits;

/// Memory a jailed VMM may use beyond guest RAM (its own heap, the console
/// tail and mark list, the report, KVM's per-VM kernel memory where the
/// cgroup counts it), with room to spare.
pub const VMM_OVERHEAD_MIB: u64 = 64;

/// Tasks a jailed VMM may have: itself and the worker thread KVM starts in
/// it on the first `KVM_RUN` (x86's NX huge page recovery; with no room
/// for it `KVM_RUN` fails with `EAGAIN`). Its filter kills fork and clone.
pub const VMM_PIDS: u64 = 2;

/// The cgroup for a jailed VMM with `mem_mib` of guest RAM (memory: guest
/// RAM + [`VMM_OVERHEAD_MIB`], pids: [`VMM_PIDS`]) and the fact describing
/// it; `None` (with the reason as the fact) without root or without either
/// controller.
pub fn create(mem_mib: u64) -> anyhow::Result<(Option<Cgroup>, String)> {
    if !nix::unistd::geteuid().is_root() {
        return Ok((None, "none (not root: no cgroup can be created)".into()));
    }
    let hier = match Hierarchy::cached() {
        Ok(h) => h,
        Err(_) => {
            return Ok((
                None,
                "none (no cgroup hierarchy under /sys/fs/cgroup)".into(),
            ))
        }
    };
    let memory = (mem_mib + VMM_OVERHEAD_MIB) << 20;
    let limits = Limits {
        memory: Some(memory).filter(|_| hier.has(Controller::Memory)),
        pids: Some(VMM_PIDS).filter(|_| hier.has(Controller::Pids)),
        cpus: None,
    };
    if !limits.any() {
        return Ok((None, "none (no memory or pids controller)".into()));
    }
    let cg = Cgroup::create(&hier, &limits).context("cannot create the jailed VMM's cgroup")?;
    let mut fact = Vec::new();
    if let Some(m) = limits.memory {
        fact.push(format!("memory {} MiB", m >> 20));
    }
    if let Some(p) = limits.pids {
        fact.push(format!("pids {p}"));
    }
    Ok((
        Some(cg),
        format!("{} (cgroup {})", fact.join(", "), hier.mode.name()),
    ))
}

/// The control files the VMM writes itself into (`VmConfig::cgroup_tasks`).
pub fn task_files(cg: &Cgroup) -> Vec<PathBuf> {
    let file = match cg.mode() {
        Mode::V2 => "cgroup.procs",
        Mode::V1 | Mode::Hybrid => "tasks",
    };
    cg.dirs().map(|d| d.join(file)).collect()
}
