//! What a held jailed VM costs, part by part: holds `N` instances of the
//! `vm-bare` row (jailed VMMs from the fork server) or of `vm-bare-run`
//! (`vmlab run` per instance), then prints the host's memory deltas per
//! instance (MemAvailable, slab, kernel stacks, page tables, per-cpu,
//! vmalloc, anonymous pages), the instances' own processes (RSS, PSS,
//! private bytes, page tables from `/proc/PID/smaps_rollup` and `status`),
//! the vmlab cgroups' charge, and the slab caches that grew most. A
//! measuring tool, not a test (root, `/dev/kvm`):
//!
//! ```text
//! cargo run --release -p vmlab-bench --example zygote_density -- zygote|run N [VMLAB] [IMAGES]
//! ```
use std::collections::BTreeMap;
use std::path::PathBuf;

use vmlab_bench::scale::zygote::{run_row::RunVm, Zygote};
use vmlab_bench::scale::{release_all, Holder};

fn kib(text: &str, field: &str) -> i64 {
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

const MEMINFO: &[&str] = &[
    "MemAvailable",
    "AnonPages",
    "Shmem",
    "Slab",
    "SReclaimable",
    "SUnreclaim",
    "KernelStack",
    "PageTables",
    "Percpu",
    "VmallocUsed",
];

fn meminfo() -> BTreeMap<&'static str, i64> {
    let t = std::fs::read_to_string("/proc/meminfo").unwrap();
    MEMINFO.iter().map(|&f| (f, kib(&t, f))).collect()
}

/// Bytes per slab cache (objects × object size).
fn slabs() -> BTreeMap<String, i64> {
    let t = std::fs::read_to_string("/proc/slabinfo").unwrap_or_default();
    t.lines()
        .skip(2)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let objs: i64 = f.get(2)?.parse().ok()?;
            let size: i64 = f.get(3)?.parse().ok()?;
            Some((f[0].to_string(), objs * size))
        })
        .collect()
}

fn cgroup_bytes() -> i64 {
    [
        "/sys/fs/cgroup/memory/vmlab/memory.usage_in_bytes",
        "/sys/fs/cgroup/vmlab/memory.current",
    ]
    .iter()
    .find_map(|f| std::fs::read_to_string(f).ok()?.trim().parse().ok())
    .unwrap_or(0)
}

/// The instance's processes: `pid` and its descendants.
fn tree(pid: u32) -> Vec<u32> {
    let mut out = vec![pid];
    let mut i = 0;
    while i < out.len() {
        let p = out[i];
        let kids =
            std::fs::read_to_string(format!("/proc/{p}/task/{p}/children")).unwrap_or_default();
        out.extend(
            kids.split_whitespace()
                .filter_map(|k| k.parse::<u32>().ok()),
        );
        i += 1;
    }
    out
}

/// Summed KiB over `pids`: Rss, Pss, private, anonymous, page tables.
fn own(pids: &[u32]) -> BTreeMap<&'static str, i64> {
    let mut sum = BTreeMap::new();
    for &pid in pids {
        let roll = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let private = kib(&roll, "Private_Clean") + kib(&roll, "Private_Dirty");
        for (k, v) in [
            ("processes", 1),
            ("Rss", kib(&roll, "Rss")),
            ("Pss", kib(&roll, "Pss")),
            ("Private", private),
            ("Anonymous", kib(&roll, "Anonymous")),
            ("VmPTE", kib(&status, "VmPTE")),
        ] {
            *sum.entry(k).or_insert(0) += v;
        }
    }
    sum
}

/// Summed bytes over the VMMs' own v1 memory cgroups (each VMM has one):
/// usage, its kernel part, and `memory.stat`'s rss and cache.
fn own_cgroups(pids: &[u32]) -> BTreeMap<&'static str, i64> {
    let mut sum = BTreeMap::new();
    for &pid in pids {
        let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
        let Some(path) = text.lines().find_map(|l| {
            let (ctrls, path) = l.split_once(':')?.1.split_once(':')?;
            (ctrls.split(',').any(|c| c == "memory") && path.contains("/vmlab/")).then_some(path)
        }) else {
            continue;
        };
        let dir = format!("/sys/fs/cgroup/memory{path}");
        let read = |f: &str| -> i64 {
            std::fs::read_to_string(format!("{dir}/{f}"))
                .ok()
                .and_then(|t| t.trim().parse().ok())
                .unwrap_or(0)
        };
        let stat = std::fs::read_to_string(format!("{dir}/memory.stat")).unwrap_or_default();
        let stat_of = |k: &str| -> i64 {
            stat.lines()
                .find_map(|l| l.strip_prefix(k)?.strip_prefix(' ')?.trim().parse().ok())
                .unwrap_or(0)
        };
        for (k, v) in [
            ("cgroups", 1),
            ("usage", read("memory.usage_in_bytes")),
            ("kmem", read("memory.kmem.usage_in_bytes")),
            ("rss", stat_of("rss")),
            ("cache", stat_of("cache")),
        ] {
            *sum.entry(k).or_insert(0) += v;
        }
    }
    sum
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let which = args.get(1).map_or("zygote", String::as_str).to_string();
    let n: usize = args.get(2).and_then(|v| v.parse().ok()).unwrap_or(500);
    let exe = PathBuf::from(
        args.get(3)
            .cloned()
            .unwrap_or_else(|| "target/x86_64-unknown-linux-gnu/release/vmlab".into()),
    );
    let images = PathBuf::from(
        args.get(4)
            .cloned()
            .unwrap_or_else(|| "target/vmlab/images".into()),
    );
    vmlab_vmm::held::raise_fd_limit(1 << 16).expect("the fd limit can be raised");
    let holder: Box<dyn Holder> = match which.as_str() {
        "zygote" => Box::new(Zygote::start(&exe).expect("the fork server starts")),
        "run" => Box::new(RunVm::new(exe, images)),
        other => panic!("{other}: zygote or run"),
    };
    // Warm up: the first instance pays for lazily mapped code and caches.
    holder.start_held().unwrap().release().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    let (m0, s0, c0) = (meminfo(), slabs(), cgroup_bytes());
    let t = std::time::Instant::now();
    let mut held = Vec::with_capacity(n);
    for _ in 0..n {
        held.push(holder.start_held().expect("an instance starts"));
    }
    let secs = t.elapsed().as_secs_f64();
    std::thread::sleep(std::time::Duration::from_millis(500));
    let (m1, s1, c1) = (meminfo(), slabs(), cgroup_bytes());
    let pids: Vec<u32> = held.iter().filter_map(|h| h.pid()).flat_map(tree).collect();
    let mine = own(&pids);
    let charged = own_cgroups(&pids);
    let per = |d: i64| d as f64 / n as f64;
    println!(
        "{which}: {n} held in {secs:.1} s ({:.0}/s, one at a time)",
        n as f64 / secs
    );
    println!("host, KiB per instance (after - before):");
    for f in MEMINFO {
        let d = m1[f] - m0[f];
        let d = if *f == "MemAvailable" { -d } else { d };
        println!("  {f:<14} {:>8.1}", per(d));
    }
    println!("  vmlab cgroups  {:>8.1}", per(c1 - c0) / 1024.0);
    println!("the instances' processes, KiB per instance:");
    for (k, v) in &mine {
        println!("  {k:<14} {:>8.1}", per(*v));
    }
    println!("the VMMs' own cgroups (v1 memory), KiB per instance:");
    for (k, v) in &charged {
        let v = if *k == "cgroups" { *v * 1024 } else { *v };
        println!("  {k:<14} {:>8.1}", per(v) / 1024.0);
    }
    let mut grew: Vec<(String, i64)> = s1
        .iter()
        .map(|(k, v)| (k.clone(), v - s0.get(k).copied().unwrap_or(0)))
        .filter(|(_, d)| *d > 0)
        .collect();
    grew.sort_by_key(|(_, d)| -d);
    println!("slab caches that grew most, KiB per instance:");
    for (k, d) in grew.iter().take(15) {
        println!("  {k:<28} {:>8.1}", per(*d) / 1024.0);
    }
    release_all(held).expect("every instance releases");
    std::thread::sleep(std::time::Duration::from_millis(500));
    let m2 = meminfo();
    println!(
        "released: MemAvailable back by {:.1} KiB per instance",
        per(m2["MemAvailable"] - m1["MemAvailable"])
    );
}
