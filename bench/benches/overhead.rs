//! `cargo bench --bench overhead`: each workload kernel in each backend,
//! as ns per kernel iteration: one group per kernel figure
//! (`overhead/cpu/process`, `overhead/cpu/sandbox`, ...), so that the HTML
//! report draws the backends side by side.
//!
//! One Criterion sample is one boot of the backend running one kernel for
//! a short time budget (the same launchers as `vmlab compare`: `vmlab run`
//! for ours, the tool itself for the peers). The workload reports its own
//! ns/iteration over thousands of iterations; `iter_custom` scales that to
//! the iterations Criterion asks for. The overhead of a backend is its
//! figure divided by the `process` one (the report computes the ratios).
//! Kernels a backend cannot run (e.g. `tcp` without loopback in the
//! sandbox) and backends that cannot run here are printed as skipped, and
//! recorded with what ran (`shared/record.rs`). Its timing is already
//! Criterion's minimum, so the quick mode (`VMLAB_BENCH_QUICK=1`,
//! `shared/mode.rs`) changes only the bootstrap.
use std::path::Path;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, PlottingBackend};
use vmlab_bench::compare::matrix::{LINUX_KERNELS, SHARED_KERNELS};
use vmlab_bench::compare::setup::{probed, BenchImages};

#[path = "shared/mode.rs"]
mod mode;
#[path = "shared/record.rs"]
mod record;

use mode::Timing;

/// Ten samples of one boot each (Criterion's minimum).
const TIMING: Timing = mode::ONE_BOOT_PER_SAMPLE;

/// Time budget of a kernel in one boot (as in `vmlab compare --quick`).
const KERNEL_TIME: &str = "20ms";

fn args(kernel: &str) -> Vec<String> {
    vec![kernel.into(), "--time".into(), KERNEL_TIME.into()]
}

fn benches(c: &mut Criterion) {
    let images = BenchImages::build("overhead").expect("the images build");
    let exe = Path::new(env!("CARGO_BIN_EXE_vmlab"));
    let probed = probed(exe, images.dir(), &[]);
    for (name, why) in &probed.skipped {
        record::skipped(&format!("overhead/{name}"), why);
    }
    // One trial boot per backend with every kernel says which ones run
    // there and under which names (spawn reports a fork and an exec figure).
    let mut ran = Vec::new();
    for b in &probed.available {
        let mut kernels: Vec<&str> = SHARED_KERNELS.to_vec();
        if b.linux_kernels() {
            kernels.extend(LINUX_KERNELS);
        }
        let mut trial: Vec<String> = kernels.iter().map(|k| k.to_string()).collect();
        trial.extend(["--time".to_string(), KERNEL_TIME.to_string()]);
        let sample = match b.boot(&trial, false) {
            Ok(s) => s,
            Err(e) => {
                record::skipped(&format!("overhead/{}", b.name()), format!("{e:#}"));
                continue;
            }
        };
        for e in sample.kernel_errors() {
            // "KERNEL: why": recorded as overhead/KERNEL/BACKEND.
            let (kernel, why) = e.split_once(": ").unwrap_or(("workload", &e));
            record::skipped(&format!("overhead/{kernel}/{}", b.name()), why);
        }
        let names: Vec<String> = sample
            .kernel_timings()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        ran.push((b, names));
    }
    // One group per kernel figure, every backend that ran it side by side.
    let mut figures: Vec<&String> = Vec::new();
    for (_, names) in &ran {
        for n in names {
            if !figures.contains(&n) {
                figures.push(n);
            }
        }
    }
    for name in figures {
        let kernel = name.split('/').next().unwrap_or(name).to_string();
        let group_name = format!("overhead/{name}");
        let mut group = c.benchmark_group(&group_name);
        TIMING.apply(&mut group);
        for (b, _) in ran.iter().filter(|(_, names)| names.contains(name)) {
            group.bench_function(b.name(), |bench| {
                record::ran(&group_name, b.name());
                bench.iter_custom(|iters| {
                    let s = b
                        .boot(&args(&kernel), false)
                        .unwrap_or_else(|e| panic!("{} {kernel}: {e:#}", b.name()));
                    let ns = s
                        .kernel_timings()
                        .into_iter()
                        .find(|(n, _)| n == name)
                        .map(|(_, ns)| ns)
                        .unwrap_or_else(|| panic!("{} reported no {name} figure", b.name()));
                    Duration::from_secs_f64(ns * iters as f64 / 1e9)
                })
            });
            if b.new_netns() {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        group.finish();
    }
    record::save("overhead");
}

criterion_group! {
    name = overhead;
    // Plotters draws the HTML report's charts; no gnuplot needed.
    config = Criterion::default().plotting_backend(PlottingBackend::Plotters);
    targets = benches
}
criterion_main!(overhead);
