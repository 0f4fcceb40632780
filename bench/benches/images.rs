//! `cargo bench --bench images`: the size of every artifact, in bytes (a
//! custom Criterion measurement), so `cargo bench` shows image sizes next
//! to boot times and overhead.
//!
//! The artifacts are built once into a private directory and measured by
//! the images crate (uncompressed bytes, and zstd -3 of the file or of a
//! reproducible tar of the directory). Sizes are deterministic: every
//! sample of an artifact is the same number of bytes per iteration, so
//! Criterion's spread is zero and its "change" flags a real size change.
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, PlottingBackend, SamplingMode};
use vmlab_bench::compare::setup::BenchImages;
use vmlab_images::sizes;

#[path = "shared/bytes.rs"]
mod bytes;

use bytes::Bytes;

fn benches(c: &mut Criterion<Bytes>) {
    let images = BenchImages::build("images").expect("the images build");
    let sizes = sizes::of_build(images.dir(), &images.manifest).expect("the images measure");
    if images.manifest.kernel.is_none() {
        eprintln!("images/vm image: skipped: no cached guest kernel (see `vmlab images build`)");
    }
    let mut group = c.benchmark_group("images");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        // The routine returns at once: a longer warm-up would double its
        // iteration count until `bytes * iters` overflows.
        .warm_up_time(Duration::from_nanos(1))
        .measurement_time(Duration::from_micros(100))
        .nresamples(1_000);
    for s in &sizes {
        for (what, bytes) in [("uncompressed", s.uncompressed), ("zstd", s.zstd)] {
            let name = s.name.trim_end_matches('/');
            group.bench_function(format!("{name}/{what}"), |bench| {
                bench.iter_custom(|iters| {
                    bytes
                        .checked_mul(iters)
                        .expect("Criterion asks for a sane number of iterations")
                })
            });
        }
    }
    group.finish();
}

criterion_group! {
    name = images;
    // Plotters draws the HTML report's charts; no gnuplot needed.
    config = Criterion::default()
        .plotting_backend(PlottingBackend::Plotters)
        .with_measurement(Bytes);
    targets = benches
}
criterion_main!(images);
