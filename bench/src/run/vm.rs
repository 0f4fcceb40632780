//! `vmlab run --backend vm-bare|vm-linux`: one boot in the tiny VMM, in this
//! process. Timings are in-process (from the library call). The bare guest
//! is the embedded one unless `VMLAB_GUEST_ELF` names another ELF file.
//! A workload started with `--hold` waits at the hold port until a byte or
//! end of file arrives on this process's stdin (the same rule as the Linux
//! workload's), which the VMM, jailed or not, uses as its hold gate.
use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{anyhow, bail, Context};
use vmlab_bench::record::RunRecord;
use vmlab_bench::BackendId;
use vmlab_images::kernel::{self, Cache};
use vmlab_sandbox::cgroup::Cgroup;
use vmlab_vmm::{Guest, KvmKind, LinuxGuest, VmConfig, VmOutcome};

use super::RunArgs;

/// Environment variable naming a bare guest ELF to boot instead of the embedded one.
const GUEST_ENV: &str = "VMLAB_GUEST_ELF";

/// Test hook: a forbidden call (`open`, `exec`, `socket`) the VMM attempts
/// after setup, to show its jail kills it (and, with `--no-jail`, that the
/// call works).
const PROBE_ENV: &str = "VMLAB_VMM_PROBE";

/// The jailed VMM's cgroup and the fact describing it
/// ([`vmlab_bench::vmm_cgroup::create`]); none with `--no-jail`.
pub(super) fn vmm_cgroup(args: &RunArgs) -> anyhow::Result<(Option<Cgroup>, String)> {
    if args.no_jail {
        return Ok((None, "none (--no-jail)".into()));
    }
    vmlab_bench::vmm_cgroup::create(args.mem)
}

/// Console lines shown when a guest fails and its console was not streamed.
const CONSOLE_TAIL_LINES: usize = 25;

/// The kernel for vm-linux: `--kernel`, else `$VMLAB_KERNEL`, else the cache.
/// Explicit paths go to the VMM unchecked so its errors name the problem.
fn kernel_path(args: &RunArgs) -> anyhow::Result<PathBuf> {
    if let Some(p) = &args.kernel {
        return Ok(p.clone());
    }
    if let Some(p) = std::env::var_os(kernel::ENV).filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    let cache = Cache::default_location().context("cannot locate the guest kernel cache")?;
    let k = cache
        .latest()
        .context("cannot read the guest kernel cache")?
        .ok_or_else(|| {
            anyhow!(
                "no guest kernel: none is cached in {}; {}",
                cache.root().display(),
                kernel::HOW_TO_GET_ONE
            )
        })?;
    Ok(k.bzimage.map_or(k.vmlinux.path, |b| b.path))
}

/// Maps `vmlab run` arguments to a VM configuration.
pub(super) fn config<'a>(args: &RunArgs, elf: &'a [u8]) -> anyhow::Result<VmConfig<'a>> {
    let timeout = super::timeout(args.timeout)?;
    let guest = match args.backend {
        BackendId::VmBare => Guest::Bare {
            elf,
            args: args.workload.join(" "),
        },
        BackendId::VmLinux => Guest::Linux(LinuxGuest {
            kernel: kernel_path(args)?,
            initramfs: Some(
                args.initramfs
                    .clone()
                    .unwrap_or_else(|| args.images.join(vmlab_images::manifest::INITRAMFS)),
            ),
            cmdline_extra: String::new(),
            init_args: args.workload.clone(),
        }),
        other => bail!("backend {other:?} is not a VM backend"),
    };
    let serial_stream: Option<Box<dyn std::io::Write + Send>> = if args.json {
        None
    } else {
        Some(Box::new(std::io::stdout()))
    };
    let probe = match std::env::var(PROBE_ENV) {
        Ok(name) => Some(vmlab_vmm::jail::Probe::from_name(&name).ok_or_else(|| {
            anyhow!("{PROBE_ENV}={name:?} names no probe: use open, exec or socket")
        })?),
        Err(_) => None,
    };
    let hold = if args.workload.iter().any(|a| a == "--hold") {
        Some(vmlab_vmm::HoldGate::stdin().context(
            "--hold waits on stdin, which cannot be duplicated: give the run a stdin (e.g. </dev/null releases at once)",
        )?)
    } else {
        None
    };
    Ok(VmConfig {
        guest,
        mem_mib: args.mem,
        timeout,
        serial_stream,
        jail: !args.no_jail,
        probe,
        cgroup_tasks: Vec::new(),
        hold,
        virtio: super::devices::virtio(args)?,
        virtio_selftest: false,
    })
}

/// What the VMM reported, as `vmlab run` output.
pub(super) fn output(backend: BackendId, o: VmOutcome) -> RunRecord {
    let mut counters = o.exits.to_map();
    counters.insert("unhandled_port_reads".into(), o.unhandled.reads);
    counters.insert("unhandled_port_writes".into(), o.unhandled.writes);
    counters.insert("bad_protocol_words".into(), o.unhandled.bad_words);
    // Always present: a flooding guest shows as non-zero drops.
    counters.insert("console_dropped_bytes".into(), o.console_dropped_bytes);
    counters.insert("marks_dropped".into(), o.marks_dropped);
    super::devices::counters(&o.virtio, &mut counters);
    let facts = BTreeMap::from([
        ("kvm".to_string(), o.kvm_kind.label().to_string()),
        (
            "timing".to_string(),
            "in-process (from the VMM library call)".to_string(),
        ),
        ("mem_mib".to_string(), o.mem_mib.to_string()),
        ("entry".to_string(), o.entry.to_string()),
        ("tsc_khz".to_string(), o.tsc_khz.to_string()),
        ("exit_event_ns".to_string(), o.exit_event_ns.to_string()),
        ("console_bytes".to_string(), o.console.len().to_string()),
        (
            "jail".to_string(),
            if o.jailed { "on" } else { "off" }.to_string(),
        ),
    ]);
    let mut facts = facts;
    if let Some(p) = &o.probe {
        facts.insert("probe".to_string(), p.clone());
    }
    let console = String::from_utf8_lossy(&o.console);
    RunRecord {
        to_ready_ns: Some(o.to_ready_ns),
        phases: o.phases.iter().map(|&(n, t)| (n.to_string(), t)).collect(),
        marks: o.marks.clone(),
        counters,
        facts,
        ..RunRecord::new(backend, o.exit_code, o.to_exit_ns).with_results_of(&console)
    }
}

/// The last lines of a console, for error reports.
pub(super) fn tail(console: &[u8]) -> String {
    let text = String::from_utf8_lossy(console);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(CONSOLE_TAIL_LINES)..].join("\n")
}

/// The bare guest ELF: `$VMLAB_GUEST_ELF`'s file for vm-bare, else the
/// embedded one (`None`: use the embedded one).
pub(super) fn custom_elf(backend: BackendId) -> anyhow::Result<Option<Vec<u8>>> {
    match std::env::var_os(GUEST_ENV) {
        Some(p) if backend == BackendId::VmBare => {
            Ok(Some(std::fs::read(&p).with_context(|| {
                format!("cannot read the guest ELF {p:?} named by {GUEST_ENV}")
            })?))
        }
        _ => Ok(None),
    }
}

/// Boots the workload once in the VMM.
pub fn run(args: &RunArgs) -> anyhow::Result<RunRecord> {
    let custom = custom_elf(args.backend)?;
    let elf = custom.as_deref().unwrap_or(vmlab_images::embedded::GUEST);
    let mut cfg = config(args, elf)?;
    let (cgroup, cgroup_fact) = vmm_cgroup(args)?;
    if let Some(cg) = &cgroup {
        cfg.cgroup_tasks = vmlab_bench::vmm_cgroup::task_files(cg);
    }
    let streamed = cfg.serial_stream.is_some();
    let linux = matches!(cfg.guest, Guest::Linux(_));
    let result = vmlab_vmm::run(cfg);
    let usage = cgroup.as_ref().map(Cgroup::usage);
    if let Some(cg) = cgroup {
        cg.remove()
            .context("cannot remove the jailed VMM's cgroup")?;
    }
    match result {
        Ok(o) => {
            let mut out = output(args.backend, o);
            out.facts.insert("vmm_cgroup".into(), cgroup_fact);
            if let Some(peak) = usage.and_then(|u| u.memory_peak) {
                out.facts
                    .insert("vmm_memory_peak_bytes".into(), peak.to_string());
            }
            Ok(out)
        }
        Err(e) => {
            let ran = matches!(e, vmlab_vmm::Error::Guest { .. });
            if let vmlab_vmm::Error::Guest {
                console,
                console_dropped_bytes,
                ..
            } = &e
            {
                if !streamed && !console.is_empty() {
                    let dropped = match console_dropped_bytes {
                        0 => String::new(),
                        n => format!("; {n} earlier bytes were not kept"),
                    };
                    eprintln!(
                        "--- guest console (last {CONSOLE_TAIL_LINES} lines{dropped}) ---\n{}\n---",
                        tail(console)
                    );
                }
            }
            let jail_setup = matches!(&e, vmlab_vmm::Error::Jail(j) if j.is_setup());
            let hint = super::hint::flag_hint(&e);
            let mut err = anyhow::Error::new(e);
            if let Some(hint) = hint {
                err = err.context(hint);
            }
            if jail_setup {
                err = err.context(
                    "the VMM's jail could not be set up; `--no-jail` runs the VMM without it \
                     (as the caller, unfiltered: weaker isolation)",
                );
            }
            if ran && linux && KvmKind::detect() == KvmKind::Pvm {
                err = err.context(
                    "this host's KVM is software nested (kvm_pvm): an unmodified Linux kernel \
                     does not boot on it; use hardware KVM or `vmlab rig`",
                );
            }
            Err(err.context(format!("{} boot failed", args.backend)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_last_lines() {
        let text: String = (0..40).map(|i| format!("l{i}\n")).collect();
        let t = tail(text.as_bytes());
        assert!(t.starts_with("l15\n"));
        assert!(t.ends_with("l39"));
    }
}
