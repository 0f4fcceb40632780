//! L1's boot disk for emulators without direct kernel loading (Bochs): one
//! FAT file system over the whole disk (no partition table; the BIOS boots
//! its first sector), holding SYSLINUX, the kernel and the initramfs. Built
//! without loop mounts: `mkfs.vfat -C`, `mcopy`, `syslinux --install`.
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};

/// One emulated disk cylinder: 16 heads of 63 sectors of 512 bytes. The
/// disk is a whole number of them so the emulator's geometry fits exactly.
pub const CYLINDER_BYTES: u64 = 16 * 63 * 512;

/// The tools the disk needs: (program, Debian package).
pub const TOOLS: [(&str, &str); 3] = [
    ("mkfs.vfat", "dosfstools"),
    ("mcopy", "mtools"),
    ("syslinux", "syslinux"),
];

/// A built disk image and its geometry.
#[derive(Debug)]
pub struct Disk {
    /// `disk.img` in the scratch directory (the name Bochs's config uses).
    #[cfg_attr(not(test), allow(dead_code))]
    pub path: PathBuf,
    pub cylinders: u64,
}

/// The number of cylinders for `payload` bytes of files plus room for the
/// file system's own structures (FAT, directories, SYSLINUX): 1/16 and 4 MiB.
pub fn cylinders_for(payload: u64) -> u64 {
    let need = payload + payload / 16 + (4 << 20);
    need.div_ceil(CYLINDER_BYTES)
}

/// SYSLINUX's configuration: boot `vmlinuz` with `l1.cpio` at once.
pub fn syslinux_cfg(append: &str) -> String {
    format!(
        "DEFAULT l1\nPROMPT 0\nTIMEOUT 0\nLABEL l1\n  KERNEL vmlinuz\n  INITRD l1.cpio\n  APPEND {append}\n"
    )
}

/// Builds `dir/disk.img` that boots `kernel` with `initramfs` and `append`.
pub fn build(kernel: &Path, initramfs: &Path, append: &str, dir: &Path) -> anyhow::Result<Disk> {
    let size = |p: &Path| {
        std::fs::metadata(p)
            .map(|m| m.len())
            .with_context(|| format!("cannot read {}", p.display()))
    };
    let cylinders = cylinders_for(size(kernel)? + size(initramfs)?);
    let path = dir.join("disk.img");
    let cfg = dir.join("syslinux.cfg");
    std::fs::write(&cfg, syslinux_cfg(append))
        .with_context(|| format!("cannot write {}", cfg.display()))?;
    let kib = cylinders * CYLINDER_BYTES / 1024;
    tool("mkfs.vfat", |c| {
        c.args(["-C", "-n", "VMLABRIG"])
            .arg(&path)
            .arg(kib.to_string())
    })?;
    for (from, to) in [
        (kernel, "::vmlinuz"),
        (initramfs, "::l1.cpio"),
        (&cfg, "::syslinux.cfg"),
    ] {
        tool("mcopy", |c| c.arg("-i").arg(&path).arg(from).arg(to))?;
    }
    tool("syslinux", |c| c.arg("--install").arg(&path))?;
    Ok(Disk { path, cylinders })
}

/// Finds `name` on PATH or in the sbin directories (mkfs.vfat lives in
/// /usr/sbin, which a normal user's PATH may lack).
pub fn find_tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// Runs one disk tool; a missing one names its package.
fn tool(name: &str, args: impl FnOnce(&mut Command) -> &mut Command) -> anyhow::Result<()> {
    let package = TOOLS
        .iter()
        .find(|(t, _)| *t == name)
        .map_or("?", |(_, p)| p);
    let Some(program) = find_tool(name) else {
        bail!("{name} is not installed; the Intel rig needs it to build L1's boot disk (Debian: apt-get install {package})");
    };
    let mut cmd = Command::new(&program);
    args(&mut cmd);
    let out = cmd
        .output()
        .with_context(|| format!("cannot run {}", program.display()))?;
    if !out.status.success() {
        bail!(
            "{name} failed ({}) while building L1's boot disk: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_disk_has_room_for_its_files_in_whole_cylinders() {
        for payload in [0, 1, 20 << 20, 37_000_123] {
            let c = cylinders_for(payload);
            assert!(c * CYLINDER_BYTES >= payload + (4 << 20));
            assert!((c - 1) * CYLINDER_BYTES < payload + payload / 16 + (4 << 20));
        }
    }

    #[test]
    fn syslinux_boots_the_kernel_and_initramfs_with_the_command_line() {
        let cfg = syslinux_cfg("console=ttyS0 rdinit=/init");
        assert!(cfg.contains("KERNEL vmlinuz\n"));
        assert!(cfg.contains("INITRD l1.cpio\n"));
        assert!(cfg.contains("APPEND console=ttyS0 rdinit=/init\n"));
        assert!(cfg.starts_with("DEFAULT l1\nPROMPT 0\n"));
    }

    #[test]
    fn tools_are_found_on_path_and_missing_ones_are_not() {
        assert!(find_tool("sh").is_some());
        assert!(find_tool("no-such-tool-vmlab").is_none());
    }

    /// Builds a real disk when the tools are installed; CI installs them and
    /// sets VMLAB_REQUIRE_KVM=1 (the rig's gate), which turns a skip into a failure.
    #[test]
    fn a_built_disk_is_bootable_fat_with_the_files() {
        if let Some((t, _)) = TOOLS.iter().find(|(t, _)| find_tool(t).is_none()) {
            assert!(
                std::env::var("VMLAB_REQUIRE_KVM").as_deref() != Ok("1"),
                "VMLAB_REQUIRE_KVM=1 but {t} is not installed"
            );
            eprintln!("skipping: {t} is not installed");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let k = dir.path().join("k");
        let i = dir.path().join("i");
        std::fs::write(&k, vec![0x11; 300_000]).unwrap();
        std::fs::write(&i, vec![0x22; 100_000]).unwrap();
        let disk = build(&k, &i, "console=ttyS0", dir.path()).unwrap();
        let img = std::fs::read(&disk.path).unwrap();
        assert_eq!(img.len() as u64, disk.cylinders * CYLINDER_BYTES);
        assert_eq!(&img[510..512], &[0x55, 0xaa], "boot signature");
        assert!(
            img.windows(7).any(|w| w == b"SYSLINU"),
            "SYSLINUX boot code"
        );
        let needle = vec![0x11; 4096];
        assert!(img
            .windows(4096)
            .step_by(512)
            .any(|w| w == needle.as_slice()));
    }
}
