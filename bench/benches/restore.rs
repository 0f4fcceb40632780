//! `cargo bench --bench restore`: the tiny VMM's warm start, in the `warm`
//! group beside the other warm starts (the sandbox pool and the peers add
//! theirs from their own benches):
//!
//! - `warm/vm-bare-restore`: one `vmlab_vmm::snapshot::restore` of a
//!   snapshot of the bare guest (`--exit 0`, taken once before the group),
//!   in process (no jail), timed from the library call to the guest's ready
//!   event (open and check the file, KVM, VM, private mapping of the memory
//!   image, state, first `KVM_RUN`, ready);
//! - `warm/vm-bare-pool`: a hand-off from a `vmlab_vmm::VmPool` of one VM
//!   prepared from the same snapshot (created, mapped, state loaded, paused
//!   before its first `KVM_RUN`), timed from the hand-off request to the
//!   ready event; the refill after each run is untimed (the sandbox pool
//!   parked in its workload, `warm/sandbox-pool-exec`, is its like);
//! - `warm/vm-bare-cold`: a cold boot of the same guest with the same
//!   memory and the same clock in the same run, for the like-for-like ratio.
//!
//! `VMLAB_BENCH_QUICK=1` takes ten one-iteration samples of each
//! (`shared/mode.rs`). Skipped, with the reason printed and recorded, where
//! KVM is missing or the guest cannot run. Prints the median and spread of
//! its own samples and the restored guest's resident memory.
use std::path::Path;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, PlottingBackend, SamplingMode};
use vmlab_vmm::snapshot::{self, RestoreConfig};
use vmlab_vmm::{Host, VmConfig, VmPool};

#[path = "shared/mode.rs"]
mod mode;
#[path = "shared/record.rs"]
mod record;

use mode::Timing;

/// The group every warm-start bench shares.
const GROUP: &str = "warm";
/// Guest RAM (as the boot bench's vm-bare).
const MEM_MIB: u64 = 64;
const TIMEOUT: Duration = Duration::from_secs(10);

/// Full mode: 100 samples over 3 s after 0.5 s of warm-up.
const TIMING: Timing = Timing {
    sample_size: 100,
    warm_up: Duration::from_millis(500),
    measurement: Duration::from_secs(3),
    sampling: SamplingMode::Auto,
    nresamples: 100_000,
};

fn cold<'a>(elf: &'a [u8], args: &str) -> VmConfig<'a> {
    VmConfig::bare(elf, args, MEM_MIB, TIMEOUT)
}

fn restore_cfg(path: &Path) -> RestoreConfig {
    RestoreConfig {
        path: path.to_path_buf(),
        mem_mib: None,
        timeout: TIMEOUT,
        serial_stream: None,
        jail: false,
        cgroup_tasks: Vec::new(),
        verify_memory: false,
    }
}

/// Median and (p10, p90) of `v` in ms.
fn summary(v: &mut [u64]) -> String {
    if v.is_empty() {
        return "no samples (filtered out)".into();
    }
    v.sort_unstable();
    let ms = |ns: u64| ns as f64 / 1e6;
    format!(
        "median {:.3} ms, p10 {:.3}, p90 {:.3} (n={})",
        ms(v[v.len() / 2]),
        ms(v[v.len() / 10]),
        ms(v[v.len() * 9 / 10]),
        v.len()
    )
}

fn benches(c: &mut Criterion) {
    let elf = match std::env::var_os("VMLAB_GUEST_ELF") {
        Some(p) => std::fs::read(&p).expect("VMLAB_GUEST_ELF names a readable file"),
        None => vmlab_images::embedded::GUEST.to_vec(),
    };
    let dir = std::env::temp_dir().join(format!("vmlab-bench-restore-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let path = dir.join("bare.vmlab");
    let taken = snapshot::take(cold(&elf, "--exit 0"), &path);
    let probe = taken.and_then(|_| snapshot::restore_measured(restore_cfg(&path)));
    let touched = match probe {
        Ok((_, t)) => t,
        Err(e) => {
            record::skipped("warm/vm-bare-restore", e);
            let _ = std::fs::remove_dir_all(&dir);
            record::save("restore");
            return;
        }
    };
    let (mut warm, mut pooled, mut cold_ready) = (Vec::new(), Vec::new(), Vec::new());
    let host = Host::open().expect("KVM opened for the restore above");
    let mut pool = VmPool::new(&host, restore_cfg(&path), 1).expect("the pool fills");
    let mut g = c.benchmark_group(GROUP);
    TIMING.apply(&mut g).bench_function("vm-bare-restore", |b| {
        record::ran(GROUP, "vm-bare-restore");
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let o = snapshot::restore(restore_cfg(&path)).expect("the snapshot restores");
                warm.push(o.to_ready_ns);
                total += Duration::from_nanos(o.to_ready_ns);
            }
            total
        })
    });
    TIMING.apply(&mut g).bench_function("vm-bare-pool", |b| {
        record::ran(GROUP, "vm-bare-pool");
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let o = pool.run().expect("a pooled VM runs");
                pooled.push(o.to_ready_ns);
                total += Duration::from_nanos(o.to_ready_ns);
            }
            total
        })
    });
    TIMING.apply(&mut g).bench_function("vm-bare-cold", |b| {
        record::ran(GROUP, "vm-bare-cold");
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let o = vmlab_vmm::run(cold(&elf, "--exit 0")).expect("the bare guest boots");
                cold_ready.push(o.to_ready_ns);
                total += Duration::from_nanos(o.to_ready_ns);
            }
            total
        })
    });
    g.finish();
    drop(pool);
    eprintln!("warm/vm-bare-restore to_ready: {}", summary(&mut warm));
    eprintln!("warm/vm-bare-pool to_ready:    {}", summary(&mut pooled));
    eprintln!(
        "warm/vm-bare-cold to_ready:    {}",
        summary(&mut cold_ready)
    );
    let size = std::fs::metadata(&path).map(|m| {
        use std::os::unix::fs::MetadataExt;
        (m.len(), m.blocks() * 512)
    });
    if let (Ok((len, disk)), Some(t)) = (size, touched) {
        eprintln!(
            "warm/vm-bare-restore: snapshot {len} bytes ({disk} on disk); restored guest resident \
             {} bytes ({} copied on write) of {} mapped",
            t.resident_bytes, t.copied_bytes, t.mapped_bytes
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    record::save("restore");
}

criterion_group! {
    name = restore;
    // Plotters draws the HTML report's charts; no gnuplot needed.
    config = Criterion::default().plotting_backend(PlottingBackend::Plotters);
    targets = benches
}
criterion_main!(restore);
