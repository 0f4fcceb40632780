//! One traced boot per backend after the matrix: the host system calls made
//! on the workload's behalf ([`surface`]), stored as isolation evidence, or
//! the reason there is none.
use std::time::Duration;

use vmlab_reports::model::{BackendKind, IsolationEvidence, SyscallSurface};

use super::backend::Backend;
use super::{private, surface};

/// The tracer as results.json names it.
pub const TRACER: &str = "strace -f";

/// Whose calls a backend's surface counts.
pub fn counted(kind: BackendKind) -> &'static str {
    match kind {
        BackendKind::Vm => "the VMM's",
        _ => "the workload's",
    }
}

/// Traces one plain boot of `b` (no kernels) and returns its surface, or
/// why it has none. A traced boot runs several times slower than a timed
/// one, so it gets a longer limit.
pub fn isolation(b: &dyn Backend) -> IsolationEvidence {
    match host_syscalls(b) {
        Ok(s) => IsolationEvidence {
            host_syscalls: Some(s),
            ..IsolationEvidence::default()
        },
        Err(why) => IsolationEvidence {
            missing_reason: Some(why),
            ..IsolationEvidence::default()
        },
    }
}

fn host_syscalls(b: &dyn Backend) -> Result<SyscallSurface, String> {
    if let Some(why) = b.untraceable() {
        return Err(why);
    }
    if !surface::available() {
        return Err(surface::Error::NoStrace.to_string());
    }
    let dir = private::dir().map_err(|e| format!("{e:#}"))?;
    let prepared = b.command(&[]).map_err(|e| format!("{e:#}"))?;
    let limit = b.timeout().saturating_mul(3).max(Duration::from_secs(60));
    let traced = surface::trace(&prepared.cmd, b.surface_start(), dir.path(), limit);
    drop(prepared);
    let s = traced.map_err(|e| format!("the traced run failed: {e}"))?;
    Ok(SyscallSurface {
        distinct: s.distinct as u32,
        counted: counted(b.kind()).to_string(),
        tracer: TRACER.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::backend::{Prepared, Sample};
    use crate::id::BackendId;

    struct Sh(&'static str, Option<&'static str>);

    impl Backend for Sh {
        fn id(&self) -> BackendId {
            BackendId::Process
        }
        fn command(&self, _: &[String]) -> anyhow::Result<Prepared<'_>> {
            let mut c = std::process::Command::new("sh");
            c.args(["-c", self.0]);
            Ok(Prepared::new(c))
        }
        fn boot(&self, _: &[String], _: bool) -> anyhow::Result<Sample> {
            anyhow::bail!("not booted in this test")
        }
        fn surface_start(&self) -> surface::Start {
            surface::Start::Exec(&["true"])
        }
        fn untraceable(&self) -> Option<String> {
            self.1.map(String::from)
        }
    }

    #[test]
    fn reasons_come_before_the_trace() {
        let e = isolation(&Sh("exit 0", Some("cannot be traced")));
        assert_eq!(e.missing_reason.as_deref(), Some("cannot be traced"));
        assert!(e.host_syscalls.is_none());
    }

    /// With strace installed, a run that execs `true` has a surface, and one
    /// that never does says so.
    #[test]
    fn a_traced_command_is_counted() {
        if !surface::available() {
            let e = isolation(&Sh("exec true", None));
            assert!(e
                .missing_reason
                .unwrap()
                .contains("strace is not installed"));
            return;
        }
        let e = isolation(&Sh("exec true", None));
        let s = e.host_syscalls.expect("a surface");
        assert!(s.distinct > 3, "{s:?}");
        assert_eq!(
            (s.counted.as_str(), s.tracer.as_str()),
            ("the workload's", TRACER)
        );
        let none = isolation(&Sh("exit 0", None));
        assert!(none.missing_reason.unwrap().contains("traced run failed"));
    }
}
