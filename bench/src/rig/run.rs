//! [`main`]: one rig run, from the L1 image to the report.
use std::time::Duration;

use anyhow::{bail, Context};

use super::check::{vmlab, Check, Expect};
use super::cpu::Cpu;
use super::proc::{Stop, L1};
use super::{bochs, image, outcome, qemu, report, RigArgs};
use vmlab_bench::compare::io::IO_KERNELS;
use vmlab_bench::compare::qemu_io::GUEST_DISK;

/// L1's memory: room for its initramfs (~20 MiB), the L2 guest and slack.
const L1_MEM_MIB: u64 = 1024;
/// L2 guest memory for the Linux checks.
const L2_MEM_MIB: u64 = 256;
/// Each check inside L1 is killed after this many seconds.
const CHECK_TIMEOUT_S: u64 = 90;

/// The default L1 timeout: Bochs boots from disk through its BIOS and runs
/// slower than QEMU TCG (with the snapshot checks its L1 took 350 s of wall
/// time on a loaded 2-core host, the AMD rig's about 80 s).
fn default_timeout_s(cpu: Cpu) -> u64 {
    match cpu {
        Cpu::Amd => 180,
        Cpu::Intel => 600,
    }
}

/// Runs the rig; the exit code is 0 when every check passed.
pub fn main(args: RigArgs) -> anyhow::Result<u8> {
    // First, before any thread: Ctrl-C then kills L1 and removes the scratch directory.
    let stop = Stop::install()?;
    let spec = vmlab_workload::args::Spec::parse(args.workload.iter().map(String::as_str))
        .map_err(|e| anyhow::anyhow!("bad workload arguments: {e}"))?;
    let code = spec.exit.unwrap_or(0);
    let kernels: Vec<String> = spec.kernels().iter().map(|k| k.name().into()).collect();
    let checks = only(checks(&args, code, kernels), &args.only)?;
    let timeout_s = args.timeout.unwrap_or(default_timeout_s(args.cpu));

    let inputs = image::Inputs::resolve(args.kernel.as_deref(), args.cpu)?;
    // Private (new, 0700, random name): the L1 image and its logs.
    let work = tempfile::Builder::new()
        .prefix("vmlab-rig-")
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .tempdir()
        .context("cannot create a scratch directory for the rig in the temp dir (set TMPDIR?)")?;
    let dir = work.path();
    let l1_initramfs = image::build_l1(&inputs, &checks, CHECK_TIMEOUT_S, dir)?;
    let console = dir.join("console.log");
    if !args.json {
        eprintln!(
            "rig: booting L1 ({}) with {} checks, timeout {timeout_s} s ...",
            args.cpu.emulator(),
            checks.len(),
        );
    }
    let l1 = L1 {
        kernel: &inputs.kernel,
        initramfs: &l1_initramfs,
        append: image::L1_APPEND,
        dir,
        mem_mib: L1_MEM_MIB,
        timeout: Duration::from_secs(timeout_s),
        stop: &stop,
    };
    let exit = match args.cpu {
        Cpu::Amd => qemu::run_l1(&l1),
        Cpu::Intel => bochs::run_l1(&l1),
    };
    if let Some(keep) = &args.keep {
        keep_logs(dir, keep)?;
    }
    let exit = exit?;
    // Lossy: a garbled byte must not cost the whole channel.
    let channel = std::fs::read(dir.join("results.log"))
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let report = report::assemble(args.cpu, checks, &exit, outcome::parse(&channel));
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        report::print_summary(&report, &console);
    }
    if report.l1_timed_out && !args.json {
        bail!(
            "L1 did not finish within {timeout_s} s; its console log ends with:\n{}",
            report::console_tail(&console)
        );
    }
    Ok(if report.passed { 0 } else { 1 })
}

/// Copies every log of the run (`*.log`) from `dir` to `keep`.
fn keep_logs(dir: &std::path::Path, keep: &std::path::Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(keep).with_context(|| format!("cannot create {}", keep.display()))?;
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))?;
    for e in entries.flatten() {
        let from = e.path();
        if from.extension().is_some_and(|x| x == "log") {
            let to = keep.join(e.file_name());
            std::fs::copy(&from, &to)
                .with_context(|| format!("cannot copy to {}", to.display()))?;
        }
    }
    Ok(())
}

/// Where the Linux guest's snapshot goes inside L1 (tmpfs).
const L2_SNAPSHOT: &str = "/tmp/vm-linux.snap";

/// The checks of one rig run: the Linux and bare guests with the user's
/// workload arguments, the Linux guest's snapshot and two restores from
/// it, and optionally the boots and restores that must fail cleanly.
fn checks(args: &RigArgs, code: u8, kernels: Vec<String>) -> Vec<Check> {
    let run = |backend: &str, extra: &[&str]| -> Vec<String> {
        let mut v = vmlab(&["run", "--backend", backend, "--json", "--timeout", "60"]);
        v.extend(extra.iter().map(|s| s.to_string()));
        v.push("--".into());
        v.extend(args.workload.iter().cloned());
        v
    };
    let linux = [
        "--kernel",
        image::L2_KERNEL,
        "--initramfs",
        image::L2_INITRAMFS,
    ];
    let mem = L2_MEM_MIB.to_string();
    let mut checks = vec![
        Check {
            name: "vm-linux".into(),
            argv: run("vm-linux", &[&linux[..], &["--mem", &mem]].concat()),
            expect: Expect::Exit {
                code,
                kernels: kernels.clone(),
            },
        },
        Check {
            name: "vm-bare".into(),
            argv: run("vm-bare", &[]),
            expect: Expect::Exit {
                code,
                kernels: kernels.clone(),
            },
        },
        io_check(),
    ];
    checks.extend(restore_checks(args, code, kernels));
    if args.negative {
        checks.push(Check {
            name: "vm-linux-corrupt-initramfs".into(),
            argv: run(
                "vm-linux",
                &[
                    "--kernel",
                    image::L2_KERNEL,
                    "--initramfs",
                    image::L2_CORRUPT_INITRAMFS,
                    "--mem",
                    &mem,
                ],
            ),
            expect: Expect::Error {
                contains: "kernel panic".into(),
            },
        });
        checks.extend(bad_snapshot_checks());
    }
    checks
}

/// The checks named in `names` (all when it is empty), in their order.
fn only(checks: Vec<Check>, names: &[String]) -> anyhow::Result<Vec<Check>> {
    if let Some(bad) = names.iter().find(|n| !checks.iter().any(|c| &c.name == *n)) {
        let known: Vec<&str> = checks.iter().map(|c| c.name.as_str()).collect();
        bail!(
            "--only {bad}: no such check; the checks are {} (the -corrupt/-truncated ones with --negative)",
            known.join(", ")
        );
    }
    Ok(checks
        .into_iter()
        .filter(|c| names.is_empty() || names.contains(&c.name))
        .collect())
}

/// The Linux guest's I/O disk inside L1, and the ext2 image holding it:
/// L1's root is a tmpfs, which (in its 6.1 kernel) does not take
/// `O_DIRECT`, so the disk lies on a loop-mounted ext2 filesystem.
const IO_FS_IMAGE: &str = "/tmp/io.ext2";
const IO_MOUNT: &str = "/mnt/io";
const IO_DISK: &str = "/mnt/io/disk.raw";

/// The Linux guest's four I/O kernels over virtio-net and virtio-blk:
/// `vmlab run --backend vm-linux --tap vt1 --disk FILE` with the initramfs
/// that carries the virtio modules, in a private network namespace of L1
/// (busybox `unshare -n`) that holds the TAP `vt1` (busybox `tunctl`) with
/// the peer's address, where `vmlab io-serve` runs the host side's server.
/// The guest takes link 1's instance address. It passes when all four
/// kernels report and both devices completed requests.
fn io_check() -> Check {
    let link = vmlab_bench::io::Subnet::new(1).expect("link 1 exists");
    let tap = link.tap_if();
    let mem = L2_MEM_MIB.to_string();
    let mut run = vmlab(&[
        "io-serve",
        "--",
        super::check::VMLAB,
        "run",
        "--backend",
        "vm-linux",
        "--json",
        "--timeout",
        "80",
        "--kernel",
        image::L2_KERNEL,
        "--initramfs",
        image::L2_IO_INITRAMFS,
        "--mem",
        &mem,
        "--disk",
        IO_DISK,
        "--tap",
        &tap,
        "--",
    ]);
    run.extend(IO_KERNELS.iter().map(|k| k.to_string()));
    let peer = link.peer();
    let addr = link.guest_addr();
    run.extend(
        [
            "--time", "20ms", "--peer", &peer, "--addr", &addr, "--disk", GUEST_DISK,
        ]
        .map(String::from),
    );
    let netns =
        format!(
        "set -e; tunctl -t {tap} >/dev/null; ip addr add {}/24 dev {tap}; ip link set {tap} up; \
         exec {}",
        link.host(),
        run.iter().map(|a| image::quote(a)).collect::<Vec<_>>().join(" ")
    );
    let script = format!(
        "set -e; dd if=/dev/zero of={IO_FS_IMAGE} bs=1M count=24 2>/dev/null; \
         mke2fs -F -b 4096 {IO_FS_IMAGE} >/dev/null; mkdir -p {IO_MOUNT}; \
         mount -o loop {IO_FS_IMAGE} {IO_MOUNT}; \
         dd if=/dev/zero of={IO_DISK} bs=1M count=16 2>/dev/null; \
         exec unshare -n /bin/sh -c {}",
        image::quote(&netns)
    );
    Check {
        name: "vm-linux-io".into(),
        argv: vec!["/bin/sh".into(), "-c".into(), script],
        expect: Expect::Io {
            kernels: IO_KERNELS.iter().map(|k| k.to_string()).collect(),
            devices: vec!["virtio_net".into(), "virtio_blk".into()],
        },
    }
}

/// `vmlab snapshot` of the Linux guest with the workload's arguments, then
/// two restores from that one file (jailed, like a cold `vmlab run`).
fn restore_checks(args: &RigArgs, code: u8, kernels: Vec<String>) -> Vec<Check> {
    let mem = L2_MEM_MIB.to_string();
    let mut snapshot = vmlab(&[
        "snapshot",
        "--backend",
        "vm-linux",
        "--json",
        "--timeout",
        "60",
        "--kernel",
        image::L2_KERNEL,
        "--initramfs",
        image::L2_INITRAMFS,
        "--mem",
        &mem,
        "--out",
        L2_SNAPSHOT,
        "--",
    ]);
    snapshot.extend(args.workload.iter().cloned());
    let restore = || -> Vec<String> {
        vmlab(&[
            "run",
            "--backend",
            "vm-linux",
            "--json",
            "--timeout",
            "60",
            "--restore",
            L2_SNAPSHOT,
        ])
    };
    let restored = || Expect::Restored {
        code,
        kernels: kernels.clone(),
    };
    vec![
        Check {
            name: "vm-linux-snapshot".into(),
            argv: snapshot,
            expect: Expect::Snapshot {
                mem_bytes: L2_MEM_MIB << 20,
            },
        },
        Check {
            name: "vm-linux-restore".into(),
            argv: restore(),
            expect: restored(),
        },
        Check {
            name: "vm-linux-restore-again".into(),
            argv: restore(),
            expect: restored(),
        },
    ]
}

/// Restores that must be refused: the Linux guest's snapshot cut short,
/// and (last: it edits the file in place) with a byte of its state
/// changed (the first byte of the memory size, 256 MiB: 0x00 becomes 0xff).
fn bad_snapshot_checks() -> Vec<Check> {
    let short = "/tmp/short.snap";
    let restore = |path: &str| {
        format!("exec /rig/vmlab run --backend vm-linux --json --timeout 60 --restore {path}")
    };
    let sh = |script: String| -> Vec<String> { vec!["/bin/sh".into(), "-c".into(), script] };
    vec![
        Check {
            name: "vm-linux-restore-truncated".into(),
            argv: sh(format!(
                "head -c 1048576 {L2_SNAPSHOT} > {short} && {}",
                restore(short)
            )),
            expect: Expect::Error {
                contains: "is truncated".into(),
            },
        },
        Check {
            name: "vm-linux-restore-corrupt".into(),
            argv: sh(format!(
                "printf '\\377' | dd of={L2_SNAPSHOT} bs=1 seek=64 conv=notrunc 2>/dev/null && {}",
                restore(L2_SNAPSHOT)
            )),
            expect: Expect::Error {
                contains: "state checksum does not match".into(),
            },
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(names: &[&str]) -> Vec<Check> {
        names
            .iter()
            .map(|n| Check {
                name: n.to_string(),
                argv: vec![],
                expect: Expect::Error {
                    contains: String::new(),
                },
            })
            .collect()
    }

    #[test]
    fn only_keeps_the_named_checks_in_order_and_refuses_unknown_names() {
        let all = named(&["vm-linux", "vm-bare", "vm-linux-io"]);
        let names = |c: Vec<Check>| c.into_iter().map(|c| c.name).collect::<Vec<_>>();
        assert_eq!(names(only(all.clone(), &[]).unwrap()).len(), 3);
        let picked = only(all.clone(), &["vm-linux-io".into(), "vm-linux".into()]).unwrap();
        assert_eq!(names(picked), ["vm-linux", "vm-linux-io"]);
        let e = only(all, &["vm-linux-oi".into()]).unwrap_err().to_string();
        assert!(e.contains("--only vm-linux-oi: no such check"), "{e}");
        assert!(e.contains("vm-linux, vm-bare, vm-linux-io"), "{e}");
    }

    #[test]
    fn the_io_check_runs_the_four_kernels_over_a_tap_and_a_disk_in_its_own_netns() {
        let c = io_check();
        let script = &c.argv[2];
        assert!(script.contains("exec unshare -n /bin/sh -c"), "{script}");
        assert!(script.contains("tunctl -t vt1"), "{script}");
        assert!(
            script.contains("ip addr add 10.77.1.1/24 dev vt1"),
            "{script}"
        );
        for word in [
            "'io-serve'",
            "'--tap'",
            "'/rig/initramfs-io.cpio'",
            "'net-rr'",
            "'blk-seq'",
            "'--addr'",
            "'10.77.1.2/24'",
            "'/dev/vda'",
        ] {
            assert!(script.contains(word), "{word} in {script}");
        }
        assert!(matches!(c.expect, Expect::Io { ref devices, .. } if devices.len() == 2));
    }
}
