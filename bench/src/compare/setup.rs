//! What the Criterion benches share with `vmlab compare`: images built into
//! a private directory, and the same backends, probed, with every skip
//! printed (never dropped silently).
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::backend::{self, Backend};
use super::probe::HostView;
use super::{backends, images};
use crate::id::BackendId;

/// Images built for one bench process, removed when dropped.
#[derive(Debug)]
pub struct BenchImages {
    /// The directory the images are built in: made new under a random name
    /// (so nothing can be planted there), removed on drop. Not 0700:
    /// launched by root, the sandbox runs the workload as `nobody`, which
    /// must reach the rootfs.
    _top: tempfile::TempDir,
    dir: PathBuf,
    /// The build's manifest.
    pub manifest: vmlab_images::manifest::Manifest,
}

impl BenchImages {
    /// Builds every artifact (with the cached guest kernel, if any; nothing
    /// is fetched) into a new directory under the temp dir.
    pub fn build(name: &str) -> anyhow::Result<BenchImages> {
        let top = tempfile::Builder::new()
            .prefix(&format!("vmlab-bench-{name}-"))
            .tempdir()
            .context("cannot create a private directory for the bench's images")?;
        let dir = top.path().join("images");
        let manifest = images::ensure_built(&dir, false, true)?;
        Ok(BenchImages {
            _top: top,
            dir,
            manifest,
        })
    }

    /// The images directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// The backends a bench runs, after probing and one trial boot.
pub struct Probed {
    /// Those that booted.
    pub available: Vec<Box<dyn Backend>>,
    /// Those skipped, with why.
    pub skipped: Vec<(String, String)>,
}

/// Every backend, probed, each tried once with `trial` as the workload's
/// arguments (the trial also warms it up). Slow backends (emulated VMs)
/// are left to `vmlab compare`, which runs them a few times only.
pub fn probed(exe: &Path, images: &Path, trial: &[String]) -> Probed {
    let host = HostView::gather();
    let mut out = Probed {
        available: Vec::new(),
        skipped: Vec::new(),
    };
    let all = backends(
        &BackendId::ALL,
        exe.to_path_buf(),
        images.to_path_buf(),
        &host,
        true,
    );
    for b in all {
        let name = b.name().to_string();
        if let Err(why) = backend::probe(b.as_ref(), &host) {
            out.skipped.push((name, why.0));
        } else if b.max_runs().is_some() {
            out.skipped.push((
                name,
                "emulated: too slow for cargo bench (vmlab compare boots it a few times)".into(),
            ));
        } else if let Err(e) = b.boot(trial, false) {
            out.skipped.push((name, format!("it failed here: {e:#}")));
        } else {
            out.available.push(b);
        }
    }
    out
}

impl Probed {
    /// Prints the skipped backends of bench `bench` on stderr.
    pub fn print_skips(&self, bench: &str) {
        for (name, why) in &self.skipped {
            eprintln!("{bench}/{name}: skipped: {why}");
        }
    }
}
