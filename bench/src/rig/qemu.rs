//! Running L1: QEMU in TCG mode with an emulated AMD SVM CPU, under a timeout.
use std::fs::File;
use std::process::{Command, Stdio};

use anyhow::{bail, Context};

use super::proc::{self, L1Exit, L1};

/// The QEMU binary the rig needs.
pub const QEMU: &str = "qemu-system-x86_64";
/// Its Debian package.
pub const PACKAGE: &str = "qemu-system-x86";

/// Boots L1 with its kernel and initramfs; its console goes to
/// `dir/console.log`, its results channel (ttyS1) to `dir/results.log`,
/// QEMU's own messages to `dir/emulator.log`. Kills QEMU after its timeout.
pub fn run_l1(l1: &L1<'_>) -> anyhow::Result<L1Exit> {
    let dir = l1.dir;
    let serial = |name: &str| format!("file:{}", dir.join(name).display());
    let log = dir.join("emulator.log");
    let stderr = File::create(&log).with_context(|| format!("cannot create {}", log.display()))?;
    let mut cmd = Command::new(QEMU);
    cmd.args(["-M", "pc", "-accel", "tcg"])
        // SVM with nested paging; `-cpu max` would make the L2 kernel warn
        // about an XSAVE size mismatch.
        .args(["-cpu", "qemu64,+svm,+npt"])
        .args(["-m", &l1.mem_mib.to_string(), "-smp", "1"])
        .args(["-nodefaults", "-display", "none", "-no-reboot"])
        .arg("-kernel")
        .arg(l1.kernel)
        .arg("-initrd")
        .arg(l1.initramfs)
        .args(["-append", l1.append])
        .args(["-serial", &serial("console.log")])
        .args(["-serial", &serial("results.log")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr);
    let missing =
        format!("{QEMU} is not installed; the rig needs it (Debian: apt-get install {PACKAGE})");
    let exit = proc::run(cmd, &missing, l1.timeout, l1.stop)?;
    if let Some(status) = exit.status.filter(|s| !s.success()) {
        let err = std::fs::read_to_string(&log).unwrap_or_default();
        bail!("{QEMU} failed ({status}): {}", err.trim());
    }
    Ok(exit)
}
