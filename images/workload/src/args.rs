//! The workload's arguments: which kernels to run, how big and for how long.
//!
//! The same words come from `argv` (plain process, sandbox, Linux PID 1: Linux
//! passes the words after `--` on its command line to init) or from the boot
//! info's argument string (bare guest):
//!
//! ```text
//! [KERNEL...] [--size BYTES] [--time DURATION] [--exit CODE] [--hold] [--snapshot]
//!            [--park] [--peer ADDR:PORT] [--addr ADDR/PREFIX] [--disk PATH] [--help]
//! ```
//!
//! No kernel at all is valid: the workload then only signals ready and exit,
//! which is what a boot-time measurement wants.
use crate::kernel::Kernel;
use crate::target::{Cidr, DiskPath, Peer};

mod error;
pub use error::ArgsError;

/// Most kernels one run accepts (repeats count).
pub const MAX_KERNELS: usize = 16;

/// Default working-set size of `memory` and region size of `pagetouch`.
pub const DEFAULT_SIZE: u64 = 16 << 20;

/// Smallest accepted `--size`: one page.
pub const MIN_SIZE: u64 = 4096;

/// Largest accepted `--size`.
pub const MAX_SIZE: u64 = 1 << 40;

/// Default time budget per kernel.
pub const DEFAULT_TIME_NS: u64 = 200_000_000;

/// Largest accepted `--time`: one hour.
pub const MAX_TIME_NS: u64 = 3_600_000_000_000;

/// The usage text `--help` prints.
pub const USAGE: &str = "\
usage: vmlab-workload [KERNEL...] [--size BYTES] [--time DURATION] [--exit CODE]
                      [--hold] [--snapshot] [--park] [--peer ADDR:PORT]
                      [--addr ADDR/PREFIX] [--disk PATH]
       vmlab-workload attacks SECRET HOSTPID PORT   (Linux only)

Runs each KERNEL for about DURATION and prints one JSON line per result.
kernels:  cpu, memory, pagetouch, crossing (everywhere);
          spawn, pipe, file, tcp (Linux only);
          net-rr, net-stream (need --peer), blk-rand, blk-seq (need --disk)
--size    working set of memory / region of pagetouch, with K, M or G
          (binary) suffix; default 16M, at least 4K
--time    time budget per kernel (spawn: per mode) with unit ns, us, ms
          or s; default 200ms
--exit    exit code to end with after all kernels (0-255)
--hold    after the kernels, stay alive until told to exit (Linux: a byte
          or end of file on the fd in VMLAB_HOLD_FD, else on stdin; bare
          guest: the VMM answers a read of the hold port)
--snapshot  send the snapshot mark just before ready, so that a VMM can
          snapshot there and a restored guest goes on from ready
--park    started and initialised, send the park mark and wait for the
          host's go before ready (Linux: one byte on the fd in VMLAB_PARK_FD,
          else on stdin; end of file instead: exit 1 without ready; bare
          guest: goes on at once)
--peer    the host side's TCP server for net-rr and net-stream (a mode
          byte first: e echo, u upload, d download), e.g. 10.77.1.1:7077
--addr    the instance's own address and prefix on its virtio-net link,
          e.g. 10.77.1.2/24: the bare guest's network stack takes it; a
          Linux guest's PID 1 loads the initramfs's virtio modules and gives
          eth0 this address (with --disk, it also waits for that device);
          a plain Linux process ignores it (its host side sets it up)
--disk    the file or block device blk-rand and blk-seq use with O_DIRECT
          (its contents are overwritten), e.g. /dev/vdb
--help    print this text
attacks   the escape battery against a host file SECRET, a host pid and a
          TCP port on the host's 127.0.0.1: one JSON line per attempt
";

/// What to run, parsed from the workload's arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spec {
    kernels: [Kernel; MAX_KERNELS],
    count: usize,
    /// Working-set size in bytes (`--size`).
    pub size: u64,
    /// Time budget per kernel in nanoseconds (`--time`).
    pub time_ns: u64,
    /// Exit code to end with (`--exit`), whatever the kernels did.
    pub exit: Option<u8>,
    /// `--hold`: after the kernels, wait until told to exit.
    pub hold: bool,
    /// `--snapshot`: send [`SNAPSHOT_MARK`](crate::protocol::SNAPSHOT_MARK)
    /// just before ready.
    pub snapshot: bool,
    /// `--park`: send [`PARK_MARK`](crate::protocol::PARK_MARK) and wait
    /// for the host's go before ready.
    pub park: bool,
    /// `--peer`: the host side's server for the network kernels.
    pub peer: Option<Peer>,
    /// `--disk`: the target of the block kernels.
    pub disk: Option<DiskPath>,
    /// `--addr`: the bare guest's own address on its network link.
    pub addr: Option<Cidr>,
    /// `--help` was given: print [`USAGE`] and run nothing.
    pub help: bool,
}

impl Default for Spec {
    fn default() -> Self {
        Spec {
            kernels: [Kernel::Cpu; MAX_KERNELS],
            count: 0,
            size: DEFAULT_SIZE,
            time_ns: DEFAULT_TIME_NS,
            exit: None,
            hold: false,
            snapshot: false,
            park: false,
            peer: None,
            disk: None,
            addr: None,
            help: false,
        }
    }
}

impl Spec {
    /// The kernels to run, in order.
    pub fn kernels(&self) -> &[Kernel] {
        &self.kernels[..self.count]
    }

    /// Parses the workload's arguments (without the program name).
    pub fn parse<'a, I>(words: I) -> Result<Spec, ArgsError<'a>>
    where
        I: IntoIterator<Item = &'a str>,
    {
        let mut spec = Spec::default();
        let mut words = words.into_iter();
        while let Some(word) = words.next() {
            if !word.starts_with('-') {
                let k = Kernel::from_name(word).ok_or(ArgsError::UnknownKernel(word))?;
                if spec.count == MAX_KERNELS {
                    return Err(ArgsError::TooManyKernels);
                }
                spec.kernels[spec.count] = k;
                spec.count += 1;
                continue;
            }
            let (option, inline) = match word.split_once('=') {
                Some((o, v)) => (o, Some(v)),
                None => (word, None),
            };
            let option = match option {
                "--size" => "--size",
                "--time" => "--time",
                "--exit" => "--exit",
                "--peer" => "--peer",
                "--disk" => "--disk",
                "--addr" => "--addr",
                "--help" | "-h" if inline.is_none() => {
                    spec.help = true;
                    continue;
                }
                "--hold" if inline.is_none() => {
                    spec.hold = true;
                    continue;
                }
                "--snapshot" if inline.is_none() => {
                    spec.snapshot = true;
                    continue;
                }
                "--park" if inline.is_none() => {
                    spec.park = true;
                    continue;
                }
                _ => return Err(ArgsError::UnknownOption(word)),
            };
            let value = match inline {
                Some(v) => v,
                None => words.next().ok_or(ArgsError::MissingValue(option))?,
            };
            match option {
                "--size" => spec.size = parse_size(value).ok_or(ArgsError::BadSize(value))?,
                "--time" => spec.time_ns = parse_time(value).ok_or(ArgsError::BadTime(value))?,
                "--peer" => spec.peer = Some(Peer::parse(value).ok_or(ArgsError::BadPeer(value))?),
                "--disk" => {
                    spec.disk = Some(DiskPath::parse(value).ok_or(ArgsError::BadDisk(value))?)
                }
                "--addr" => spec.addr = Some(Cidr::parse(value).ok_or(ArgsError::BadAddr(value))?),
                _ => spec.exit = Some(value.parse().map_err(|_| ArgsError::BadExit(value))?),
            }
        }
        Ok(spec)
    }
}

/// Splits `word` into its leading digits and the rest; `None` without digits.
fn split_number(word: &str) -> Option<(u64, &str)> {
    let end = word
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(word.len());
    let number = word[..end].parse().ok()?;
    Some((number, &word[end..]))
}

/// Parses a size like `4096`, `64K`, `16M` or `1G` (binary multiples).
pub fn parse_size(word: &str) -> Option<u64> {
    let (n, suffix) = split_number(word)?;
    let shift = match suffix {
        "" => 0,
        "K" | "k" => 10,
        "M" | "m" => 20,
        "G" | "g" => 30,
        _ => return None,
    };
    let bytes = n.checked_mul(1 << shift)?;
    (MIN_SIZE..=MAX_SIZE).contains(&bytes).then_some(bytes)
}

/// Parses a duration like `500us`, `200ms` or `2s` into nanoseconds.
pub fn parse_time(word: &str) -> Option<u64> {
    let (n, unit) = split_number(word)?;
    let scale = match unit {
        "ns" => 1,
        "us" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        _ => return None,
    };
    n.checked_mul(scale).filter(|&ns| ns <= MAX_TIME_NS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::KERNEL_NAMES;

    fn parse(line: &str) -> Result<Spec, ArgsError<'_>> {
        Spec::parse(line.split_whitespace())
    }

    #[test]
    fn no_words_is_a_boot_only_run_with_defaults() {
        let spec = parse("").unwrap();
        assert!(spec.kernels().is_empty());
        assert_eq!(spec.size, DEFAULT_SIZE);
        assert_eq!(spec.time_ns, DEFAULT_TIME_NS);
        assert_eq!(spec.exit, None);
        assert!(!spec.help);
    }

    #[test]
    fn kernels_and_options() {
        let spec = parse("cpu memory --size 64M --time 2s tcp --exit 7").unwrap();
        assert_eq!(spec.kernels(), &[Kernel::Cpu, Kernel::Memory, Kernel::Tcp]);
        assert_eq!(spec.size, 64 << 20);
        assert_eq!(spec.time_ns, 2_000_000_000);
        assert_eq!(spec.exit, Some(7));
        let spec = parse("--size=8K --time=500us --exit=0 crossing crossing").unwrap();
        assert_eq!(spec.kernels(), &[Kernel::Crossing, Kernel::Crossing]);
        assert_eq!(
            (spec.size, spec.time_ns, spec.exit),
            (8192, 500_000, Some(0))
        );
        assert!(parse("cpu --help").unwrap().help);
        assert!(parse("-h").unwrap().help);
    }

    #[test]
    fn every_kernel_parses() {
        let spec = Spec::parse(Kernel::ALL.iter().map(|k| k.name())).unwrap();
        assert_eq!(spec.kernels(), &Kernel::ALL);
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size("4K"), Some(4096));
        assert_eq!(parse_size("4k"), Some(4096));
        assert_eq!(parse_size("16M"), Some(16 << 20));
        assert_eq!(parse_size("2G"), Some(2 << 30));
        assert_eq!(parse_size("1024G"), Some(MAX_SIZE));
        for bad in [
            "",
            "M",
            "4095",
            "0",
            "1025G",
            "16MB",
            "16 M",
            "-1",
            "1.5M",
            "16T",
            "x",
            "99999999999999999999",
        ] {
            assert_eq!(parse_size(bad), None, "{bad}");
        }
    }

    #[test]
    fn times() {
        assert_eq!(parse_time("0ms"), Some(0));
        assert_eq!(parse_time("20ms"), Some(20_000_000));
        assert_eq!(parse_time("750us"), Some(750_000));
        assert_eq!(parse_time("3s"), Some(3_000_000_000));
        assert_eq!(parse_time("100ns"), Some(100));
        assert_eq!(parse_time("3600s"), Some(MAX_TIME_NS));
        for bad in [
            "",
            "200",
            "ms",
            "1.5s",
            "2m",
            "3601s",
            "20 ms",
            "99999999999999999999s",
        ] {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
    }

    #[test]
    fn bad_words_are_named_in_the_error() {
        assert_eq!(parse("cpu bogus"), Err(ArgsError::UnknownKernel("bogus")));
        assert_eq!(parse("--bogus"), Err(ArgsError::UnknownOption("--bogus")));
        assert_eq!(parse("--help=1"), Err(ArgsError::UnknownOption("--help=1")));
        assert_eq!(parse("--size 3X"), Err(ArgsError::BadSize("3X")));
        assert_eq!(parse("--time 5"), Err(ArgsError::BadTime("5")));
        assert_eq!(parse("--exit 256"), Err(ArgsError::BadExit("256")));
        assert_eq!(parse("--exit -1"), Err(ArgsError::BadExit("-1")));
        assert_eq!(parse("--peer 1.2.3.4"), Err(ArgsError::BadPeer("1.2.3.4")));
        assert_eq!(parse("--disk d.img"), Err(ArgsError::BadDisk("d.img")));
        let spec = parse("net-rr blk-seq --peer 10.77.1.1:7077 --disk=/dev/vdb").unwrap();
        assert_eq!(spec.peer.unwrap().port, 7077);
        assert_eq!(spec.disk.unwrap().as_str(), "/dev/vdb");
        let spec = parse("net-rr --addr 10.77.3.2/24").unwrap();
        assert_eq!(
            spec.addr.map(|a| (a.addr, a.prefix)),
            Some(([10, 77, 3, 2], 24))
        );
        assert_eq!(
            parse("--addr 10.77.3.2"),
            Err(ArgsError::BadAddr("10.77.3.2"))
        );
        assert_eq!(parse("cpu --size"), Err(ArgsError::MissingValue("--size")));
        let many = std::string::String::from("cpu ").repeat(MAX_KERNELS + 1);
        assert_eq!(parse(&many), Err(ArgsError::TooManyKernels));
    }

    #[test]
    fn messages_name_the_word_and_the_fix() {
        use core::fmt::Write;
        let mut s = std::string::String::new();
        write!(s, "{}", ArgsError::UnknownKernel("bogus")).unwrap();
        assert!(s.contains("`bogus`") && s.contains(KERNEL_NAMES), "{s}");
        s.clear();
        write!(s, "{}", ArgsError::BadSize("3X")).unwrap();
        assert!(s.contains("`3X`") && s.contains("--size 64M"), "{s}");
    }
}
