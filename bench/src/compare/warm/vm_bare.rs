//! vm-bare cold and restored from its own snapshot (`vmlab snapshot`, taken
//! at the workload's ready mark), through the `vmlab` binary like
//! compare's other rows of ours, interleaved. Both figures are the
//! in-process `to_ready` of `vmlab run --json` (from the start of the
//! backend, or of the restore, to the ready mark; no process spawn).
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::Context;
use vmlab_reports::model::{BackendKind, KvmKind, StartKind, Timing, WarmRow};

use super::median_phases_owned;
use crate::compare::launch::{launch_opts, Options};
use crate::compare::probe::HostView;
use crate::record::RunRecord;

/// How long one snapshot, boot or restore may take.
const LIMIT: Duration = Duration::from_secs(30);

/// One `vmlab` command's JSON record, or why there is none.
fn record(mut cmd: Command) -> Result<RunRecord, String> {
    let l =
        launch_opts(&mut cmd, Options::vmlab_run(LIMIT, false)).map_err(|e| format!("{e:#}"))?;
    let r: RunRecord = serde_json::from_str(&l.stdout)
        .map_err(|_| format!("no JSON record: {}", l.stderr.trim()))?;
    match (r.exit_code, r.to_ready_ns) {
        (0, Some(_)) => Ok(r),
        (c, None) => Err(format!("no ready mark (exit code {c})")),
        (c, Some(_)) => Err(format!("the workload ended with code {c}")),
    }
}

fn run_cmd(exe: &Path, images: &Path, restore: Option<&Path>) -> Command {
    let mut c = Command::new(exe);
    c.args(["run", "--backend", "vm-bare", "--json", "--images"])
        .arg(images);
    if let Some(f) = restore {
        c.arg("--restore").arg(f);
    }
    c
}

/// The cold and restore rows.
pub fn rows(exe: &Path, images: &Path, host: &HostView, runs: u32) -> Vec<WarmRow> {
    let row = |start, method: &str| {
        let mut r = WarmRow::new("vm-bare", BackendKind::Vm, start, Timing::InProcess, method);
        r.emulated = host.host.kvm != KvmKind::Hardware;
        r
    };
    let mut cold = row(
        StartKind::Cold,
        "vmlab run (VM created, guest booted to ready)",
    );
    let mut warm = row(
        StartKind::Restore,
        "vmlab run --restore (snapshot taken at ready)",
    );
    if host.kvm_open_error.is_some() || host.host.kvm == KvmKind::None {
        let why = "no usable /dev/kvm".to_string();
        return vec![cold.skip(why.clone()), warm.skip(why)];
    }
    if let Err(e) = measure(exe, images, runs, (&mut cold, &mut warm)) {
        let why = format!("{e:#}");
        return vec![cold.skip(why.clone()), warm.skip(why)];
    }
    vec![cold, warm]
}

fn measure(
    exe: &Path,
    images: &Path,
    runs: u32,
    (cold, warm): (&mut WarmRow, &mut WarmRow),
) -> anyhow::Result<()> {
    let dir = tempfile::Builder::new()
        .prefix("vmlab-vm-bare-snapshot-")
        .tempdir()
        .context("cannot create a directory for the snapshot")?;
    let file = dir.path().join("vm-bare.snap");
    let st = Command::new(exe)
        .args(["snapshot", "--backend", "vm-bare", "--out"])
        .arg(&file)
        .stdout(std::process::Stdio::null())
        .output()
        .context("cannot run vmlab snapshot")?;
    if !st.status.success() {
        anyhow::bail!(
            "vmlab snapshot failed: {}",
            String::from_utf8_lossy(&st.stderr).trim()
        );
    }
    // The file is sparse (guest memory never touched is a hole): the bytes
    // allocated on disk, not its length.
    warm.snapshot_bytes = std::fs::metadata(&file)
        .ok()
        .map(|m| std::os::unix::fs::MetadataExt::blocks(&m) * 512);
    let (mut cold_phases, mut warm_phases) = (Vec::new(), Vec::new());
    for i in 0..=runs {
        let c = record(run_cmd(exe, images, None));
        let w = record(run_cmd(exe, images, Some(&file)));
        for (row, phases, r) in [
            (&mut *cold, &mut cold_phases, c),
            (&mut *warm, &mut warm_phases, w),
        ] {
            match r {
                Ok(rec) if i > 0 => {
                    row.to_ready_ns.extend(rec.to_ready_ns);
                    phases.push(rec.phases);
                }
                Ok(_) => {}
                Err(e) => row.failures.push(e),
            }
        }
    }
    cold.phases = median_phases_owned(&cold_phases);
    warm.phases = median_phases_owned(&warm_phases);
    Ok(())
}
