//! The test network's addresses and the veth links, set up with `ip` from
//! iproute2 run inside vmlab's own namespaces (never the machine's).
//!
//! Link `n` (1 to [`MAX_LINKS`]) is the subnet `10.77.n.0/24`: the host
//! side's end `vh<n>` has `10.77.n.1`, the instance's end `vi<n>` has
//! `10.77.n.2`, and the host side's server listens on [`SERVER_PORT`] on
//! every address of the host-side namespace.
use std::io::Write;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};

use super::netns::NetNs;

/// The first two octets of every test-network address.
pub const PREFIX: [u8; 2] = [10, 77];
/// The TCP port of the host side's server (echo, upload, download).
pub const SERVER_PORT: u16 = 7077;
/// Links one run can have.
pub const MAX_LINKS: u8 = 254;

/// Why the test network could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// `ip` is not installed.
    #[error("the `ip` program (iproute2) is not installed; install iproute2")]
    NoIp,
    /// `ip` ran and failed.
    #[error("`ip -batch` failed ({what}): {stderr}")]
    Ip {
        /// The commands it was given.
        what: String,
        /// What it said.
        stderr: String,
    },
    /// Spawning or talking to `ip` failed.
    #[error("cannot run `ip`: {0}")]
    Io(#[from] std::io::Error),
    /// More links than the address plan has room for.
    #[error("link {0} is out of range: at most {MAX_LINKS} links per run")]
    OutOfRange(u8),
}

/// Link `n`'s addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subnet(u8);

impl Subnet {
    /// Link `n`, 1 to [`MAX_LINKS`].
    pub fn new(n: u8) -> Result<Subnet, LinkError> {
        (1..=MAX_LINKS)
            .contains(&n)
            .then_some(Subnet(n))
            .ok_or(LinkError::OutOfRange(n))
    }
    /// The host side's address.
    pub fn host(self) -> Ipv4Addr {
        Ipv4Addr::new(PREFIX[0], PREFIX[1], self.0, 1)
    }
    /// The instance's address.
    pub fn instance(self) -> Ipv4Addr {
        Ipv4Addr::new(PREFIX[0], PREFIX[1], self.0, 2)
    }
    /// The host end's interface name.
    pub fn host_if(self) -> String {
        format!("vh{}", self.0)
    }
    /// The instance end's interface name.
    pub fn instance_if(self) -> String {
        format!("vi{}", self.0)
    }
    /// What the workload's `--peer` is on this link.
    pub fn peer(self) -> String {
        format!("{}:{SERVER_PORT}", self.host())
    }
    /// The `ip -batch` lines for the host side: the pair (its other end
    /// created straight in `instance_ns`), the address, up.
    pub fn host_batch(self, instance_ns: &str) -> String {
        let (h, i) = (self.host_if(), self.instance_if());
        format!(
            "link add {h} type veth peer name {i} netns {instance_ns}\n\
             addr add {}/24 dev {h}\nlink set {h} up\n",
            self.host()
        )
    }
    /// The VM's TAP in the instance side's namespace.
    pub fn tap_if(self) -> String {
        format!("vt{}", self.0)
    }
    /// The bridge joining the VM's TAP and the veth end.
    pub fn bridge_if(self) -> String {
        format!("vb{}", self.0)
    }
    /// What a VM guest's `--addr` is on this link (the instance's address,
    /// which the guest takes instead of the veth end).
    pub fn guest_addr(self) -> String {
        format!("{}/24", self.instance())
    }
    /// The `ip -batch` lines for a VM's instance side: a persistent TAP
    /// and the veth end in a bridge, none with an address (the guest has
    /// the instance's), all up. The TAP, bridge and veth die with the
    /// namespace.
    pub fn vm_instance_batch(self) -> String {
        let (i, t, b) = (self.instance_if(), self.tap_if(), self.bridge_if());
        format!(
            "link add {b} type bridge forward_delay 0\ntuntap add dev {t} mode tap\n\
             link set {i} master {b}\nlink set {t} master {b}\nlink set {i} up\n\
             link set {t} up\nlink set {b} up\nlink set lo up\n"
        )
    }
    /// The `ip -batch` lines for the instance side.
    pub fn instance_batch(self) -> String {
        let i = self.instance_if();
        format!(
            "addr add {}/24 dev {i}\nlink set {i} up\nlink set lo up\n",
            self.instance()
        )
    }
}

/// Runs `ip -batch -` with `lines` inside `ns`.
pub fn ip_batch(ns: &NetNs, lines: &str) -> Result<(), LinkError> {
    let mut cmd = Command::new("ip");
    cmd.args(["-batch", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    ns.enter_on_spawn(&mut cmd)?;
    let mut child = cmd.spawn().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => LinkError::NoIp,
        _ => LinkError::Io(e),
    })?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(lines.as_bytes())?;
    }
    let out = child.wait_with_output()?;
    if !out.status.success() {
        return Err(LinkError::Ip {
            what: lines.trim().replace('\n', "; "),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_names() {
        let s = Subnet::new(3).unwrap();
        assert_eq!(s.host(), Ipv4Addr::new(10, 77, 3, 1));
        assert_eq!(s.instance(), Ipv4Addr::new(10, 77, 3, 2));
        assert_eq!(s.peer(), "10.77.3.1:7077");
        assert_eq!((s.host_if(), s.instance_if()), ("vh3".into(), "vi3".into()));
        let last = Subnet::new(MAX_LINKS).unwrap();
        assert!(last.host_if().len() <= 15 && last.instance_if().len() <= 15);
        assert!(matches!(Subnet::new(0), Err(LinkError::OutOfRange(0))));
        assert!(Subnet::new(255).is_err());
    }

    #[test]
    fn batches_name_both_ends() {
        let s = Subnet::new(1).unwrap();
        let h = s.host_batch("/proc/1/fd/5");
        assert!(h.starts_with("link add vh1 type veth peer name vi1 netns /proc/1/fd/5\n"));
        assert!(h.contains("addr add 10.77.1.1/24 dev vh1\n"));
        let i = s.instance_batch();
        assert!(i.contains("addr add 10.77.1.2/24 dev vi1\n") && i.contains("link set lo up"));
        let vm = s.vm_instance_batch();
        assert!(vm.contains("tuntap add dev vt1 mode tap\n"));
        assert!(
            vm.contains("link set vi1 master vb1\n") && vm.contains("link set vt1 master vb1\n")
        );
        assert!(!vm.contains("addr add"), "the guest has the address: {vm}");
        assert_eq!(s.guest_addr(), "10.77.1.2/24");
        let last = Subnet::new(MAX_LINKS).unwrap();
        assert!(last.tap_if().len() <= 15 && last.bridge_if().len() <= 15);
    }
}
