//! `vmlab compare`'s warm-start section: per backend, a cold start next to
//! its warm starts, measured in the same run, row by row interleaved where
//! one process measures both.
//!
//! - [`sandbox`]: the sandbox cold and from two pools (parked in the
//!   workload after `execve`, and parked before it), in this process;
//! - [`qemu`]: QEMU (`qemu-bare`) cold and restored from a migration file,
//!   end to end;
//! - [`vm_bare`]: vm-bare cold and restored from its snapshot (`vmlab
//!   snapshot`, `vmlab run --restore`), in-process figures;
//! - [`vm_inproc`]: vm-bare in this process, unjailed: cold, restored and
//!   handed off by a VM pool;
//! - [`criu`]: runc and crun checkpoint/restore through CRIU, where
//!   `criu check` passes;
//!
//! Each row says what its clock covers ([`Timing`]); the report compares
//! only rows on one basis.
pub mod criu;
mod monitor;
pub mod qemu;
pub mod sandbox;
pub mod vm_bare;
pub mod vm_inproc;

use std::collections::BTreeMap;
use std::path::Path;

use vmlab_reports::model::{Timing, WarmSection};

use super::probe::HostView;

/// Runs per row with `--quick` and without.
pub fn runs(quick: bool) -> u32 {
    if quick {
        5
    } else {
        20
    }
}

/// The whole section: the rows of every backend among `ids` that has one.
pub fn section(
    exe: &Path,
    images: &Path,
    host: &HostView,
    ids: &[crate::id::BackendId],
    runs: u32,
) -> WarmSection {
    use crate::id::BackendId;
    let args: Vec<String> = Vec::new();
    let mut rows = Vec::new();
    if ids.contains(&BackendId::Sandbox) {
        eprintln!("vmlab: warm start: sandbox cold and from two pools (parked in the workload, before execve)");
        rows.extend(sandbox::rows(images, &args, runs));
    }
    if ids.contains(&BackendId::VmBare) {
        eprintln!("vmlab: warm start: vm-bare cold and restored from a snapshot");
        rows.extend(vm_bare::rows(exe, images, host, runs));
        eprintln!("vmlab: warm start: vm-bare in this process cold, restored and from a pool");
        rows.extend(vm_inproc::rows(host, runs));
    }
    if ids.contains(&BackendId::QemuBare) {
        eprintln!("vmlab: warm start: qemu-bare cold and restored from a migration file");
        rows.extend(qemu::rows(images, host, &args, runs));
    }
    for id in [BackendId::Runc, BackendId::Crun] {
        if ids.contains(&id) {
            rows.push(criu::row(id, host));
        }
    }
    debug_assert!(rows
        .iter()
        .all(|r| matches!(r.timing, Timing::InProcess | Timing::EndToEnd)));
    WarmSection { runs, rows }
}

/// The median of each named phase over `runs`, in the order of the first.
pub fn median_phases<'a>(
    runs: impl Iterator<Item = &'a [(&'static str, u64)]>,
) -> Vec<(String, u64)> {
    let mut order: Vec<&'static str> = Vec::new();
    let mut all: BTreeMap<&'static str, Vec<u64>> = BTreeMap::new();
    for phases in runs {
        for (name, t) in phases {
            if !all.contains_key(name) {
                order.push(name);
            }
            all.entry(name).or_default().push(*t);
        }
    }
    order
        .into_iter()
        .map(|n| {
            let v = all.get_mut(n).map(std::mem::take).unwrap_or_default();
            (n.to_string(), median(v))
        })
        .collect()
}

/// [`median_phases`] over phases with owned names (a `vmlab run` record's).
pub fn median_phases_owned(runs: &[Vec<(String, u64)>]) -> Vec<(String, u64)> {
    let mut order: Vec<&str> = Vec::new();
    let mut all: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for phases in runs {
        for (name, t) in phases {
            if !all.contains_key(name.as_str()) {
                order.push(name);
            }
            all.entry(name).or_default().push(*t);
        }
    }
    order
        .into_iter()
        .map(|n| (n.to_string(), median(all.remove(n).unwrap_or_default())))
        .collect()
}

/// The median of `v` (0 when empty).
pub fn median(mut v: Vec<u64>) -> u64 {
    v.sort_unstable();
    match v.len() {
        0 => 0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_keep_their_first_order_and_take_the_median() {
        let a: &[(&str, u64)] = &[("release", 0), ("exec", 10), ("ready", 30)];
        let b: &[(&str, u64)] = &[("release", 0), ("exec", 20), ("ready", 50)];
        let c: &[(&str, u64)] = &[("release", 0), ("exec", 30), ("ready", 40)];
        let m = median_phases([a, b, c].into_iter());
        let want = [("release", 0), ("exec", 20), ("ready", 40)];
        assert_eq!(m.len(), 3);
        for ((n, t), (wn, wt)) in m.iter().zip(want) {
            assert_eq!((n.as_str(), *t), (wn, wt));
        }
        assert_eq!(median(vec![]), 0);
        assert_eq!(median(vec![4, 2]), 3);
    }
}
