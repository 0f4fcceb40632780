//! Samples into the reports crate's results model, and the short summary
//! printed at the end of `vmlab compare`.
use vmlab_reports::model::{
    BackendKind, BackendResult, BootOrigin, ImageSize, KernelSamples, MemorySample, Samples,
};
use vmlab_reports::stats;

use super::backend::{Probe, Sample, SkipReason};
use super::measured::Measured;

/// A backend that did not run, with why.
pub fn skipped(name: &str, kind: BackendKind, why: &SkipReason) -> BackendResult {
    BackendResult {
        name: name.to_string(),
        kind,
        available: false,
        skipped_reason: Some(why.0.clone()),
        version: None,
        emulated: false,
        boot: Samples::default(),
        overhead: Vec::new(),
        memory: None,
        image: None,
        notes: Vec::new(),
        ..BackendResult::default()
    }
}

/// A backend's figures from what the matrix measured. A backend whose first
/// boot failed is reported as skipped with that failure.
pub fn measured(
    name: &str,
    kind: BackendKind,
    origin: BootOrigin,
    probe: &Probe,
    m: &Measured,
    image: Option<ImageSize>,
) -> BackendResult {
    if let Some(f) = &m.failure {
        let mut r = skipped(name, kind, &SkipReason(format!("it failed here: {f}")));
        r.version = probe.version.clone();
        r.emulated = probe.emulated;
        r.notes = probe.notes.clone();
        r.failures = m.failures.clone();
        return r;
    }
    let mut boot = Samples {
        origin,
        ..Samples::default()
    };
    for s in &m.boot {
        boot.push_run(s.to_ready_ns, s.to_exit_ns, &s.phases);
    }
    if m.boot.iter().all(|s| s.round.is_some()) {
        boot.rounds = m.boot.iter().filter_map(|s| s.round).collect();
    }
    if m.boot.iter().all(|s| s.started_at_unix_ns.is_some()) {
        boot.started_at_unix_ns = m.boot.iter().filter_map(|s| s.started_at_unix_ns).collect();
    }
    let mut notes = probe.notes.clone();
    notes.extend(dropped_note(m));
    notes.extend(m.io_note.clone());
    BackendResult {
        name: name.to_string(),
        kind,
        available: true,
        skipped_reason: None,
        version: probe.version.clone(),
        emulated: probe.emulated,
        boot,
        overhead: kernel_samples(&m.overhead),
        memory: memory(&m.memory, &m.concurrent),
        image,
        notes,
        failures: m.failures.clone(),
        ..BackendResult::default()
    }
}

/// A note on the output compare dropped (bounded tails), if any was.
fn dropped_note(m: &Measured) -> Option<String> {
    let runs = [&m.boot, &m.overhead, &m.memory, &m.concurrent];
    let all = runs.iter().flat_map(|r| r.iter());
    let (n, bytes) = all
        .filter(|s| s.dropped_bytes > 0)
        .fold((0, 0u64), |(n, b), s| (n + 1, b + s.dropped_bytes));
    (n > 0).then(|| {
        format!(
            "output bounded: {bytes} bytes of console/stderr dropped over {n} runs \
             (compare keeps the last {} MiB of each)",
            vmlab_workload::tail::DEFAULT_CAP >> 20
        )
    })
}

/// ns/iteration per kernel across runs, kernels in first-seen order, with
/// each run's p50/p99 latency and throughput where the kernel reports them.
pub fn kernel_samples(runs: &[Sample]) -> Vec<KernelSamples> {
    let mut out: Vec<KernelSamples> = Vec::new();
    let lines = runs
        .iter()
        .flat_map(|s| &s.results)
        .filter_map(|l| match l {
            vmlab_workload_host::protocol::Line::Result(r) => Some(r),
            _ => None,
        });
    for r in lines {
        let name = r.name();
        let k = match out.iter().position(|k| k.kernel == name) {
            Some(i) => &mut out[i],
            None => {
                out.push(KernelSamples {
                    kernel: name,
                    ..KernelSamples::default()
                });
                out.last_mut().expect("just pushed")
            }
        };
        k.ns_per_iter.push(r.ns_per_iter);
        k.p50_ns.extend(r.p50_ns);
        k.p99_ns.extend(r.p99_ns);
        k.mib_per_s.extend(r.mib_per_s);
    }
    out
}

/// Memory from the memory runs: the median of the process tree's summed
/// peak RSS and of its peak summed PSS (one instance at a time), and, from
/// `concurrent` instances started at once, their summed PSS per instance
/// (shared pages split among the instances).
pub fn memory(runs: &[Sample], concurrent: &[Sample]) -> Option<MemorySample> {
    let median = |f: fn(&Sample) -> Option<u64>| {
        let xs: Vec<f64> = runs
            .iter()
            .filter_map(f)
            .filter(|&b| b > 0)
            .map(|b| b as f64)
            .collect();
        (!xs.is_empty()).then(|| stats::median(&xs) as u64)
    };
    let rss = median(|s| s.tree_hwm_bytes)?;
    let pss: Vec<u64> = concurrent.iter().filter_map(|s| s.tree_pss_bytes).collect();
    let per_instance = (pss.len() > 1 && pss.len() == concurrent.len())
        .then(|| pss.iter().sum::<u64>() / pss.len() as u64);
    Some(MemorySample {
        rss_bytes: rss,
        pss_bytes: median(|s| s.tree_pss_bytes),
        per_instance_bytes: per_instance,
        instances: if per_instance.is_some() {
            pss.len() as u32
        } else {
            1
        },
    })
}

/// One line per backend: median to-ready and to-exit, n, peak RSS; or why
/// it was skipped.
pub fn summary(backends: &[BackendResult]) -> String {
    let width = backends
        .iter()
        .map(|b| b.label().len())
        .max()
        .unwrap_or(7)
        .max(7);
    let mut out = format!(
        "{:<width$}  {:>12}  {:>12}  {:>4}  {:>9}\n",
        "backend", "to_ready ms", "to_exit ms", "n", "rss MiB"
    );
    for b in backends {
        if !b.available {
            out.push_str(&format!(
                "{:<width$}  skipped: {}\n",
                b.label(),
                b.skipped_reason.as_deref().unwrap_or("unavailable")
            ));
            continue;
        }
        let ms = |xs: &[u64]| {
            if xs.is_empty() {
                "-".to_string()
            } else {
                format!("{:.2}", stats::median(&stats::as_f64(xs)) / 1e6)
            }
        };
        let rss = b.memory.as_ref().map_or("-".to_string(), |m| {
            format!("{:.1}", m.rss_bytes as f64 / (1024.0 * 1024.0))
        });
        out.push_str(&format!(
            "{:<width$}  {:>12}  {:>12}  {:>4}  {:>9}\n",
            b.label(),
            ms(&b.boot.to_ready_ns),
            ms(&b.boot.to_exit_ns),
            b.boot.to_exit_ns.len(),
            rss
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::backend::tests::result;
    use super::*;
    use vmlab_reports::model::RunFailure;
    use vmlab_workload_host::protocol::Line;

    #[test]
    fn kernel_samples_keep_each_runs_latency_and_throughput() {
        let io = |p50: u64, mib: f64| {
            let Line::Result(mut r) = result("blk-rand", Some("read"), 100.0) else {
                unreachable!()
            };
            (r.p50_ns, r.p99_ns, r.mib_per_s) = (Some(p50), Some(p50 * 3), Some(mib));
            Line::Result(r)
        };
        let runs = [
            sample(1, 0, vec![io(90, 39.0), result("cpu", None, 2.0)]),
            sample(1, 0, vec![io(95, 38.0), result("cpu", None, 3.0)]),
        ];
        let k = kernel_samples(&runs);
        assert_eq!(k[0].kernel, "blk-rand/read");
        assert_eq!(
            (k[0].p50_ns.clone(), k[0].p99_ns.clone()),
            (vec![90, 95], vec![270, 285])
        );
        assert_eq!(k[0].mib_per_s, vec![39.0, 38.0]);
        assert!(k[1].p50_ns.is_empty() && k[1].mib_per_s.is_empty());
        assert_eq!(k[1].ns_per_iter, vec![2.0, 3.0]);
    }

    fn sample(ready: u64, rss: u64, results: Vec<Line>) -> Sample {
        Sample {
            to_ready_ns: Some(ready),
            to_exit_ns: ready + 100,
            phases: vec![
                ("launch".into(), 10),
                ("exec".into(), ready.saturating_sub(5)),
            ],
            results,
            max_rss_bytes: 0,
            tree_hwm_bytes: Some(rss),
            tree_pss_bytes: Some(rss / 2),
            dropped_bytes: 0,
            round: Some(ready as u32 / 1000),
            started_at_unix_ns: Some(ready * 7),
        }
    }

    #[test]
    fn samples_aggregate_into_the_model() {
        let cpu = |ns: f64| result("cpu", None, ns);
        let fork = result("spawn", Some("fork"), 50.0);
        let m = Measured {
            boot: vec![
                sample(1000, 1, vec![]),
                sample(3000, 1, vec![]),
                sample(2000, 1, vec![]),
            ],
            memory: vec![
                sample(1, 3 << 20, vec![]),
                sample(1, 5 << 20, vec![]),
                sample(1, 4 << 20, vec![]),
            ],
            overhead: vec![
                sample(1, 1, vec![cpu(2.0), fork]),
                sample(1, 1, vec![cpu(4.0)]),
            ],
            concurrent: vec![sample(1, 2 << 20, vec![]), sample(1, 4 << 20, vec![])],
            failure: None,
            failures: vec![RunFailure {
                purpose: "boot".into(),
                round: Some(4),
                timed_out: true,
                limit_ns: Some(30_000_000_000),
                reason: "stopped".into(),
            }],
            kernel_errors: vec![],
            io_note: Some("no I/O kernels: x".into()),
        };
        let probe = Probe {
            version: Some("crun version 1.8.1".into()),
            ..Probe::default()
        };
        let r = measured(
            "crun",
            BackendKind::Container,
            BootOrigin::Spawn,
            &probe,
            &m,
            None,
        );
        assert!(r.available);
        assert_eq!(r.version.as_deref(), Some("crun version 1.8.1"));
        assert_eq!(r.boot.to_ready_ns, vec![1000, 3000, 2000]);
        assert_eq!(r.boot.to_exit_ns, vec![1100, 3100, 2100]);
        assert_eq!(r.boot.rounds, vec![1, 3, 2]);
        assert_eq!(r.boot.started_at_unix_ns, vec![7000, 21000, 14000]);
        assert_eq!(r.failures.len(), 1);
        assert_eq!(r.failures[0].limit_ns, Some(30_000_000_000));
        assert_eq!(r.boot.phases[0].name, "launch");
        assert_eq!(r.boot.phases[1].ns, vec![985, 2985, 1985]);
        assert_eq!(r.overhead.len(), 2);
        assert_eq!(r.overhead[0].kernel, "cpu");
        assert_eq!(r.overhead[0].ns_per_iter, vec![2.0, 4.0]);
        assert_eq!(r.overhead[1].kernel, "spawn/fork");
        let mem = r.memory.clone().unwrap();
        assert_eq!((mem.rss_bytes, mem.pss_bytes), (4 << 20, Some(2 << 20)));
        assert_eq!((mem.per_instance_bytes, mem.instances), (Some(3 << 19), 2));
        let text = summary(&[r]);
        assert!(text.lines().nth(1).unwrap().contains("0.00"), "{text}");
    }

    #[test]
    fn dropped_output_is_noted() {
        let probe = Probe::default();
        let result = |m: &Measured| {
            measured(
                "bwrap",
                BackendKind::Container,
                BootOrigin::Spawn,
                &probe,
                m,
                None,
            )
        };
        let mut m = Measured {
            boot: vec![sample(1000, 1, vec![])],
            ..Measured::default()
        };
        assert!(result(&m).notes.is_empty());
        let mut flooded = sample(1000, 1, vec![]);
        flooded.dropped_bytes = 7000;
        m.boot.push(flooded.clone());
        m.overhead.push(flooded);
        let notes = result(&m).notes;
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(
            notes[0].contains("14000 bytes") && notes[0].contains("2 runs"),
            "{notes:?}"
        );
    }

    #[test]
    fn failures_and_skips_keep_their_reason() {
        let m = Measured {
            failure: Some("crun exited with code 1: cgroups".into()),
            ..Measured::default()
        };
        let r = measured(
            "crun",
            BackendKind::Container,
            BootOrigin::Spawn,
            &Probe::default(),
            &m,
            None,
        );
        assert!(!r.available);
        assert!(r.skipped_reason.as_deref().unwrap().contains("cgroups"));
        let s = skipped(
            "runsc",
            BackendKind::Container,
            &SkipReason("runsc is not installed".into()),
        );
        assert!(!s.available);
        let text = summary(&[r, s]);
        assert!(text.contains("skipped: runsc is not installed"), "{text}");
        assert_eq!(memory(&[], &[]), None);
    }
}
