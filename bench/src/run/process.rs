//! `vmlab run --backend process`: the workload as a plain child process,
//! started by the same launcher as the sandbox with every isolation off.
use std::path::PathBuf;

use anyhow::Context;
use vmlab_sandbox::Config;

use super::sandbox::{built_init, launch, timeout};
use super::{RunArgs, RunOutput};

/// The workload binary: the rootfs's `/init` if the images are built, else
/// the embedded one, written once under `target/vmlab/bin`.
pub fn binary(args: &RunArgs) -> anyhow::Result<PathBuf> {
    if let Some(p) = built_init(&args.images) {
        return Ok(p);
    }
    let dir = args
        .images
        .parent()
        .map(|p| p.join("bin"))
        .unwrap_or_else(|| PathBuf::from("target/vmlab/bin"));
    let path = dir.join("vmlab-workload");
    let bytes = vmlab_images::embedded::WORKLOAD;
    let current = std::fs::metadata(&path).map(|m| m.len()).ok();
    if current != Some(bytes.len() as u64) || std::fs::read(&path)? != bytes {
        use std::os::unix::fs::PermissionsExt;
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        // Write aside and rename, so a concurrent run never execs a half file.
        let tmp = dir.join(format!(".vmlab-workload.{}", std::process::id()));
        std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755))?;
        std::fs::rename(&tmp, &path)?;
    }
    Ok(path)
}

pub fn run(args: &RunArgs) -> anyhow::Result<RunOutput> {
    let mut config = Config::process(binary(args)?);
    config.args = args.workload.clone();
    config.timeout = timeout(args.timeout)?;
    launch("process", &config, args.json)
}
