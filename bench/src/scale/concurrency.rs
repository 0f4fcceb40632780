//! Concurrency: waves of boots started together, each instance held until
//! the whole wave is ready, then all released.
use std::sync::Barrier;
use std::time::{Duration, Instant};

use vmlab_reports::model::ConcurrencyLevel;
use vmlab_reports::stats::quantile;

use super::holders::Holder;
use super::{Settings, Stopper};

/// Fewest boots measured at each level (several waves when the level is
/// smaller), so that its percentiles rest on some samples.
pub const MIN_SAMPLES: u32 = 32;

/// Waves at least this large wait for the host to settle first (as every
/// level does): the previous wave's network namespaces and cgroups are torn
/// down by the kernel after their release, on the same CPUs.
const SETTLE_FROM: u32 = 8;

/// The longest wait for the host to settle ([`super::host::settle`]).
const SETTLE_MAX: Duration = Duration::from_secs(2);

/// One instance of a wave: when it was spawned, how long it took.
pub type Boot = Result<(Instant, Duration), String>;

/// One wave of `c` boots at once, each held until all are ready, then
/// released.
pub fn wave(holder: &dyn Holder, c: u32) -> Vec<Boot> {
    let go = Barrier::new(c as usize);
    let done = Barrier::new(c as usize);
    std::thread::scope(|scope| {
        let threads: Vec<_> = (0..c)
            .map(|_| {
                scope.spawn(|| {
                    go.wait();
                    let t = Instant::now();
                    let held = holder.start_held();
                    let boot = match &held {
                        Ok(h) => Ok((t, Duration::from_nanos(h.to_ready_ns))),
                        Err(e) => Err(format!("{e:#}")),
                    };
                    // Every one of the wave is held until all are ready;
                    // each thread releases its own (the launcher dies with
                    // the thread that spawned it).
                    done.wait();
                    if let Ok(h) = held {
                        if let Err(e) = h.release() {
                            return Err(format!("release: {e:#}"));
                        }
                    }
                    boot
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|t| t.join().unwrap_or_else(|_| Err("a start panicked".into())))
            .collect()
    })
}

/// The levels `s` asks for, each measured in waves, each level (and each
/// large wave) after the host settled; stops at the time limit (or a
/// signal) after the level under way.
pub fn run(holder: &dyn Holder, s: &Settings, stop: &Stopper) -> Vec<ConcurrencyLevel> {
    let t0 = Instant::now();
    let mut out = Vec::new();
    for &c in s.levels.iter().filter(|&&c| c <= s.max) {
        if stop.fired() || t0.elapsed() >= s.time_limit {
            break;
        }
        let waves = MIN_SAMPLES.div_ceil(c);
        let mut level = ConcurrencyLevel {
            concurrency: c,
            ..Default::default()
        };
        let mut wall = Duration::ZERO;
        for w in 0..waves {
            if w == 0 || c >= SETTLE_FROM {
                super::host::settle(SETTLE_MAX);
            }
            let boots = wave(holder, c);
            let ok: Vec<_> = boots.iter().filter_map(|b| b.as_ref().ok()).collect();
            if let (Some(first), Some(last)) = (
                ok.iter().map(|(t, _)| *t).min(),
                ok.iter().map(|(t, d)| *t + *d).max(),
            ) {
                wall += last - first;
            }
            level
                .to_ready_ns
                .extend(ok.iter().map(|(_, d)| d.as_nanos() as u64));
            for b in &boots {
                if let Err(e) = b {
                    level.failures += 1;
                    level.failure.get_or_insert_with(|| e.clone());
                }
            }
            if stop.fired() || t0.elapsed() >= s.time_limit {
                break;
            }
        }
        summarize(&mut level, wall);
        out.push(level);
    }
    out
}

/// Percentiles and throughput of a measured level.
fn summarize(level: &mut ConcurrencyLevel, wall: Duration) {
    let xs: Vec<f64> = level.to_ready_ns.iter().map(|&n| n as f64).collect();
    if !xs.is_empty() {
        level.p50_ns = Some(quantile(&xs, 0.5));
        level.p90_ns = Some(quantile(&xs, 0.9));
        level.p99_ns = Some(quantile(&xs, 0.99));
    }
    if !wall.is_zero() && !xs.is_empty() {
        level.creations_per_s = Some(xs.len() as f64 / wall.as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_level_gets_percentiles_and_a_rate() {
        let mut l = ConcurrencyLevel {
            concurrency: 4,
            to_ready_ns: (1..=100).map(|i| i * 1000).collect(),
            ..Default::default()
        };
        summarize(&mut l, Duration::from_millis(500));
        assert_eq!(l.p50_ns.map(f64::round), Some(50_500.0));
        assert!(l.p99_ns.unwrap() > l.p90_ns.unwrap());
        assert_eq!(l.creations_per_s, Some(200.0));
        let mut empty = ConcurrencyLevel::default();
        summarize(&mut empty, Duration::ZERO);
        assert_eq!((empty.p50_ns, empty.creations_per_s), (None, None));
    }
}
