//! How long a bench measures. By default each group uses the full timing
//! its bench states. `VMLAB_BENCH_QUICK=1` is the quick mode: every group
//! and every backend that runs here still runs, so Criterion's report shows
//! all of them, but each with Criterion's minimum of 10 samples of one
//! iteration after a one-iteration warm-up, and fewer bootstrap resamples.
//! CI uses it to check the report; its figures are a first look only.
use std::sync::OnceLock;
use std::time::Duration;

use criterion::measurement::Measurement;
use criterion::{BenchmarkGroup, SamplingMode};

/// The variable that turns the quick mode on.
pub const VAR: &str = "VMLAB_BENCH_QUICK";

/// A group's timing: Criterion's settings, as the bench states them for
/// the full mode.
#[derive(Clone, Copy)]
pub struct Timing {
    pub sample_size: usize,
    pub warm_up: Duration,
    pub measurement: Duration,
    pub sampling: SamplingMode,
    pub nresamples: usize,
}

/// Criterion's minimum, for the benches whose one iteration is one boot
/// (memory, overhead): ten samples of one boot each. The quick mode then
/// changes only the bootstrap.
#[allow(dead_code)] // the benches that do not boot once per sample include this file too
pub const ONE_BOOT_PER_SAMPLE: Timing = Timing {
    sample_size: 10,
    warm_up: Duration::from_millis(1),
    measurement: Duration::from_millis(1),
    sampling: SamplingMode::Flat,
    nresamples: 2_000,
};

/// The quick mode's timing: 10 samples (Criterion's minimum), each of one
/// iteration (the target times are below any iteration's cost), so a group
/// costs 11 iterations per function.
const QUICK: Timing = Timing {
    sample_size: 10,
    warm_up: Duration::from_nanos(1),
    measurement: Duration::from_nanos(1),
    sampling: SamplingMode::Flat,
    nresamples: 2_000,
};

/// Whether the quick mode is on. An unreadable value ends the bench with
/// a message and exit status 2.
pub fn quick() -> bool {
    static QUICK_MODE: OnceLock<bool> = OnceLock::new();
    *QUICK_MODE.get_or_init(|| {
        let value = std::env::var(VAR).ok();
        match value.as_deref() {
            None | Some("") | Some("0") => false,
            Some("1") => true,
            Some(other) => {
                eprintln!("{VAR} must be 1 (quick mode) or 0 (full mode), not {other:?}");
                std::process::exit(2);
            }
        }
    })
}

/// The mode's name, as the record of what ran keeps it.
pub fn name() -> &'static str {
    if quick() {
        "quick"
    } else {
        "full"
    }
}

impl Timing {
    /// Sets `g` to this timing, or to the quick mode's when it is on.
    pub fn apply<'g, 'c, M: Measurement>(
        self,
        g: &'g mut BenchmarkGroup<'c, M>,
    ) -> &'g mut BenchmarkGroup<'c, M> {
        let t = if quick() { QUICK } else { self };
        g.sample_size(t.sample_size)
            .warm_up_time(t.warm_up)
            .measurement_time(t.measurement)
            .sampling_mode(t.sampling)
            .nresamples(t.nresamples)
    }
}
