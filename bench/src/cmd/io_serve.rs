//! `vmlab io-serve` (hidden): the I/O kernels' host-side server
//! ([`vmlab_bench::io::server`]: echo, upload, download on
//! [`SERVER_PORT`], every address of the calling network namespace) while
//! one command runs; exits with that command's status. The rig's L1 uses
//! it for its I/O check, where a private namespace holds the VM's TAP with
//! the peer's address (busybox has no iproute2 for vmlab's own links).
use std::process::Command;

use anyhow::Context;
use clap::Args;
use vmlab_bench::io::link::SERVER_PORT;
use vmlab_bench::io::server::Server;

/// Arguments of `vmlab io-serve`.
#[derive(Args, Debug, Clone)]
pub struct IoServeArgs {
    /// The command to run while the server listens (after `--`).
    #[arg(last = true, required = true)]
    pub command: Vec<String>,
}

/// Serves while the command runs; its exit status is ours (a command
/// killed by signal N exits 128 + N).
pub fn main(args: IoServeArgs) -> anyhow::Result<u8> {
    let listener = Server::bind(SERVER_PORT)
        .with_context(|| format!("cannot listen on port {SERVER_PORT} for the I/O kernels"))?;
    let server = Server::start(listener).context("cannot start the I/O server")?;
    let (program, rest) = args
        .command
        .split_first()
        .context("give the command to run after --")?;
    let status = Command::new(program)
        .args(rest)
        .status()
        .with_context(|| format!("cannot run {program}"))?;
    drop(server);
    Ok(exit_code(status))
}

/// A child's status as an exit code: its own, or 128 + the signal.
fn exit_code(status: std::process::ExitStatus) -> u8 {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(c), _) => c as u8,
        (None, Some(sig)) => 128u8.saturating_add(sig as u8),
        (None, None) => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    #[test]
    fn statuses_become_exit_codes() {
        assert_eq!(exit_code(std::process::ExitStatus::from_raw(3 << 8)), 3);
        assert_eq!(exit_code(std::process::ExitStatus::from_raw(9)), 137);
    }
}
