//! QEMU (`qemu-bare`: microvm with the bare guest on KVM) cold and
//! restored from a migration file, both timed end to end from the spawn of
//! QEMU to the guest's ready line, interleaved.
//!
//! The state is saved with the monitor's `migrate` while the VM is paused
//! before the guest's first instruction (`-S`): under a stock VMM the bare
//! guest cannot park after ready (its hold port is answered at once), so
//! the restored guest runs its whole (short) boot to ready, like a cold
//! one, and the rows differ in how QEMU gets there: device setup and ELF
//! load against reading the state file. QEMU 8 and later read and write
//! the file directly (`file:`); older ones through `exec:cat`. A VM saved
//! paused stays paused after the load: the restore's timing includes the
//! monitor's `cont` that starts it.
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use vmlab_reports::model::{BackendKind, KvmKind, StartKind, Timing, WarmRow};

use super::monitor::Monitor;
use crate::compare::backend::Backend;
use crate::compare::bare_peer::{guest_code, BarePeer, StockVmm};
use crate::compare::launch::launch_with;
use crate::compare::peers::path_of;
use crate::compare::probe::HostView;
use crate::id::BackendId;

/// How long one save, restore or boot may take.
const LIMIT: Duration = Duration::from_secs(30);

/// The migration URIs for QEMU of major version `major`: (save, restore).
pub fn uris(major: u32, file: &Path) -> (String, String) {
    let f = file.display();
    if major >= 8 {
        (format!("file:{f}"), format!("file:{f}"))
    } else {
        (format!("exec:cat > {f}"), format!("exec:cat {f}"))
    }
}

/// The major version in `qemu-system-x86_64 --version`'s first line.
pub fn major_version(line: &str) -> Option<u32> {
    let v = line.split("version ").nth(1)?;
    v.split('.').next()?.trim().parse().ok()
}

fn qemu_major(qemu: &Path) -> anyhow::Result<u32> {
    let out = Command::new(qemu)
        .arg("--version")
        .output()
        .with_context(|| format!("cannot run {} --version", qemu.display()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    major_version(text.lines().next().unwrap_or(""))
        .with_context(|| format!("no version in {:?}", text.lines().next()))
}

/// Kills QEMU when a save goes wrong half-way.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Saves the paused VM's state to `file` (`save` is the migration URI);
/// returns its size.
pub fn save(mut cmd: Command, save: &str, dir: &Path, file: &Path) -> anyhow::Result<u64> {
    let sock = dir.join("monitor.sock");
    cmd.arg("-S")
        .arg("-monitor")
        .arg(format!("unix:{},server=on,wait=off", sock.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = KillOnDrop(cmd.spawn().context("cannot start QEMU to save its state")?);
    let mut m = Monitor::connect(&sock, LIMIT)?;
    m.command(&format!("migrate \"{save}\""))?;
    let deadline = Instant::now() + LIMIT;
    loop {
        let info = m.command("info migrate")?;
        if info.contains("Migration status: completed") {
            break;
        }
        if info.contains("Migration status: failed") || Instant::now() > deadline {
            anyhow::bail!(
                "QEMU's migration to {} did not complete: {info}",
                file.display()
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    m.quit();
    let _ = child.0.wait();
    Ok(std::fs::metadata(file)
        .with_context(|| format!("QEMU wrote no state file at {}", file.display()))?
        .len())
}

/// Starts the restored VM once its incoming migration is done: QEMU keeps
/// a VM saved before its first instruction paused (`prelaunch`) after the
/// load, so the monitor's `cont` starts it.
fn start_when_loaded(sock: &Path) -> anyhow::Result<()> {
    let mut m = Monitor::connect(sock, LIMIT)?;
    let deadline = Instant::now() + LIMIT;
    loop {
        let st = m.command("info status")?;
        if st.contains("running") {
            return Ok(());
        }
        if !st.contains("inmigrate") {
            m.command("cont")?;
            return Ok(());
        }
        if Instant::now() > deadline {
            anyhow::bail!("the incoming migration did not finish: {st}");
        }
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// One restore from `restore` (the URI), timed from the spawn to the ready
/// line (the monitor's `cont` included).
fn restore_once(mut cmd: Command, restore: &str, dir: &Path) -> Result<u64, String> {
    let sock = dir.join("restore.sock");
    let _ = std::fs::remove_file(&sock);
    cmd.arg("-incoming").arg(restore);
    cmd.arg("-monitor")
        .arg(format!("unix:{},server=on,wait=off", sock.display()));
    let starter = std::thread::spawn(move || start_when_loaded(&sock));
    let l = launch_with(&mut cmd, LIMIT, false).map_err(|e| format!("{e:#}"));
    let started = starter
        .join()
        .map_err(|_| "the monitor thread panicked".to_string())?;
    let l = l?;
    started.map_err(|e| format!("{e:#}"))?;
    match (l.to_ready_ns, l.code.and_then(guest_code)) {
        (Some(t), Some(0)) => Ok(t),
        (None, _) => Err(format!(
            "no ready line after the restore: {}",
            l.stderr.trim()
        )),
        (Some(_), code) => Err(format!("the restored guest ended with {code:?}")),
    }
}

/// The cold and restore rows.
pub fn rows(images: &Path, host: &HostView, args: &[String], runs: u32) -> Vec<WarmRow> {
    let row = |start, method: &str| {
        let mut r = WarmRow::new(
            "qemu-bare",
            BackendKind::Vm,
            start,
            Timing::EndToEnd,
            method,
        );
        r.emulated = host.host.kvm != KvmKind::Hardware;
        r
    };
    let mut cold = row(StartKind::Cold, "qemu microvm boot (spawn to ready)");
    let mut warm = row(StartKind::Restore, "qemu -incoming from a migration file");
    let peer = BarePeer::new(StockVmm::Qemu, images.to_path_buf(), host);
    if let Err(why) = peer.check_images() {
        return vec![cold.skip(why.0.clone()), warm.skip(why.0)];
    }
    let Some(qemu) = path_of(host, BackendId::QemuBare) else {
        let why = "qemu-system-x86_64 is not installed".to_string();
        return vec![cold.skip(why.clone()), warm.skip(why)];
    };
    match measure(&peer, &qemu, args, runs, (&mut cold, &mut warm)) {
        Ok(()) => vec![cold, warm],
        Err(e) => {
            let why = format!("{e:#}");
            vec![cold.skip(why.clone()), warm.skip(why)]
        }
    }
}

fn measure(
    peer: &BarePeer,
    qemu: &Path,
    args: &[String],
    runs: u32,
    (cold, warm): (&mut WarmRow, &mut WarmRow),
) -> anyhow::Result<()> {
    let dir = tempfile::Builder::new()
        .prefix("vmlab-qemu-migration-")
        .tempdir()
        .context("cannot create a directory for QEMU's state file")?;
    let file = dir.path().join("qemu-bare.state");
    let (to, from) = uris(qemu_major(qemu)?, &file);
    let (cmd, _keep) = peer.command_line(qemu, args)?;
    warm.snapshot_bytes = Some(save(cmd, &to, dir.path(), &file)?);
    for i in 0..=runs {
        let c = peer.boot(args, false).map_err(|e| format!("{e:#}"));
        let c = c.and_then(|s| s.to_ready_ns.ok_or_else(|| "no ready line".to_string()));
        let (cmd, _keep) = peer.command_line(qemu, args)?;
        let w = restore_once(cmd, &from, dir.path());
        for (row, r) in [(&mut *cold, c), (&mut *warm, w)] {
            match r {
                Ok(t) if i > 0 => row.to_ready_ns.push(t),
                Ok(_) => {}
                Err(e) => row.failures.push(e),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_qemu_goes_through_cat_and_new_qemu_reads_the_file() {
        let f = Path::new("/d/s.state");
        assert_eq!(
            uris(7, f),
            ("exec:cat > /d/s.state".into(), "exec:cat /d/s.state".into())
        );
        assert_eq!(uris(8, f).1, "file:/d/s.state");
        assert_eq!(
            major_version("QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7)"),
            Some(7)
        );
        assert_eq!(major_version("QEMU emulator version 10.0.0"), Some(10));
        assert_eq!(major_version("something else"), None);
    }
}
