//! The kernels a workload can run, by name.

/// One workload kernel.
///
/// The first four are *shared*: the `no_std` library runs them on any
/// [`Platform`](crate::platform::Platform). The others need an operating
/// system (processes, pipes, files, sockets); they parse everywhere, and
/// a platform without them reports them as unsupported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kernel {
    /// A hash over a small buffer: pure computation.
    Cpu,
    /// A STREAM-like triad `a[i] = b[i] + s * c[i]`: memory bandwidth.
    Memory,
    /// First touch of never-used memory, one write per 4 KiB page.
    Pagetouch,
    /// One round trip across the isolation boundary (a null syscall on
    /// Linux, a port read in the bare guest).
    Crossing,
    /// Process creation: fork + wait, and fork + exec + wait (Linux only).
    Spawn,
    /// Ping-pong over a pair of pipes between two processes (Linux only).
    Pipe,
    /// Write, fsync and read back a block of a file on tmpfs (Linux only).
    File,
    /// Echo round trip over a loopback TCP connection (Linux only).
    Tcp,
    /// Request/response round trips (64 bytes each way) over TCP to the
    /// host side's echo server (`--peer`): per-trip p50 and p99 (Linux
    /// only until the bare guest has a network driver).
    NetRr,
    /// Bulk TCP throughput to and from the host side's stream server
    /// (`--peer`), modes `up` and `down` (Linux only, as `net-rr`).
    NetStream,
    /// 4 KiB random reads, and writes each followed by `fdatasync`, on the
    /// disk (`--disk`), with O_DIRECT: per-operation p50 and p99.
    BlkRand,
    /// Sequential 1 MiB writes (then `fdatasync`) and reads on the disk
    /// (`--disk`), with O_DIRECT: MiB/s.
    BlkSeq,
}

/// Every kernel's name, as the usage text and error messages list them.
pub const KERNEL_NAMES: &str =
    "cpu, memory, pagetouch, crossing, spawn, pipe, file, tcp, net-rr, net-stream, blk-rand, blk-seq";

impl Kernel {
    /// Every kernel, in the order of [`KERNEL_NAMES`].
    pub const ALL: [Kernel; 12] = [
        Kernel::Cpu,
        Kernel::Memory,
        Kernel::Pagetouch,
        Kernel::Crossing,
        Kernel::Spawn,
        Kernel::Pipe,
        Kernel::File,
        Kernel::Tcp,
        Kernel::NetRr,
        Kernel::NetStream,
        Kernel::BlkRand,
        Kernel::BlkSeq,
    ];

    /// The kernels that cross the boundary with I/O to a host-side target
    /// (they need `--peer` or `--disk`).
    pub const IO: [Kernel; 4] = [
        Kernel::NetRr,
        Kernel::NetStream,
        Kernel::BlkRand,
        Kernel::BlkSeq,
    ];

    /// The kernel's name on the command line and in JSON lines.
    pub const fn name(self) -> &'static str {
        match self {
            Kernel::Cpu => "cpu",
            Kernel::Memory => "memory",
            Kernel::Pagetouch => "pagetouch",
            Kernel::Crossing => "crossing",
            Kernel::Spawn => "spawn",
            Kernel::Pipe => "pipe",
            Kernel::File => "file",
            Kernel::Tcp => "tcp",
            Kernel::NetRr => "net-rr",
            Kernel::NetStream => "net-stream",
            Kernel::BlkRand => "blk-rand",
            Kernel::BlkSeq => "blk-seq",
        }
    }

    /// The kernel with this name, if there is one.
    pub fn from_name(name: &str) -> Option<Kernel> {
        Kernel::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Whether this kernel does I/O to a host-side target (see [`Kernel::IO`]).
    pub const fn is_io(self) -> bool {
        matches!(
            self,
            Kernel::NetRr | Kernel::NetStream | Kernel::BlkRand | Kernel::BlkSeq
        )
    }

    /// Whether the `no_std` library runs this kernel on every platform.
    pub const fn is_shared(self) -> bool {
        matches!(
            self,
            Kernel::Cpu | Kernel::Memory | Kernel::Pagetouch | Kernel::Crossing
        )
    }
}

impl core::fmt::Display for Kernel {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_match_the_list() {
        let mut listed = KERNEL_NAMES.split(", ");
        for k in Kernel::ALL {
            assert_eq!(Kernel::from_name(k.name()), Some(k));
            assert_eq!(listed.next(), Some(k.name()));
        }
        assert_eq!(listed.next(), None);
        assert_eq!(Kernel::from_name("CPU"), None);
        assert_eq!(Kernel::from_name(""), None);
    }

    #[test]
    fn shared_kernels_are_the_first_four() {
        let shared: usize = Kernel::ALL.iter().filter(|k| k.is_shared()).count();
        assert_eq!(shared, 4);
        assert!(Kernel::ALL[..4].iter().all(|k| k.is_shared()));
    }

    #[test]
    fn io_kernels_are_the_last_four() {
        assert_eq!(Kernel::ALL[8..], Kernel::IO);
        assert!(Kernel::ALL
            .iter()
            .filter(|k| k.is_io())
            .eq(Kernel::IO.iter()));
        assert_eq!(Kernel::from_name("net-rr"), Some(Kernel::NetRr));
    }
}
