//! Compare's scale section: a short `vmlab scale` run (a few held
//! instances and concurrency levels) of every backend that ran and can
//! hold, so the report's density curves and the memory claim come from
//! held instances.
use std::path::Path;
use std::time::Duration;

use vmlab_reports::model::ScaleResult;

use super::probe::HostView;
use crate::id::BackendId;
use crate::scale::{self, holders, Settings, Stopper};

/// Held instances per backend by default (kept small so compare stays
/// quick; `vmlab scale` goes further).
pub const DEFAULT_MAX: u32 = 50;

/// Time limit per backend in compare.
const TIME_LIMIT: Duration = Duration::from_secs(30);

/// Levels measured in compare.
const LEVELS: &[u32] = &[1, 4, 16];

/// Holds each of `ids` that can hold, up to `max` at once; a backend that
/// fails is kept with its failure (and warned about).
pub fn section(
    ids: &[BackendId],
    exe: &Path,
    images: &Path,
    host: &HostView,
    max: u32,
) -> anyhow::Result<Vec<ScaleResult>> {
    let available = scale::host::mem_available()?;
    let s = Settings {
        max,
        budget_bytes: available / 2,
        time_limit: TIME_LIMIT,
        levels: LEVELS.to_vec(),
    };
    s.lift_fd_limit();
    let stop = Stopper::never();
    let mut out = Vec::new();
    for &id in ids.iter().filter(|&&id| holders::cannot_hold(id).is_none()) {
        let backend = super::backends(&[id], exe.to_path_buf(), images.to_path_buf(), host, true)
            .pop()
            .expect("one backend per id");
        let emulated =
            id.kind() == vmlab_reports::model::BackendKind::Vm && host.host.kvm.is_software();
        let rows = if id == BackendId::VmBare {
            let say = |line: &str| eprintln!("vmlab: scale: {line}");
            scale::zygote::rows::measure_all(exe, images, &s, &stop, emulated, &say)?
        } else {
            eprintln!("vmlab: scale: holding up to {max} instances of {id}");
            let holder =
                scale::indriver::holder(id, exe.to_path_buf(), images.to_path_buf(), backend)?;
            let mut r = scale::measure(holder.as_ref(), Some(id.kind()), &s, &stop)?;
            r.emulated = emulated;
            vec![r]
        };
        for r in rows {
            if let Some(f) = &r.failure {
                eprintln!("vmlab: warning: scale of {}: {f}", r.backend);
            }
            out.push(r);
        }
    }
    Ok(out)
}
