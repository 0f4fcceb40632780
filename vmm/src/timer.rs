//! The guest timeout: a POSIX timer that signals this thread, so a blocked
//! `KVM_RUN` returns `EINTR`. No helper thread; after the deadline the timer
//! keeps firing every few milliseconds until it is dropped, so a signal that
//! lands between two `KVM_RUN` calls cannot be lost. A ticking timer
//! ([`KickTimer::arm_ticking`]) fires every period from the start instead,
//! so that the run loop gets to poll devices while the guest idles in the
//! kernel (the in-kernel irqchip handles its `hlt` without an exit).
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Once;
use std::time::Duration;

/// Errors arming the timeout.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `sigaction` failed.
    #[error("cannot install the vCPU kick signal handler")]
    Handler(#[source] std::io::Error),
    /// `timer_create` or `timer_settime` failed.
    #[error("cannot arm the guest timeout timer")]
    Timer(#[source] std::io::Error),
}

/// Re-fire period once the deadline has passed.
const REFIRE: Duration = Duration::from_millis(5);

fn kick_signal() -> libc::c_int {
    libc::SIGRTMIN() + 2
}

extern "C" fn on_kick(_: libc::c_int) {}

fn install_handler() -> Result<(), Error> {
    static ONCE: Once = Once::new();
    static RESULT: AtomicI32 = AtomicI32::new(0);
    ONCE.call_once(|| {
        // SAFETY: a zeroed sigaction is a valid "no flags, empty mask" value;
        // the handler is an async-signal-safe no-op; SA_RESTART is left out on
        // purpose so KVM_RUN returns EINTR.
        let rc = unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_kick as *const () as usize;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(kick_signal(), &sa, std::ptr::null_mut())
        };
        if rc != 0 {
            let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(-1);
            RESULT.store(errno, Ordering::Relaxed);
        }
    });
    match RESULT.load(Ordering::Relaxed) {
        0 => Ok(()),
        e => Err(Error::Handler(std::io::Error::from_raw_os_error(e))),
    }
}

/// A timer that interrupts this thread's `KVM_RUN` after a timeout.
pub(crate) struct KickTimer {
    id: libc::timer_t,
}

impl KickTimer {
    /// Arms a timer that signals the calling thread after `timeout`.
    pub(crate) fn arm(timeout: Duration) -> Result<KickTimer, Error> {
        KickTimer::arm_with(timeout.max(Duration::from_nanos(1)), REFIRE)
    }

    /// Arms a timer that signals the calling thread every `period` (at
    /// most [`REFIRE`]) from now on, the timeout included.
    pub(crate) fn arm_ticking(timeout: Duration, period: Duration) -> Result<KickTimer, Error> {
        let period = period.clamp(Duration::from_micros(100), REFIRE);
        KickTimer::arm_with(timeout.min(period).max(Duration::from_nanos(1)), period)
    }

    /// Arms a timer that first fires after `first`, then every `every`.
    fn arm_with(first: Duration, every: Duration) -> Result<KickTimer, Error> {
        install_handler()?;
        // SAFETY: a zeroed sigevent is valid; we fill the fields SIGEV_THREAD_ID uses.
        let mut sev: libc::sigevent = unsafe { std::mem::zeroed() };
        sev.sigev_notify = libc::SIGEV_THREAD_ID;
        sev.sigev_signo = kick_signal();
        // SAFETY: gettid has no preconditions.
        sev.sigev_notify_thread_id = unsafe { libc::gettid() };
        let mut id: libc::timer_t = std::ptr::null_mut();
        // SAFETY: sev and id are valid for the call; the timer is deleted in Drop.
        if unsafe { libc::timer_create(libc::CLOCK_MONOTONIC, &mut sev, &mut id) } != 0 {
            return Err(Error::Timer(std::io::Error::last_os_error()));
        }
        let timer = KickTimer { id };
        let spec = libc::itimerspec {
            it_interval: timespec(every),
            it_value: timespec(first),
        };
        // SAFETY: id is a live timer owned by `timer`; spec is a valid itimerspec.
        if unsafe { libc::timer_settime(timer.id, 0, &spec, std::ptr::null_mut()) } != 0 {
            return Err(Error::Timer(std::io::Error::last_os_error()));
        }
        Ok(timer)
    }
}

/// `d` as a timespec; a duration beyond `time_t` saturates (a timer that
/// never fires in practice) rather than wrapping into the past.
fn timespec(d: Duration) -> libc::timespec {
    match libc::time_t::try_from(d.as_secs()) {
        Ok(tv_sec) => libc::timespec {
            tv_sec,
            // Below 10^9: fits every c_long.
            tv_nsec: libc::c_long::from(d.subsec_nanos()),
        },
        Err(_) => libc::timespec {
            tv_sec: libc::time_t::MAX,
            tv_nsec: 999_999_999,
        },
    }
}

impl Drop for KickTimer {
    fn drop(&mut self) {
        // SAFETY: id is a live timer created in arm() and deleted only here.
        unsafe { libc::timer_delete(self.id) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_timeouts_saturate_instead_of_wrapping() {
        let t = timespec(Duration::from_secs(u64::MAX));
        assert_eq!(t.tv_sec, libc::time_t::MAX);
        let t = timespec(Duration::from_secs(18_446_744_074));
        assert_eq!(t.tv_sec, 18_446_744_074);
        let t = timespec(Duration::new(3, 5));
        assert_eq!((t.tv_sec, t.tv_nsec), (3, 5));
        // Arming one is fine too, and it does not fire at once.
        let timer = KickTimer::arm(Duration::MAX).unwrap();
        let nap = timespec(Duration::from_millis(30));
        // SAFETY: nanosleep reads `nap` and may write the (null) remainder.
        let rc = unsafe { libc::nanosleep(&nap, std::ptr::null_mut()) };
        assert_eq!(rc, 0, "the timer fired");
        drop(timer);
    }

    #[test]
    fn a_ticking_timer_fires_every_period_long_before_the_timeout() {
        let timer = KickTimer::arm_ticking(Duration::MAX, Duration::from_millis(2)).unwrap();
        let start = std::time::Instant::now();
        for _ in 0..3 {
            // SAFETY: pause() only blocks until a signal is handled.
            assert_eq!(unsafe { libc::pause() }, -1);
        }
        assert!(start.elapsed() < Duration::from_secs(5), "it did not tick");
        drop(timer);
    }

    #[test]
    fn interrupts_a_blocking_call() {
        let timer = KickTimer::arm(Duration::from_millis(20)).unwrap();
        // SAFETY: pause() only blocks until a signal is handled.
        let rc = unsafe { libc::pause() };
        assert_eq!(rc, -1);
        assert_eq!(
            std::io::Error::last_os_error().raw_os_error(),
            Some(libc::EINTR)
        );
        drop(timer);
    }
}
