//! What the workload is cut off from: network, `/sys`, ids, namespaces.
/// The network a sandbox gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Net {
    /// The host's network namespace (no isolation).
    Host,
    /// A new, empty network namespace: no interface is up.
    None,
    /// A new network namespace with `lo` brought up.
    Loopback,
}

/// How `/sys` appears inside.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SysMount {
    /// No `/sys` at all.
    Absent,
    /// A fresh sysfs, read-only (needs a network namespace when rootless).
    ReadOnly,
}

/// One line of a uid or gid map: `count` ids from `inside` map to `outside`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdMap {
    /// First id inside the user namespace.
    pub inside: u32,
    /// First id on the host.
    pub outside: u32,
    /// How many ids.
    pub count: u32,
}

/// The user namespace: rootless mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserNs {
    /// The uid map (one line).
    pub uid: IdMap,
    /// The gid map (one line).
    pub gid: IdMap,
}

impl UserNs {
    /// Root inside maps to one unprivileged host id: the caller's own uid/gid
    /// when not root (true rootless), otherwise `nobody`/`nogroup` (65534),
    /// so that the sandbox runs unprivileged on the host even when launched
    /// by root.
    pub fn rootless() -> UserNs {
        let (uid, gid) = (
            nix::unistd::geteuid().as_raw(),
            nix::unistd::getegid().as_raw(),
        );
        let (uid, gid) = if uid == 0 {
            (NOBODY, NOBODY)
        } else {
            (uid, gid)
        };
        UserNs {
            uid: IdMap {
                inside: 0,
                outside: uid,
                count: 1,
            },
            gid: IdMap {
                inside: 0,
                outside: gid,
                count: 1,
            },
        }
    }
}

/// The host id a rootless sandbox launched by root runs as.
pub const NOBODY: u32 = 65534;

/// Which namespaces to create.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Namespaces {
    /// A user namespace with id maps (rootless), or none (run as root).
    pub user: Option<UserNs>,
    /// PID namespace: the workload is PID 1.
    pub pid: bool,
    /// Mount namespace (required for a rootfs).
    pub mount: bool,
    /// UTS namespace (own hostname).
    pub uts: bool,
    /// IPC namespace.
    pub ipc: bool,
    /// Cgroup namespace.
    pub cgroup: bool,
    /// Network namespace setup.
    pub net: Net,
}

impl Namespaces {
    /// Every namespace but user and net (net: `None`, an empty namespace).
    pub fn all() -> Namespaces {
        Namespaces {
            user: None,
            pid: true,
            mount: true,
            uts: true,
            ipc: true,
            cgroup: true,
            net: Net::None,
        }
    }

    /// No namespace at all: a plain process.
    pub fn none() -> Namespaces {
        Namespaces {
            user: None,
            pid: false,
            mount: false,
            uts: false,
            ipc: false,
            cgroup: false,
            net: Net::Host,
        }
    }
}
