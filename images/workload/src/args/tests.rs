//! The argument parser's tests.
use super::*;

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
    let addr = spec.addr.unwrap();
    assert_eq!(
        (addr.addr, addr.netmask()),
        ([10, 77, 3, 2], [255, 255, 255, 0])
    );
    for bad in [
        "10.77.3.2",
        "10.77.3.2/0",
        "10.77.3.2/33",
        "10.77.3/24",
        "a.b.c.d/8",
    ] {
        let words = ["--addr", bad];
        assert_eq!(
            Spec::parse(words.into_iter()),
            Err(ArgsError::BadAddr(bad)),
            "{bad}"
        );
    }
    assert_eq!(Addr::parse("1.2.3.4/32").unwrap().netmask(), [255; 4]);
    let mut shown = std::string::String::new();
    core::fmt::Write::write_fmt(
        &mut shown,
        format_args!("{}", Addr::parse("1.2.3.4/1").unwrap()),
    )
    .unwrap();
    assert_eq!(shown, "1.2.3.4/1");
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
