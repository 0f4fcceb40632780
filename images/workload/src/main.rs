//! The static Linux workload binary.
//!
//! Runs as a plain process, as a container's PID 1, or as a Linux guest's
//! PID 1 (then it mounts `/proc`, `/sys`, `/dev` and `/tmp`, reaps orphans
//! and powers the VM off at the end). Its arguments come from argv (Linux
//! hands init the words after `--` on the kernel command line); see
//! [`vmlab_workload::args`]. Protocol events go to the fd in `VMLAB_FD`,
//! else to the vmlab I/O port if `VMLAB_PORT=1`, else nowhere; results are
//! JSON lines on stdout.
//!
//! `vmlab-workload attacks SECRET HOSTPID PORT` runs the escape battery
//! instead of kernels ([`linux::attacks`]): one `escape` line per attempt
//! and an `attacks` summary line; it exits 0 when the battery ran to its
//! end, whatever escaped (the host counts the lines).
//!
//! Exit codes: the `--exit` code if given; else 0, or 1 if a kernel failed
//! or the setup did; 2 for arguments it does not understand.
use std::fmt::Display;

use vmlab_workload::args::USAGE;
use vmlab_workload::runner::{bad_args, run};
use vmlab_workload::{report, Event, Spec};

mod linux;

use linux::channel::Channel;
use linux::console::Console;
use linux::init::finish;
use linux::platform::Linux;
use linux::spawn::EXEC_CHILD_ARG;

/// Reports a setup error on stderr and as JSON lines, and ends with 1.
fn fail_setup(channel: Channel, pid1: bool, error: &dyn Display) -> ! {
    eprintln!("vmlab-workload: {error}");
    let _ = report::error(&mut Console, None, error);
    let _ = report::exit(&mut Console, 1);
    finish(channel, 1, pid1)
}

/// The `attacks` mode: ready, the battery, its summary, exit 0.
fn attacks(mut channel: Channel, pid1: bool, words: &[String]) -> ! {
    let target = match linux::attacks::Target::parse(words) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("vmlab-workload: {e}\n(see vmlab-workload --help)");
            let code = bad_args(&e, &mut Console);
            finish(channel, code, pid1)
        }
    };
    channel.send(Event::Ready);
    let _ = report::ready(&mut Console);
    let battery = linux::attacks::run(&target);
    linux::attacks::summary(&battery);
    let _ = report::exit(&mut Console, 0);
    finish(channel, 0, pid1)
}

fn main() {
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    if args.first().map(String::as_str) == Some(EXEC_CHILD_ARG) {
        // The child of the `spawn` kernel's exec mode: done.
        return;
    }
    let pid1 = std::process::id() == 1;
    let channel = match Channel::from_env() {
        Ok(channel) => channel,
        Err(e) => fail_setup(Channel::Console, pid1, &e),
    };
    if pid1 {
        if let Err(e) = linux::init::setup() {
            fail_setup(channel, pid1, &e);
        }
    }
    if args.first().map(String::as_str) == Some(linux::attacks::MODE) {
        attacks(channel, pid1, &args[1..]);
    }
    let spec = match Spec::parse(args.iter().map(String::as_str)) {
        Ok(spec) => spec,
        Err(e) => {
            eprintln!("vmlab-workload: {e}\n(see vmlab-workload --help)");
            let code = bad_args(&e, &mut Console);
            finish(channel, code, pid1)
        }
    };
    if spec.help {
        print!("{USAGE}");
        finish(channel, 0, pid1);
    }
    if pid1 {
        if let Err(e) = linux::guest_io::setup(&spec) {
            fail_setup(channel, pid1, &e);
        }
    }
    let mut platform = Linux::new(channel, pid1);
    let code = run(&mut platform, &spec, &mut Console);
    finish(platform.into_channel(), code, pid1)
}
