//! The run matrix: warm-up boots, then rounds in which every backend boots
//! once, in an order drawn at random for each round from the plan's seed
//! ([`order`](super::order)) so that drift (thermal, other load, page
//! cache) hits every backend alike. Backends that create a
//! network namespace are followed by a short cool-down: the kernel tears
//! those down asynchronously, and the next boot should not pay for it.
//!
//! Boot rounds run the workload with no kernel (ready, then exit); overhead
//! rounds run the kernels with a small time budget each.
use std::time::Duration;

use super::backend::{Backend, Sample};
use super::measured::{failure_of, unix_now_ns, Measured, Purpose};
use super::order::SplitMix64;
use super::progress::Progress;

/// The kernels every backend runs (the bare guest has only these).
pub const SHARED_KERNELS: [&str; 4] = ["cpu", "memory", "pagetouch", "crossing"];

/// The kernels that need Linux (process, containers, Linux guests).
pub const LINUX_KERNELS: [&str; 4] = ["spawn", "pipe", "file", "tcp"];

/// How many runs of what.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Unmeasured boots per backend before the rounds.
    pub warmup: u32,
    /// Measured boot rounds.
    pub runs: u32,
    /// Measured overhead rounds.
    pub overhead_runs: u32,
    /// The time budget per kernel in overhead rounds (`--time`).
    pub kernel_time: String,
    /// Boots and overhead runs of slow backends (emulated VMs).
    pub slow_runs: u32,
    /// Overhead runs of slow backends.
    pub slow_overhead_runs: u32,
    /// Memory runs (boots with the process tree's RSS sampled), after the rounds.
    pub memory_runs: u32,
    /// Memory runs of slow backends.
    pub slow_memory_runs: u32,
    /// Instances started at once for the per-instance memory cost (fast
    /// backends only; below 2: not measured).
    pub instances: u32,
    /// Rounds of the I/O kernels ([`super::io`]).
    pub io_runs: u32,
    /// Pause after a backend that created a network namespace.
    pub cooldown: Duration,
    /// Seed of the order within each round.
    pub seed: u64,
}

impl Plan {
    /// The plan for `runs` rounds (`--quick` shortens everything), the
    /// order within each round drawn from `seed`.
    pub fn new(runs: u32, quick: bool, seed: u64) -> Plan {
        if quick {
            Plan {
                warmup: 1,
                runs,
                overhead_runs: runs.min(3),
                kernel_time: "20ms".into(),
                slow_runs: 2,
                slow_overhead_runs: 1,
                memory_runs: 2,
                slow_memory_runs: 1,
                instances: 3,
                io_runs: runs.min(3),
                cooldown: Duration::from_millis(20),
                seed,
            }
        } else {
            Plan {
                warmup: 2,
                runs,
                overhead_runs: runs.clamp(1, 10),
                kernel_time: "100ms".into(),
                slow_runs: 3,
                slow_overhead_runs: 1,
                memory_runs: 5,
                slow_memory_runs: 1,
                instances: 4,
                // As many as the overhead runs: a ratio's interval needs
                // n ≥ 7 on each side.
                io_runs: runs.clamp(1, 10),
                cooldown: Duration::from_millis(50),
                seed,
            }
        }
    }

    /// Boots planned for `b` (warm-up included), overhead runs and memory runs.
    pub fn counts(&self, b: &dyn Backend) -> (u32, u32, u32) {
        match b.max_runs() {
            Some(max) => (
                self.slow_runs.min(max),
                self.slow_overhead_runs.min(max),
                self.slow_memory_runs.min(max),
            ),
            None => (
                self.warmup + self.runs,
                self.overhead_runs,
                self.memory_runs,
            ),
        }
    }

    /// The workload's arguments in overhead rounds.
    pub fn kernel_args(&self, linux: bool) -> Vec<String> {
        let mut args: Vec<String> = SHARED_KERNELS.iter().map(|k| k.to_string()).collect();
        if linux {
            args.extend(LINUX_KERNELS.iter().map(|k| k.to_string()));
        }
        args.push("--time".into());
        args.push(self.kernel_time.clone());
        args
    }
}

/// Runs the matrix over `backends` (all probed available).
pub fn run(backends: &[&dyn Backend], plan: &Plan, progress: &Progress) -> Vec<Measured> {
    let mut out = vec![Measured::default(); backends.len()];
    let mut done = vec![(0u32, 0u32); backends.len()];
    let planned: Vec<(u32, u32, u32)> = backends.iter().map(|b| plan.counts(*b)).collect();
    // Warm-up: a failing first boot drops the backend with its reason.
    for (i, b) in backends.iter().enumerate() {
        if b.max_runs().is_some() {
            continue;
        }
        for _ in 0..plan.warmup {
            progress.step(&format!("warm-up {}", b.name()));
            done[i].0 += 1;
            let started = unix_now_ns();
            out[i].record(b.boot(&[], false), Purpose::Warmup, None, started);
            cool_down(*b, plan);
            if out[i].failure.is_some() {
                break;
            }
        }
    }
    let rounds = planned.iter().map(|p| p.0 + p.1).max().unwrap_or(0);
    let mut rng = SplitMix64::new(plan.seed);
    for round in 0..rounds {
        for i in rng.permutation(backends.len()) {
            let b = backends[i];
            if out[i].failure.is_some() {
                continue;
            }
            let (args, purpose, n, of) = if done[i].0 < planned[i].0 {
                done[i].0 += 1;
                (Vec::new(), Purpose::Boot, done[i].0, planned[i].0)
            } else if done[i].1 < planned[i].1 {
                done[i].1 += 1;
                let args = plan.kernel_args(b.linux_kernels());
                (args, Purpose::Overhead, done[i].1, planned[i].1)
            } else {
                continue;
            };
            let what = if purpose == Purpose::Boot {
                "boot"
            } else {
                "kernels"
            };
            progress.step(&format!("{what} {} ({n}/{of})", b.name()));
            let started = unix_now_ns();
            out[i].record(b.boot(&args, false), purpose, Some(round), started);
            cool_down(b, plan);
        }
    }
    super::io::run(backends, plan, &mut out, progress);
    // Memory last, one backend at a time, so the sampler's CPU use never
    // overlaps a timed run.
    for (i, b) in backends.iter().enumerate() {
        memory_runs(*b, plan, planned[i].2, &mut out[i], progress);
    }
    out
}

/// The memory runs of `b`, then its several-at-once run.
fn memory_runs(b: &dyn Backend, plan: &Plan, runs: u32, out: &mut Measured, progress: &Progress) {
    for n in 0..runs {
        if out.failure.is_some() {
            return;
        }
        progress.step(&format!("memory {} ({}/{runs})", b.name(), n + 1));
        let started = unix_now_ns();
        out.record(b.boot(&[], true), Purpose::Memory, None, started);
        cool_down(b, plan);
    }
    if out.failure.is_none() && concurrent(b, plan) {
        progress.step(&format!("memory {} ({} at once)", b.name(), plan.instances));
        match at_once(b, plan.instances) {
            Ok(samples) => out.concurrent = samples,
            Err(e) => out.failures.push(failure_of(&e, Purpose::Memory, None)),
        }
        cool_down(b, plan);
    }
}

/// Whether `b` gets the several-at-once memory run.
fn concurrent(b: &dyn Backend, plan: &Plan) -> bool {
    plan.instances > 1 && b.max_runs().is_none()
}

/// Boots `n` instances of `b` at once, each process tree sampled.
fn at_once(b: &dyn Backend, n: u32) -> anyhow::Result<Vec<Sample>> {
    std::thread::scope(|s| {
        let threads: Vec<_> = (0..n).map(|_| s.spawn(|| b.boot(&[], true))).collect();
        threads
            .into_iter()
            .map(|t| {
                t.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a boot thread panicked")))
            })
            .collect()
    })
}

/// Steps `run` will report for `backends` (for the progress bar's length).
pub fn total_steps(backends: &[&dyn Backend], plan: &Plan) -> u64 {
    backends
        .iter()
        .map(|b| {
            let (boots, overhead, memory) = plan.counts(*b);
            u64::from(boots + overhead + memory + u32::from(concurrent(*b, plan)))
        })
        .sum::<u64>()
        + super::io::steps(backends, plan)
}

fn cool_down(b: &dyn Backend, plan: &Plan) {
    if b.new_netns() {
        std::thread::sleep(plan.cooldown);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::id::BackendId;

    /// A backend that records its boots into a shared log.
    struct Fake<'a> {
        name: &'static str,
        log: &'a Mutex<Vec<String>>,
        fail_first: bool,
        slow: bool,
    }

    impl Backend for Fake<'_> {
        fn id(&self) -> BackendId {
            BackendId::Crun
        }
        fn name(&self) -> &'static str {
            self.name
        }
        fn command(&self, _: &[String]) -> anyhow::Result<super::super::backend::Prepared<'_>> {
            anyhow::bail!("a fake has no command")
        }
        fn boot(&self, args: &[String], memory: bool) -> anyhow::Result<Sample> {
            let what = match (args.is_empty(), memory) {
                (_, true) => "memory",
                (true, false) => "boot",
                (false, false) => "kernels",
            };
            self.log
                .lock()
                .unwrap()
                .push(format!("{} {what}", self.name));
            if self.fail_first {
                anyhow::bail!("{} cannot start", self.name);
            }
            Ok(Sample {
                to_ready_ns: Some(1),
                to_exit_ns: 2,
                tree_hwm_bytes: memory.then_some(4096),
                ..Sample::default()
            })
        }
        fn max_runs(&self) -> Option<u32> {
            self.slow.then_some(1)
        }
    }

    #[test]
    fn rounds_interleave_and_failures_drop_a_backend() {
        let log = Mutex::new(Vec::new());
        let fake = |name, fail_first, slow| Fake {
            name,
            log: &log,
            fail_first,
            slow,
        };
        let (a, b, c, d) = (
            fake("a", false, false),
            fake("b", false, false),
            fake("bad", true, false),
            fake("slow", false, true),
        );
        let backends: Vec<&dyn Backend> = vec![&a, &b, &c, &d];
        let mut plan = Plan::new(2, true, 99);
        plan.overhead_runs = 1;
        plan.memory_runs = 1;
        plan.instances = 2;
        plan.slow_overhead_runs = 0;
        plan.slow_memory_runs = 0;
        plan.cooldown = Duration::ZERO;
        let m = run(&backends, &plan, &Progress::hidden());
        let log = log.lock().unwrap().clone();
        // Warm-up in order; "bad" fails there and never runs again.
        assert_eq!(&log[..3], ["a boot", "b boot", "bad boot"]);
        assert_eq!(log.iter().filter(|l| l.starts_with("bad")).count(), 1);
        // Each round in the seed's order: round 0 boots a, b and slow; round
        // 1 boots a and b; round 2 runs their kernels.
        let mut rng = SplitMix64::new(99);
        let names = ["a", "b", "bad", "slow"];
        let mut expected = Vec::new();
        for (round, what) in [(0, "boot"), (1, "boot"), (2, "kernels")] {
            for i in rng.permutation(4) {
                if i == 2 || (i == 3 && round > 0) {
                    continue;
                }
                expected.push(format!("{} {what}", names[i]));
            }
        }
        let memory = [
            "a memory", "a memory", "a memory", "b memory", "b memory", "b memory",
        ];
        expected.extend(memory.iter().map(|s| s.to_string()));
        assert_eq!(&log[3..], expected);
        assert_eq!(
            m[0].boot.iter().map(|s| s.round).collect::<Vec<_>>(),
            [Some(0), Some(1)]
        );
        assert!(m[0].boot.iter().all(|s| s.started_at_unix_ns.unwrap() > 0));
        assert_eq!(m[2].failures.len(), 1);
        assert_eq!(m[2].failures[0].purpose, "warm-up");
        assert_eq!(m[0].concurrent.len(), 2);
        assert_eq!(
            (m[0].boot.len(), m[0].overhead.len(), m[0].memory.len()),
            (2, 1, 1)
        );
        assert_eq!((m[1].boot.len(), m[1].overhead.len()), (2, 1));
        assert!(m[2]
            .failure
            .as_deref()
            .unwrap()
            .contains("bad cannot start"));
        assert_eq!((m[3].boot.len(), m[3].overhead.len()), (1, 0));
        assert_eq!(total_steps(&backends, &plan), 3 * 6 + 1);
    }

    #[test]
    fn kernel_args_per_backend() {
        let plan = Plan::new(5, true, 0);
        assert_eq!(
            plan.kernel_args(false),
            ["cpu", "memory", "pagetouch", "crossing", "--time", "20ms"]
        );
        assert_eq!(plan.kernel_args(true).len(), 10);
    }
}
