//! The I/O rounds: `net-rr`, `net-stream`, `blk-rand` and `blk-seq` in
//! every backend that can run them, each backend in a network namespace of
//! its own with a veth pair to vmlab's host side ([`crate::io`]), the
//! plain process included, so that every ratio to the process compares the
//! same I/O over the same kind of link to the same kind of disk (one raw
//! file). The backend's launcher is spawned inside its link's namespace and
//! creates none of its own: `vmlab run --net host` for the sandbox, bwrap
//! with `--share-net`, the OCI runtimes with no network namespace in
//! `config.json`, runsc with `--network=host` (its Sentry's sockets are
//! host sockets in that namespace), QEMU with a TAP bridged into the
//! namespace ([`super::qemu_io`]). The disk is bound in at
//! [`crate::io::disk::INSIDE`] (on the instance's `/tmp` tmpfs), or given
//! to QEMU's guest as its virtio-blk disk.
//!
//! The rounds run after the overhead rounds, in a random order per round
//! from the plan's seed; their results join the overhead figures (ns per
//! iteration, as a ratio to the plain process) under the kernels' names.
use std::path::Path;

use anyhow::Context;

use super::backend::Backend;
use super::matrix::Plan;
use super::measured::{unix_now_ns, Measured, Purpose};
use super::order::SplitMix64;
use super::progress::Progress;
use crate::io::{Disk, IoHost, Subnet};

/// The I/O kernels.
pub const IO_KERNELS: [&str; 4] = ["net-rr", "net-stream", "blk-rand", "blk-seq"];

/// Why a VM backend does not run them yet.
pub const NO_VIRTIO: &str = "the I/O kernels need virtio-net and virtio-blk devices, \
                             which this backend does not get yet";

/// What of the I/O a backend reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reach {
    /// Why it has no disk, if it has none (it then runs the network kernels only).
    pub no_disk: Option<&'static str>,
    /// Whether it is a VM: its link has a TAP bridged to the veth end
    /// (one more hop, the bridge, is part of what a VM pays) and the guest
    /// takes the instance's address (`--addr`).
    pub vm: bool,
}

impl Reach {
    /// The network and the disk.
    pub const ALL: Reach = Reach {
        no_disk: None,
        vm: false,
    };
    /// The network (over a TAP) and the disk (a virtio-blk disk).
    pub const VM: Reach = Reach {
        no_disk: None,
        vm: true,
    };
}

/// The workload's arguments for one I/O run on link `subnet`.
pub fn args(plan: &Plan, reach: Reach, subnet: Subnet) -> Vec<String> {
    let mut args: Vec<String> = IO_KERNELS
        .iter()
        .filter(|k| reach.no_disk.is_none() || k.starts_with("net-"))
        .map(|k| k.to_string())
        .collect();
    args.extend(["--time".into(), plan.kernel_time.clone()]);
    args.extend(["--peer".into(), subnet.peer()]);
    if reach.vm {
        args.extend(["--addr".into(), subnet.guest_addr()]);
    }
    args
}

/// `config` for an I/O run: no network namespace of its own (it joins the
/// one the runtime is spawned in) and `disk` bound at the inside path.
pub fn oci_config(config: &mut serde_json::Value, disk: &Path) -> anyhow::Result<()> {
    let namespaces = config
        .pointer_mut("/linux/namespaces")
        .and_then(|n| n.as_array_mut())
        .context("the bundle's config.json has no linux.namespaces")?;
    namespaces.retain(|n| n["type"] != "network");
    let mounts = config
        .as_object_mut()
        .context("the bundle's config.json is no object")?
        .entry("mounts")
        .or_insert_with(|| serde_json::json!([]));
    mounts
        .as_array_mut()
        .context("the bundle's mounts are no list")?
        .push(serde_json::json!({
            "destination": crate::io::disk::INSIDE,
            "type": "bind",
            "source": disk.display().to_string(),
            "options": ["bind", "rw", "nosuid", "nodev", "noexec"],
        }));
    let process = config
        .pointer_mut("/process/args")
        .and_then(|a| a.as_array_mut())
        .context("the bundle's config.json has no process.args")?;
    process.extend(["--disk".into(), crate::io::disk::INSIDE.into()]);
    Ok(())
}

/// Runs the I/O rounds over `backends` into `out` (one entry each).
pub fn run(backends: &[&dyn Backend], plan: &Plan, out: &mut [Measured], progress: &Progress) {
    if plan.io_runs == 0 {
        return;
    }
    let reach: Vec<_> = backends.iter().map(|b| b.io()).collect();
    for (m, r) in out.iter_mut().zip(&reach) {
        if let Err(why) = r {
            m.io_note = Some(format!("no I/O kernels: {why}"));
        }
    }
    if reach.iter().all(|r| r.is_err()) {
        return;
    }
    let setup = IoHost::new().map_err(|e| e.to_string()).and_then(|host| {
        let disk = Disk::new(&std::env::temp_dir()).map_err(|e| e.to_string())?;
        Ok((host, disk))
    });
    let (host, disk) = match setup {
        Ok(s) => s,
        Err(why) => {
            for (m, r) in out.iter_mut().zip(&reach) {
                if r.is_ok() {
                    m.io_note = Some(format!("no I/O kernels: {why}"));
                }
            }
            return;
        }
    };
    let mut links = Vec::new();
    for ((b, r), m) in backends.iter().zip(&reach).zip(out.iter_mut()) {
        let link = match r {
            Err(_) => {
                links.push(None);
                continue;
            }
            Ok(_) if m.failure.is_some() => Err("no I/O kernels: it failed earlier".into()),
            Ok(r) => host
                .link(r.vm)
                .map_err(|e| format!("no I/O kernels: {} link: {e}", b.name())),
        };
        if let Err(why) = &link {
            m.io_note = Some(why.clone());
        }
        if let (
            Ok(Reach {
                no_disk: Some(why), ..
            }),
            Ok(_),
        ) = (r, &link)
        {
            m.io_note = Some(format!("no blk-rand, blk-seq: {why}"));
        }
        links.push(link.ok());
    }
    let mut rng = SplitMix64::new(plan.seed ^ 0x10);
    for round in 0..plan.io_runs {
        for i in rng.permutation(backends.len()) {
            let (Some(link), Ok(reach)) = (&links[i], &reach[i]) else {
                continue;
            };
            let b = backends[i];
            progress.step(&format!(
                "I/O {} ({}/{})",
                b.name(),
                round + 1,
                plan.io_runs
            ));
            let started = unix_now_ns();
            let sample = b.io_boot(&args(plan, *reach, link.subnet()), &disk.path(), link);
            out[i].record(sample, Purpose::Io, Some(round), started);
        }
    }
    drop(links);
    drop(host);
}

/// Steps [`run`] reports for `backends`.
pub fn steps(backends: &[&dyn Backend], plan: &Plan) -> u64 {
    let n = backends.iter().filter(|b| b.io().is_ok()).count() as u64;
    n * u64::from(plan.io_runs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vm_gets_the_instance_address_and_a_diskless_backend_the_net_kernels() {
        let plan = Plan::new(3, true, 1);
        let s = Subnet::new(4).unwrap();
        let vm = args(&plan, Reach::VM, s);
        assert_eq!(&vm[..4], IO_KERNELS.map(String::from).as_slice());
        assert!(
            vm.ends_with(&["--addr".into(), "10.77.4.2/24".into()]),
            "{vm:?}"
        );
        assert!(vm.windows(2).any(|w| w == ["--peer", "10.77.4.1:7077"]));
        let plain = args(&plan, Reach::ALL, s);
        assert!(!plain.iter().any(|a| a == "--addr"), "{plain:?}");
        let no_disk = Reach {
            no_disk: Some("none"),
            vm: false,
        };
        let net = args(&plan, no_disk, s);
        assert_eq!(&net[..2], ["net-rr", "net-stream"]);
        assert!(!net.iter().any(|a| a.starts_with("blk-")));
    }

    #[test]
    fn oci_configs_join_the_link_and_bind_the_disk() {
        let mut c = serde_json::json!({
            "process": {"args": ["/init", "net-rr"]},
            "linux": {"namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "mount"}]},
            "mounts": [{"destination": "/tmp", "type": "tmpfs"}]
        });
        oci_config(&mut c, Path::new("/proc/1/fd/9")).unwrap();
        assert_eq!(
            c["linux"]["namespaces"],
            serde_json::json!([{"type": "pid"}, {"type": "mount"}])
        );
        let m = &c["mounts"][1];
        assert_eq!(
            (&m["destination"], &m["source"]),
            (&"/tmp/vmlab-disk".into(), &"/proc/1/fd/9".into())
        );
        assert!(m["options"].as_array().unwrap().contains(&"nosuid".into()));
        assert_eq!(c["process"]["args"][3], "/tmp/vmlab-disk");
        assert!(oci_config(&mut serde_json::json!({}), Path::new("/d")).is_err());
    }
}
