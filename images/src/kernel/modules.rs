//! Which kernel modules a cached kernel keeps, in the order they load.
//!
//! A Debian kernel package carries no `modules.dep` (its post-install
//! script runs `depmod`), so the dependencies come from each module's own
//! `.modinfo` section: the `depends=` entry lists the modules it needs,
//! by name, with `_` where the file name may have `-`. [`closure`] walks
//! them from a few roots and returns every module needed, each after the
//! modules it depends on, which is the order `finit_module` needs.
use std::collections::BTreeMap;

use object::elf::{FileHeader64, SectionHeader64};
use object::read::elf::{FileHeader, SectionHeader};
use object::LittleEndian;

use super::{GuestKernel, Module};

/// The modules asked for: the KVM modules (the rig's nested guest), TAP
/// and loop devices (the rig's L1 host side for the I/O kernels: the VM's
/// TAP, and a loop-mounted disk filesystem that takes `O_DIRECT`) and the
/// virtio drivers a Linux guest needs for its I/O (the mmio transport of
/// vmlab's VMM and QEMU's microvm, the PCI one of other VMMs, net, blk).
/// Their dependencies are kept too.
pub const ROOTS: &[&str] = &[
    "kvm-amd",
    "kvm-intel",
    "tun",
    "loop",
    "virtio_mmio",
    "virtio_pci",
    "virtio_net",
    "virtio_blk",
];

/// The modules a Linux guest loads for virtio I/O (with their
/// dependencies, [`closure`] over the cached ones).
pub const VIRTIO: &[&str] = &["virtio_mmio", "virtio_pci", "virtio_net", "virtio_blk"];

/// Where the Linux initramfs for I/O keeps the virtio modules, relative to
/// its root: `NN-name.ko`, to be loaded in the order of their names (the
/// workload, as the guest's PID 1, reads the same directory).
pub const INITRAMFS_DIR: &str = "lib/vmlab-modules";

/// Modules to load, in order: name and file contents.
pub type Loadable = Vec<(String, Vec<u8>)>;

/// The virtio modules of `kernel` and what they depend on, in load order:
/// name and file contents. `Ok(None)` when the kernel came without modules
/// (one given by path); an error when some are missing or unreadable.
pub fn virtio_of(kernel: &GuestKernel) -> Result<Option<Loadable>, String> {
    if kernel.modules.is_empty() {
        return Ok(None);
    }
    let find = |name: &str| {
        kernel
            .modules
            .iter()
            .find(|m| normalized(&m.name) == name)
            .ok_or_else(|| format!("the cached kernel keeps no module {name}"))
    };
    let read = |m: &Module| -> Result<Vec<u8>, String> {
        if m.compressed.is_some() {
            return Err(format!(
                "{} is compressed; vmlab loads uncompressed modules only",
                m.relative
            ));
        }
        std::fs::read(&m.path).map_err(|e| format!("{}: {e}", m.path.display()))
    };
    let order = closure(VIRTIO, |name| depends(&read(find(name)?)?))?;
    order
        .iter()
        .map(|name| Ok((name.clone(), read(find(name)?)?)))
        .collect::<Result<Vec<_>, String>>()
        .map(Some)
}

/// A module name as the kernel compares them (`kvm-amd` is `kvm_amd`).
pub fn normalized(name: &str) -> String {
    name.replace('-', "_")
}

/// The `depends=` list of a module's `.modinfo` (uncompressed `.ko` bytes).
pub fn depends(ko: &[u8]) -> Result<Vec<String>, String> {
    let modinfo = modinfo(ko)?;
    let entry = modinfo
        .split(|b| *b == 0)
        .find_map(|kv| kv.strip_prefix(b"depends="))
        .unwrap_or_default();
    let list = std::str::from_utf8(entry).map_err(|_| "its depends= is not UTF-8".to_string())?;
    Ok(list
        .split(',')
        .filter(|n| !n.is_empty())
        .map(normalized)
        .collect())
}

/// The bytes of the `.modinfo` section of an ELF64 relocatable.
fn modinfo(ko: &[u8]) -> Result<&[u8], String> {
    let le = LittleEndian;
    let header = FileHeader64::<LittleEndian>::parse(ko)
        .map_err(|e| format!("it is no ELF64 module ({e})"))?;
    let sections = header
        .sections(le, ko)
        .map_err(|e| format!("its section table is damaged ({e})"))?;
    let (_, section): (_, &SectionHeader64<LittleEndian>) = sections
        .section_by_name(le, b".modinfo")
        .ok_or_else(|| "it has no .modinfo section".to_string())?;
    section
        .data(le, ko)
        .map_err(|e| format!("its .modinfo section is damaged ({e})"))
}

/// Every module `roots` need, dependencies first. `deps_of` gives a
/// module's dependencies by its [normalized] name, or why it cannot.
pub fn closure(
    roots: &[&str],
    mut deps_of: impl FnMut(&str) -> Result<Vec<String>, String>,
) -> Result<Vec<String>, String> {
    // 0: being visited, 1: done (a cycle is refused rather than looped on).
    let mut state: BTreeMap<String, u8> = BTreeMap::new();
    let mut order = Vec::new();
    for root in roots {
        visit(&normalized(root), &mut deps_of, &mut state, &mut order)?;
    }
    Ok(order)
}

fn visit(
    name: &str,
    deps_of: &mut impl FnMut(&str) -> Result<Vec<String>, String>,
    state: &mut BTreeMap<String, u8>,
    order: &mut Vec<String>,
) -> Result<(), String> {
    match state.get(name) {
        Some(1) => return Ok(()),
        Some(_) => return Err(format!("the modules' dependencies loop through {name}")),
        None => {}
    }
    state.insert(name.to_string(), 0);
    for dep in deps_of(name)? {
        visit(&dep, deps_of, state, order)?;
    }
    state.insert(name.to_string(), 1);
    order.push(name.to_string());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal ELF64 relocatable with a `.modinfo` section holding `info`.
    pub fn ko(info: &[u8]) -> Vec<u8> {
        let shstr = b"\0.modinfo\0.shstrtab\0";
        let data_off = 64usize;
        let shstr_off = data_off + info.len();
        let sh_off = (shstr_off + shstr.len()).next_multiple_of(8);
        let mut f = vec![0u8; sh_off + 3 * 64];
        f[..4].copy_from_slice(b"\x7fELF");
        f[4] = 2; // 64-bit
        f[5] = 1; // little-endian
        f[6] = 1; // version
        f[16..18].copy_from_slice(&1u16.to_le_bytes()); // ET_REL
        f[18..20].copy_from_slice(&62u16.to_le_bytes()); // x86-64
        f[20..24].copy_from_slice(&1u32.to_le_bytes());
        f[40..48].copy_from_slice(&(sh_off as u64).to_le_bytes());
        f[52..54].copy_from_slice(&64u16.to_le_bytes()); // e_ehsize
        f[58..60].copy_from_slice(&64u16.to_le_bytes()); // e_shentsize
        f[60..62].copy_from_slice(&3u16.to_le_bytes()); // e_shnum
        f[62..64].copy_from_slice(&2u16.to_le_bytes()); // e_shstrndx
        f[data_off..shstr_off].copy_from_slice(info);
        f[shstr_off..shstr_off + shstr.len()].copy_from_slice(shstr);
        let mut section = |i: usize, name: u32, kind: u32, off: usize, size: usize| {
            let s = sh_off + i * 64;
            f[s..s + 4].copy_from_slice(&name.to_le_bytes());
            f[s + 4..s + 8].copy_from_slice(&kind.to_le_bytes());
            f[s + 24..s + 32].copy_from_slice(&(off as u64).to_le_bytes());
            f[s + 32..s + 40].copy_from_slice(&(size as u64).to_le_bytes());
        };
        section(1, 1, 1, data_off, info.len()); // .modinfo, PROGBITS
        section(2, 10, 3, shstr_off, shstr.len()); // .shstrtab, STRTAB
        f
    }

    #[test]
    fn depends_come_from_modinfo() {
        let info = b"license=GPL\0depends=virtio_ring,virtio,net-failover\0vermagic=6.1\0";
        assert_eq!(
            depends(&ko(info)).unwrap(),
            ["virtio_ring", "virtio", "net_failover"]
        );
        assert_eq!(depends(&ko(b"depends=\0")).unwrap(), Vec::<String>::new());
        assert_eq!(
            depends(&ko(b"license=GPL\0")).unwrap(),
            Vec::<String>::new()
        );
        assert!(depends(b"not an elf").unwrap_err().contains("no ELF64"));
        let mut no_modinfo = ko(b"x\0");
        // Rename the section: `.modinfo` becomes `.modinfX`.
        let at = no_modinfo
            .windows(8)
            .position(|w| w == b".modinfo")
            .unwrap();
        no_modinfo[at + 7] = b'X';
        assert!(depends(&no_modinfo).unwrap_err().contains("no .modinfo"));
    }

    #[test]
    fn the_closure_puts_dependencies_first_once() {
        let deps = |name: &str| -> Result<Vec<String>, String> {
            Ok(match name {
                "virtio_net" => vec!["virtio_ring".into(), "virtio".into(), "net_failover".into()],
                "net_failover" => vec!["failover".into()],
                "virtio_blk" | "virtio_mmio" => vec!["virtio".into(), "virtio_ring".into()],
                "kvm_amd" => vec!["kvm".into()],
                "kvm" => vec!["irqbypass".into()],
                "virtio" | "virtio_ring" | "failover" | "irqbypass" => vec![],
                other => return Err(format!("no module {other}")),
            })
        };
        let order = closure(
            &["kvm-amd", "virtio_net", "virtio_blk", "virtio_mmio"],
            deps,
        )
        .unwrap();
        assert_eq!(
            order,
            [
                "irqbypass",
                "kvm",
                "kvm_amd",
                "virtio_ring",
                "virtio",
                "failover",
                "net_failover",
                "virtio_net",
                "virtio_blk",
                "virtio_mmio"
            ]
        );
        assert_eq!(closure(&["nope"], deps).unwrap_err(), "no module nope");
        let cycle = |n: &str| Ok(vec![if n == "a" { "b" } else { "a" }.to_string()]);
        assert!(closure(&["a"], cycle).unwrap_err().contains("loop"));
    }
}
