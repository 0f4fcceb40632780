//! What L1 boots: its kernel and an uncompressed initramfs (about 0.6 s
//! faster to unpack under emulation than a gzip one).
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use vmlab_images::kernel::Cache;
use vmlab_images::rootfs::{Entry, Kind};

use super::check::Check;
use super::cpu::Cpu;

/// Where the L2 artifacts sit inside L1.
pub const L2_KERNEL: &str = "/rig/vmlinuz";
pub const L2_INITRAMFS: &str = "/rig/initramfs.cpio";
pub const L2_CORRUPT_INITRAMFS: &str = "/rig/corrupt.cpio";
/// The L2 workload initramfs with the guest kernel's virtio modules (what
/// `vmlab images build` writes as `initramfs-io.cpio`), for the I/O check.
pub const L2_IO_INITRAMFS: &str = "/rig/initramfs-io.cpio";

/// L1's kernel command line (both emulators; Bochs adds to it). 115200
/// baud: Bochs paces its serial ports at the programmed rate. No crypto
/// self-tests: they take about 15 s of L1's boot under Bochs.
pub const L1_APPEND: &str =
    "console=ttyS0,115200 panic=-1 rdinit=/init loglevel=4 cryptomgr.notests";

/// busybox-static provides L1's shell and tools.
const BUSYBOX: &str = "/bin/busybox";

/// The host-side inputs of the rig.
pub struct Inputs {
    /// The Debian cloud kernel (bzImage): L1's kernel and L2's.
    pub kernel: PathBuf,
    /// `irqbypass`, `kvm` and the vendor module (`kvm-amd` or `kvm-intel`)
    /// from the same kernel package, in load order, then `tun` and `loop`
    /// (the I/O check's TAP and disk filesystem).
    pub modules: Vec<(String, PathBuf)>,
    /// The L2 guest's virtio modules and their dependencies, in load order.
    pub l2_virtio: vmlab_images::kernel::modules::Loadable,
}

impl Inputs {
    /// Finds the kernel and its KVM modules in the kernel cache (fetching
    /// the package when needed), or uses `kernel` if given. L1 needs the
    /// modules of exactly that kernel, so an explicit kernel must be a
    /// bzImage from the cache or come with its modules there too.
    pub fn resolve(kernel: Option<&Path>, cpu: Cpu) -> anyhow::Result<Inputs> {
        let cache = Cache::default_location()?;
        let mut progress = |step: &str| eprintln!("rig: {step}");
        let k = vmlab_images::kernel::resolve(kernel, &cache, true, &mut progress)
            .context("the rig needs the Debian cloud kernel and its KVM modules")?;
        let bzimage = k.bzimage.as_ref().ok_or_else(|| {
            anyhow::anyhow!(
                "{} is a vmlinux ELF; L1 boots from a bzImage: pass the bzImage",
                k.vmlinux.path.display()
            )
        })?;
        let mut modules = Vec::new();
        for name in ["irqbypass", "kvm", cpu.kvm_module(), "tun", "loop"] {
            let m = k.modules.iter().find(|m| m.name == name).ok_or_else(|| {
                anyhow::anyhow!(
                    "the kernel cache has no {name} module for {}: the rig needs the kernel \
                     fetched by `vmlab images build` (Debian's cloud kernel package), not a bare file",
                    bzimage.path.display()
                )
            })?;
            if let Some(c) = &m.compressed {
                bail!(
                    "module {} is {c}-compressed; L1's busybox insmod needs plain .ko files",
                    m.path.display()
                );
            }
            modules.push((name.to_string(), m.path.clone()));
        }
        let l2_virtio = vmlab_images::kernel::modules::virtio_of(&k)
            .map_err(|why| {
                anyhow::anyhow!("the rig's I/O check needs the L2 virtio modules: {why}")
            })?
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "the rig's I/O check needs the L2 virtio modules, and the kernel came \
                     without modules: use the one `vmlab images build` fetches"
                )
            })?;
        Ok(Inputs {
            kernel: bzimage.path.clone(),
            modules,
            l2_virtio,
        })
    }
}

/// Builds L1's initramfs in `dir` and returns its path.
pub fn build_l1(
    inputs: &Inputs,
    checks: &[Check],
    check_timeout_s: u64,
    dir: &Path,
) -> anyhow::Result<PathBuf> {
    let read = |p: &Path| std::fs::read(p).with_context(|| format!("cannot read {}", p.display()));
    let busybox = read(Path::new(BUSYBOX)).context(
        "the rig needs a static busybox at /bin/busybox (Debian: apt-get install busybox-static)",
    )?;
    if !is_static_elf(&busybox) {
        bail!("{BUSYBOX} is not a static binary; install busybox-static");
    }
    let exe = std::env::current_exe().context("cannot locate the running vmlab binary")?;
    let vmlab = without_debug_info(&exe, dir).map_or_else(|| read(&exe), Ok)?;
    if !is_static_elf(&vmlab) {
        bail!(
            "{} is dynamically linked; L1 has no libraries: build vmlab with the repository's .cargo/config.toml (static)",
            exe.display()
        );
    }
    let kernel = read(&inputs.kernel)?;
    let l2_io_initramfs = l2_initramfs(Some(&inputs.l2_virtio));
    let l2_initramfs = l2_initramfs(None);
    let corrupt: Vec<u8> = l2_initramfs.iter().map(|b| b ^ 0x5a).collect();

    let dir_entry = |p: &str| Entry {
        path: p.into(),
        mode: 0o755,
        kind: Kind::Dir,
    };
    let file = |p: &str, mode: u32, bytes: Vec<u8>| Entry {
        path: p.into(),
        mode,
        kind: Kind::File(bytes),
    };
    let mut entries = vec![
        dir_entry("bin"),
        dir_entry("dev"),
        Entry {
            path: "dev/console".into(),
            mode: 0o600,
            kind: Kind::CharDev { major: 5, minor: 1 },
        },
        dir_entry("proc"),
        dir_entry("rig"),
        dir_entry("sys"),
        dir_entry("tmp"),
        file("bin/busybox", 0o755, busybox),
        file(
            "init",
            0o755,
            init_script(check_timeout_s, &inputs.modules).into_bytes(),
        ),
        file("rig/checks.sh", 0o644, checks_script(checks).into_bytes()),
        file("rig/vmlab", 0o755, vmlab),
        file(&L2_KERNEL[1..], 0o644, kernel),
        file(&L2_INITRAMFS[1..], 0o644, l2_initramfs),
        file(&L2_CORRUPT_INITRAMFS[1..], 0o644, corrupt),
        file(&L2_IO_INITRAMFS[1..], 0o644, l2_io_initramfs),
    ];
    for (name, path) in &inputs.modules {
        entries.push(file(&format!("rig/{name}.ko"), 0o644, read(path)?));
    }
    let out = dir.join("l1.cpio");
    let f =
        std::fs::File::create(&out).with_context(|| format!("cannot create {}", out.display()))?;
    vmlab_images::cpio::write(&entries, 0, std::io::BufWriter::new(f))
        .context("cannot write L1's initramfs")?;
    Ok(out)
}

/// `exe` without its debug sections (a debug build's vmlab is about 100 MB,
/// a quarter of that stripped), when binutils' objcopy is installed; None
/// otherwise, and L1 gets the binary as it is.
fn without_debug_info(exe: &Path, dir: &Path) -> Option<Vec<u8>> {
    let out = dir.join("vmlab.stripped");
    let ok = std::process::Command::new("objcopy")
        .arg("--strip-debug")
        .arg(exe)
        .arg(&out)
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let bytes = if ok { std::fs::read(&out).ok() } else { None };
    let _ = std::fs::remove_file(&out);
    bytes
}

/// The L2 workload initramfs, built in memory exactly as `vmlab images
/// build` does: `initramfs.cpio`, or with `virtio` modules `initramfs-io.cpio`.
fn l2_initramfs(virtio: Option<&vmlab_images::kernel::modules::Loadable>) -> Vec<u8> {
    let mut rootfs =
        vmlab_images::rootfs::Rootfs::new(vmlab_images::embedded::WORKLOAD).with_console();
    if let Some(mods) = virtio {
        rootfs = rootfs.with_modules(vmlab_images::kernel::modules::INITRAMFS_DIR, mods);
    }
    let mut out = Vec::new();
    vmlab_images::cpio::write(rootfs.entries(), 0, &mut out)
        .expect("writing to memory cannot fail");
    out
}

/// `init.sh` with the check timeout and the modules to load, in order.
fn init_script(check_timeout_s: u64, modules: &[(String, PathBuf)]) -> String {
    let names: Vec<&str> = modules.iter().map(|(n, _)| n.as_str()).collect();
    include_str!("init.sh")
        .replace("@CHECK_TIMEOUT@", &check_timeout_s.to_string())
        .replace("@MODULES@", &names.join(" "))
}

/// One `check NAME COMMAND...` line per check, shell-quoted.
fn checks_script(checks: &[Check]) -> String {
    let mut s = String::new();
    for c in checks {
        s.push_str("check ");
        s.push_str(&quote(&c.name));
        for a in &c.argv {
            s.push(' ');
            s.push_str(&quote(a));
        }
        s.push('\n');
    }
    s
}

/// Single-quotes a word for sh.
pub(super) fn quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// An ELF executable without a PT_INTERP program header needs no loader.
fn is_static_elf(bytes: &[u8]) -> bool {
    const PT_INTERP: u32 = 3;
    let u16_at = |o: usize| {
        bytes
            .get(o..o + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
    };
    let u32_at = |o: usize| {
        bytes
            .get(o..o + 4)
            .map(|b| u32::from_le_bytes(b.try_into().unwrap()))
    };
    let u64_at = |o: usize| {
        bytes
            .get(o..o + 8)
            .map(|b| u64::from_le_bytes(b.try_into().unwrap()))
    };
    if bytes.get(..5) != Some(b"\x7fELF\x02") {
        return false;
    }
    let (Some(phoff), Some(phentsize), Some(phnum)) = (u64_at(0x20), u16_at(0x36), u16_at(0x38))
    else {
        return false;
    };
    (0..usize::from(phnum)).all(|i| {
        let off = phoff as usize + i * usize::from(phentsize);
        u32_at(off).is_some_and(|t| t != PT_INTERP)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_init_script_loads_the_given_modules_in_order() {
        let modules = ["irqbypass", "kvm", "kvm-intel"].map(|m| (m.to_string(), PathBuf::new()));
        let init = init_script(90, &modules);
        assert!(
            init.contains("for m in irqbypass kvm kvm-intel; do"),
            "{init}"
        );
        assert!(init.contains("timeout 90 "));
        assert!(!init.contains("@MODULES@"));
        assert!(!init.contains("@CHECK_TIMEOUT@"));
    }

    #[test]
    fn quoting_survives_quotes_and_spaces() {
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), r"'it'\''s'");
    }

    #[test]
    fn checks_become_one_line_each() {
        let c = Check {
            name: "vm-bare".into(),
            argv: super::super::check::vmlab(&["run", "--backend", "vm-bare", "--", "cpu"]),
            expect: super::super::check::Expect::Error {
                contains: "x".into(),
            },
        };
        assert_eq!(
            checks_script(&[c]),
            "check 'vm-bare' '/rig/vmlab' 'run' '--backend' 'vm-bare' '--' 'cpu'\n"
        );
    }

    #[test]
    fn static_and_dynamic_binaries_are_told_apart() {
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        // Test binaries are static too (.cargo/config.toml).
        assert!(is_static_elf(&me));
        assert!(!is_static_elf(b"\x7fELF\x02 not really"));
        assert!(!is_static_elf(b"#!/bin/sh\n"));
        if let Ok(ls) = std::fs::read("/bin/ls") {
            assert!(!is_static_elf(&ls), "Debian's ls is dynamic");
        }
    }
}
