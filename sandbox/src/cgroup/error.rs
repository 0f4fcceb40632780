//! Why a cgroup could not be set up or removed.
use std::path::PathBuf;

/// A cgroup could not be set up or removed.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// No cgroup filesystem is mounted at all.
    #[error("no cgroup filesystem is mounted (neither v2 nor v1 under /sys/fs/cgroup); run without a cgroup and its limits")]
    NoCgroupFs,
    /// A limit needs a controller this machine does not offer.
    #[error("the {controller} controller is not available (neither in cgroup v2 nor as a v1 hierarchy), so {limit} cannot be enforced; {still}")]
    MissingController {
        /// The controller.
        controller: &'static str,
        /// The limit that needs it.
        limit: &'static str,
        /// What still works.
        still: String,
    },
    /// Creating the cgroup was refused.
    #[error("no permission to create the cgroup {path}: without root, limits need a cgroup delegated to this user; run without limits or as root")]
    Denied {
        /// The directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Creating the cgroup failed.
    #[error("cannot create the cgroup {path}")]
    Create {
        /// The directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Writing a limit or a control file failed.
    #[error("cannot write {value:?} to {path}")]
    Write {
        /// The file.
        path: PathBuf,
        /// What was written.
        value: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The device policy needs the v1 `devices` controller, and it is not
    /// mounted.
    #[error("the devices controller is not mounted (cgroup v1), so the device policy cannot be enforced; mount it or turn the device policy off")]
    NoDevicesController,
    /// Loading or attaching the v2 device program failed.
    #[error("cannot attach the device policy (a BPF cgroup device program) to {path}; it needs root and a kernel with CONFIG_CGROUP_BPF")]
    DevicePolicy {
        /// The cgroup directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Removing the cgroup failed.
    #[error("cannot remove the cgroup {path}; remove it by hand with rmdir")]
    Remove {
        /// The directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}
