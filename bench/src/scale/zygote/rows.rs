//! The held-VM rows of a scale run, in order: `vm-bare` (jailed, from the
//! fork server), `vm-bare-run` (jailed, `vmlab run` per instance),
//! `vm-bare-inproc` (unjailed, in the driver) and `vm-bare-restored` (the
//! same, each restored from one snapshot).
use std::path::Path;

use vmlab_reports::model::{BackendKind, ScaleResult};

use super::super::{inproc, measure, restored, vm_row, Settings, Stopper};
use super::run_row::RunVm;
use super::Zygote;

/// Measures the four rows as `s` says (`say` gets a line before and after
/// each); a row that cannot run is kept with its failure.
pub fn measure_all(
    exe: &Path,
    images: &Path,
    s: &Settings,
    stop: &Stopper,
    emulated: bool,
    say: &dyn Fn(&str),
) -> anyhow::Result<Vec<ScaleResult>> {
    let kind = Some(BackendKind::Vm);
    let mut out = Vec::new();
    say(&format!(
        "{}: holding up to {} jailed VMs from a fork server",
        super::NAME,
        s.max
    ));
    out.push(vm_row(super::NAME, Zygote::start(exe), s, stop, emulated)?);
    if stop.fired() {
        return Ok(out);
    }
    say(&format!(
        "{}: holding up to {} jailed VMs through `vmlab run`",
        super::run_row::NAME,
        s.max
    ));
    let run = RunVm::new(exe.to_path_buf(), images.to_path_buf());
    let mut r = measure(&run, kind, s, stop)?;
    r.emulated = emulated;
    out.push(r);
    if stop.fired() {
        return Ok(out);
    }
    say(&format!(
        "{}: holding up to {} VMs in this process",
        inproc::NAME,
        s.max
    ));
    out.push(inproc::measure(s, stop, emulated)?);
    if stop.fired() {
        return Ok(out);
    }
    say(&format!(
        "{}: holding up to {} VMs restored from one snapshot in this process",
        restored::NAME,
        s.max
    ));
    out.push(restored::measure(s, stop, emulated)?);
    Ok(out)
}
