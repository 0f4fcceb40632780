//! Gates: a test that needs something this host may lack runs only where
//! it is there; elsewhere it skips with a message, unless the variable
//! that requires it is `1` (CI), where it panics.
use std::path::Path;

/// Makes the KVM tests required.
pub const KVM: &str = "VMLAB_REQUIRE_KVM";
/// Makes the root tests required.
pub const ROOT: &str = "VMLAB_REQUIRE_ROOT";
/// Makes the QEMU tests required.
pub const QEMU: &str = "VMLAB_REQUIRE_QEMU";

/// Whether the environment variable `require` is `1`.
pub fn required(require: &str) -> bool {
    std::env::var(require).is_ok_and(|v| v == "1")
}

/// Whether a test may run: true when `ready`; otherwise it panics when the
/// environment variable `require` is `1` (CI), and prints why it skips
/// when it is not.
pub fn gate(ready: bool, require: &str, why: &str) -> bool {
    if ready {
        return true;
    }
    if required(require) {
        panic!("{require}=1 but {why}");
    }
    eprintln!("skipped: {why} (set {require}=1 to make this a failure)");
    false
}

/// Whether we are root.
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// The root gate of the test `test` ([`ROOT`]).
pub fn have_root(test: &str) -> bool {
    gate(is_root(), ROOT, &format!("{test} needs root"))
}

/// The gate of a root test `test` on the host's layout ([`ROOT`]): `ready`
/// when the host has what it needs, `why` otherwise.
pub fn host_has(test: &str, ready: bool, why: &str) -> bool {
    gate(ready, ROOT, &format!("{test}: {why}"))
}

/// The KVM gate ([`KVM`]): whether `/dev/kvm` exists and opens read-write.
pub fn kvm_available() -> bool {
    let why = if !Path::new("/dev/kvm").exists() {
        "/dev/kvm does not exist"
    } else if std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .is_err()
    {
        "/dev/kvm cannot be opened read-write"
    } else {
        return true;
    };
    gate(false, KVM, why)
}
