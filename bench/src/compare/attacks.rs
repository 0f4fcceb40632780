//! One boot per backend after the matrix with the escape battery as the
//! workload (`vmlab-workload attacks SECRET HOSTPID PORT`, see
//! `images/workload/src/linux/attacks/`), tallied as isolation evidence.
//!
//! The host makes what the battery aims at: a secret file in a private
//! directory of its own (outside every rootfs), a TCP listener on
//! 127.0.0.1, and its own pid. An attempt counts as succeeded when the
//! workload says it escaped and it reached the host: an attempt of `host`
//! scope always does; one of `kernel` scope (a privileged call, a control
//! file, a device node) only where the workload's calls reach the host's
//! kernel ([`Backend::own_kernel`] is false). The plain process is the
//! positive control: where it lets nothing through, the battery shows
//! nothing, and no backend gets a tally.
use std::net::TcpListener;
use std::path::PathBuf;

use anyhow::Context;
use vmlab_reports::model::{AttackTally, BackendKind, IsolationEvidence};
use vmlab_workload_host::protocol::{Line, Scope};

use super::backend::Backend;
use super::private;

/// Why a backend without a Linux user space has no tally.
pub const NO_USER_SPACE: &str = "the bare guest has no OS user space to attack from";

/// The battery's tally of one backend, or why there is none.
pub type Outcome = Result<AttackTally, String>;

/// What the battery is aimed at; removed (the directory, the listener)
/// when dropped.
pub struct Target {
    dir: tempfile::TempDir,
    listener: TcpListener,
}

impl Target {
    /// A secret file in a new private directory and a listener on
    /// 127.0.0.1.
    pub fn new() -> anyhow::Result<Target> {
        let dir = private::dir()?;
        private::write_new(&dir.path().join("secret"), b"vmlab host secret\n")?;
        let listener = TcpListener::bind("127.0.0.1:0")
            .context("cannot listen on 127.0.0.1 for the attack battery")?;
        Ok(Target { dir, listener })
    }

    /// The secret file.
    pub fn secret(&self) -> PathBuf {
        self.dir.path().join("secret")
    }

    /// The workload's arguments.
    pub fn args(&self) -> anyhow::Result<Vec<String>> {
        let port = self.listener.local_addr()?.port();
        Ok(vec![
            "attacks".to_string(),
            self.secret().display().to_string(),
            std::process::id().to_string(),
            port.to_string(),
        ])
    }
}

/// Counts the battery's lines: every attempt is tried; it succeeded when
/// it escaped and reached the host (see the module docs). Fails unless
/// the battery ran to its end (its summary names as many attempts as
/// there are lines).
pub fn tally(lines: &[Line], own_kernel: bool) -> Outcome {
    let attempts: Vec<_> = lines
        .iter()
        .filter_map(|l| match l {
            Line::Escape(e) => Some(e),
            _ => None,
        })
        .collect();
    let summary = lines.iter().find_map(|l| match l {
        Line::Attacks { tried, .. } => Some(*tried),
        _ => None,
    });
    match summary {
        None => {
            return Err(format!(
                "the battery did not run to its end ({} attempts reported, no summary line)",
                attempts.len()
            ))
        }
        Some(n) if n as usize != attempts.len() => {
            return Err(format!(
                "the battery reported {} of its {n} attempts",
                attempts.len()
            ))
        }
        Some(0) => return Err("the battery tried nothing".into()),
        Some(_) => {}
    }
    let succeeded: Vec<String> = attempts
        .iter()
        .filter(|e| e.escaped && (e.scope == Scope::Host || !own_kernel))
        .map(|e| e.attempt.clone())
        .collect();
    let tried = attempts.len() as u32;
    Ok(AttackTally {
        tried,
        blocked: tried - succeeded.len() as u32,
        succeeded,
    })
}

/// One boot of `b` with the battery against `target`.
pub fn battery(b: &dyn Backend, args: &[String]) -> Outcome {
    if !b.linux_kernels() {
        return Err(NO_USER_SPACE.into());
    }
    let sample = b
        .boot(args, false)
        .map_err(|e| format!("the battery's boot failed: {e:#}"))?;
    tally(&sample.results, b.own_kernel())
}

/// The battery in every backend of `ran`, in order, checked against the
/// positive control.
pub fn run_all(ran: &[&dyn Backend]) -> Vec<Outcome> {
    let target = Target::new().and_then(|t| {
        let args = t.args()?;
        Ok((t, args))
    });
    let (_target, args) = match target {
        Ok(t) => t,
        Err(e) => {
            let why = format!("{e:#}");
            return ran.iter().map(|_| Err(why.clone())).collect();
        }
    };
    let outcomes: Vec<Outcome> = ran
        .iter()
        .map(|b| {
            if b.linux_kernels() {
                eprintln!("vmlab: running the attack battery in {}", b.name());
            }
            battery(*b, &args)
        })
        .collect();
    let kinds: Vec<BackendKind> = ran.iter().map(|b| b.kind()).collect();
    controlled(&kinds, outcomes)
}

/// `outcomes` (one per backend of `kinds`), or, where the plain process
/// ran the battery and let nothing through, or could not run it, the
/// reason the battery is invalid for every backend. Without a process in
/// the run the tallies stand (the claims then say the control is missing).
pub fn controlled(kinds: &[BackendKind], outcomes: Vec<Outcome>) -> Vec<Outcome> {
    let control = kinds
        .iter()
        .zip(&outcomes)
        .find(|(k, _)| **k == BackendKind::Process)
        .map(|(_, o)| o);
    let why = match control {
        Some(Ok(t)) if t.succeeded.is_empty() => {
            "the battery's positive control, the plain process, let no attack through, so the \
             battery is invalid here"
                .to_string()
        }
        Some(Err(e)) => format!(
            "the battery's positive control, the plain process, could not run it ({e}), so the \
             battery proves nothing here"
        ),
        _ => return outcomes,
    };
    outcomes.into_iter().map(|_| Err(why.clone())).collect()
}

/// Stores `outcome` in `e`: the tally, or its reason after any other.
pub fn record(e: &mut IsolationEvidence, outcome: Outcome) {
    match outcome {
        Ok(t) => e.attacks = Some(t),
        Err(why) => {
            let why = format!("attack battery: {why}");
            e.missing_reason = Some(match e.missing_reason.take() {
                Some(other) => format!("{other}; {why}"),
                None => why,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::backend::{Prepared, Sample};
    use crate::id::BackendId;
    use vmlab_workload_host::protocol::EscapeLine;

    fn attempt(name: &str, escaped: bool, scope: Scope) -> Line {
        Line::Escape(EscapeLine {
            attempt: name.into(),
            escaped,
            scope,
            rc: if escaped { 0 } else { -1 },
            errno: if escaped { 0 } else { 1 },
        })
    }

    /// A process lets the secret and a mount through; three attempts.
    fn lines() -> Vec<Line> {
        vec![
            attempt("read_host_file", true, Scope::Host),
            attempt("mount", true, Scope::Kernel),
            attempt("ptrace_host_pid", false, Scope::Host),
            Line::Attacks {
                tried: 3,
                escaped: 2,
            },
        ]
    }

    #[test]
    fn the_tally_counts_what_reached_the_host() {
        let t = tally(&lines(), false).unwrap();
        assert_eq!(
            (t.tried, t.blocked, t.succeeded.as_slice()),
            (
                3,
                1,
                ["read_host_file", "mount"].map(String::from).as_slice()
            )
        );
        // A mount in a kernel of its own stays inside it.
        let t = tally(&lines(), true).unwrap();
        assert_eq!((t.tried, t.blocked), (3, 2));
        assert_eq!(t.succeeded, ["read_host_file"]);
    }

    #[test]
    fn a_battery_cut_short_has_no_tally() {
        let mut cut = lines();
        cut.pop();
        let e = tally(&cut, false).unwrap_err();
        assert!(e.contains("did not run to its end"), "{e}");
        cut.remove(0);
        cut.push(Line::Attacks {
            tried: 3,
            escaped: 1,
        });
        let e = tally(&cut, false).unwrap_err();
        assert!(e.contains("reported 2 of its 3"), "{e}");
        let none = [Line::Attacks {
            tried: 0,
            escaped: 0,
        }];
        assert!(tally(&none, false).unwrap_err().contains("tried nothing"));
    }

    fn ok(succeeded: &[&str]) -> Outcome {
        Ok(AttackTally {
            tried: 3,
            blocked: 3 - succeeded.len() as u32,
            succeeded: succeeded.iter().map(|s| s.to_string()).collect(),
        })
    }

    #[test]
    fn the_positive_control_validates_every_tally() {
        use BackendKind::{Container, Process, Vm};
        let kinds = [Process, Container, Vm];
        let good = vec![ok(&["read_host_file"]), ok(&[]), Err(NO_USER_SPACE.into())];
        assert_eq!(controlled(&kinds, good.clone()), good);
        // The control let nothing through: nobody's tally means anything.
        let blind = vec![ok(&[]), ok(&[]), Err(NO_USER_SPACE.into())];
        for o in controlled(&kinds, blind) {
            assert!(o.unwrap_err().contains("positive control"));
        }
        let failed = vec![Err("boom".into()), ok(&[]), ok(&[])];
        for o in controlled(&kinds, failed) {
            let e = o.unwrap_err();
            assert!(e.contains("positive control") && e.contains("boom"), "{e}");
        }
        // Without a process in the run the tallies stand.
        let alone = vec![ok(&[])];
        assert_eq!(controlled(&[Container], alone.clone()), alone);
    }

    #[test]
    fn reasons_follow_the_surfaces() {
        let mut e = IsolationEvidence {
            missing_reason: Some("strace is not installed".into()),
            ..IsolationEvidence::default()
        };
        record(&mut e, Err(NO_USER_SPACE.into()));
        assert_eq!(
            e.missing_reason.as_deref(),
            Some(
                "strace is not installed; attack battery: the bare guest has no OS user space to \
                 attack from"
            )
        );
        let mut e = IsolationEvidence::default();
        record(&mut e, ok(&["mount"]));
        assert_eq!(e.attacks.unwrap().succeeded, ["mount"]);
        assert!(e.missing_reason.is_none());
    }

    /// A backend that "boots" to the given lines.
    struct Canned(BackendId, bool, Vec<Line>);

    impl Backend for Canned {
        fn id(&self) -> BackendId {
            self.0
        }
        fn command(&self, _: &[String]) -> anyhow::Result<Prepared<'_>> {
            anyhow::bail!("not spawned in this test")
        }
        fn boot(&self, args: &[String], _: bool) -> anyhow::Result<Sample> {
            anyhow::ensure!(args[0] == "attacks" && args.len() == 4, "{args:?}");
            Ok(Sample {
                results: self.2.clone(),
                ..Sample::default()
            })
        }
        fn linux_kernels(&self) -> bool {
            self.1
        }
    }

    #[test]
    fn every_backend_gets_a_tally_or_a_reason() {
        let process = Canned(BackendId::Process, true, lines());
        let bare = Canned(BackendId::VmBare, false, Vec::new());
        let linux = Canned(BackendId::VmLinux, true, lines());
        let sandbox = Canned(BackendId::Sandbox, true, Vec::new());
        let all: Vec<&dyn Backend> = vec![&process, &bare, &linux, &sandbox];
        let out = run_all(&all);
        assert_eq!(out[0].as_ref().unwrap().succeeded.len(), 2);
        assert_eq!(out[1], Err(NO_USER_SPACE.to_string()));
        // A VM's guest kernel is its own: only the host file counts.
        assert_eq!(out[2].as_ref().unwrap().succeeded, ["read_host_file"]);
        assert!(out[3]
            .as_ref()
            .unwrap_err()
            .contains("did not run to its end"));
    }

    #[test]
    fn the_target_is_private_and_goes_away() {
        let t = Target::new().unwrap();
        let secret = t.secret();
        let args = t.args().unwrap();
        assert_eq!(args[1], secret.display().to_string());
        assert!(std::fs::read(&secret).unwrap().starts_with(b"vmlab"));
        let port: u16 = args[3].parse().unwrap();
        assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
        drop(t);
        assert!(!secret.exists());
        assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
    }
}
