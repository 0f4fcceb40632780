//! Running `vmlab run`: the backend, then the record on stdout (`--json`)
//! or a summary on stderr.
// CLOCK_MONOTONIC in ns: the clock every backend's timings use.
use vmlab_bench::record::RunRecord;
use vmlab_bench::BackendId;
use vmlab_sandbox::sys::monotonic_ns;

use super::{process, restore, sandbox, vm, RunArgs};

/// Runs `vmlab run` and returns the process exit code.
pub fn main(args: RunArgs) -> anyhow::Result<u8> {
    let started = monotonic_ns();
    if args.disk.is_some() && args.backend == BackendId::Process {
        anyhow::bail!(
            "--disk gives the sandbox or a VM its disk; a process opens the file itself: \
             pass it to the workload's own --disk"
        );
    }
    if args.tap.is_some() && !matches!(args.backend, BackendId::VmBare | BackendId::VmLinux) {
        anyhow::bail!(
            "--tap gives a VM a virtio-net device; {} has none (use --backend vm-bare)",
            args.backend
        );
    }
    let mut out = match args.backend {
        _ if args.restore.is_some() => restore::run(&args)?,
        BackendId::Process => process::run(&args)?,
        BackendId::Sandbox => sandbox::run(&args)?,
        BackendId::VmBare | BackendId::VmLinux => vm::run(&args)?,
        peer => {
            anyhow::bail!("{peer} is a peer, not one of vmlab's backends; `vmlab compare` runs it")
        }
    };
    // A parent that spawned `vmlab run` (`vmlab compare`) turns the
    // in-process figures into end-to-end ones with this.
    out.set_started(started);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print_summary(&out);
    }
    Ok(out.exit_code)
}

/// The human-readable summary of one run, on stderr (stdout is the workload's).
fn print_summary(out: &RunRecord) {
    let ms = |ns: u64| ns as f64 / 1e6;
    match out.to_ready_ns {
        Some(r) => eprintln!(
            "{}: ready after {:.3} ms, exit {} after {:.3} ms",
            out.backend,
            ms(r),
            out.exit_code,
            ms(out.to_exit_ns)
        ),
        None => eprintln!(
            "{}: never signalled ready; exit {} after {:.3} ms",
            out.backend,
            out.exit_code,
            ms(out.to_exit_ns)
        ),
    }
}
