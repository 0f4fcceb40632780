//! What /dev/kvm is here: whether the device exists, and which kind of KVM
//! backs it as the VMM detects it ([`vmlab_vmm::KvmKind`], the one
//! detection), mapped into the results model's [`KvmKind`] in one place.
use std::path::Path;

use vmlab_reports::model::KvmKind;

/// This host's /dev/kvm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kvm {
    /// Whether /dev/kvm exists.
    pub device: bool,
    /// The module behind it, as the VMM detects it.
    pub kind: vmlab_vmm::KvmKind,
}

impl Kvm {
    /// Looks at /dev/kvm and the loaded modules.
    pub fn detect() -> Kvm {
        Kvm {
            device: Path::new("/dev/kvm").exists(),
            kind: vmlab_vmm::KvmKind::detect(),
        }
    }
}

impl From<Kvm> for KvmKind {
    /// No device: none. Software nested (kvm_pvm): emulated. Anything else
    /// (kvm_intel, kvm_amd, or a KVM built into the kernel): hardware.
    fn from(k: Kvm) -> KvmKind {
        use vmlab_vmm::KvmKind as Vmm;
        match (k.device, k.kind) {
            (false, _) => KvmKind::None,
            (true, Vmm::Pvm) => KvmKind::PvmSoftwareNested,
            (true, Vmm::Intel | Vmm::Amd | Vmm::Unknown) => KvmKind::Hardware,
        }
    }
}

/// Whether /dev/kvm can be opened for reading and writing, and if not, why.
pub fn kvm_openable() -> Result<(), String> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .map(drop)
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use vmlab_vmm::KvmKind as Vmm;

    #[test]
    fn kvm_kinds_map_into_the_results_model() {
        let kind = |device, kind| KvmKind::from(Kvm { device, kind });
        assert_eq!(kind(false, Vmm::Pvm), KvmKind::None);
        assert_eq!(kind(false, Vmm::Intel), KvmKind::None);
        assert_eq!(kind(true, Vmm::Pvm), KvmKind::PvmSoftwareNested);
        for hw in [Vmm::Intel, Vmm::Amd, Vmm::Unknown] {
            assert_eq!(kind(true, hw), KvmKind::Hardware, "{hw:?}");
        }
    }
}
