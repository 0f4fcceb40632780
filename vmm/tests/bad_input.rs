//! Bad input gets distinct, clear errors: memory sizes, kernel files,
//! initramfs that does not fit.
mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::*;
use vmlab_test_util::{kvm_available, TempDir};
use vmlab_vmm::loader::linux::Error as LinuxError;
use vmlab_vmm::{memory, Error, Guest, LinuxGuest, VmConfig};

fn linux(kernel: PathBuf, initramfs: Option<PathBuf>, mem_mib: u64) -> VmConfig<'static> {
    VmConfig {
        guest: Guest::Linux(LinuxGuest {
            kernel,
            initramfs,
            ..Default::default()
        }),
        mem_mib,
        timeout: Duration::from_secs(5),
        serial_stream: None,
        jail: false,
        probe: None,
        cgroup_tasks: Vec::new(),
        hold: None,
        virtio: Vec::new(),
        virtio_selftest: false,
    }
}

/// A bzImage-shaped file: a setup header and `payload` bytes.
fn fake_bzimage(payload: usize) -> Vec<u8> {
    let mut k = vec![0u8; 5 * 512 + payload];
    k[0x1f1] = 4;
    k[0x1f4..0x1f8].copy_from_slice(&((payload as u32) / 16).to_le_bytes());
    k[0x202..0x206].copy_from_slice(b"HdrS");
    k[0x206..0x208].copy_from_slice(&0x020fu16.to_le_bytes());
    k[0x211] = 1;
    k[0x214..0x218].copy_from_slice(&0x10_0000u32.to_le_bytes());
    k[0x22c..0x230].copy_from_slice(&0x7fff_ffffu32.to_le_bytes());
    k[0x236..0x238].copy_from_slice(&1u16.to_le_bytes());
    k[0x260..0x264].copy_from_slice(&0x40_0000u32.to_le_bytes());
    k
}

#[test]
fn memory_too_small_or_too_large() {
    let elf = tiny_elf(&ready_exit_code(0));
    let mut c = bare(&elf, "", Duration::from_secs(1));
    c.mem_mib = 1;
    let e = vmlab_vmm::run(c).unwrap_err();
    assert!(
        matches!(e, Error::Memory(memory::Error::TooSmall { .. })),
        "{e}"
    );
    assert!(e.to_string().contains("too small"));
    let mut c = bare(&elf, "", Duration::from_secs(1));
    c.mem_mib = memory::host_mib().unwrap() * 2;
    let e = vmlab_vmm::run(c).unwrap_err();
    assert!(
        matches!(e, Error::Memory(memory::Error::TooLarge { .. })),
        "{e}"
    );
    assert!(e.to_string().contains("more than this host"));
}

#[test]
fn kernel_missing_truncated_or_not_a_kernel() {
    let dir = TempDir::new("vmm-kernels");
    let missing = dir.path().join("nope");
    let e = vmlab_vmm::run(linux(missing, None, 256)).unwrap_err();
    assert!(
        matches!(e, Error::Linux(LinuxError::KernelMissing(_))),
        "{e}"
    );
    assert!(e.to_string().contains("does not exist"));

    let truncated = dir.file("trunc", &fake_bzimage(1 << 20)[..100_000]);
    let e = vmlab_vmm::run(linux(truncated, None, 256)).unwrap_err();
    assert!(
        matches!(e, Error::Linux(LinuxError::Truncated { .. })),
        "{e}"
    );
    assert!(e.to_string().contains("truncated"));

    let random: Vec<u8> = (0..100_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let junk = dir.file("junk", &random);
    let e = vmlab_vmm::run(linux(junk, None, 256)).unwrap_err();
    assert!(matches!(e, Error::Linux(LinuxError::NotAKernel(_))), "{e}");
    assert!(e.to_string().contains("is not a Linux kernel"));

    let empty = dir.file("empty", b"");
    let e = vmlab_vmm::run(linux(empty, None, 256)).unwrap_err();
    assert!(matches!(e, Error::Linux(LinuxError::NotAKernel(_))), "{e}");
}

#[test]
fn initramfs_missing_or_too_big() {
    let dir = TempDir::new("vmm-initramfs");
    let kernel = dir.file("bz", &fake_bzimage(64 << 10));
    let e = vmlab_vmm::run(linux(kernel.clone(), Some(dir.path().join("none")), 64)).unwrap_err();
    assert!(
        matches!(e, Error::Linux(LinuxError::InitramfsMissing(_))),
        "{e}"
    );

    if !kvm_available() {
        return;
    }
    let big = dir.file("big.cpio", &vec![0u8; 60 << 20]);
    let e = vmlab_vmm::run(linux(kernel, Some(big), 64)).unwrap_err();
    match &e {
        Error::Linux(LinuxError::InitramfsTooBig { .. }) => {
            assert!(e.to_string().contains("does not fit in guest memory"))
        }
        // A KVM without the Linux capabilities stops earlier, also clearly.
        Error::Kvm(vmlab_vmm::kvm::Error::MissingCap(_)) => {}
        other => panic!("unexpected error: {other}"),
    }
}
