//! `vmlab run --backend sandbox`: the workload as PID 1 of the vmlab
//! namespace sandbox, on the rootfs in the images directory.
use std::collections::BTreeMap;
use std::path::Path;

use vmlab_sandbox::cgroup::Usage;
use vmlab_sandbox::signal::Interrupt;
use vmlab_sandbox::{Config, ExitStatus, LaunchError, Outcome};
use vmlab_workload::protocol::Event;

pub use super::timeout;
use vmlab_bench::configs::{self, SandboxOptions};
use vmlab_bench::record::RunRecord;
use vmlab_bench::BackendId;

use super::{Net, RunArgs};

/// The sandbox configuration for `args` (built by
/// [`vmlab_bench::configs::sandbox`], which `vmlab scale` shares).
pub fn config(args: &RunArgs) -> anyhow::Result<Config> {
    let mut o = SandboxOptions::new(
        args.images.join("rootfs"),
        args.workload.clone(),
        timeout(args.timeout)?,
    );
    o.net = match args.net {
        Net::None => vmlab_sandbox::Net::None,
        Net::Loopback => vmlab_sandbox::Net::Loopback,
        Net::Host => vmlab_sandbox::Net::Host,
    };
    o.host_root = args.host_root;
    o.memory = args.memory.clone();
    o.pids = args.pids.clone();
    o.cpus = args.cpus;
    o.disk = args.disk.clone();
    configs::sandbox(&o)
}

pub fn run(args: &RunArgs) -> anyhow::Result<RunRecord> {
    let config = config(args)?;
    if !args.images.join("rootfs").exists() {
        anyhow::bail!(
            "no rootfs in {}: build it with `vmlab images build --out {}`",
            args.images.display(),
            args.images.display()
        );
    }
    let mut out = launch(BackendId::Sandbox, &config, args.json)?;
    out.facts
        .insert("net".into(), format!("{:?}", args.net).to_lowercase());
    if let Some(d) = &args.disk {
        out.facts.insert(
            "disk".into(),
            format!("{} bound at {}", d.display(), vmlab_bench::io::disk::INSIDE),
        );
    }
    Ok(out)
}

/// Runs `config` with SIGINT/SIGTERM turned into a teardown, and converts
/// the outcome. Shared with the process backend.
pub fn launch(backend: BackendId, config: &Config, json: bool) -> anyhow::Result<RunRecord> {
    let interrupt = Interrupt::install()?;
    let result = vmlab_sandbox::run(config, Some(interrupt.fd()));
    drop(interrupt);
    let outcome = match result {
        Ok(o) => o,
        Err(LaunchError::Interrupted(sig)) => {
            eprintln!("vmlab: interrupted; the {backend} was torn down");
            // Die of the same signal, as the shell expects.
            // SAFETY: restoring the default action and raising a signal.
            unsafe {
                libc::signal(sig, libc::SIG_DFL);
                libc::raise(sig);
            }
            anyhow::bail!("interrupted by signal {sig}");
        }
        Err(e) => return Err(e.into()),
    };
    if !json {
        use std::io::Write;
        let _ = std::io::stdout().write_all(&outcome.stdout);
    }
    use std::io::Write;
    let _ = std::io::stderr().write_all(&outcome.stderr);
    let d = outcome.dropped;
    if d.any() {
        eprintln!(
            "vmlab: the workload's output was cut to its last {} MiB per stream: {} stdout and {} stderr bytes and {} protocol events were dropped",
            vmlab_sandbox::monitor::OUTPUT_CAP >> 20,
            d.stdout_bytes,
            d.stderr_bytes,
            d.events
        );
    }
    if outcome.timed_out {
        anyhow::bail!(
            "the workload did not finish within {:.1} s and was killed (raise --timeout)",
            config.timeout.as_secs_f64()
        );
    }
    if outcome.oom_killed {
        eprintln!("vmlab: the workload ran out of memory and was killed by the OOM killer (raise --memory)");
    }
    Ok(output(backend, config, &outcome))
}

/// The run record of a sandbox or process outcome.
fn output(backend: BackendId, config: &Config, o: &Outcome) -> RunRecord {
    let counters = counters(o);
    let facts = facts(config, o);
    let stdout = String::from_utf8_lossy(&o.stdout);
    RunRecord {
        to_ready_ns: o.ready,
        phases: o.phases.iter().map(|(n, t)| (n.to_string(), *t)).collect(),
        marks: o
            .events
            .iter()
            .filter_map(|(e, t)| match e {
                Event::Mark(id) => Some((*id, *t)),
                _ => None,
            })
            .collect(),
        counters,
        facts,
        ..RunRecord::new(backend, o.status.as_code(), o.cleaned).with_results_of(&stdout)
    }
}

/// The cgroup's usage and what the monitor dropped, as counters.
fn counters(o: &Outcome) -> BTreeMap<String, u64> {
    let mut counters = BTreeMap::new();
    if let Some(Usage {
        memory_peak,
        cpu_ns,
        pids_peak,
        oom_kills,
    }) = o.usage
    {
        for (k, v) in [
            ("cgroup_memory_peak_bytes", memory_peak),
            ("cgroup_cpu_ns", cpu_ns),
            ("cgroup_pids_peak", pids_peak),
            ("cgroup_oom_kills", oom_kills),
        ] {
            if let Some(v) = v {
                counters.insert(k.to_string(), v);
            }
        }
    }
    for (k, v) in [
        ("stdout_dropped_bytes", o.dropped.stdout_bytes),
        ("stderr_dropped_bytes", o.dropped.stderr_bytes),
        ("events_dropped", o.dropped.events),
    ] {
        if v > 0 {
            counters.insert(k.to_string(), v);
        }
    }
    counters
}

/// What is worth knowing about how the workload ran: the timing, the
/// isolation in force, the limits, how it ended.
fn facts(config: &Config, o: &Outcome) -> BTreeMap<String, String> {
    let mut facts = BTreeMap::new();
    facts.insert(
        "timing_start".into(),
        "library call in the vmlab process (in-process figure)".into(),
    );
    facts.insert(
        "to_exit".into(),
        "workload reaped and cgroup removed".into(),
    );
    if let Some(m) = o.cgroup_mode {
        facts.insert("cgroup_mode".into(), m.name().into());
    }
    facts.insert(
        "user_namespace".into(),
        if o.user_ns {
            "yes: root inside is an unprivileged id outside".into()
        } else {
            "no: the workload was real root on the host (--host-root)".into()
        },
    );
    facts.insert("oom_killed".into(), o.oom_killed.to_string());
    match o.status {
        ExitStatus::Code(c) => facts.insert("exit".into(), format!("code {c}")),
        ExitStatus::Signal(s) => facts.insert("exit".into(), format!("signal {s}")),
    };
    let l = &config.limits;
    if let Some(m) = l.memory {
        facts.insert("limit_memory_bytes".into(), m.to_string());
    }
    if let Some(p) = l.pids {
        facts.insert("limit_pids".into(), p.to_string());
    }
    if let Some(c) = l.cpus {
        facts.insert("limit_cpus".into(), c.to_string());
    }
    if config.seccomp {
        facts.insert(
            "seccomp".into(),
            format!(
                "allow-list of {} calls (default EPERM, unknown ENOSYS, x32 refused)",
                vmlab_sandbox::seccomp::allowed()
            ),
        );
    }
    if config.drop_caps {
        let kept: Vec<String> = vmlab_sandbox::capability::KEPT
            .iter()
            .map(|c| c.to_string())
            .collect();
        facts.insert("capabilities".into(), kept.join(","));
    }
    facts
}

/// The rootfs's `/init` on the host, if the images were built.
pub fn built_init(images: &Path) -> Option<std::path::PathBuf> {
    let p = images.join("rootfs").join("init");
    p.is_file().then_some(p)
}
