//! Boot benches of the tiny VMM with the bare guest, in process.
//!
//! `boot/vm-bare`: each iteration is one full `vmlab_vmm::run` (open
//! `/dev/kvm` … guest exit … teardown) with the embedded bare guest and
//! `--exit 0`; `to_ready` is the time from the library call to the guest's
//! ready event, `to_exit` to the VM torn down; both run the VMM in process
//! (no jail), and `to_ready_jailed` is `to_ready` with the VMM's jail on (a
//! forked child, namespaces, empty root, seccomp: `vmm/src/jail`). Set `VMLAB_GUEST_ELF` to boot
//! another guest ELF. Skipped, with the reason printed, where KVM is
//! missing or the guest cannot run. The group also prints the median and
//! spread of its own samples and the VMM's memory beyond guest RAM.
use std::time::Duration;

use criterion::Criterion;
use vmlab_vmm::{Guest, VmConfig, VmOutcome};

/// Guest RAM for the bench (untouched pages cost nothing).
const MEM_MIB: u64 = 64;

fn guest_elf() -> Vec<u8> {
    match std::env::var_os("VMLAB_GUEST_ELF") {
        Some(p) => std::fs::read(&p).expect("VMLAB_GUEST_ELF names a readable file"),
        None => vmlab_images::embedded::GUEST.to_vec(),
    }
}

fn boot(elf: &[u8], jail: bool) -> Result<VmOutcome, vmlab_vmm::Error> {
    vmlab_vmm::run(VmConfig {
        guest: Guest::Bare {
            elf,
            args: "--exit 0".into(),
        },
        mem_mib: MEM_MIB,
        timeout: Duration::from_secs(10),
        serial_stream: None,
        jail,
        probe: None,
        cgroup_tasks: Vec::new(),
    })
}

fn vm_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Median and (min, max) of `v` in ms.
fn summary(v: &mut [u64]) -> String {
    if v.is_empty() {
        return "no samples (filtered out)".into();
    }
    v.sort_unstable();
    let ms = |ns: u64| ns as f64 / 1e6;
    format!(
        "median {:.3} ms, p10 {:.3}, p90 {:.3}, min {:.3}, max {:.3} (n={})",
        ms(v[v.len() / 2]),
        ms(v[v.len() / 10]),
        ms(v[v.len() * 9 / 10]),
        ms(v[0]),
        ms(v[v.len() - 1]),
        v.len()
    )
}

pub fn benches(c: &mut Criterion) {
    let elf = guest_elf();
    if let Err(e) = boot(&elf, false) {
        eprintln!("boot/vm-bare: skipped: {e}");
        return;
    }
    let jail = match boot(&elf, true) {
        Ok(_) => true,
        Err(e) => {
            eprintln!("boot/vm-bare to_ready_jailed: skipped: {e}");
            false
        }
    };
    let mut ready = Vec::new();
    let mut ready_jailed = Vec::new();
    let mut exit = Vec::new();
    let mut g = c.benchmark_group("boot/vm-bare");
    g.measurement_time(Duration::from_secs(3));
    g.warm_up_time(Duration::from_millis(500));
    g.bench_function("to_ready", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let o = boot(&elf, false).expect("the bare guest boots");
                ready.push(o.to_ready_ns);
                total += Duration::from_nanos(o.to_ready_ns);
            }
            total
        })
    });
    if jail {
        g.bench_function("to_ready_jailed", |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let o = boot(&elf, true).expect("the bare guest boots jailed");
                    ready_jailed.push(o.to_ready_ns);
                    total += Duration::from_nanos(o.to_ready_ns);
                }
                total
            })
        });
    }
    g.bench_function("to_exit", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let o = boot(&elf, false).expect("the bare guest boots");
                exit.push(o.to_exit_ns);
                total += Duration::from_nanos(o.to_exit_ns);
            }
            total
        })
    });
    g.finish();
    eprintln!("boot/vm-bare to_ready: {}", summary(&mut ready));
    if !ready_jailed.is_empty() {
        eprintln!(
            "boot/vm-bare to_ready_jailed: {}",
            summary(&mut ready_jailed)
        );
    }
    eprintln!("boot/vm-bare to_exit:  {}", summary(&mut exit));
    let rss_kib = vm_rss_kib();
    eprintln!(
        "boot/vm-bare: process VmRSS after the runs {rss_kib} KiB (guest RAM is unmapped after each run)"
    );
}
