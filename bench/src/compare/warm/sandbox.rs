//! The sandbox cold and from two pools, in this process: a cold start is
//! `vmlab_sandbox::run` from its call to the ready mark; a pool hand-off is
//! a parked sandbox's release request to the ready mark (its preparation
//! happened before, untimed). One pool parks its sandboxes in the workload,
//! after `execve`, initialised and waiting for its go (like the VM pool's
//! guests, booted to the snapshot point); the other parks them before
//! `execve`. All on the same configuration, interleaved run by run. The
//! in-workload row comes before the pre-`execve` one: the pool-vs-pool
//! claim pairs the VM pool with the first container pool row on its clock,
//! and that is its like for like.
use std::path::Path;

use vmlab_reports::model::{BackendKind, StartKind, Timing, WarmRow};
use vmlab_sandbox::pool::{ParkAt, Pool};
use vmlab_sandbox::{Config, ExitStatus, Outcome};

use super::median_phases;

/// The sandbox as `vmlab run --backend sandbox --net loopback` configures
/// it (compare's sandbox rows), on the rootfs in `images`.
pub fn config(images: &Path, args: &[String]) -> Config {
    let mut c = Config::sandbox(images.join("rootfs"));
    c.args = args.to_vec();
    c.ns.net = vmlab_sandbox::Net::Loopback;
    if !nix::unistd::geteuid().is_root() {
        // As `vmlab run` without root: no cgroup unless delegated.
        c.cgroup = false;
        c.devices = false;
    }
    c
}

/// The ready time of one outcome, or why there is none.
fn ready_of(out: Result<Outcome, vmlab_sandbox::LaunchError>) -> Result<Outcome, String> {
    let out = out.map_err(|e| e.to_string())?;
    match (out.ready, out.status) {
        (Some(_), ExitStatus::Code(0)) => Ok(out),
        (None, st) => Err(format!("no ready mark (status {st:?})")),
        (Some(_), st) => Err(format!("the workload ended with {st:?}")),
    }
}

/// The cold and pool rows, `runs` each after one warm-up of each.
pub fn rows(images: &Path, args: &[String], runs: u32) -> Vec<WarmRow> {
    let row = |start, method: String| {
        WarmRow::new(
            "sandbox",
            BackendKind::Container,
            start,
            Timing::InProcess,
            &method,
        )
    };
    let cold = row(StartKind::Cold, "sandbox run (clone to ready)".into());
    let pooled = |at: ParkAt| {
        row(
            StartKind::Pool,
            format!("pool hand-off ({}, released to ready)", at.label()),
        )
    };
    let mut rows = vec![
        (cold, None),
        (pooled(ParkAt::Workload), Some(ParkAt::Workload)),
        (pooled(ParkAt::Exec), Some(ParkAt::Exec)),
    ];
    if !images.join("rootfs").is_dir() {
        let why = format!("no rootfs in {}", images.display());
        return rows.into_iter().map(|(r, _)| r.skip(why.clone())).collect();
    }
    let c = config(images, args);
    // Per row: a pool (none for the cold row) or why it has none.
    let mut pools: Vec<Option<Result<Pool, String>>> = rows
        .iter()
        .map(|(_, at)| {
            at.map(|at| {
                Pool::new_at(c.clone(), 1, at)
                    .map_err(|e| format!("cannot park a sandbox ({}): {e}", at.label()))
            })
        })
        .collect();
    let mut outs: Vec<Vec<Outcome>> = vec![Vec::new(); rows.len()];
    for i in 0..=runs {
        let measured = i > 0;
        for (((r, _), pool), outs) in rows.iter_mut().zip(&mut pools).zip(&mut outs) {
            let out = match pool {
                None => ready_of(vmlab_sandbox::run(&c, None)),
                Some(Ok(p)) => ready_of(p.run(None)),
                Some(Err(_)) => continue,
            };
            match out {
                Ok(o) if measured => outs.push(o),
                Ok(_) => {}
                Err(e) => r.failures.push(e),
            }
        }
    }
    rows.into_iter()
        .zip(pools)
        .zip(outs)
        .map(|(((mut r, _), pool), outs)| {
            if let Some(Err(why)) = pool {
                return r.skip(why);
            }
            r.to_ready_ns = outs.iter().filter_map(|o| o.ready).collect();
            r.phases = median_phases(outs.iter().map(|o| o.phases.as_slice()));
            r
        })
        .collect()
}
