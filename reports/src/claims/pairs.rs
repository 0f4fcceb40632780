//! Which backends may be compared for a claim, and why none may.
//!
//! The claims about VMs are about Linux containers against Linux VMs: the
//! same kind of guest (a Linux user space on a Linux kernel), one sharing
//! the host's kernel, one bringing its own. vm-bare (an ELF with no OS) is
//! its own class, compared only with the process and the sandbox.
use crate::figures::native;
use crate::model::{BackendKind, BackendResult, Results};

/// The classes a claim compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendClass {
    /// The plain process.
    Process,
    /// A Linux container or sandbox (sandbox, crun, runc, bwrap, runsc, ...).
    LinuxContainer,
    /// A VM booting a Linux guest (vm-linux, qemu, firecracker, any `*-linux`).
    LinuxVm,
    /// A VM running the workload with no OS (vm-bare).
    UnikernelVm,
    /// A VM of no known guest kind: compared with nothing.
    OtherVm,
}

/// Names of the VMs that boot a Linux guest, besides any `*-linux`.
const LINUX_VMS: &[&str] = &["vm-linux", "qemu", "firecracker", "cloud-hypervisor"];
/// Names of the VMs that run the workload without an OS, besides any
/// `*-bare` (the bare guest on a stock VMM).
const UNIKERNEL_VMS: &[&str] = &["vm-bare"];

impl BackendClass {
    /// A short plural label for reasons.
    pub fn label(self) -> &'static str {
        match self {
            BackendClass::Process => "plain process",
            BackendClass::LinuxContainer => "Linux container",
            BackendClass::LinuxVm => "Linux VM",
            BackendClass::UnikernelVm => "unikernel-style VM",
            BackendClass::OtherVm => "other VM",
        }
    }
}

/// The class of a backend.
pub fn class(b: &BackendResult) -> BackendClass {
    match b.kind {
        BackendKind::Process => BackendClass::Process,
        BackendKind::Container => BackendClass::LinuxContainer,
        BackendKind::Vm if LINUX_VMS.contains(&b.name.as_str()) || b.name.ends_with("-linux") => {
            BackendClass::LinuxVm
        }
        BackendKind::Vm
            if UNIKERNEL_VMS.contains(&b.name.as_str()) || b.name.ends_with("-bare") =>
        {
            BackendClass::UnikernelVm
        }
        BackendKind::Vm => BackendClass::OtherVm,
    }
}

/// What one side of a comparison needs.
pub(super) struct Need<'a> {
    /// The class.
    pub class: BackendClass,
    /// Only native figures (no emulated VM)?
    pub native: bool,
    /// The figure, for reasons ("boot samples").
    pub what: &'a str,
    /// How many samples of the figure a backend has (0: none).
    pub n: &'a dyn Fn(&BackendResult) -> usize,
    /// The fewest the test accepts.
    pub min_n: usize,
    /// The producer's reason when a backend lacks the figure, if any.
    pub missing: fn(&BackendResult) -> Option<String>,
}

/// For figures whose producer records no reason when they are missing.
pub(super) fn no_reason(_: &BackendResult) -> Option<String> {
    None
}

/// Backends of `need.class` that meet it, or why there are none (every
/// backend of the class named with the reason it was left out).
pub(super) fn select<'r>(
    results: &'r Results,
    need: &Need,
) -> Result<Vec<&'r BackendResult>, String> {
    let all: Vec<&BackendResult> = results
        .backends
        .iter()
        .filter(|b| class(b) == need.class)
        .collect();
    let label = need.class.label();
    if all.is_empty() {
        return Err(format!("no {label} was part of this run."));
    }
    let mut ok = Vec::new();
    let mut why = Vec::new();
    for b in all {
        let n = (need.n)(b);
        if !b.available {
            let r = b.skipped_reason.as_deref().unwrap_or("no reason recorded");
            why.push(format!("{} did not run ({r})", b.name));
        } else if need.native && !native(results, b) {
            why.push(format!("{} ran only emulated", b.name));
        } else if n == 0 {
            let because = (need.missing)(b)
                .map(|r| format!(": {r}"))
                .unwrap_or_default();
            why.push(format!("{} has no {}{because}", b.name, need.what));
        } else if n < need.min_n {
            why.push(format!(
                "{} has n = {n} {} (the test needs n ≥ {})",
                b.name, need.what, need.min_n
            ));
        } else {
            ok.push(b);
        }
    }
    if ok.is_empty() {
        Err(format!(
            "no {label} measured natively with enough {}: {}.",
            need.what,
            why.join("; ")
        ))
    } else {
        Ok(ok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backend(name: &str, kind: BackendKind) -> BackendResult {
        BackendResult {
            name: name.into(),
            kind,
            available: true,
            ..BackendResult::default()
        }
    }

    #[test]
    fn classes() {
        let c = |n, k| class(&backend(n, k));
        assert_eq!(c("process", BackendKind::Process), BackendClass::Process);
        assert_eq!(
            c("runsc", BackendKind::Container),
            BackendClass::LinuxContainer
        );
        assert_eq!(c("qemu", BackendKind::Vm), BackendClass::LinuxVm);
        assert_eq!(
            c("cloud-hypervisor-linux", BackendKind::Vm),
            BackendClass::LinuxVm
        );
        assert_eq!(c("vm-bare", BackendKind::Vm), BackendClass::UnikernelVm);
        assert_eq!(c("qemu-bare", BackendKind::Vm), BackendClass::UnikernelVm);
        assert_eq!(
            c("cloud-hypervisor", BackendKind::Vm),
            BackendClass::LinuxVm
        );
        assert_eq!(c("mystery", BackendKind::Vm), BackendClass::OtherVm);
    }
}
