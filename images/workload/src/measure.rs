//! The time-budget harness: run a kernel until its time is spent.
//!
//! A kernel is sized by time, not by work: on software-emulated KVM every
//! guest instruction costs about a microsecond, so a fixed amount of work
//! sized for native speed would take a thousand times longer in a VM. The
//! harness runs batches of iterations. The first batch is a single
//! iteration; batches double while the clock shows little time spent, and
//! once the cost per iteration is known the next batch is sized to fill most
//! of the rest of the budget, until less than 1/32 of it is left. The clock is read twice per batch only, so it never
//! dominates, and the number of batches grows with the logarithm of the
//! budget over the cost of one iteration.

/// A monotonic clock in nanoseconds; its zero is arbitrary.
///
/// It is a small `Copy` value (a TSC scale, a start instant) so a kernel can
/// keep it while it borrows memory from its [`Platform`](crate::Platform).
pub trait Clock {
    /// Nanoseconds since an arbitrary fixed point.
    fn now_ns(&self) -> u64;
}

/// How many iterations ran and how long they took.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timing {
    /// Iterations run.
    pub iters: u64,
    /// Nanoseconds they took, summed over batches.
    pub total_ns: u64,
}

/// Iterations after which a clock that still shows no time spent is taken
/// to be stopped (no real clock is that coarse: even at 1 ns per iteration
/// this is 16 ms).
pub const FROZEN_CLOCK_ITERS: u64 = 1 << 24;

/// The batch-size policy of the harness, for kernels that drive their own
/// loop (see [`measure`] for the common case).
#[derive(Clone, Copy, Debug)]
pub struct Pacer {
    budget_ns: u64,
    next: u64,
    timing: Timing,
}

impl Pacer {
    /// A pacer for a budget of `budget_ns` nanoseconds.
    pub const fn new(budget_ns: u64) -> Pacer {
        Pacer {
            budget_ns,
            next: 1,
            timing: Timing {
                iters: 0,
                total_ns: 0,
            },
        }
    }

    /// How many iterations the next batch should run (at least one).
    pub const fn next_batch(&self) -> u64 {
        self.next
    }

    /// What has been measured so far.
    pub const fn timing(&self) -> Timing {
        self.timing
    }

    /// Records a batch of `iters` iterations that took `ns`; returns whether
    /// to run another batch.
    pub fn record(&mut self, iters: u64, ns: u64) -> bool {
        let asked = self.next;
        self.timing.iters = self.timing.iters.saturating_add(iters);
        self.timing.total_ns = self.timing.total_ns.saturating_add(ns);
        let spent = self.timing.total_ns;
        // Stop once the budget is spent, or close enough that another batch
        // would be a sliver.
        if iters == 0 || spent >= self.budget_ns - self.budget_ns / 32 {
            return false;
        }
        if spent == 0 && self.timing.iters >= FROZEN_CLOCK_ITERS {
            // The clock is not moving; give up instead of doubling forever.
            return false;
        }
        let remaining = self.budget_ns - spent;
        let fill = if spent == 0 {
            u64::MAX
        } else {
            // Seven eighths of the iterations that fit in the rest of the
            // budget at the average cost so far: iterations that get slower
            // (noise, cache effects) overshoot the budget less, at the price
            // of a few more, ever smaller batches.
            let n = remaining as u128 * self.timing.iters as u128 * 7 / (spent as u128 * 8);
            n.min(u64::MAX as u128) as u64
        };
        self.next = fill.clamp(1, asked.saturating_mul(2));
        true
    }
}

/// Runs `batch` until `budget_ns` nanoseconds of it have passed.
///
/// `batch(n)` runs up to `n` iterations and returns how many it ran; fewer
/// than asked means the kernel ran out of work (e.g. memory) and ends the
/// measurement. At least one batch runs, even with a budget of zero.
pub fn measure<C, E, F>(clock: &C, budget_ns: u64, mut batch: F) -> Result<Timing, E>
where
    C: Clock + ?Sized,
    F: FnMut(u64) -> Result<u64, E>,
{
    let mut pacer = Pacer::new(budget_ns);
    loop {
        let asked = pacer.next_batch();
        let start = clock.now_ns();
        let done = batch(asked)?;
        let ns = clock.now_ns().saturating_sub(start);
        if !pacer.record(done, ns) || done < asked {
            return Ok(pacer.timing());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::cell::Cell;

    /// A clock that only moves when the fake work moves it.
    struct FakeClock<'a>(&'a Cell<u64>);

    impl Clock for FakeClock<'_> {
        fn now_ns(&self) -> u64 {
            self.0.get()
        }
    }

    /// Runs the harness over work costing `cost_ns` per iteration; returns
    /// the timing and the batch sizes asked for.
    fn run(budget_ns: u64, cost_ns: u64) -> (Timing, std::vec::Vec<u64>) {
        let now = Cell::new(1_000);
        let mut batches = std::vec::Vec::new();
        let t = measure(&FakeClock(&now), budget_ns, |n| {
            batches.push(n);
            now.set(now.get() + n * cost_ns);
            Ok::<_, ()>(n)
        })
        .unwrap();
        (t, batches)
    }

    #[test]
    fn starts_tiny_grows_and_stops_near_the_budget() {
        let (t, batches) = run(200_000_000, 50);
        assert_eq!(batches[0], 1);
        assert_eq!(batches[1], 2);
        assert_eq!(t.iters, batches.iter().sum::<u64>());
        assert_eq!(t.total_ns, t.iters * 50);
        assert!(t.total_ns >= 200_000_000 - 200_000_000 / 32, "{t:?}");
        assert!(t.total_ns <= 200_000_000 + 200_000_000 / 16, "{t:?}");
        // Logarithmically many batches: the clock is read rarely.
        assert!(batches.len() <= 32, "{}", batches.len());
    }

    #[test]
    fn a_thousand_times_slower_costs_the_same_time() {
        let (fast, _) = run(200_000_000, 1_000);
        let (slow, batches) = run(200_000_000, 1_000_000);
        assert!(slow.total_ns <= 200_000_000 + 200_000_000 / 16, "{slow:?}");
        assert!(slow.iters * 900 <= fast.iters && fast.iters <= slow.iters * 1100);
        assert!(batches.len() <= 16);
    }

    #[test]
    fn one_iteration_longer_than_the_budget_runs_once() {
        let (t, batches) = run(1_000, 1_000_000);
        assert_eq!(batches, [1]);
        assert_eq!(
            t,
            Timing {
                iters: 1,
                total_ns: 1_000_000
            }
        );
        let (t, _) = run(0, 5);
        assert_eq!(t.iters, 1);
    }

    #[test]
    fn a_clock_too_coarse_to_move_still_ends() {
        // Zero-cost iterations: batches double until the budget is passed
        // by a different stop (the clock never moves), so cap via work.
        let now = Cell::new(0);
        let mut total = 0u64;
        let t = measure(&FakeClock(&now), 1_000, |n| {
            total += n;
            if total > 1 << 20 {
                now.set(now.get() + 2_000);
            }
            Ok::<_, ()>(n)
        })
        .unwrap();
        assert_eq!(t.iters, total);
        assert!(t.total_ns >= 1_000);
    }

    #[test]
    fn a_stopped_clock_ends_with_no_time() {
        let now = Cell::new(5);
        let t = measure(&FakeClock(&now), 1_000, Ok::<_, ()>).unwrap();
        assert_eq!(t.total_ns, 0);
        assert!(t.iters >= FROZEN_CLOCK_ITERS && t.iters < 2 * FROZEN_CLOCK_ITERS);
    }

    #[test]
    fn running_out_of_work_ends_the_measurement() {
        let now = Cell::new(0);
        let mut left = 10u64;
        let t = measure(&FakeClock(&now), 1_000_000, |n| {
            let done = n.min(left);
            left -= done;
            now.set(now.get() + done);
            Ok::<_, ()>(done)
        })
        .unwrap();
        assert_eq!(t.iters, 10);
    }

    #[test]
    fn errors_stop_the_harness() {
        let now = Cell::new(0);
        let r = measure(&FakeClock(&now), 1_000, |_| Err::<u64, _>("boom"));
        assert_eq!(r, Err("boom"));
    }
}
