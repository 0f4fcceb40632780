use std::time::Duration;

use super::*;
#[test]
fn sizes_parse() {
    assert_eq!(parse_size("64M").unwrap(), 64 << 20);
    assert_eq!(parse_size("1g").unwrap(), 1 << 30);
    assert_eq!(parse_size("512k").unwrap(), 512 << 10);
    assert_eq!(parse_size("4096").unwrap(), 4096);
    for bad in ["", "M", "12X", "-1M", "1.5G", "99999999999999999999G"] {
        assert!(parse_size(bad).is_err(), "{bad}");
    }
}

#[test]
fn bad_limits_are_refused() {
    let dir = std::env::temp_dir();
    let mut c = Config::process("/bin/sh");
    c.cgroup = true;
    c.limits.memory = Some(1024);
    assert!(matches!(c.validate(), Err(ConfigError::MemoryTooSmall(_))));
    c.limits.memory = None;
    c.limits.pids = Some(0);
    assert!(matches!(c.validate(), Err(ConfigError::PidsZero)));
    c.limits.pids = None;
    c.limits.cpus = Some(-1.0);
    assert!(matches!(c.validate(), Err(ConfigError::BadCpus(_))));
    c.limits.cpus = Some(1.0);
    c.timeout = Duration::from_secs(18_446_744_074);
    assert!(matches!(c.validate(), Err(ConfigError::BadTimeout(_))));
    c.timeout = Duration::ZERO;
    assert!(matches!(c.validate(), Err(ConfigError::BadTimeout(_))));
    c.timeout = MAX_TIMEOUT;
    c.cgroup = false;
    assert!(matches!(
        c.validate(),
        Err(ConfigError::LimitsWithoutCgroup)
    ));
    let c = Config::sandbox(dir.join("vmlab-no-such-rootfs"));
    assert!(matches!(c.validate(), Err(ConfigError::MissingRootfs(_))));
}

#[test]
fn entry_must_be_executable() {
    let dir = std::env::temp_dir().join(format!("vmlab-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let c = Config::sandbox(&dir);
    assert!(matches!(c.validate(), Err(ConfigError::MissingEntry(_))));
    std::fs::write(dir.join("init"), b"x").unwrap();
    assert!(matches!(
        c.validate(),
        Err(ConfigError::EntryNotExecutable(_))
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}
