//! The sandbox cold and from a pool, in this process: a cold start is
//! `vmlab_sandbox::run` from its call to the ready mark; a pool hand-off is
//! a parked sandbox's release request to the ready mark (its preparation
//! happened before, untimed). Both on the same configuration, interleaved.
use std::path::Path;

use vmlab_reports::model::{BackendKind, StartKind, Timing, WarmRow};
use vmlab_sandbox::pool::Pool;
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
    let row = |start, method| {
        WarmRow::new(
            "sandbox",
            BackendKind::Container,
            start,
            Timing::InProcess,
            method,
        )
    };
    let mut cold = row(StartKind::Cold, "sandbox run (clone to ready)");
    let mut pool_row = row(
        StartKind::Pool,
        "pool hand-off (parked before execve, released to ready)",
    );
    if !images.join("rootfs").is_dir() {
        let why = format!("no rootfs in {}", images.display());
        return vec![cold.skip(why.clone()), pool_row.skip(why)];
    }
    let c = config(images, args);
    let mut pool = match Pool::new(c.clone(), 1) {
        Ok(p) => p,
        Err(e) => {
            let why = format!("cannot park a sandbox: {e}");
            return vec![cold.skip(why.clone()), pool_row.skip(why)];
        }
    };
    let (mut cold_outs, mut warm_outs) = (Vec::new(), Vec::new());
    for i in 0..=runs {
        let measured = i > 0;
        for (r, outs, out) in [
            (
                &mut cold,
                &mut cold_outs,
                ready_of(vmlab_sandbox::run(&c, None)),
            ),
            (&mut pool_row, &mut warm_outs, ready_of(pool.run(None))),
        ] {
            match out {
                Ok(o) if measured => outs.push(o),
                Ok(_) => {}
                Err(e) => r.failures.push(e),
            }
        }
    }
    for (r, outs) in [(&mut cold, &cold_outs), (&mut pool_row, &warm_outs)] {
        r.to_ready_ns = outs.iter().filter_map(|o| o.ready).collect();
        r.phases = median_phases(outs.iter().map(|o| o.phases.as_slice()));
    }
    vec![cold, pool_row]
}
