//! `vmlab doctor`: what this host can run, why not, and how to fix it. The
//! facts and the rules are in the library ([`vmlab_bench::doctor`]); this
//! prints them.
use clap::Args;
use serde::Serialize;
use vmlab_bench::doctor::{assess, gather, Capability, Facts};

/// Arguments of `vmlab doctor`.
#[derive(Args, Debug, Clone)]
pub struct DoctorArgs {
    /// Print one JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Exit 1 when a vmlab backend (process, sandbox, vm-bare, vm-linux) cannot run.
    #[arg(long)]
    pub strict: bool,
}

/// Runs `vmlab doctor` and returns the exit code.
pub fn main(args: DoctorArgs) -> anyhow::Result<u8> {
    let facts = gather();
    let caps = assess(&facts);
    if args.json {
        #[derive(Serialize)]
        struct Out<'a> {
            facts: &'a Facts,
            capabilities: &'a [Capability],
        }
        println!(
            "{}",
            serde_json::to_string_pretty(&Out {
                facts: &facts,
                capabilities: &caps
            })?
        );
    } else {
        print!("{}", table(&facts, &caps));
        print!("{}", crate::rig::doctor_section());
    }
    let failed = caps.iter().any(|c| c.core && !c.ok);
    Ok(if args.strict && failed { 1 } else { 0 })
}

/// The human-readable diagnosis.
fn table(f: &Facts, caps: &[Capability]) -> String {
    let h = &f.view.host;
    let mut s = format!(
        "host: {}, {} CPUs, {}, kernel {}\nKVM: {}   cgroups: {}   user namespaces: {}   vmlab: {}\n\n",
        h.cpu_model,
        h.cores,
        vmlab_reports::charts::fmt_bytes(h.mem_bytes as f64),
        h.kernel,
        h.kvm.label(),
        h.cgroup_mode.label(),
        if h.userns { "allowed" } else { "not allowed" },
        f.git_revision,
    );
    let width = caps.iter().map(|c| c.name.len()).max().unwrap_or(8);
    for c in caps {
        s.push_str(&format!(
            "{:<width$}  {:<3}  {}\n",
            c.name,
            if c.ok { "yes" } else { "no" },
            c.why
        ));
        if let Some(fix) = &c.fix {
            let label = if c.ok { "note" } else { "fix" };
            s.push_str(&format!("{:<width$}       {label}: {fix}\n", ""));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_shows_each_capability_and_its_fix() {
        let caps = vec![
            Capability {
                name: "sandbox".into(),
                ok: false,
                why: "not root".into(),
                fix: Some("run as root".into()),
                core: true,
            },
            Capability {
                name: "process".into(),
                ok: true,
                why: "a plain process needs nothing".into(),
                fix: None,
                core: true,
            },
        ];
        let text = table(&gather(), &caps);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("host: "), "{text}");
        assert!(lines[1].starts_with("KVM: "), "{text}");
        assert_eq!(lines[3], "sandbox  no   not root");
        assert_eq!(lines[4], format!("{}fix: run as root", " ".repeat(14)));
        assert_eq!(lines[5], "process  yes  a plain process needs nothing");
    }
}
