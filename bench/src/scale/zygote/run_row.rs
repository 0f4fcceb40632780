//! The `vm-bare-run` row: one `vmlab run --backend vm-bare -- --hold` per
//! instance (a fresh `vmlab` exec that forks its jailed VMM and waits for
//! it), with the guest RAM of the other held-VM rows. The same jail as the
//! `vm-bare` row's fork server; the difference is the launcher process and
//! the exec per instance.
use std::path::PathBuf;
use std::process::Command;

use super::super::held::{Held, Spawned};
use super::super::holders::{Holder, HOLD_ARGS, READY_LIMIT};

/// The row's name in results.
pub const NAME: &str = "vm-bare-run";

/// vm-bare held through `vmlab run`.
pub struct RunVm {
    exe: PathBuf,
    images: PathBuf,
}

impl RunVm {
    /// Through the `vmlab` binary `exe` on `images`.
    pub fn new(exe: PathBuf, images: PathBuf) -> Self {
        RunVm { exe, images }
    }
}

impl Holder for RunVm {
    fn name(&self) -> &str {
        NAME
    }

    fn start_held(&self) -> anyhow::Result<Held<'_>> {
        let mut cmd = Command::new(&self.exe);
        // The run's own timeout must not end a held instance: the most
        // `vmlab run` accepts.
        cmd.args(["run", "--backend", "vm-bare", "--mem"])
            .arg(super::MEM_MIB.to_string())
            .arg("--timeout")
            .arg(vmlab_sandbox::config::MAX_TIMEOUT.as_secs().to_string())
            .arg("--images")
            .arg(&self.images)
            .arg("--")
            .args(HOLD_ARGS);
        Spawned::start(&mut cmd, READY_LIMIT, None)
    }
}
