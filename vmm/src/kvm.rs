//! Opening `/dev/kvm`: the API version, the capabilities the VMM relies on,
//! and which kind of KVM this host has.
use std::ffi::CStr;
use std::path::Path;

use kvm_ioctls::{Cap, Kvm};

/// The only stable KVM API version.
pub(crate) const KVM_API_VERSION: i32 = 12;

/// Capabilities every boot needs.
const REQUIRED_CAPS: [(Cap, &str); 2] = [
    (Cap::UserMemory, "KVM_CAP_USER_MEMORY"),
    (Cap::ImmediateExit, "KVM_CAP_IMMEDIATE_EXIT"),
];

/// Capabilities a Linux guest needs on top (in-kernel irqchip, PIT, TSS).
const LINUX_CAPS: [(Cap, &str); 4] = [
    (Cap::Irqchip, "KVM_CAP_IRQCHIP"),
    (Cap::Pit2, "KVM_CAP_PIT2"),
    (Cap::SetTssAddr, "KVM_CAP_SET_TSS_ADDR"),
    (Cap::ExtCpuid, "KVM_CAP_EXT_CPUID"),
];

/// Errors opening and checking KVM.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `/dev/kvm` does not exist.
    #[error("/dev/kvm does not exist: load the kvm module (kvm_intel, kvm_amd or kvm_pvm) or run on a host with virtualization enabled")]
    Missing,
    /// No permission to open `/dev/kvm`.
    #[error("no permission to open /dev/kvm: run as root or add this user to the group that owns /dev/kvm")]
    Permission,
    /// Another error opening `/dev/kvm`.
    #[error("cannot open /dev/kvm")]
    Open(#[source] std::io::Error),
    /// The KVM API version is not the stable one.
    #[error("unsupported KVM API version {found} (this VMM needs {KVM_API_VERSION})")]
    ApiVersion {
        /// What the kernel reported.
        found: i32,
    },
    /// A capability the VMM relies on is missing.
    #[error("this KVM lacks {0}, which the VMM needs")]
    MissingCap(&'static str),
}

/// Which KVM implementation backs `/dev/kvm`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KvmKind {
    /// Hardware-assisted KVM on Intel VT-x (`kvm_intel`).
    Intel,
    /// Hardware-assisted KVM on AMD SVM (`kvm_amd`).
    Amd,
    /// Software nested KVM (`kvm_pvm`): guest code is emulated; Linux does not boot.
    Pvm,
    /// None of the known modules is loaded (KVM built in, or another vendor module).
    Unknown,
}

impl KvmKind {
    /// Detects the kind from the loaded modules under `sys_module` (normally `/sys/module`).
    pub(crate) fn detect_in(sys_module: &Path) -> KvmKind {
        // PVM first: it can be loaded next to a hardware module.
        if sys_module.join("kvm_pvm").exists() {
            KvmKind::Pvm
        } else if sys_module.join("kvm_intel").exists() {
            KvmKind::Intel
        } else if sys_module.join("kvm_amd").exists() {
            KvmKind::Amd
        } else {
            KvmKind::Unknown
        }
    }

    /// Detects the kind of this host's KVM.
    pub fn detect() -> KvmKind {
        Self::detect_in(Path::new("/sys/module"))
    }

    /// Whether guest code runs on the CPU (hardware virtualization).
    #[cfg(test)]
    pub(crate) fn is_hardware(self) -> bool {
        matches!(self, KvmKind::Intel | KvmKind::Amd)
    }

    /// A short label for reports.
    pub fn label(self) -> &'static str {
        match self {
            KvmKind::Intel => "hardware (Intel VT-x)",
            KvmKind::Amd => "hardware (AMD SVM)",
            KvmKind::Pvm => "pvm (software nested: guest code emulated)",
            KvmKind::Unknown => "unknown",
        }
    }
}

/// The error for a failed open of the KVM device with `errno`.
fn open_error(errno: i32) -> Error {
    match errno {
        libc::ENOENT | libc::ENODEV | libc::ENXIO => Error::Missing,
        libc::EACCES | libc::EPERM => Error::Permission,
        _ => Error::Open(std::io::Error::from_raw_os_error(errno)),
    }
}

/// An open, checked `/dev/kvm`.
pub(crate) struct KvmHandle {
    /// The system fd.
    pub kvm: Kvm,
    /// The kind of KVM.
    pub kind: KvmKind,
}

impl KvmHandle {
    /// Opens `/dev/kvm`, checks the API version and the capabilities a guest
    /// needs (`linux`: also those of a Linux guest).
    pub(crate) fn open(linux: bool) -> Result<KvmHandle, Error> {
        Self::open_path(c"/dev/kvm", linux)
    }

    /// [`open`](Self::open) for a KVM device at another path (tests).
    pub(crate) fn open_path(path: &CStr, linux: bool) -> Result<KvmHandle, Error> {
        let kvm = Kvm::new_with_path(path).map_err(|e| open_error(e.errno()))?;
        let found = kvm.get_api_version();
        if found != KVM_API_VERSION {
            return Err(Error::ApiVersion { found });
        }
        let handle = KvmHandle {
            kvm,
            kind: KvmKind::detect(),
        };
        handle.check_caps(linux)?;
        Ok(handle)
    }

    /// Checks the capabilities a guest needs (`linux`: also those of a
    /// Linux guest).
    pub(crate) fn check_caps(&self, linux: bool) -> Result<(), Error> {
        let linux_caps: &[(Cap, &str)] = if linux { &LINUX_CAPS } else { &[] };
        for (cap, name) in REQUIRED_CAPS.iter().chain(linux_caps) {
            if !self.kvm.check_extension(*cap) {
                return Err(Error::MissingCap(name));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_device_and_wrong_api_are_distinct_errors() {
        let e = KvmHandle::open_path(c"/nonexistent/kvm", false)
            .err()
            .unwrap();
        assert!(matches!(e, Error::Missing), "{e}");
        // Any file that is not KVM answers the version ioctl with an error.
        let e = KvmHandle::open_path(c"/dev/null", false).err().unwrap();
        assert!(
            matches!(e, Error::ApiVersion { found } if found != KVM_API_VERSION),
            "{e}"
        );
        assert!(e.to_string().contains("unsupported KVM API version"));
        // Root ignores file modes, so the permission case is checked by errno.
        assert!(matches!(open_error(libc::EACCES), Error::Permission));
        assert!(open_error(libc::EACCES)
            .to_string()
            .contains("no permission"));
        assert!(matches!(open_error(libc::EMFILE), Error::Open(_)));
    }

    #[test]
    fn kind_from_modules() {
        let dir = std::env::temp_dir().join(format!("vmlab-kvm-kind-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert_eq!(KvmKind::detect_in(&dir), KvmKind::Unknown);
        std::fs::create_dir(dir.join("kvm_amd")).unwrap();
        assert_eq!(KvmKind::detect_in(&dir), KvmKind::Amd);
        assert!(KvmKind::detect_in(&dir).is_hardware());
        std::fs::create_dir(dir.join("kvm_pvm")).unwrap();
        assert_eq!(KvmKind::detect_in(&dir), KvmKind::Pvm);
        assert!(!KvmKind::Pvm.is_hardware());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
