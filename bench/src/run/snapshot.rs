//! `vmlab snapshot --backend vm-bare|vm-linux --out FILE [-- ARGS]`: boot
//! the bare guest (or the Linux kernel with the workload initramfs) with
//! `--snapshot` added to its arguments, write a snapshot at its snapshot
//! mark (just before ready), stop the VM.
use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Args;
use serde::Serialize;
use vmlab_bench::BackendId;

use super::{vm, RunArgs};

/// Arguments of `vmlab snapshot`.
#[derive(Args, Debug, Clone)]
pub struct SnapshotArgs {
    /// Which backend to snapshot: vm-bare or vm-linux.
    #[arg(long)]
    pub backend: String,
    /// Guest kernel (vm-linux): bzImage or vmlinux ELF. Default: $VMLAB_KERNEL, then the cache.
    #[arg(long)]
    pub kernel: Option<PathBuf>,
    /// Initramfs for vm-linux. Default: the one in the images directory.
    #[arg(long)]
    pub initramfs: Option<PathBuf>,
    /// Directory of built images (see `vmlab images build`).
    #[arg(long, default_value = "target/vmlab/images")]
    pub images: PathBuf,
    /// Where to write the snapshot (replaced atomically if it exists).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Guest memory in MiB.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..=vmlab_vmm::memory::MAX_MIB))]
    pub mem: u64,
    /// Give up after this many seconds (at most a day).
    #[arg(long, default_value_t = 30.0, value_parser = super::args::parse_timeout)]
    pub timeout: f64,
    /// Print one JSON object describing the snapshot.
    #[arg(long)]
    pub json: bool,
    /// Arguments for the workload (after `--`); `--snapshot` is added.
    #[arg(last = true)]
    pub workload: Vec<String>,
}

/// What `--json` prints.
#[derive(Serialize)]
struct Written {
    path: PathBuf,
    bytes: u64,
    disk_bytes: u64,
    mem_bytes: u64,
    data_pages: u64,
    msrs: usize,
    to_mark_ns: u64,
    write_ns: u64,
    kvm: &'static str,
}

/// Runs `vmlab snapshot`.
pub fn main(a: SnapshotArgs) -> anyhow::Result<u8> {
    let backend = match a.backend.as_str() {
        "vm-bare" => BackendId::VmBare,
        "vm-linux" => BackendId::VmLinux,
        other => bail!(
            "vmlab snapshot takes --backend vm-bare or vm-linux (not {other:?}): the tiny VMM \
             snapshots its own guests"
        ),
    };
    if backend == BackendId::VmBare && (a.kernel.is_some() || a.initramfs.is_some()) {
        bail!("--kernel and --initramfs are for --backend vm-linux; vm-bare boots the bare guest");
    }
    if a.out.as_os_str().is_empty() || a.out.is_dir() {
        bail!(
            "--out {:?} is not a file name: give the path of the snapshot file to write",
            a.out
        );
    }
    let parent = a.out.parent().filter(|p| !p.as_os_str().is_empty());
    if let Some(dir) = parent.filter(|p| !p.is_dir()) {
        bail!(
            "--out {}: the directory {} does not exist; create it first",
            a.out.display(),
            dir.display()
        );
    }
    let run = RunArgs {
        backend,
        images: a.images.clone(),
        kernel: a.kernel.clone(),
        initramfs: a.initramfs.clone(),
        mem: a.mem,
        timeout: a.timeout,
        json: true,
        no_jail: true,
        workload: a.workload.clone(),
        ..RunArgs::for_backend(backend)
    };
    let custom = vm::custom_elf(backend)?;
    let elf = custom.as_deref().unwrap_or(vmlab_images::embedded::GUEST);
    let cfg = vm::config(&run, elf)?;
    let taken = vmlab_vmm::snapshot::take(cfg, &a.out).map_err(|e| {
        let hint = super::hint::flag_hint(&e);
        let err = anyhow::Error::new(e);
        match hint {
            Some(h) => err.context(h),
            None => err,
        }
    });
    let t = taken.with_context(|| format!("cannot snapshot {backend} to {}", a.out.display()))?;
    for stale in &t.swept {
        eprintln!(
            "vmlab: removed {}, the temporary file of a snapshot whose writer died",
            stale.display()
        );
    }
    if a.json {
        let w = Written {
            path: t.path.clone(),
            bytes: t.bytes,
            disk_bytes: t.disk_bytes,
            mem_bytes: t.mem_bytes,
            data_pages: t.data_pages,
            msrs: t.msrs,
            to_mark_ns: t.to_mark_ns,
            write_ns: t.write_ns,
            kvm: t.kvm_kind.label(),
        };
        println!("{}", serde_json::to_string_pretty(&w)?);
    } else {
        println!(
            "wrote {}: {:.1} MiB ({} KiB on disk: {} guest pages, the rest holes), taken {:.3} ms \
             into the boot; boot from it with `vmlab run --backend {backend} --restore {}`",
            t.path.display(),
            t.bytes as f64 / f64::from(1 << 20),
            t.disk_bytes / 1024,
            t.data_pages,
            t.to_mark_ns as f64 / 1e6,
            t.path.display()
        );
    }
    Ok(0)
}
