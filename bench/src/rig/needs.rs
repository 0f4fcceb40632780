//! What each rig needs on the host, and whether it is installed (for
//! `vmlab doctor`). The kernel cache is doctor's own line.
use std::path::Path;

use super::cpu::Cpu;
use super::{bochs, disk, qemu};

/// One program or file a rig needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Need {
    /// A program looked up on PATH, or an absolute file.
    pub what: &'static str,
    /// The Debian package that provides it.
    pub package: &'static str,
}

const BUSYBOX: Need = Need {
    what: "/bin/busybox",
    package: "busybox-static",
};

/// Everything the rig for `cpu` needs.
pub fn needs(cpu: Cpu) -> Vec<Need> {
    let mut v = vec![BUSYBOX];
    match cpu {
        Cpu::Amd => v.push(Need {
            what: qemu::QEMU,
            package: qemu::PACKAGE,
        }),
        Cpu::Intel => {
            v.push(Need {
                what: bochs::BOCHS,
                package: "bochs",
            });
            v.push(Need {
                what: bochs::TERM_PLUGIN,
                package: "bochs-term",
            });
            v.extend(bochs::ROMS.map(|(what, package)| Need { what, package }));
            v.extend(disk::TOOLS.map(|(what, package)| Need { what, package }));
        }
    }
    v
}

/// Whether `need` is present on this host.
fn installed(need: &Need) -> bool {
    if need.what.starts_with('/') {
        Path::new(need.what).exists()
    } else {
        disk::find_tool(need.what).is_some()
    }
}

/// doctor's section: one line per rig, what is missing and how to install it.
pub fn doctor_section() -> String {
    section(installed)
}

fn section(installed: impl Fn(&Need) -> bool) -> String {
    let mut s =
        String::from("\nrigs (`vmlab rig --cpu amd|intel`: the VMM on emulated SVM / VT-x):\n");
    for (cpu, name) in [(Cpu::Amd, "rig amd"), (Cpu::Intel, "rig intel")] {
        let all = needs(cpu);
        let missing: Vec<&Need> = all.iter().filter(|n| !installed(n)).collect();
        let have: Vec<&str> = all.iter().map(|n| n.what).collect();
        if missing.is_empty() {
            s.push_str(&format!(
                "  {name:<10} yes  {} ({})\n",
                cpu.emulator(),
                have.join(", ")
            ));
        } else {
            let what: Vec<&str> = missing.iter().map(|n| n.what).collect();
            let mut packages: Vec<&str> = missing.iter().map(|n| n.package).collect();
            packages.dedup();
            s.push_str(&format!("  {name:<10} no   missing {}\n", what.join(", ")));
            s.push_str(&format!(
                "  {:<10}      fix: apt-get install {}\n",
                "",
                packages.join(" ")
            ));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_rig_lists_its_emulator_and_both_need_busybox() {
        let amd = needs(Cpu::Amd);
        let intel = needs(Cpu::Intel);
        assert!(amd.contains(&BUSYBOX) && intel.contains(&BUSYBOX));
        assert!(amd.iter().any(|n| n.what == "qemu-system-x86_64"));
        for what in ["bochs-bin", "mkfs.vfat", "mcopy", "syslinux"] {
            assert!(intel.iter().any(|n| n.what == what), "{what}");
        }
        assert!(!amd.iter().any(|n| n.package.starts_with("bochs")));
    }

    #[test]
    fn missing_needs_are_named_with_their_packages() {
        let s = section(|n| n.package != "mtools" && n.package != "bochs-term");
        assert!(s.contains("rig amd    yes"), "{s}");
        assert!(s.contains("rig intel  no   missing"), "{s}");
        assert!(s.contains("mcopy"), "{s}");
        assert!(
            s.contains("fix: apt-get install bochs-term mtools\n"),
            "{s}"
        );
        let all = section(|_| true);
        assert!(!all.contains("missing"), "{all}");
    }
}
