//! Where the I/O kernels go: the host side's server (`--peer ADDR:PORT`)
//! and the disk (`--disk PATH`), parsed without an allocator.
use core::fmt;

/// An IPv4 address and TCP port (`10.77.0.1:7077`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Peer {
    /// The address, most significant octet first.
    pub addr: [u8; 4],
    /// The TCP port.
    pub port: u16,
}

impl Peer {
    /// Parses `A.B.C.D:PORT` (decimal octets, port 1-65535).
    pub fn parse(word: &str) -> Option<Peer> {
        let (host, port) = word.split_once(':')?;
        let port: u16 = digits(port)?.parse().ok()?;
        let addr = octets(host)?;
        (port != 0).then_some(Peer { addr, port })
    }
}

/// `A.B.C.D` in decimal.
fn octets(host: &str) -> Option<[u8; 4]> {
    let mut addr = [0u8; 4];
    let mut octets = host.split('.');
    for slot in &mut addr {
        *slot = digits(octets.next()?)?.parse().ok()?;
    }
    octets.next().is_none().then_some(addr)
}

/// `word` when it is 1 to 5 ASCII digits (no sign, no spaces).
fn digits(word: &str) -> Option<&str> {
    (!word.is_empty() && word.len() <= 5 && word.bytes().all(|b| b.is_ascii_digit()))
        .then_some(word)
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d] = self.addr;
        write!(f, "{a}.{b}.{c}.{d}:{}", self.port)
    }
}

/// An IPv4 address with its prefix length (`10.77.1.2/24`): the bare
/// guest's own address on its link, and what a Linux guest's PID 1 gives
/// its `eth0`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    /// The address, most significant octet first.
    pub addr: [u8; 4],
    /// The prefix length (1 to 30: a link with room for two hosts).
    pub prefix: u8,
}

impl Cidr {
    /// Parses `A.B.C.D/PREFIX`.
    pub fn parse(word: &str) -> Option<Cidr> {
        let (host, prefix) = word.split_once('/')?;
        let prefix: u8 = digits(prefix)?.parse().ok()?;
        let addr = octets(host)?;
        (1..=30).contains(&prefix).then_some(Cidr { addr, prefix })
    }

    /// The netmask of the prefix, most significant octet first.
    pub fn netmask(&self) -> [u8; 4] {
        (u32::MAX << (32 - u32::from(self.prefix))).to_be_bytes()
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d] = self.addr;
        write!(f, "{a}.{b}.{c}.{d}/{}", self.prefix)
    }
}

/// A path of up to [`DiskPath::CAPACITY`] bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct DiskPath {
    buf: [u8; DiskPath::CAPACITY],
    len: u8,
}

impl DiskPath {
    /// Longest path accepted.
    pub const CAPACITY: usize = 255;

    /// `word` as a disk path: absolute, at most [`DiskPath::CAPACITY`]
    /// bytes, without NUL.
    pub fn parse(word: &str) -> Option<DiskPath> {
        if !word.starts_with('/') || word.len() > DiskPath::CAPACITY || word.contains('\0') {
            return None;
        }
        let mut buf = [0; DiskPath::CAPACITY];
        buf[..word.len()].copy_from_slice(word.as_bytes());
        Some(DiskPath {
            buf,
            // At most CAPACITY, which fits in a u8.
            len: word.len() as u8,
        })
    }

    /// The path.
    pub fn as_str(&self) -> &str {
        // Copied from a `&str` whole.
        core::str::from_utf8(&self.buf[..usize::from(self.len)]).unwrap_or("")
    }
}

impl fmt::Debug for DiskPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DiskPath").field(&self.as_str()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers() {
        let p = Peer::parse("10.77.0.1:7077").unwrap();
        assert_eq!((p.addr, p.port), ([10, 77, 0, 1], 7077));
        assert_eq!(std::format!("{p}"), "10.77.0.1:7077");
        for bad in [
            "",
            "10.77.0.1",
            "10.77.0:7",
            "10.77.0.1.5:7",
            "10.77.0.256:7",
            "10.77.0.1:0",
            "10.77.0.1:65536",
            "a.b.c.d:7",
            "10.77.0.1:+7",
            " 10.77.0.1:7",
            "::1:7",
        ] {
            assert_eq!(Peer::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn cidrs() {
        let c = Cidr::parse("10.77.1.2/24").unwrap();
        assert_eq!((c.addr, c.prefix), ([10, 77, 1, 2], 24));
        for bad in [
            "10.77.1.2",
            "10.77.1.2/0",
            "10.77.1.2/31",
            "10.77.1/24",
            "10.77.1.2/x",
            "/24",
            "1.2.3.4.5/8",
            "300.1.1.1/8",
        ] {
            assert_eq!(Cidr::parse(bad), None, "{bad}");
        }
        assert_eq!(c.netmask(), [255, 255, 255, 0]);
        assert_eq!(
            Cidr::parse("1.2.3.4/30").unwrap().netmask(),
            [255, 255, 255, 252]
        );
        assert_eq!(
            std::format!("{}", Cidr::parse("1.2.3.4/1").unwrap()),
            "1.2.3.4/1"
        );
    }

    #[test]
    fn disk_paths() {
        assert_eq!(DiskPath::parse("/dev/vdb").unwrap().as_str(), "/dev/vdb");
        let long = std::format!("/{}", "a".repeat(DiskPath::CAPACITY - 1));
        assert_eq!(DiskPath::parse(&long).unwrap().as_str(), long);
        assert_eq!(DiskPath::parse(&std::format!("{long}a")), None);
        assert_eq!(DiskPath::parse("disk.img"), None);
        assert_eq!(DiskPath::parse("/a\0b"), None);
    }
}
