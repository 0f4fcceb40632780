//! Boot benches of the tiny VMM with the bare guest, in process.
//!
//! `vm-bare` in `boot/call_to_ready` and `boot/call_to_exit`: each
//! iteration is one full `vmlab_vmm::run` (open `/dev/kvm` … guest exit …
//! teardown) with the embedded bare guest and `--exit 0`, timed from the
//! library call to the guest's ready event, or to the VM torn down, with
//! the VMM in process (no jail); `vm-bare-jailed` in `boot/call_to_ready`
//! is the same with the VMM's jail on (a forked child, namespaces, empty
//! root, seccomp: `vmm/src/jail`). Set `VMLAB_GUEST_ELF` to boot
//! another guest ELF. Skipped, with the reason printed, where KVM is
//! missing or the guest cannot run. The group also prints the median and
//! spread of its own samples and the VMM's memory beyond guest RAM.
use std::time::Duration;

use super::mode::Timing;
use super::{record, Group, CALL_TO_EXIT, CALL_TO_READY};
use criterion::SamplingMode;
use vmlab_vmm::{VmConfig, VmOutcome};

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
        jail,
        ..VmConfig::bare(elf, "--exit 0", MEM_MIB, Duration::from_secs(10))
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

/// The bare guest's boots, benched into the callers' groups (one per
/// figure, so that every backend's figure shares a chart).
pub struct VmBare {
    elf: Vec<u8>,
    /// Whether a jailed trial boot succeeded.
    jail: bool,
    ready: Vec<u64>,
    ready_jailed: Vec<u64>,
    exit: Vec<u64>,
}

impl VmBare {
    /// The guest, when one trial boot succeeds here; otherwise None, with
    /// the reason printed.
    pub fn probe() -> Option<VmBare> {
        let elf = guest_elf();
        if let Err(e) = boot(&elf, false) {
            record::skipped("boot/vm-bare", e);
            return None;
        }
        let jail = match boot(&elf, true) {
            Ok(_) => true,
            Err(e) => {
                record::skipped("boot/vm-bare-jailed", e);
                false
            }
        };
        Some(VmBare {
            elf,
            jail,
            ready: Vec::new(),
            ready_jailed: Vec::new(),
            exit: Vec::new(),
        })
    }

    /// `vm-bare` (and `vm-bare-jailed`) in `g`: library call to the
    /// guest's ready event.
    pub fn bench_ready(&mut self, g: &mut Group<'_>) {
        let runs = [
            ("vm-bare", false, &mut self.ready),
            ("vm-bare-jailed", true, &mut self.ready_jailed),
        ];
        for (name, jail, ready) in runs {
            if jail && !self.jail {
                continue;
            }
            let elf = &self.elf;
            TIMING.apply(g).bench_function(name, |b| {
                record::ran(CALL_TO_READY, name);
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let o = boot(elf, jail).expect("the bare guest boots");
                        ready.push(o.to_ready_ns);
                        total += Duration::from_nanos(o.to_ready_ns);
                    }
                    total
                })
            });
        }
    }

    /// `vm-bare` in `g`: library call to the VM torn down.
    pub fn bench_exit(&mut self, g: &mut Group<'_>) {
        let (elf, exit) = (&self.elf, &mut self.exit);
        TIMING.apply(g).bench_function("vm-bare", |b| {
            record::ran(CALL_TO_EXIT, "vm-bare");
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let o = boot(elf, false).expect("the bare guest boots");
                    exit.push(o.to_exit_ns);
                    total += Duration::from_nanos(o.to_exit_ns);
                }
                total
            })
        });
    }

    /// Prints the medians and spreads of the samples and the VMM's memory.
    pub fn print(mut self) {
        eprintln!("boot/vm-bare to_ready: {}", summary(&mut self.ready));
        if self.jail {
            eprintln!(
                "boot/vm-bare-jailed to_ready: {}",
                summary(&mut self.ready_jailed)
            );
        }
        eprintln!("boot/vm-bare to_exit:  {}", summary(&mut self.exit));
        let rss_kib = vm_rss_kib();
        eprintln!(
            "boot/vm-bare: process VmRSS after the runs {rss_kib} KiB (guest RAM is unmapped after each run)"
        );
    }
}

/// The bare guest's timing in full mode (as before the groups were
/// shared: Criterion's default sample size, 3 s of measurement after 0.5 s
/// of warm-up).
const TIMING: Timing = Timing {
    sample_size: 100,
    warm_up: Duration::from_millis(500),
    measurement: Duration::from_secs(3),
    sampling: SamplingMode::Auto,
    nresamples: 100_000,
};
