//! Density: held instances started one after another until the maximum,
//! the memory budget or the time limit; the host's memory after each.
use std::time::Instant;

use vmlab_reports::model::DensityStep;

use super::held::Held;
use super::holders::Holder;
use super::{host, Settings, Stopper};

/// Why a density run stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stopped {
    /// `--max` instances were reached.
    Max,
    /// The memory budget was spent.
    Budget,
    /// The backend's time limit was reached.
    TimeLimit,
    /// Instance `n` failed to start (or found one before it gone).
    Failed(u32, String),
    /// SIGINT or SIGTERM.
    Interrupted,
}

impl Stopped {
    /// The name stored in results.
    pub fn name(&self) -> &'static str {
        match self {
            Stopped::Max => "max",
            Stopped::Budget => "budget",
            Stopped::TimeLimit => "time limit",
            Stopped::Failed(..) => "failed",
            Stopped::Interrupted => "interrupted",
        }
    }
}

/// A density run: the curve, why it stopped, and the instances still held
/// (the caller releases them).
pub struct Density<'h> {
    /// One step per instance started.
    pub steps: Vec<DensityStep>,
    /// Why it stopped.
    pub stopped: Stopped,
    /// Every instance started, still held.
    pub held: Vec<Held<'h>>,
}

/// Starts held instances of `holder` one by one as `s` allows.
pub fn run<'h>(
    holder: &'h dyn Holder,
    s: &Settings,
    stop: &Stopper,
) -> anyhow::Result<Density<'h>> {
    let t0 = Instant::now();
    let base = host::mem_available()?;
    // Only cgroups that appear during the run are the instances'.
    let base_cgroups = host::vmlab_cgroups().map_or(0, |(n, _)| n);
    let mut steps = Vec::new();
    let mut held: Vec<Held<'h>> = Vec::new();
    let stopped = loop {
        let n = held.len() as u32;
        if n >= s.max {
            break Stopped::Max;
        }
        if stop.fired() {
            break Stopped::Interrupted;
        }
        if t0.elapsed() >= s.time_limit {
            break Stopped::TimeLimit;
        }
        if let Some(last) = steps.last() {
            let DensityStep { used_bytes, .. } = last;
            if *used_bytes >= 0 && *used_bytes as u64 >= s.budget_bytes {
                break Stopped::Budget;
            }
        }
        // The last few are checked (all of them would cost N² waits).
        let start = held.len().saturating_sub(8);
        if let Some(i) = (start..held.len()).find(|&i| held[i].exited()) {
            break Stopped::Failed(i as u32 + 1, died_early(holder, &mut held[i]));
        }
        let h = match holder.start_held() {
            Ok(h) => h,
            Err(e) => break Stopped::Failed(n + 1, format!("failed to start: {e:#}")),
        };
        let avail = host::mem_available()?;
        steps.push(DensityStep {
            n: n + 1,
            mem_available_bytes: avail,
            used_bytes: base as i64 - avail as i64,
            cgroup_bytes: host::vmlab_cgroups()
                .filter(|&(count, _)| count > base_cgroups)
                .map(|(_, bytes)| bytes),
            to_ready_ns: h.to_ready_ns,
        });
        held.push(h);
    };
    Ok(Density {
        steps,
        stopped,
        held,
    })
}

/// Why a held instance exited before its release, for the failure.
pub fn died_early(holder: &dyn Holder, h: &mut Held<'_>) -> String {
    match h.ended() {
        Some(how) => format!("exited before its release ({how})"),
        None => format!(
            "exited before its release: {} does not hold the workload here",
            holder.name()
        ),
    }
}
