//! Every backend as a [`Holder`]: ours through `vmlab run --backend X --
//! --hold`, the peers through their `compare` command with `--hold` added.
//! A VM held inside this process (`vmm::held`) would be one more
//! implementation of the same trait.
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use super::held::{Held, Spawned};
use crate::compare::backend::Backend;
use crate::id::BackendId;

/// The workload's arguments for a held instance: no kernels, hold.
pub const HOLD_ARGS: &[&str] = &["--hold"];

/// A backend that can start held instances.
pub trait Holder: Sync {
    /// Name in results.
    fn name(&self) -> &str;
    /// Starts one instance and returns once it is ready (torn down again
    /// on any failure).
    fn start_held(&self) -> anyhow::Result<Held<'_>>;
    /// The median duration of each phase of its starts so far, ns, where
    /// the holder records them (see `ScaleResult::start_phases_ns`).
    fn start_phases(&self) -> std::collections::BTreeMap<String, f64> {
        Default::default()
    }
}

/// How long one instance may take to be ready.
pub const READY_LIMIT: Duration = Duration::from_secs(60);

/// One of ours, held through `vmlab run --backend ID -- --hold`: `vmlab
/// run` passes its stdin and stdout to the held workload (see
/// `vmlab run`'s sandbox launcher), so closing the pipe releases it.
pub struct Ours {
    id: BackendId,
    exe: PathBuf,
    images: PathBuf,
}

impl Ours {
    /// `id` through the `vmlab` binary `exe` on `images`.
    pub fn new(id: BackendId, exe: PathBuf, images: PathBuf) -> Self {
        Ours { id, exe, images }
    }
}

impl Holder for Ours {
    fn name(&self) -> &str {
        self.id.name()
    }

    fn start_held(&self) -> anyhow::Result<Held<'_>> {
        let mut cmd = Command::new(&self.exe);
        // The run's own timeout must not end a held instance: the most
        // `vmlab run` accepts.
        cmd.args(["run", "--backend", self.id.name(), "--timeout"])
            .arg(vmlab_sandbox::config::MAX_TIMEOUT.as_secs().to_string())
            .arg("--images")
            .arg(&self.images)
            .arg("--")
            .args(HOLD_ARGS);
        Spawned::start(&mut cmd, READY_LIMIT, None)
    }
}

/// A peer (crun, runc, runsc, bwrap, qemu), held through its `compare`
/// command with `--hold`; the runtime passes its stdin and stdout through.
pub struct Peer {
    backend: Box<dyn Backend>,
}

impl Peer {
    /// `backend`, held.
    pub fn new(backend: Box<dyn Backend>) -> Self {
        Peer { backend }
    }
}

impl Holder for Peer {
    fn name(&self) -> &str {
        self.backend.name()
    }

    fn start_held(&self) -> anyhow::Result<Held<'_>> {
        let args: Vec<String> = HOLD_ARGS.iter().map(|s| s.to_string()).collect();
        let mut prepared = self.backend.command(&args)?;
        let mut cmd = std::mem::replace(&mut prepared.cmd, Command::new("true"));
        Spawned::start(&mut cmd, READY_LIMIT, Some(Box::new(prepared)))
    }
}

/// Why `id` cannot hold instances here, when vmlab knows it cannot.
pub fn cannot_hold(id: BackendId) -> Option<&'static str> {
    match id {
        BackendId::Process
        | BackendId::Sandbox
        | BackendId::VmBare
        | BackendId::Crun
        | BackendId::Runc
        | BackendId::Runsc
        | BackendId::Bwrap
        | BackendId::Qemu => None,
        BackendId::VmLinux => Some(
            "vmlab's own Linux guest has not been held yet anywhere it boots (it does not \
             boot on software nested KVM, and the rig does not hold)",
        ),
        _ => Some("it has no held mode in vmlab yet (the stock VMMs are not driven with --hold)"),
    }
}

/// A holder for `id`: ours through `exe`, the peers through `backend`
/// (their compare backend).
pub fn holder(
    id: BackendId,
    exe: PathBuf,
    images: PathBuf,
    backend: Box<dyn Backend>,
) -> Box<dyn Holder> {
    if id.is_ours() {
        Box::new(Ours::new(id, exe, images))
    } else {
        Box::new(Peer::new(backend))
    }
}
