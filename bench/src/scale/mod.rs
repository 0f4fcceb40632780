//! Scale: many held instances of one backend at once.
//!
//! Every backend is a [`Holder`]: it starts an instance of the workload
//! with `--hold` and returns a [`Held`] once the workload is ready; the
//! instance stays alive until released (or killed when dropped). On that:
//!
//! - [`density`]: instances started one after another, up to a maximum, a
//!   memory budget or a time limit, with MemAvailable read after each; the
//!   slope of a least-squares line of the drop in MemAvailable against N is
//!   the memory per extra instance (with its interval), and to-ready
//!   against N shows whether the n-th starts as fast as the first;
//! - [`concurrency`]: waves of boots started together at 1, 2, 4, ... at
//!   once: to-ready percentiles and creations per second.
//!
//! A failure at instance k stops the run with the curve so far kept; every
//! instance is released (or killed) on every path, SIGINT and SIGTERM
//! included ([`Stopper`]); a SIGKILLed driver leaves its launchers a
//! SIGTERM (`PR_SET_PDEATHSIG`) and its workloads a closed stdin.
pub mod ablate;
pub mod concurrency;
pub mod density;
pub mod held;
pub mod holders;
pub mod host;
pub mod indriver;
pub mod inproc;
pub mod restored;
pub mod zygote;

use std::os::fd::AsRawFd;
use std::time::Duration;

pub use held::{release_all, Held, Spawned};
pub use holders::Holder;
use vmlab_reports::model::{BackendKind, ScaleResult};
use vmlab_reports::stats::{line_fit, CONFIDENCE};

/// The concurrency levels measured by default.
pub const LEVELS: &[u32] = &[1, 2, 4, 8, 16, 64];

/// What a scale run does for each backend.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Most held instances at once.
    pub max: u32,
    /// Bytes of MemAvailable the density run may spend.
    pub budget_bytes: u64,
    /// Time limit per backend, for the density run and again for the
    /// concurrency levels.
    pub time_limit: Duration,
    /// Concurrency levels (those above `max` are skipped).
    pub levels: Vec<u32>,
}

/// The fds one held instance keeps open in the driver (a pidfd, the
/// protocol socket, stdout and stderr; bench/tests/held_isolation.rs).
const FDS_PER_INSTANCE: u64 = 4;

impl Settings {
    /// Lifts this process's open-file limit (children, such as the VM fork
    /// server, inherit it) so that `max` held instances fit, warning where
    /// it cannot be lifted that far; the limit now in force.
    pub fn lift_fd_limit(&self) -> u64 {
        let want = FDS_PER_INSTANCE * u64::from(self.max) + 256;
        let now = vmlab_vmm::held::raise_fd_limit(want).unwrap_or(0);
        if now < want {
            eprintln!(
                "vmlab: warning: the open-file limit ({now}) may stop the run before {} instances \
                 (raise it with `ulimit -n {want}`)",
                self.max
            );
        }
        now
    }
}

/// Whether SIGINT or SIGTERM arrived (checked between starts).
pub struct Stopper {
    interrupt: Option<vmlab_sandbox::signal::Interrupt>,
}

impl Stopper {
    /// Catches SIGINT and SIGTERM from now on (until dropped).
    pub fn install() -> anyhow::Result<Stopper> {
        Ok(Stopper {
            interrupt: Some(vmlab_sandbox::signal::Interrupt::install()?),
        })
    }

    /// One that never fires (benches, tests).
    pub fn never() -> Stopper {
        Stopper { interrupt: None }
    }

    /// Whether a signal came.
    pub fn fired(&self) -> bool {
        let Some(i) = &self.interrupt else {
            return false;
        };
        let mut p = libc::pollfd {
            fd: i.fd().as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: poll reads and writes the one valid pollfd; no wait.
        unsafe { libc::poll(&mut p, 1, 0) > 0 }
    }
}

/// A VM row of `name` held by `opened` (the holder, or why it could not
/// be made: then a skipped row with that failure), labelled `emulated`.
pub fn vm_row<H: Holder>(
    name: &str,
    opened: anyhow::Result<H>,
    s: &Settings,
    stop: &Stopper,
    emulated: bool,
) -> anyhow::Result<ScaleResult> {
    let kind = Some(BackendKind::Vm);
    let mut r = match opened {
        Ok(h) => measure(&h, kind, s, stop)?,
        Err(e) => ScaleResult {
            backend: name.into(),
            kind,
            stopped: "skipped".into(),
            failure: Some(format!("{e:#}")),
            budget_bytes: s.budget_bytes,
            ..Default::default()
        },
    };
    r.emulated = emulated;
    Ok(r)
}

/// The density run and the concurrency levels of `holder`, as `s` says;
/// everything it started is torn down before it returns.
pub fn measure(
    holder: &dyn Holder,
    kind: Option<BackendKind>,
    s: &Settings,
    stop: &Stopper,
) -> anyhow::Result<ScaleResult> {
    let d = density::run(holder, s, stop)?;
    let mut held = d.held;
    let mut first_death = None;
    for (i, h) in held.iter_mut().enumerate() {
        if h.exited() && first_death.is_none() {
            first_death = Some(format!(
                "instance {}: {}",
                i + 1,
                density::died_early(holder, h)
            ));
        }
    }
    let died = held.iter_mut().map(|h| h.exited()).filter(|&e| e).count() as u32;
    let reached = held.len() as u32 - died;
    let released = release_all(held);
    let mut failure = match &d.stopped {
        density::Stopped::Failed(k, why) => Some(format!("instance {k}: {why}")),
        _ => None,
    };
    if died > 0 && failure.is_none() {
        failure = Some(format!(
            "{died} instance(s) exited before their release; {}",
            first_death.unwrap_or_default()
        ));
    }
    if let (Err(e), None) = (&released, &failure) {
        failure = Some(format!("release: {e:#}"));
    }
    // A backend that does not hold boots and exits: its waves would not be
    // held instances.
    let concurrency = if stop.fired() || died > 0 {
        Vec::new()
    } else {
        concurrency::run(holder, s, stop)
    };
    let mut r = ScaleResult {
        backend: holder.name().to_string(),
        kind,
        reached,
        stopped: d.stopped.name().to_string(),
        failure,
        died,
        budget_bytes: s.budget_bytes,
        density: d.steps,
        concurrency,
        start_phases_ns: holder.start_phases(),
        ..Default::default()
    };
    derive(&mut r);
    Ok(r)
}

/// The slopes and the peak rate, from the curves.
pub fn derive(r: &mut ScaleResult) {
    let mut mem: Vec<(f64, f64)> = vec![(0.0, 0.0)];
    mem.extend(r.density.iter().map(|s| (s.n as f64, s.used_bytes as f64)));
    if let Some(f) = line_fit(&mem, CONFIDENCE) {
        r.bytes_per_instance = Some(f.slope);
        r.bytes_per_instance_ci = f.slope_ci;
    }
    let cg: Vec<(f64, f64)> = r
        .density
        .iter()
        .filter_map(|s| Some((s.n as f64, s.cgroup_bytes? as f64)))
        .collect();
    r.cgroup_bytes_per_instance = line_fit(&cg, CONFIDENCE).map(|f| f.slope);
    let ready: Vec<(f64, f64)> = r
        .density
        .iter()
        .map(|s| (s.n as f64, s.to_ready_ns as f64))
        .collect();
    r.ready_ns_per_instance = line_fit(&ready, CONFIDENCE).map(|f| f.slope);
    let best = r
        .concurrency
        .iter()
        .filter_map(|l| Some((l.concurrency, l.creations_per_s?)))
        .max_by(|a, b| a.1.total_cmp(&b.1));
    r.creations_per_s = best.map(|b| b.1);
    r.creations_at = best.map(|b| b.0);
}

#[cfg(test)]
mod tests {
    use super::*;
    use vmlab_reports::model::{ConcurrencyLevel, DensityStep};

    #[test]
    fn derives_the_slope_and_the_peak_rate() {
        let mut r = ScaleResult {
            density: (1..=20)
                .map(|n| DensityStep {
                    n,
                    used_bytes: n as i64 * 1_000_000 + if n % 2 == 0 { 5000 } else { -5000 },
                    to_ready_ns: 1000,
                    ..Default::default()
                })
                .collect(),
            concurrency: vec![
                ConcurrencyLevel {
                    concurrency: 1,
                    creations_per_s: Some(100.0),
                    ..Default::default()
                },
                ConcurrencyLevel {
                    concurrency: 4,
                    creations_per_s: Some(300.0),
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        derive(&mut r);
        let b = r.bytes_per_instance.unwrap();
        assert!((b - 1e6).abs() < 1e4, "{b}");
        let (lo, hi) = r.bytes_per_instance_ci.unwrap();
        assert!(lo < b && b < hi);
        assert_eq!((r.creations_per_s, r.creations_at), (Some(300.0), Some(4)));
        assert_eq!(r.ready_ns_per_instance, Some(0.0));
        assert_eq!(r.cgroup_bytes_per_instance, None);
    }
}
