//! Running L1 under Bochs with an emulated Intel VT-x CPU (Haswell: VMX with
//! EPT, VPID and unrestricted guest), booting from a SYSLINUX disk.
//!
//! Debian's Bochs has no headless display and stops at its debugger's
//! prompt, so it runs with the `term` display on a pseudo-terminal (whose
//! output is kept as `emulator.log`) and a debugger script that continues
//! and then quits. A guest power-off ends Bochs with exit code 1: the rig
//! judges L1 by its results channel only.
use std::fs::File;
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{bail, Context};
use nix::pty::{openpty, Winsize};

use super::disk;
use super::proc::{self, L1Exit, L1};

/// The Bochs binary (Debian's `bochs` is a wrapper script around it).
pub const BOCHS: &str = "bochs-bin";
/// Files Bochs loads: (path, Debian package).
pub const ROMS: [(&str, &str); 2] = [
    ("/usr/share/bochs/BIOS-bochs-latest", "bochsbios"),
    ("/usr/share/bochs/VGABIOS-lgpl-latest", "vgabios"),
];
/// The display plugin that works without X (package bochs-term).
pub const TERM_PLUGIN: &str = "/usr/lib/x86_64-linux-gnu/bochs/plugins/libbx_term_gui.so";
/// What `apt-get install` needs for the Intel rig (Bochs and the boot disk tools).
pub const PACKAGES: &str = "bochs bochs-term bochsbios vgabios syslinux mtools dosfstools";

/// Guest instructions per emulated second: close to what Bochs runs here
/// (about 54 M/s), so L1's clock and its timeouts track wall time.
const IPS: u64 = 50_000_000;

/// The Bochs configuration; every file is relative to Bochs's working
/// directory (the rig's private scratch directory), so no path needs quoting.
pub fn bochsrc(mem_mib: u64, cylinders: u64) -> String {
    format!(
        "# L1 of `vmlab rig --cpu intel` (generated)\n\
         memory: guest={mem_mib}, host={mem_mib}\n\
         cpu: model=corei7_haswell_4770, count=1, ips={IPS}, reset_on_triple_fault=0\n\
         romimage: file={}\n\
         vgaromimage: file={}\n\
         ata0-master: type=disk, path=disk.img, mode=flat, cylinders={cylinders}, heads=16, spt=63\n\
         boot: disk\n\
         com1: enabled=1, mode=file, dev=console.log\n\
         com2: enabled=1, mode=file, dev=results.log\n\
         display_library: term\n\
         speaker: enabled=0\n\
         sound: waveoutdrv=dummy, waveindrv=dummy, midioutdrv=dummy\n\
         mouse: enabled=0\n\
         log: bochs.log\n\
         panic: action=fatal\n\
         error: action=report\n\
         info: action=ignore\n\
         debug: action=ignore\n",
        ROMS[0].0, ROMS[1].0
    )
}

/// Boots L1 from its kernel and initramfs in its `dir` (which must hold
/// nothing else of the same names); kills Bochs after its timeout.
pub fn run_l1(l1: &L1<'_>) -> anyhow::Result<L1Exit> {
    let dir = l1.dir;
    for (rom, package) in ROMS {
        if !Path::new(rom).exists() {
            bail!("{rom} is missing; the Intel rig needs it (Debian: apt-get install {package})");
        }
    }
    if !Path::new(TERM_PLUGIN).exists() {
        bail!("Bochs's term display is not installed; the Intel rig needs it (Debian: apt-get install bochs-term)");
    }
    // A kernel panic reboots by triple fault, which then stops Bochs.
    let append = format!("{} reboot=t", l1.append);
    let disk = disk::build(l1.kernel, l1.initramfs, &append, dir)?;
    let write = |name: &str, text: String| {
        let p = dir.join(name);
        std::fs::write(&p, text).with_context(|| format!("cannot write {}", p.display()))
    };
    write("bochsrc", bochsrc(l1.mem_mib, disk.cylinders))?;
    write("bochs.rc", "c\nquit\n".into())?;

    let size = Winsize {
        ws_row: 25,
        ws_col: 80,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    let pty = openpty(Some(&size), None).context("cannot open a pseudo-terminal for Bochs")?;
    let screen = dir.join("emulator.log");
    let mut out =
        File::create(&screen).with_context(|| format!("cannot create {}", screen.display()))?;
    let mut master = File::from(pty.master);
    // Drain the terminal so Bochs never blocks on it; ends when Bochs is gone.
    let drain = std::thread::spawn(move || {
        let _ = std::io::copy(&mut master, &mut out);
    });
    let tty = |fd: &std::os::fd::OwnedFd| fd.try_clone().map(Stdio::from);
    let mut cmd = Command::new(BOCHS);
    cmd.args(["-q", "-f", "bochsrc", "-rc", "bochs.rc"])
        .current_dir(dir)
        .env("TERM", "xterm")
        .stdin(tty(&pty.slave)?)
        .stdout(tty(&pty.slave)?)
        .stderr(Stdio::from(pty.slave));
    let missing = format!(
        "{BOCHS} is not installed; the Intel rig needs it (Debian: apt-get install {PACKAGES})"
    );
    let exit = proc::run(cmd, &missing, l1.timeout, l1.stop);
    let _ = drain.join();
    let exit = exit?;
    let started = std::fs::metadata(dir.join("results.log")).is_ok_and(|m| m.len() > 0);
    if !exit.timed_out && !started {
        let text = std::fs::read_to_string(&screen).unwrap_or_default();
        bail!(
            "Bochs stopped before L1 started ({}): {}",
            exit.status.map_or("killed".into(), |s| s.to_string()),
            exit_message(&text).unwrap_or("no message; see its log with --keep")
        );
    }
    Ok(exit)
}

/// The message Bochs prints when it gives up, from its terminal output.
pub fn exit_message(screen: &str) -> Option<&str> {
    let mut lines = screen.lines().map(|l| l.trim_matches(['\r', ' ']));
    lines.find(|l| l.ends_with("Bochs is exiting with the following message:"))?;
    lines.find(|l| !l.is_empty() && !l.starts_with("====="))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_names_the_vmx_cpu_the_disk_geometry_and_both_serial_ports() {
        let rc = bochsrc(1024, 81);
        assert!(rc.contains("memory: guest=1024, host=1024\n"));
        assert!(rc.contains("model=corei7_haswell_4770"));
        assert!(rc.contains("reset_on_triple_fault=0"));
        assert!(rc.contains("cylinders=81, heads=16, spt=63"));
        assert!(rc.contains("com1: enabled=1, mode=file, dev=console.log\n"));
        assert!(rc.contains("com2: enabled=1, mode=file, dev=results.log\n"));
        assert!(rc.contains("display_library: term\n"));
        // No absolute scratch paths: Bochs splits options on commas.
        assert!(!rc.contains("/tmp"));
    }

    #[test]
    fn the_exit_message_is_found_in_terminal_output() {
        let screen = "noise\r\n=====\r\nBochs is exiting with the following message:\r\n\
            [MEM0  ] ROM: couldn't open ROM image file 'x'.\r\n=====\r\n";
        assert_eq!(
            exit_message(screen),
            Some("[MEM0  ] ROM: couldn't open ROM image file 'x'.")
        );
        assert_eq!(exit_message("Bochs connected to screen\n"), None);
    }
}
