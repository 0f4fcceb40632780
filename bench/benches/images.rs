//! `cargo bench --bench images`: the size of every artifact, in bytes (a
//! custom Criterion measurement), so `cargo bench` shows image sizes next
//! to boot times and overhead.
//!
//! The artifacts are built once into a private directory and measured by
//! the images crate (uncompressed bytes, and zstd -3 of the file or of a
//! reproducible tar of the directory). Sizes are deterministic: every
//! sample of an artifact is the same number of bytes per iteration, so
//! Criterion's spread is zero. Criterion's comparison with the previous run
//! cannot take zero spread, so the bench compares the sizes itself
//! (`images/previous.rs`) and prints those that changed.
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, PlottingBackend, SamplingMode};
use vmlab_bench::compare::setup::BenchImages;
use vmlab_images::sizes;

#[path = "shared/bytes.rs"]
mod bytes;
#[path = "shared/mode.rs"]
mod mode;
#[path = "images/previous.rs"]
mod previous;
#[path = "shared/record.rs"]
mod record;

use bytes::Bytes;
use mode::Timing;

/// Ten samples of one iteration each: Criterion's minimum, so the quick
/// mode (`VMLAB_BENCH_QUICK=1`) changes only the bootstrap. The routine
/// returns at once: a longer warm-up would double its iteration count
/// until `bytes * iters` overflows.
const TIMING: Timing = Timing {
    sample_size: 10,
    warm_up: Duration::from_nanos(1),
    measurement: Duration::from_micros(100),
    sampling: SamplingMode::Flat,
    nresamples: 1_000,
};

fn benches(c: &mut Criterion<Bytes>) {
    let images = BenchImages::build("images").expect("the images build");
    let sizes = sizes::of_build(images.dir(), &images.manifest).expect("the images measure");
    if images.manifest.kernel.is_none() {
        record::skipped(
            "images/vm image",
            "no cached guest kernel (see `vmlab images build`)",
        );
    }
    let previous = previous::take(&record::criterion_dir(), "images");
    let mut group = c.benchmark_group("images");
    TIMING.apply(&mut group);
    for s in &sizes {
        for (what, bytes) in [("uncompressed", s.uncompressed), ("zstd", s.zstd)] {
            let function = format!("{}/{what}", s.name.trim_end_matches('/'));
            previous::compare(&previous, &function, bytes);
            group.bench_function(&function, |bench| {
                record::ran("images", &function);
                bench.iter_custom(|iters| {
                    bytes
                        .checked_mul(iters)
                        .expect("Criterion asks for a sane number of iterations")
                })
            });
        }
    }
    group.finish();
    record::save("images");
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
