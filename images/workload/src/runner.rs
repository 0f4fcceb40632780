//! One run of the workload: ready, the kernels, exit.
use core::fmt::Write;

#[allow(unused_imports)] // for the docs
use crate::args::ArgsError;
use crate::args::Spec;
use crate::kernels;
use crate::platform::Platform;
use crate::protocol::{self, Event};
use crate::report::{self, Failure};

/// Runs the workload described by `spec` and returns its exit code.
///
/// With `--park`, first sends [`protocol::PARK_MARK`] and waits for the
/// host's go ([`Platform::park`]; none: an error line, exit 1, no ready).
/// Sends [`Event::Ready`] and prints the ready line; for kernel `i` (from 1)
/// sends `Mark(i)` before it starts, and `Mark(n + 1)` after the last of `n`
/// kernels; prints one result line per measurement, or an error line for a
/// kernel that failed; prints the exit line. The exit code is `--exit` if
/// given, else 1 if a kernel failed, else 0. It does **not** send
/// [`Event::Exit`]: the caller flushes its console first, then sends it.
/// Console write errors are ignored (there is nowhere to report them).
pub fn run<P, W>(p: &mut P, spec: &Spec, out: &mut W) -> u8
where
    P: Platform + ?Sized,
    W: Write + ?Sized,
{
    if spec.snapshot {
        p.event(Event::Mark(protocol::SNAPSHOT_MARK));
    }
    if spec.park {
        p.event(Event::Mark(protocol::PARK_MARK));
        if !p.park() {
            let _ = report::error(out, None, &NO_GO);
            let _ = report::exit(out, 1);
            return 1;
        }
    }
    p.event(Event::Ready);
    let _ = report::ready(out);
    let mut failed = false;
    let kernels = spec.kernels();
    for (i, &kernel) in kernels.iter().enumerate() {
        p.event(Event::Mark(i as u32 + 1));
        let mut stopped_clock = false;
        let mut emit = |m: &report::Measurement| {
            stopped_clock |= m.timing.total_ns == 0;
            let _ = report::result(out, m);
        };
        let mut outcome = if kernel.is_shared() {
            kernels::run_shared(p, kernel, spec, &mut emit)
        } else {
            p.native(kernel, spec, &mut emit)
        };
        if stopped_clock && outcome.is_ok() {
            outcome = Err(Failure::new(format_args!(
                "{kernel}: the platform clock did not advance, so the result is meaningless"
            )));
        }
        if let Err(failure) = outcome {
            failed = true;
            let _ = report::error(out, Some(kernel), &failure);
        }
    }
    if !kernels.is_empty() {
        p.event(Event::Mark(kernels.len() as u32 + 1));
    }
    if spec.hold {
        p.event(Event::Mark(protocol::HOLD_MARK));
        p.hold();
    }
    let code = spec.exit.unwrap_or(u8::from(failed));
    let _ = report::exit(out, code);
    code
}

/// The error of a parked workload whose host went away before its go.
const NO_GO: &str = "parked (--park), the host closed the go pipe before its go; not started";

/// Exit code for arguments the workload does not understand.
pub const EXIT_USAGE: u8 = 2;

/// Reports bad arguments (usually an [`ArgsError`], or any other reason the
/// workload cannot start from what it was given): prints an error line and
/// the exit line and returns [`EXIT_USAGE`]. No ready event is sent: the
/// workload proper never started. The caller sends [`Event::Exit`] after
/// flushing.
pub fn bad_args<W: Write + ?Sized>(err: &dyn core::fmt::Display, out: &mut W) -> u8 {
    let _ = report::error(out, None, err);
    let _ = report::exit(out, EXIT_USAGE);
    EXIT_USAGE
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::Fake;
    use crate::kernel::Kernel;
    use core::cell::Cell;
    use std::string::String;
    use std::vec::Vec;

    fn lines(out: &str) -> Vec<&str> {
        out.lines().collect()
    }

    #[test]
    fn runs_kernels_between_ready_marks_and_exit() {
        let now = Cell::new(0);
        let mut p = Fake::new(&now, 1_000);
        let spec =
            Spec::parse("cpu memory pagetouch crossing spawn --size 64K --time 8us".split(' '))
                .unwrap();
        let mut out = String::new();
        let code = run(&mut p, &spec, &mut out);
        assert_eq!(code, 1, "spawn is unsupported here: {out}");
        assert_eq!(
            p.events,
            [
                Event::Ready,
                Event::Mark(1),
                Event::Mark(2),
                Event::Mark(3),
                Event::Mark(4),
                Event::Mark(5),
                Event::Mark(6)
            ]
        );
        let l = lines(&out);
        assert_eq!(l.len(), 7, "{out}");
        assert_eq!(l[0], "{\"vmlab\":\"ready\"}");
        for (line, k) in l[1..5].iter().zip(Kernel::ALL) {
            let head = std::format!("{{\"vmlab\":\"result\",\"kernel\":\"{k}\",\"iters\":");
            assert!(line.starts_with(&head), "{line}");
        }
        assert!(l[5].starts_with("{\"vmlab\":\"error\",\"kernel\":\"spawn\""));
        assert_eq!(l[6], "{\"vmlab\":\"exit\",\"code\":1}");
        assert!(p.crossings > 0);
        // Every fresh region was given back.
        assert!(p.regions.is_empty() && p.released > 0);
    }

    #[test]
    fn exit_option_wins_and_no_kernels_means_no_marks() {
        let now = Cell::new(0);
        let mut p = Fake::new(&now, 1);
        let spec = Spec::parse(["spawn", "--exit", "9"]).unwrap();
        let mut out = String::new();
        assert_eq!(run(&mut p, &spec, &mut out), 9);
        let mut p = Fake::new(&now, 1);
        let mut out = String::new();
        assert_eq!(run(&mut p, &Spec::default(), &mut out), 0);
        assert_eq!(p.events, [Event::Ready]);
        assert_eq!(
            out,
            "{\"vmlab\":\"ready\"}\n{\"vmlab\":\"exit\",\"code\":0}\n"
        );
    }

    #[test]
    fn pagetouch_stops_when_memory_runs_out() {
        let now = Cell::new(0);
        let mut p = Fake::new(&now, 1);
        let spec = Spec::parse(["pagetouch", "--size", "16K", "--time", "1s"]).unwrap();
        let mut out = String::new();
        assert_eq!(run(&mut p, &spec, &mut out), 0, "{out}");
        // Three regions of four pages, then the fake has no more.
        assert!(out.contains("\"iters\":12,"), "{out}");
        p.regions_left = 0;
        let mut out = String::new();
        assert_eq!(run(&mut p, &spec, &mut out), 1);
        assert!(
            out.contains("cannot get 16384 bytes of fresh memory"),
            "{out}"
        );
    }

    #[test]
    fn a_stopped_clock_is_an_error() {
        let now = Cell::new(0);
        let mut p = Fake::new(&now, 0);
        let spec = Spec::parse(["crossing"]).unwrap();
        let mut out = String::new();
        assert_eq!(run(&mut p, &spec, &mut out), 1);
        assert!(out.contains("clock did not advance"), "{out}");
    }

    #[test]
    fn bad_args_print_an_error_and_exit_2() {
        let mut out = String::new();
        let err = Spec::parse(["bogus"]).unwrap_err();
        assert_eq!(bad_args(&err, &mut out), 2);
        assert_eq!(lines(&out)[1], "{\"vmlab\":\"exit\",\"code\":2}",);
        assert!(lines(&out)[0].contains("unknown kernel `bogus`"));
    }

    #[test]
    fn snapshot_mark_precedes_ready_and_hold_comes_after_the_kernels() {
        let now = Cell::new(0);
        let mut p = Fake::new(&now, 1000);
        let spec = Spec::parse(["cpu", "--hold", "--snapshot", "--time", "1us"]).unwrap();
        let mut out = String::new();
        assert_eq!(run(&mut p, &spec, &mut out), 0);
        assert_eq!(p.holds, 1);
        assert_eq!(
            p.events,
            [
                Event::Mark(protocol::SNAPSHOT_MARK),
                Event::Ready,
                Event::Mark(1),
                Event::Mark(2),
                Event::Mark(protocol::HOLD_MARK),
            ]
        );
        let plain = Spec::parse(["cpu", "--time", "1us"]).unwrap();
        let mut p = Fake::new(&now, 1000);
        run(&mut p, &plain, &mut out);
        assert_eq!(p.holds, 0);
        assert_eq!(p.events[0], Event::Ready);
    }

    #[test]
    fn park_waits_for_the_go_before_ready_and_no_go_means_no_start() {
        let now = Cell::new(0);
        let mut p = Fake::new(&now, 1000);
        let spec = Spec::parse(["cpu", "--park", "--time", "1us"]).unwrap();
        let mut out = String::new();
        assert_eq!(run(&mut p, &spec, &mut out), 0);
        assert_eq!(p.parks, 1);
        assert_eq!(
            p.events[..2],
            [Event::Mark(protocol::PARK_MARK), Event::Ready]
        );
        // The host went away while it was parked: nothing runs.
        let mut p = Fake::new(&now, 1000);
        p.go = false;
        let mut out = String::new();
        assert_eq!(run(&mut p, &spec, &mut out), 1);
        assert_eq!(p.events, [Event::Mark(protocol::PARK_MARK)]);
        let l = lines(&out);
        assert_eq!(l.len(), 2, "{out}");
        assert!(l[0].contains("closed the go pipe"), "{out}");
        assert_eq!(l[1], "{\"vmlab\":\"exit\",\"code\":1}");
        // Without --park, park is never called.
        let mut p = Fake::new(&now, 1000);
        run(&mut p, &Spec::parse(["--time", "1us"]).unwrap(), &mut out);
        assert_eq!(p.parks, 0);
    }
}
