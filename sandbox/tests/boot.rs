//! The sandbox boots a workload to ready and reports its exit (root only).
mod common;

use common::{have_root, json_lines, Rootfs};
use vmlab_sandbox::{run, Config, ExitStatus, UserNs};

fn probe_config(rootfs: &Rootfs, args: &[&str]) -> Config {
    let mut c = Config::sandbox(&rootfs.path);
    c.args = args.iter().map(|s| s.to_string()).collect();
    c
}

#[test]
fn root_mode_boots_to_ready_and_exits_with_the_code() {
    if !have_root("root_mode_boots_to_ready_and_exits_with_the_code") {
        return;
    }
    let _serial = common::serial();
    let fs = Rootfs::probe();
    let out = run(&probe_config(&fs, &["ready", "7"]), None).unwrap();
    assert_eq!(
        out.status,
        ExitStatus::Code(7),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.ready.is_some());
    assert_eq!(json_lines(&out.stdout)[0]["mode"], "ready");
    assert!(!out.rootless);
    eprintln!("phases: {:?}", out.phases);
}

#[test]
fn rootless_mode_boots_to_ready_and_exits_with_the_code() {
    if !have_root("rootless_mode_boots_to_ready_and_exits_with_the_code") {
        return;
    }
    let _serial = common::serial();
    let fs = Rootfs::probe();
    let mut c = probe_config(&fs, &["ready", "3"]);
    c.ns.user = Some(UserNs::rootless());
    let out = run(&c, None).unwrap();
    assert_eq!(
        out.status,
        ExitStatus::Code(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.ready.is_some());
    assert!(out.rootless);
    eprintln!("phases: {:?}", out.phases);
}
