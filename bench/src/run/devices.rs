//! `vmlab run --disk FILE --tap NAME` for the VM backends: the virtio
//! devices the VMM gets. The disk is opened read-write with `O_DIRECT`, as
//! the plain process's `blk-*` kernels open theirs, so that a VM and a
//! process do the same host-side I/O (the VMM's flush is `fdatasync`, as
//! the process's). The TAP is attached (or created) in the caller's
//! network namespace; the VMM, jailed or not, does its I/O on these fds
//! only.
use std::collections::BTreeMap;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use anyhow::{anyhow, bail, Context};
use vmlab_bench::BackendId;

use vmlab_vmm::devices::virtio::{tap, DeviceConfig, DeviceReport};

use super::RunArgs;

/// The guest's MAC address: locally administered, unicast ("vmlab").
pub const GUEST_MAC: [u8; 6] = [0x02, 0x76, 0x6d, 0x6c, 0x61, 0x62];

/// The smallest disk: one sector.
const SECTOR: u64 = 512;

/// The devices `--disk` and `--tap` ask for (none without them).
pub(super) fn virtio(args: &RunArgs) -> anyhow::Result<Vec<DeviceConfig>> {
    if args.disk.is_none() && args.tap.is_none() {
        return Ok(Vec::new());
    }
    if !matches!(args.backend, BackendId::VmBare | BackendId::VmLinux) {
        bail!(
            "--tap gives a VM a virtio-net device; {} has none (use --backend vm-bare)",
            args.backend
        );
    }
    let mut devices = Vec::new();
    if let Some(path) = &args.disk {
        devices.push(DeviceConfig::Block {
            file: open_disk(path)?,
            read_only: false,
        });
    }
    if let Some(name) = &args.tap {
        let fd = tap::open(name).with_context(|| {
            format!(
                "--tap {name}: cannot attach the VM to that TAP (it needs root or CAP_NET_ADMIN)"
            )
        })?;
        devices.push(DeviceConfig::Net {
            tap: fd,
            mac: GUEST_MAC,
        });
    }
    Ok(devices)
}

/// Each device's counters as `vmlab run` counters: `virtio_blk_completed`,
/// `virtio_net_bad_chains`, ... (refused guest input included; a second
/// device of a kind adds its index: `virtio_net1_completed`).
pub(super) fn counters(devices: &[DeviceReport], into: &mut BTreeMap<String, u64>) {
    let mut seen = BTreeMap::new();
    for d in devices {
        let n: &mut usize = seen.entry(d.kind).or_default();
        let kind = match *n {
            0 => d.kind.replace('-', "_"),
            i => format!("{}{i}", d.kind.replace('-', "_")),
        };
        *n += 1;
        let c = &d.counters;
        for (name, v) in [
            ("notifies", c.notifies),
            ("completed", c.completed),
            ("bytes_from_guest", c.bytes_from_guest),
            ("bytes_to_guest", c.bytes_to_guest),
            ("bad_chains", c.bad_chains),
            ("bad_requests", c.bad_requests),
            ("io_errors", c.io_errors),
            ("dropped", c.dropped),
            ("bad_registers", c.bad_registers),
            ("interrupts", c.interrupts),
        ] {
            into.insert(format!("{kind}_{name}"), v);
        }
    }
}

/// The disk file, read-write with `O_DIRECT`, of at least one sector.
fn open_disk(path: &Path) -> anyhow::Result<std::fs::File> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_DIRECT)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::EINVAL) => anyhow!(
                "--disk {}: its filesystem does not take O_DIRECT (tmpfs?); put the disk on a \
                 disk filesystem",
                path.display()
            ),
            _ => anyhow::Error::new(e).context(format!(
                "--disk {}: cannot open it read-write; give an existing raw file",
                path.display()
            )),
        })?;
    let meta = file
        .metadata()
        .with_context(|| format!("--disk {}: cannot read its size", path.display()))?;
    if !meta.is_file() {
        bail!(
            "--disk {}: not a regular file; give a raw disk image file",
            path.display()
        );
    }
    if meta.len() < SECTOR {
        bail!(
            "--disk {}: it holds {} bytes; a disk needs at least one {SECTOR}-byte sector",
            path.display(),
            meta.len()
        );
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(backend: BackendId, disk: Option<&Path>, tap: Option<&str>) -> RunArgs {
        RunArgs {
            disk: disk.map(Path::to_path_buf),
            tap: tap.map(str::to_string),
            ..RunArgs::for_backend(backend)
        }
    }

    #[test]
    fn no_flags_no_devices_and_other_backends_are_refused() {
        assert!(virtio(&args(BackendId::VmBare, None, None))
            .unwrap()
            .is_empty());
        let e = virtio(&args(BackendId::Process, None, Some("t0"))).unwrap_err();
        assert!(e.to_string().contains("use --backend vm-bare"), "{e}");
    }

    #[test]
    fn bad_disks_are_named_with_the_fix() {
        let dir = tempfile::tempdir_in(env!("CARGO_MANIFEST_DIR")).unwrap();
        let missing = dir.path().join("none.raw");
        let e = format!(
            "{:#}",
            virtio(&args(BackendId::VmBare, Some(&missing), None)).unwrap_err()
        );
        assert!(
            e.contains("none.raw: cannot open it read-write; give an existing raw file"),
            "{e}"
        );
        let small = dir.path().join("small.raw");
        std::fs::write(&small, [0u8; 100]).unwrap();
        let e = format!(
            "{:#}",
            virtio(&args(BackendId::VmBare, Some(&small), None)).unwrap_err()
        );
        assert!(e.contains("holds 100 bytes"), "{e}");
        let good = dir.path().join("good.raw");
        std::fs::write(&good, vec![0u8; 4096]).unwrap();
        let d = virtio(&args(BackendId::VmBare, Some(&good), None)).unwrap();
        assert!(matches!(
            d[..],
            [DeviceConfig::Block {
                read_only: false,
                ..
            }]
        ));
        let e = format!(
            "{:#}",
            virtio(&args(BackendId::VmBare, Some(dir.path()), None)).unwrap_err()
        );
        assert!(
            e.contains("cannot open it") || e.contains("not a regular file"),
            "{e}"
        );
    }

    #[test]
    fn device_counters_are_named_by_kind() {
        let d = |kind, completed| DeviceReport {
            kind,
            mmio_base: 0,
            irq: 5,
            counters: vmlab_vmm::devices::virtio::VirtioCounters {
                completed,
                ..Default::default()
            },
        };
        let mut m = BTreeMap::new();
        counters(
            &[d("virtio-blk", 3), d("virtio-net", 4), d("virtio-net", 5)],
            &mut m,
        );
        assert_eq!(m["virtio_blk_completed"], 3);
        assert_eq!(m["virtio_net_completed"], 4);
        assert_eq!(m["virtio_net1_completed"], 5);
        assert_eq!(m["virtio_blk_bad_chains"], 0);
    }

    #[test]
    fn bad_tap_names_are_refused() {
        let e = format!(
            "{:#}",
            virtio(&args(BackendId::VmBare, None, Some("a-name-far-too-long"))).unwrap_err()
        );
        assert!(e.contains("--tap a-name-far-too-long"), "{e}");
    }
}
