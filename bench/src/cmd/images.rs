//! `vmlab images build|sizes`: build the artifacts every backend boots, and
//! measure them.
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Subcommand;
use vmlab_images::builder::{self, BuildOptions};
use vmlab_images::kernel::{self, Cache, KernelError};
use vmlab_images::manifest::Manifest;
use vmlab_images::sizes;

/// What to do with the images.
#[derive(Subcommand, Debug)]
pub enum ImagesCommand {
    /// Build every artifact into DIR and print the size table.
    ///
    /// Builds the static workload binary, the bare KVM guest, the rootfs, the
    /// initramfs (newc cpio, plain and gzip), the OCI image layout and the OCI
    /// runtime bundle, reproducibly (same inputs, same bytes), and records
    /// the guest kernel of the vm-linux backend in DIR/manifest.json. The
    /// kernel is --kernel PATH, else $VMLAB_KERNEL, else the one cached in
    /// $XDG_CACHE_HOME/vmlab (~/.cache/vmlab), else Debian's cloud kernel,
    /// fetched with `apt-get download` and unpacked there (never installed).
    /// When no kernel can be had, everything else is still built and the
    /// command fails saying what to install or pass; --no-kernel skips the
    /// kernel (only the vm-linux backend needs it) and succeeds.
    Build {
        /// Output directory (replaced as a whole).
        #[arg(long, default_value = "target/vmlab/images")]
        out: PathBuf,
        /// Guest kernel: a bzImage or an x86-64 vmlinux ELF.
        #[arg(long, value_name = "PATH", conflicts_with = "no_kernel")]
        kernel: Option<PathBuf>,
        /// Build without a guest kernel.
        #[arg(long)]
        no_kernel: bool,
    },
    /// Print the size of every artifact in DIR (uncompressed, gzip -6,
    /// zstd -3, on disk, files).
    Sizes {
        /// Output directory of `vmlab images build`.
        #[arg(long, default_value = "target/vmlab/images")]
        out: PathBuf,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

pub fn main(cmd: ImagesCommand) -> anyhow::Result<()> {
    match cmd {
        ImagesCommand::Build {
            out,
            kernel,
            no_kernel,
        } => build(&out, kernel.as_deref(), no_kernel),
        ImagesCommand::Sizes { out, json } => show_sizes(&out, json),
    }
}

fn build(out: &Path, kernel_path: Option<&Path>, no_kernel: bool) -> anyhow::Result<()> {
    let (kernel, missing) = if no_kernel {
        (None, None)
    } else {
        let explicit =
            kernel_path.is_some() || std::env::var_os(kernel::ENV).is_some_and(|v| !v.is_empty());
        let found = Cache::default_location().and_then(|cache| {
            kernel::resolve(kernel_path, &cache, true, &mut |step| {
                eprintln!("vmlab: {step}")
            })
        });
        match found {
            Ok(k) => (Some(k), None),
            // A kernel the user named must work: stop before building.
            Err(e) if explicit => return Err(e.into()),
            Err(
                e @ (KernelError::NotAvailable(_)
                | KernelError::Fetch(_)
                | KernelError::Cache { .. }
                | KernelError::CacheCorrupt { .. }),
            ) => (None, Some(e)),
            Err(e) => return Err(e.into()),
        }
    };
    let opts = BuildOptions::new(out)?;
    let manifest = builder::build(&opts, kernel)
        .with_context(|| format!("cannot build the images in {}", out.display()))?;
    let table = sizes::of_build(out, &manifest)?;
    print!("{}", sizes::table(&table));
    eprintln!("vmlab: images built in {}", out.display());
    if let (Some(why), Some(_)) = (&manifest.initramfs_io_missing, &manifest.kernel) {
        eprintln!("vmlab: no initramfs for the Linux guest's I/O kernels: {why}");
    }
    if let Some(e) = missing {
        let e = anyhow::Error::from(e);
        anyhow::bail!(
            "every artifact but the guest kernel is built in {}; {e:#} \
             (or pass --no-kernel when the vm-linux backend is not needed)",
            out.display()
        );
    }
    Ok(())
}

fn show_sizes(out: &Path, json: bool) -> anyhow::Result<()> {
    let manifest = Manifest::read(out)?;
    let table = sizes::of_build(out, &manifest)?;
    if json {
        #[derive(serde::Serialize)]
        struct Doc<'a> {
            dir: &'a Path,
            artifacts: &'a [sizes::Size],
        }
        let doc = Doc {
            dir: out,
            artifacts: &table,
        };
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        print!("{}", sizes::table(&table));
    }
    Ok(())
}
