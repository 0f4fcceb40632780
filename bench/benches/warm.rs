//! `cargo bench --bench warm`: the sandbox started cold against one handed
//! off from a pool, in this process (no `vmlab run` spawn on either side).
//! `warm/sandbox-cold` times `vmlab_sandbox::run` from its call to the
//! workload's ready mark; `warm/sandbox-pool` times a sandbox parked
//! before `execve` from its release request to the ready mark, and
//! `warm/sandbox-pool-exec` one parked in the workload after `execve`
//! (its `--park`) likewise (the preparation, and the pool's refill after
//! each run, are not timed). Both boot the workload with no
//! kernel, on the images the bench builds, with compare's configuration.
//! `VMLAB_BENCH_QUICK=1` shortens it (`shared/mode.rs`).
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, PlottingBackend, SamplingMode};
use vmlab_bench::compare::setup::BenchImages;
use vmlab_bench::compare::warm::sandbox::config;
use vmlab_sandbox::pool::{ParkAt, Pool};
use vmlab_sandbox::{LaunchError, Outcome};

#[path = "shared/mode.rs"]
mod mode;
#[path = "shared/record.rs"]
mod record;

/// Each iteration is one start (a few ms cold, about one warm).
const TIMING: mode::Timing = mode::Timing {
    sample_size: 20,
    warm_up: Duration::from_millis(500),
    measurement: Duration::from_secs(3),
    sampling: SamplingMode::Flat,
    nresamples: 10_000,
};

/// The ready time of one start; a failed start ends the bench with why.
fn ready(out: Result<Outcome, LaunchError>, what: &str) -> Duration {
    match out {
        Ok(Outcome {
            ready: Some(ns), ..
        }) => Duration::from_nanos(ns),
        Ok(o) => panic!("{what}: no ready mark (status {:?})", o.status),
        Err(e) => panic!("{what}: {e}"),
    }
}

fn benches(c: &mut Criterion) {
    let images = BenchImages::build("warm").expect("the images build");
    let cfg = config(images.dir(), &[]);
    if let Err(e) = vmlab_sandbox::run(&cfg, None) {
        record::skipped(
            "warm/sandbox",
            format!("the sandbox does not start here: {e}"),
        );
        record::save("warm");
        return;
    }
    let mut pool = Pool::new(cfg.clone(), 1).expect("a sandbox parks");
    let mut in_workload =
        Pool::new_at(cfg.clone(), 1, ParkAt::Workload).expect("a sandbox parks in its workload");
    let mut g = c.benchmark_group("warm");
    TIMING.apply(&mut g);
    g.bench_function("sandbox-cold", |b| {
        b.iter_custom(|n| {
            (0..n)
                .map(|_| ready(vmlab_sandbox::run(&cfg, None), "sandbox-cold"))
                .sum()
        })
    });
    record::ran("warm", "sandbox-cold");
    g.bench_function("sandbox-pool", |b| {
        b.iter_custom(|n| (0..n).map(|_| ready(pool.run(None), "sandbox-pool")).sum())
    });
    record::ran("warm", "sandbox-pool");
    g.bench_function("sandbox-pool-exec", |b| {
        b.iter_custom(|n| {
            (0..n)
                .map(|_| ready(in_workload.run(None), "sandbox-pool-exec"))
                .sum()
        })
    });
    record::ran("warm", "sandbox-pool-exec");
    g.finish();
    record::save("warm");
}

criterion_group! {
    name = warm;
    // Plotters draws the HTML report's charts; no gnuplot needed.
    config = Criterion::default().plotting_backend(PlottingBackend::Plotters);
    targets = benches
}
criterion_main!(warm);
