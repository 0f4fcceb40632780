//! Running L1: QEMU in TCG mode with an emulated AMD SVM CPU, under a timeout.
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

/// The QEMU binary the rig needs.
pub const QEMU: &str = "qemu-system-x86_64";

/// How L1 ended.
#[derive(Debug)]
pub struct L1Exit {
    pub wall: Duration,
    pub timed_out: bool,
}

/// Boots L1 with `kernel` and `initramfs`; its console goes to `console`,
/// its results channel (ttyS1) to `results`. Kills QEMU after `timeout`.
pub fn run_l1(
    kernel: &Path,
    initramfs: &Path,
    console: &Path,
    results: &Path,
    mem_mib: u64,
    timeout: Duration,
) -> anyhow::Result<L1Exit> {
    let serial = |p: &Path| format!("file:{}", p.display());
    let mut cmd = Command::new(QEMU);
    cmd.args(["-M", "pc", "-accel", "tcg"])
        // SVM with nested paging; `-cpu max` would make the L2 kernel warn
        // about an XSAVE size mismatch.
        .args(["-cpu", "qemu64,+svm,+npt"])
        .args(["-m", &mem_mib.to_string(), "-smp", "1"])
        .args(["-nodefaults", "-display", "none", "-no-reboot"])
        .arg("-kernel")
        .arg(kernel)
        .arg("-initrd")
        .arg(initramfs)
        .args(["-append", "console=ttyS0 panic=-1 rdinit=/init loglevel=4"])
        .args(["-serial", &serial(console), "-serial", &serial(results)])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = cmd.spawn().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => anyhow::anyhow!(
            "{QEMU} is not installed; the rig needs it (Debian: apt-get install qemu-system-x86)"
        ),
        _ => anyhow::Error::new(e).context(format!("cannot start {QEMU}")),
    })?;
    loop {
        if let Some(status) = child.try_wait().context("waiting for QEMU")? {
            let wall = start.elapsed();
            if !status.success() {
                let mut err = String::new();
                if let Some(mut s) = child.stderr.take() {
                    use std::io::Read;
                    let _ = s.read_to_string(&mut err);
                }
                bail!("{QEMU} failed ({status}): {}", err.trim());
            }
            return Ok(L1Exit {
                wall,
                timed_out: false,
            });
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(L1Exit {
                wall: start.elapsed(),
                timed_out: true,
            });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
