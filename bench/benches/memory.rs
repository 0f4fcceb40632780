//! `cargo bench --bench memory`: memory of one running instance per
//! backend, in bytes (a custom Criterion measurement).
//!
//! One Criterion iteration is one boot (the same launchers as `vmlab
//! compare`), during which the launcher's whole process tree is sampled
//! (every millisecond at first, every 20 ms after 100 ms); the figure is
//! the sum of each process's peak RSS (VmHWM): the VMM with the guest
//! memory it touched, all sandbox or runtime processes, the workload. A
//! boot too short for the sampler to see is booted again (`peak_bytes`).
use std::path::Path;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, PlottingBackend};
use vmlab_bench::compare::backend::Backend;
use vmlab_bench::compare::setup::{probed, BenchImages};

#[path = "shared/bytes.rs"]
mod bytes;
#[path = "shared/mode.rs"]
mod mode;
#[path = "shared/record.rs"]
mod record;

use bytes::Bytes;
use mode::Timing;

/// Ten samples of one boot each (Criterion's minimum).
const TIMING: Timing = mode::ONE_BOOT_PER_SAMPLE;

/// Boots of one instance tried for a figure before the bench gives up.
const TRIES: u32 = 10;

/// The summed peak RSS of one instance's process tree, bytes. A boot that
/// ends before the sampler's first look (the plain process can be gone
/// within a millisecond) has no figure, not a figure of zero: it is booted
/// again, up to `TRIES` times.
fn peak_bytes(b: &dyn Backend) -> u64 {
    for _ in 0..TRIES {
        let s = b
            .boot(&[], true)
            .unwrap_or_else(|e| panic!("{}: {e:#}", b.name()));
        if b.new_netns() {
            std::thread::sleep(Duration::from_millis(20));
        }
        match s.tree_hwm_bytes {
            Some(bytes) if bytes > 0 => return bytes,
            _ => continue,
        }
    }
    panic!(
        "{}: the memory sampler saw none of its processes in {TRIES} boots",
        b.name()
    )
}

fn benches(c: &mut Criterion<Bytes>) {
    let images = BenchImages::build("memory").expect("the images build");
    let exe = Path::new(env!("CARGO_BIN_EXE_vmlab"));
    let probed = probed(exe, images.dir(), &[]);
    for (name, why) in &probed.skipped {
        record::skipped(&format!("memory/{name}"), why);
    }
    let mut group = c.benchmark_group("memory");
    TIMING.apply(&mut group);
    for b in &probed.available {
        group.bench_function(b.name(), |bench| {
            record::ran("memory", b.name());
            bench.iter_custom(|iters| (0..iters).map(|_| peak_bytes(b.as_ref())).sum::<u64>())
        });
    }
    group.finish();
    record::save("memory");
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
