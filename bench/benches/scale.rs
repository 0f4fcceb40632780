//! `cargo bench --bench scale`: creation throughput of held instances, 4
//! started at once (the workload with `--hold`, the same holders as `vmlab
//! scale`: process and sandbox in the driver, vm-bare through `vmlab
//! run`). One iteration is one wave of 4 boots, from the barrier to the
//! last one ready; each wave is held until all four are ready, then
//! released. Criterion reports the time per wave and, with the throughput
//! set to 4 elements, instances per second.
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{
    criterion_group, criterion_main, Criterion, PlottingBackend, SamplingMode, Throughput,
};
use vmlab_bench::compare::setup::BenchImages;
use vmlab_bench::scale::indriver::InDriver;
use vmlab_bench::scale::{concurrency, zygote, Holder};
use vmlab_bench::BackendId;

#[path = "shared/mode.rs"]
mod mode;
#[path = "shared/record.rs"]
mod record;

/// Boots started together.
const CONCURRENCY: u32 = 4;

/// Full mode: 20 waves at least, over 5 s.
const TIMING: mode::Timing = mode::Timing {
    sample_size: 20,
    warm_up: Duration::from_secs(1),
    measurement: Duration::from_secs(5),
    sampling: SamplingMode::Flat,
    nresamples: 10_000,
};

/// Why `h` cannot be benched here: a start fails, or the instance does not
/// stay held.
fn cannot(h: &dyn Holder) -> Option<String> {
    let mut held = match h.start_held() {
        Ok(held) => held,
        Err(e) => return Some(format!("{e:#}")),
    };
    std::thread::sleep(Duration::from_millis(100));
    if held.exited() {
        return Some("the instance did not stay held (exited before its release)".into());
    }
    held.release().err().map(|e| format!("release: {e:#}"))
}

fn benches(c: &mut Criterion) {
    let images = BenchImages::build("scale").expect("the images build");
    let exe = Path::new(env!("CARGO_BIN_EXE_vmlab"));
    let mut group = c.benchmark_group("scale");
    TIMING.apply(&mut group);
    group.throughput(Throughput::Elements(u64::from(CONCURRENCY)));
    // Process and sandbox held in the driver, as `vmlab scale` does.
    let in_driver = |id: BackendId, h: anyhow::Result<InDriver>| {
        h.map(|h| Box::new(h) as Box<dyn Holder>)
            .map_err(|e| (id.name().to_string(), format!("{e:#}")))
    };
    let mut rows: Vec<Result<Box<dyn Holder>, (String, String)>> = vec![
        in_driver(BackendId::Process, InDriver::process(images.dir())),
        in_driver(BackendId::Sandbox, InDriver::sandbox(images.dir())),
    ];
    // vm-bare: jailed VMs from the fork server; vm-bare-run: `vmlab run`.
    rows.push(
        zygote::Zygote::start(exe)
            .map(|z| Box::new(z) as Box<dyn Holder>)
            .map_err(|e| (zygote::NAME.to_string(), format!("{e:#}"))),
    );
    rows.push(Ok(Box::new(zygote::run_row::RunVm::new(
        exe.to_path_buf(),
        images.dir().to_path_buf(),
    ))));
    for row in rows {
        let h = match row {
            Ok(h) => h,
            Err((name, why)) => {
                record::skipped(&format!("scale/{name}"), &why);
                continue;
            }
        };
        let h = h.as_ref();
        let name = h.name().to_string();
        if let Some(why) = cannot(h) {
            record::skipped(&format!("scale/{name}"), &why);
            continue;
        }
        group.bench_function(name.as_str(), |bench| {
            record::ran("scale", &name);
            bench.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let boots = concurrency::wave(h, CONCURRENCY);
                    let ok: Vec<(Instant, Duration)> = boots
                        .into_iter()
                        .map(|b| b.unwrap_or_else(|e| panic!("{name}: {e}")))
                        .collect();
                    let first = ok.iter().map(|(t, _)| *t).min().expect("a wave");
                    let last = ok.iter().map(|(t, d)| *t + *d).max().expect("a wave");
                    total += last - first;
                }
                total
            })
        });
    }
    group.finish();
    record::save("scale");
}

criterion_group! {
    name = scale;
    // Plotters draws the HTML report's charts; no gnuplot needed.
    config = Criterion::default().plotting_backend(PlottingBackend::Plotters);
    targets = benches
}
criterion_main!(scale);
