//! Shared helpers of the KVM tests: running a test body in a child process,
//! the guest ELFs (the KVM gate is `vmlab_test_util::kvm_available`).
#![allow(dead_code)]

use std::process::Command;
use std::time::Duration;

use vmlab_vmm::VmConfig;

/// Set in the child process that runs a test's body.
const CHILD_ENV: &str = "VMLAB_VMM_TEST_CHILD";

/// Runs the calling test's body in a child process (a VMM crash cannot take
/// the runner down). Returns true in the child, which then runs the body;
/// in the parent, waits for the child and asserts it passed.
pub fn in_child(test: &str) -> bool {
    if std::env::var_os(CHILD_ENV).is_some() {
        return true;
    }
    let exe = std::env::current_exe().expect("the test binary has a path");
    let out = Command::new(exe)
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, "1")
        .output()
        .expect("the test binary can be re-run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprint!("{stdout}{stderr}");
    assert!(
        out.status.success(),
        "child for {test} failed: {}",
        out.status
    );
    assert!(
        stdout.contains("1 passed"),
        "child for {test} ran no test (filter mismatch?)"
    );
    false
}

/// The bare guest ELF: `$VMLAB_GUEST_ELF` when set, else the embedded one.
pub fn guest_elf() -> Vec<u8> {
    match std::env::var_os("VMLAB_GUEST_ELF") {
        Some(p) => std::fs::read(&p).expect("VMLAB_GUEST_ELF names a readable file"),
        None => vmlab_images::embedded::GUEST.to_vec(),
    }
}

/// A bare-guest configuration.
pub fn bare<'a>(elf: &'a [u8], args: &str, timeout: Duration) -> VmConfig<'a> {
    VmConfig::bare(elf, args, 16, timeout)
}

/// `mov eax, imm32; mov dx, 0xf4; out dx, eax`: one protocol word.
pub fn out_word(word: u32) -> Vec<u8> {
    let mut c = vec![0xb8];
    c.extend_from_slice(&word.to_le_bytes());
    c.extend_from_slice(&[0x66, 0xba, 0xf4, 0x00, 0xef]);
    c
}

/// Ready, then exit with `code`, then halt.
pub fn ready_exit_code(code: u8) -> Vec<u8> {
    let mut c = out_word(vmlab_workload::Event::Ready.encode());
    c.extend(out_word(vmlab_workload::Event::Exit(code).encode()));
    c.push(0xf4);
    c
}

/// A minimal ELF64 executable with one PT_LOAD segment of `code` at 1 MiB.
pub fn tiny_elf(code: &[u8]) -> Vec<u8> {
    let paddr: u64 = 0x10_0000;
    let mut f = vec![0u8; 64 + 56];
    f[..4].copy_from_slice(b"\x7fELF");
    f[4] = 2;
    f[5] = 1;
    f[6] = 1;
    f[16..18].copy_from_slice(&2u16.to_le_bytes());
    f[18..20].copy_from_slice(&0x3eu16.to_le_bytes());
    f[20..24].copy_from_slice(&1u32.to_le_bytes());
    f[24..32].copy_from_slice(&paddr.to_le_bytes());
    f[32..40].copy_from_slice(&64u64.to_le_bytes());
    f[52..54].copy_from_slice(&64u16.to_le_bytes());
    f[54..56].copy_from_slice(&56u16.to_le_bytes());
    f[56..58].copy_from_slice(&1u16.to_le_bytes());
    let ph = &mut f[64..];
    ph[0..4].copy_from_slice(&1u32.to_le_bytes());
    ph[4..8].copy_from_slice(&5u32.to_le_bytes());
    ph[8..16].copy_from_slice(&120u64.to_le_bytes());
    ph[16..24].copy_from_slice(&paddr.to_le_bytes());
    ph[24..32].copy_from_slice(&paddr.to_le_bytes());
    ph[32..40].copy_from_slice(&(code.len() as u64).to_le_bytes());
    ph[40..48].copy_from_slice(&(code.len() as u64).to_le_bytes());
    f.extend_from_slice(code);
    f
}

/// A stand-in Linux kernel: a bzImage (4 setup sectors, protocol 2.15,
/// 64-bit entry) whose protected-mode payload has `startup_64` code at
/// offset 0x200. It boots on any KVM, software nested too.
pub fn stand_in_bzimage(startup_64: &[u8]) -> Vec<u8> {
    let mut payload = vec![0x90u8; 0x200];
    payload.extend_from_slice(startup_64);
    payload.resize(payload.len().next_multiple_of(16), 0);
    let mut k = vec![0u8; 5 * 512];
    k[0x1f1] = 4;
    k[0x1f4..0x1f8].copy_from_slice(&((payload.len() / 16) as u32).to_le_bytes());
    k[0x1fe..0x200].copy_from_slice(&0xaa55u16.to_le_bytes());
    k[0x202..0x206].copy_from_slice(b"HdrS");
    k[0x206..0x208].copy_from_slice(&0x020fu16.to_le_bytes());
    k[0x211] = 1;
    k[0x214..0x218].copy_from_slice(&0x10_0000u32.to_le_bytes());
    k[0x22c..0x230].copy_from_slice(&0x7fff_ffffu32.to_le_bytes());
    k[0x236..0x238].copy_from_slice(&1u16.to_le_bytes());
    k[0x238..0x23c].copy_from_slice(&2048u32.to_le_bytes());
    k[0x260..0x264].copy_from_slice(&0x40_0000u32.to_le_bytes());
    k.extend_from_slice(&payload);
    k
}

/// Whether a failure is the bare guest using SSE on software KVM (a build
/// problem of the guest, not of the VMM): prints why and returns true unless
/// KVM tests are required.
pub fn guest_built_with_sse(e: &vmlab_vmm::Error) -> bool {
    let msg = e.to_string();
    if msg.contains("SSE instruction") {
        assert!(
            !vmlab_test_util::required(vmlab_test_util::KVM),
            "VMLAB_REQUIRE_KVM=1 but {msg}"
        );
        eprintln!(
            "skipping: the bare guest was built with SSE, which this KVM cannot emulate: {msg}"
        );
        return true;
    }
    false
}

/// Open fds, threads and resident KiB of this process.
pub fn process_usage() -> (usize, u64, u64) {
    let fds = std::fs::read_dir("/proc/self/fd").unwrap().count();
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap()
    };
    (fds, field("Threads:"), field("VmRSS:"))
}

/// The protocol lines of a console, each cut to its first two fields (the
/// line kind and the kernel's name: what follows are timings), to compare
/// a restored run's kernels with a cold run's.
pub fn kernels(console: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(console)
        .lines()
        .filter(|l| l.starts_with("{\"vmlab\":"))
        .map(|l| l.split(",\"").take(2).collect::<Vec<_>>().join(","))
        .collect()
}
