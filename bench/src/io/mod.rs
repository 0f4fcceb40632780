//! The host side of the I/O kernels: a test network and a disk that vmlab
//! creates for one run and that die with it.
//!
//! - [`netns`]: network namespaces held by a descriptor only (no
//!   `/run/netns` name, no process), so they die with vmlab, `SIGKILL`
//!   included;
//! - [`link`]: the address plan (link `n` is `10.77.n.0/24`, host side
//!   `.1`, instance `.2`) and the veth pairs, set up with iproute2's `ip`
//!   inside those namespaces;
//! - [`server`]: the echo / upload / download server in the host side's
//!   namespace (threads of vmlab);
//! - [`disk`]: the raw file every backend's block kernels use;
//!
//! [`IoHost`] is the host side: its namespace and server. [`IoHost::link`]
//! gives a backend its own namespace with a veth pair into the host side's;
//! the backend's launcher is spawned inside it ([`Link::enter_on_spawn`]),
//! and the backend then creates no network namespace of its own. The
//! machine's own network namespace is never touched.
pub mod disk;
pub mod link;
pub mod netns;
pub mod server;

use std::process::Command;
use std::sync::atomic::{AtomicU8, Ordering};

pub use disk::Disk;
pub use link::{LinkError, Subnet};
pub use netns::NetNs;
use server::Server;

/// Why the I/O host side could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum IoError {
    /// No network namespace (not root).
    #[error("cannot create a network namespace for the I/O kernels ({0}); they need root")]
    Netns(std::io::Error),
    /// Setting up a link failed.
    #[error(transparent)]
    Link(#[from] LinkError),
    /// The server could not start.
    #[error("cannot start the I/O server on port {port}: {source}")]
    Server {
        /// Its port.
        port: u16,
        /// Why.
        source: std::io::Error,
    },
}

/// The host side: its namespace and the server in it.
pub struct IoHost {
    // Dropped first: the server's sockets go before the namespace.
    _server: Server,
    ns: NetNs,
    next: AtomicU8,
}

impl IoHost {
    /// A new host-side namespace with `lo` up and the server listening.
    pub fn new() -> Result<IoHost, IoError> {
        let ns = NetNs::new().map_err(IoError::Netns)?;
        link::ip_batch(&ns, "link set lo up\n")?;
        let port = link::SERVER_PORT;
        let server = ns
            .run_in(|| Server::bind(port))
            .and_then(Server::start)
            .map_err(|source| IoError::Server { port, source })?;
        Ok(IoHost {
            _server: server,
            ns,
            next: AtomicU8::new(1),
        })
    }

    /// The host side's namespace.
    pub fn ns(&self) -> &NetNs {
        &self.ns
    }

    /// A new instance-side namespace linked to the host side by a veth
    /// pair on the next free subnet; `vm`: with a TAP bridged to the veth
    /// end instead of an address on it ([`Subnet::vm_instance_batch`]),
    /// for a VMM to attach to.
    pub fn link(&self, vm: bool) -> Result<Link, IoError> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let subnet = Subnet::new(n)?;
        let ns = NetNs::new().map_err(IoError::Netns)?;
        link::ip_batch(&self.ns, &subnet.host_batch(&ns.path().to_string_lossy()))?;
        let batch = if vm {
            subnet.vm_instance_batch()
        } else {
            subnet.instance_batch()
        };
        link::ip_batch(&ns, &batch)?;
        Ok(Link { subnet, ns })
    }
}

/// One backend's side of the test network.
pub struct Link {
    subnet: Subnet,
    ns: NetNs,
}

impl Link {
    /// Its addresses.
    pub fn subnet(&self) -> Subnet {
        self.subnet
    }

    /// The workload's `--peer` on this link.
    pub fn peer(&self) -> String {
        self.subnet.peer()
    }

    /// The instance side's namespace.
    pub fn ns(&self) -> &NetNs {
        &self.ns
    }

    /// Makes `cmd` start inside the instance side's namespace.
    pub fn enter_on_spawn(&self, cmd: &mut Command) -> std::io::Result<()> {
        self.ns.enter_on_spawn(cmd)
    }
}
