//! Measures what held bare VMs cost: starts `N` of them in this process
//! (on `THREADS` threads), samples the host's memory after every `STEP`,
//! then releases them all. A measuring tool, not a test:
//!
//! ```text
//! cargo run --release -p vmlab-vmm --example held_density -- N [THREADS] [STEP] [MEM_MIB] [ARGS]
//! ```
//!
//! Prints one line per step: instances, MemAvailable drop (KiB), this
//! process's RSS and page tables (KiB), the kernel's slab, kernel stacks
//! and page tables (KiB), and the start rate; then the least-squares slope
//! of the MemAvailable drop over N (KiB per instance).
use std::sync::Mutex;
use std::time::{Duration, Instant};

use vmlab_vmm::{HeldVm, Host, VmConfig};

fn meminfo(field: &str) -> u64 {
    kib_field(&std::fs::read_to_string("/proc/meminfo").unwrap(), field)
}

fn kib_field(text: &str, field: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn arg<T: std::str::FromStr>(i: usize, default: T) -> T {
    std::env::args()
        .nth(i)
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let n: usize = arg(1, 1000);
    let threads: usize = arg(2, 1).max(1);
    let step: usize = arg(3, 100).max(1);
    let mem_mib: u64 = arg(4, 2);
    let args: String = arg(5, "--hold".to_string());
    vmlab_vmm::held::raise_fd_limit(0).expect("the fd limit can be raised");
    let elf = vmlab_images::embedded::GUEST;
    let host = Host::open().expect("KVM");
    let config = || VmConfig::bare(elf, &args, mem_mib, Duration::from_secs(30));
    // Warm up (allocator, signal handler, lazily mapped code).
    HeldVm::start(&host, config()).unwrap().release().unwrap();
    let base = meminfo("MemAvailable");
    let status = |f: &str| kib_field(&std::fs::read_to_string("/proc/self/status").unwrap(), f);
    let k0 = (
        meminfo("Slab"),
        meminfo("KernelStack"),
        meminfo("PageTables"),
    );
    let info0 = std::fs::read_to_string("/proc/meminfo").unwrap();
    let held = Mutex::new(Vec::with_capacity(n));
    let mut points = Vec::new();
    let t0 = Instant::now();
    let mut ready_ns = Vec::with_capacity(n);
    while held.lock().unwrap().len() < n {
        let have = held.lock().unwrap().len();
        let batch = step.min(n - have);
        let t = Instant::now();
        std::thread::scope(|s| {
            for w in 0..threads {
                let (host, held, config) = (&host, &held, &config);
                s.spawn(move || {
                    let mine = (w..batch).step_by(threads).count();
                    for _ in 0..mine {
                        let vm = HeldVm::start(host, config()).expect("a held VM starts");
                        held.lock().unwrap().push(vm);
                    }
                });
            }
        });
        let secs = t.elapsed().as_secs_f64();
        let count = held.lock().unwrap().len();
        ready_ns.extend(held.lock().unwrap()[have..].iter().map(HeldVm::to_ready_ns));
        let drop = base.saturating_sub(meminfo("MemAvailable"));
        points.push((count as f64, drop as f64));
        println!(
            "n={count} memavail_drop_kib={drop} rss_kib={} vmpte_kib={} slab_kib=+{} kstack_kib=+{} pagetables_kib=+{} starts_per_s={:.0}",
            status("VmRSS"),
            status("VmPTE"),
            meminfo("Slab").saturating_sub(k0.0),
            meminfo("KernelStack").saturating_sub(k0.1),
            meminfo("PageTables").saturating_sub(k0.2),
            batch as f64 / secs,
        );
    }
    let total = t0.elapsed().as_secs_f64();
    let (sx, sy) = points
        .iter()
        .fold((0.0, 0.0), |a, p| (a.0 + p.0, a.1 + p.1));
    let m = points.len() as f64;
    let (mx, my) = (sx / m, sy / m);
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    ready_ns.sort_unstable();
    let q = |p: f64| ready_ns[((ready_ns.len() - 1) as f64 * p) as usize] as f64 / 1e6;
    println!(
        "slope_kib_per_vm={:.1} overall_starts_per_s={:.0} to_ready_ms p50={:.3} p90={:.3} p99={:.3}",
        if sxx > 0.0 { sxy / sxx } else { f64::NAN },
        n as f64 / total,
        q(0.5),
        q(0.9),
        q(0.99)
    );
    // Every /proc/meminfo field that moved by more than 1 KiB per VM.
    let info1 = std::fs::read_to_string("/proc/meminfo").unwrap();
    for line in info1.lines() {
        let name = line.split(':').next().unwrap_or("");
        let d = kib_field(&info1, name) as i64 - kib_field(&info0, name) as i64;
        if d.unsigned_abs() > n as u64 {
            println!(
                "meminfo {name}: {:+} KiB ({:+.1} per VM)",
                d,
                d as f64 / n as f64
            );
        }
    }
    let avail_held = meminfo("MemAvailable");
    let vms = std::mem::take(&mut *held.lock().unwrap());
    let t = Instant::now();
    let outcomes: Vec<_> = vms.into_iter().filter_map(|vm| vm.release().ok()).collect();
    let secs = t.elapsed().as_secs_f64();
    let ok = outcomes.iter().filter(|o| o.exit_code == 0).count();
    let back = meminfo("MemAvailable").saturating_sub(avail_held);
    println!(
        "released {ok}/{n} in {secs:.3} s; MemAvailable rose {back} KiB ({:.1} per VM)",
        back as f64 / n as f64
    );
    // Mean length of each start-up step (µs).
    let mut steps: Vec<(&str, f64)> = Vec::new();
    for o in &outcomes {
        let mut prev = 0;
        for (i, &(name, at)) in o.phases.iter().enumerate() {
            if steps.len() <= i {
                steps.push((name, 0.0));
            }
            steps[i].1 += (at - prev) as f64 / 1e3 / outcomes.len() as f64;
            prev = at;
        }
    }
    let line: Vec<String> = steps
        .iter()
        .map(|(n, us)| format!("{n}={us:.0}us"))
        .collect();
    println!("mean steps: {}", line.join(" "));
}
