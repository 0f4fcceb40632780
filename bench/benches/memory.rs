//! `cargo bench --bench memory`: memory of one running instance per
//! backend, in bytes (a custom Criterion measurement).
//!
//! One Criterion iteration is one boot (the same launchers as `vmlab
//! compare`), during which the launcher's whole process tree is sampled
//! (every millisecond at first, every 20 ms after 100 ms); the figure is
//! the sum of each process's peak RSS (VmHWM): the VMM with the guest
//! memory it touched, all sandbox or runtime processes, the workload.
use std::path::Path;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, PlottingBackend, SamplingMode};
use vmlab_bench::compare::setup::{probed, BenchImages};

#[path = "shared/bytes.rs"]
mod bytes;

use bytes::Bytes;

fn benches(c: &mut Criterion<Bytes>) {
    let images = BenchImages::build("memory").expect("the images build");
    let exe = Path::new(env!("CARGO_BIN_EXE_vmlab"));
    let probed = probed(exe, images.dir(), &[]);
    probed.print_skips("memory");
    let mut group = c.benchmark_group("memory");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_millis(1))
        .nresamples(2_000);
    for b in &probed.available {
        group.bench_function(b.name(), |bench| {
            bench.iter_custom(|iters| {
                (0..iters)
                    .map(|_| {
                        let s = b
                            .boot(&[], true)
                            .unwrap_or_else(|e| panic!("{}: {e:#}", b.name()));
                        if b.new_netns() {
                            std::thread::sleep(Duration::from_millis(20));
                        }
                        s.tree_hwm_bytes.unwrap_or(0)
                    })
                    .sum::<u64>()
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = memory;
    // Plotters draws the HTML report's charts; no gnuplot needed.
    config = Criterion::default()
        .plotting_backend(PlottingBackend::Plotters)
        .with_measurement(Bytes);
    targets = benches
}
criterion_main!(memory);
