//! Measures the bare guest's warm starts against its cold boot, in this
//! process, interleaved: a cold boot, a restore from the snapshot file (its
//! own `/dev/kvm`), a restore on a shared [`Host`], and a hand-off from a
//! [`VmPool`]. A measuring tool, not a test:
//!
//! ```text
//! cargo run --release -p vmlab-vmm --example restore_phases -- [RUNS] [MEM_MIB] [ARGS]
//! ```
//!
//! Prints, per kind, the median `to_ready` and the median of each phase
//! (ns since the start of that kind's clock).
use std::collections::BTreeMap;
use std::time::Duration;

use vmlab_vmm::snapshot::{self, RestoreConfig};
use vmlab_vmm::{Host, VmConfig, VmOutcome, VmPool};

fn arg<T: std::str::FromStr>(i: usize, default: T) -> T {
    std::env::args()
        .nth(i)
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[derive(Default)]
struct Kind {
    ready: Vec<u64>,
    order: Vec<&'static str>,
    phases: BTreeMap<&'static str, Vec<u64>>,
}

impl Kind {
    fn add(&mut self, o: &VmOutcome) {
        self.ready.push(o.to_ready_ns);
        for &(n, t) in &o.phases {
            if !self.phases.contains_key(n) {
                self.order.push(n);
            }
            self.phases.entry(n).or_default().push(t);
        }
    }

    fn print(&mut self, name: &str) {
        let med = |v: &mut Vec<u64>| {
            v.sort_unstable();
            v.get(v.len() / 2).copied().unwrap_or(0)
        };
        let phases: Vec<String> = self
            .order
            .iter()
            .map(|n| format!("{n} {}", med(self.phases.get_mut(n).unwrap()) / 1000))
            .collect();
        println!(
            "{name:14} to_ready median {:>5} us (n={}); phases (us): {}",
            med(&mut self.ready) / 1000,
            self.ready.len(),
            phases.join(", ")
        );
    }
}

fn main() {
    let runs: usize = arg(1, 50);
    let mem_mib: u64 = arg(2, 64);
    let args: String = arg(3, "--exit 0".to_string());
    let elf = vmlab_images::embedded::GUEST;
    let timeout = Duration::from_secs(10);
    let dir = std::env::temp_dir().join(format!("vmlab-restore-phases-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bare.vmlab");
    let cold = || VmConfig::bare(elf, &args, mem_mib, timeout);
    snapshot::take(cold(), &path).expect("the snapshot is taken");
    let cfg = || RestoreConfig::new(&path, timeout);
    let host = Host::open().expect("KVM");
    let mut pool = VmPool::new(&host, cfg(), 1).expect("the pool fills");
    let mut kinds: [Kind; 4] = Default::default();
    for i in 0..=runs {
        let outs = [
            vmlab_vmm::run(cold()).expect("cold boot"),
            snapshot::restore(cfg()).expect("restore"),
            snapshot::restore_on(&host, cfg()).expect("restore on a shared host"),
            pool.run().expect("pool hand-off"),
        ];
        if i > 0 {
            kinds.iter_mut().zip(&outs).for_each(|(k, o)| k.add(o));
        }
    }
    drop(pool);
    for (k, name) in kinds
        .iter_mut()
        .zip(["cold", "restore", "restore_on", "pool"])
    {
        k.print(name);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
