use std::path::{Path, PathBuf};

use object::elf;
use vm_memory::GuestAddress;

use super::kernel::check_kernel;
use super::*;
use crate::arch::x86_64::regs;
use crate::layout::{self, CMDLINE_GPA, CMDLINE_MAX, ZERO_PAGE_GPA};
use crate::memory::GuestMemoryMmap;
use crate::LinuxGuest;

/// A fake bzImage: setup header fields only, `payload` bytes of "kernel".
fn fake_bzimage(payload: usize, version: u16, xloadflags: u16) -> Vec<u8> {
    let setup_sects = 4u8;
    let mut k = vec![0u8; (setup_sects as usize + 1) * 512 + payload];
    k[0x1f1] = setup_sects;
    k[0x1f4..0x1f8].copy_from_slice(&((payload as u32).div_ceil(16)).to_le_bytes());
    k[0x1fe..0x200].copy_from_slice(&0xaa55u16.to_le_bytes());
    k[0x202..0x206].copy_from_slice(b"HdrS");
    k[0x206..0x208].copy_from_slice(&version.to_le_bytes());
    k[0x211] = 1; // loadflags: LOADED_HIGH
    k[0x214..0x218].copy_from_slice(&0x10_0000u32.to_le_bytes()); // code32_start
    k[0x22c..0x230].copy_from_slice(&0x7fff_ffffu32.to_le_bytes()); // initrd_addr_max
    k[0x236..0x238].copy_from_slice(&xloadflags.to_le_bytes());
    k[0x238..0x23c].copy_from_slice(&(CMDLINE_MAX as u32).to_le_bytes());
    k[0x260..0x264].copy_from_slice(&0x40_0000u32.to_le_bytes()); // init_size: 4 MiB
    k
}

fn files(kernel: Vec<u8>, initramfs: Option<Vec<u8>>) -> Files {
    let path = PathBuf::from("k");
    let format = check_kernel(&path, &kernel).unwrap();
    Files {
        kernel_path: path,
        kernel,
        format,
        initramfs: initramfs.map(|b| (PathBuf::from("i"), b)),
    }
}

fn mem(mib: u64) -> GuestMemoryMmap {
    crate::memory::create(mib).unwrap()
}

#[test]
fn recognises_formats_and_truncation() {
    let p = Path::new("k");
    let bz = fake_bzimage(4096, 0x020f, 1);
    assert_eq!(check_kernel(p, &bz).unwrap(), KernelFormat::BzImage);
    assert!(matches!(
        check_kernel(p, &bz[..3000]),
        Err(Error::Truncated { .. })
    ));
    assert!(matches!(
        check_kernel(p, &[0x55; 5000]),
        Err(Error::NotAKernel(_))
    ));
    assert!(matches!(check_kernel(p, b""), Err(Error::NotAKernel(_))));
    assert!(matches!(
        check_kernel(p, b"\x7fELF\x02\x01"),
        Err(Error::Truncated { .. })
    ));
}

#[test]
fn command_line_has_base_extra_and_init_args() {
    let g = LinuxGuest {
        cmdline_extra: "loglevel=8".into(),
        init_args: vec!["cpu".into(), "--exit".into(), "3".into()],
        ..Default::default()
    };
    let line = |modules| {
        cmdline(&g, modules)
            .unwrap()
            .as_cstring()
            .unwrap()
            .into_string()
            .unwrap()
    };
    let c = line(false);
    assert!(c.starts_with("console=ttyS0 reboot=k panic=-1 pci=off"));
    assert!(c.contains("VMLAB_PORT=1 nomodule loglevel=8"), "{c}");
    assert!(c.ends_with(" -- cpu --exit 3"));
    // A guest with virtio devices loads their drivers.
    let c = line(true);
    assert!(!c.contains("nomodule"), "{c}");
    assert!(c.contains("VMLAB_PORT=1 loglevel=8"), "{c}");
}

#[test]
fn initramfs_goes_to_the_top() {
    assert_eq!(
        initramfs_addr(0x1800, 0x20_0000, 0x400_0000),
        Some(0x3ff_e000)
    );
    assert_eq!(initramfs_addr(0x400_0000, 0x20_0000, 0x400_0000), None);
    assert_eq!(initramfs_addr(u64::MAX, 0, 0x400_0000), None);
}

#[test]
fn loads_a_bzimage_with_initramfs() {
    let mem = mem(64);
    let f = files(fake_bzimage(4096, 0x020f, 1), Some(vec![7u8; 10_000]));
    let g = LinuxGuest {
        init_args: vec!["x".into()],
        ..Default::default()
    };
    let e = load(&mem, 64 << 20, &f, &g, &[]).unwrap();
    assert_eq!(e, Entry::Long64 { rip: 0x10_0200 });
    let zp: linux_loader::bootparam::boot_params =
        vm_memory::Bytes::read_obj(&mem, GuestAddress(ZERO_PAGE_GPA)).unwrap();
    let (rd, rds, cmd) = (
        zp.hdr.ramdisk_image,
        zp.hdr.ramdisk_size,
        zp.hdr.cmd_line_ptr,
    );
    assert_eq!(rds, 10_000);
    assert_eq!(u64::from(rd), ((64 << 20) - 10_000) & !0xfff);
    assert_eq!(u64::from(cmd), CMDLINE_GPA);
    assert_eq!(zp.e820_entries, 3);
    let rsdp = zp.acpi_rsdp_addr;
    assert_eq!(rsdp, layout::ACPI_GPA);
    let (mode, r) = e.registers(&mem, 64 << 20).unwrap();
    assert_eq!(
        mode,
        regs::EntryMode::Long {
            cr3: layout::PML4_GPA
        }
    );
    assert_eq!((r.rip, r.rsi), (0x10_0200, ZERO_PAGE_GPA));
}

#[test]
fn rejects_what_does_not_fit_or_cannot_boot() {
    let g = LinuxGuest::default();
    let too_big = files(fake_bzimage(4096, 0x020f, 1), Some(vec![0u8; 30 << 20]));
    assert!(matches!(
        load(&mem(32), 32 << 20, &too_big, &g, &[]),
        Err(Error::InitramfsTooBig { .. })
    ));
    let old = files(fake_bzimage(4096, 0x020a, 0), None);
    assert!(matches!(
        load(&mem(32), 32 << 20, &old, &g, &[]),
        Err(Error::No64BitEntry(_))
    ));
    let f = files(fake_bzimage(4096, 0x020f, 1), None);
    assert!(matches!(
        load(&mem(4), 4 << 20, &f, &g, &[]),
        Err(Error::KernelTooBig { .. })
    ));
}

/// A minimal ELF kernel: file header, one PT_LOAD program header at 64
/// (load at 1 MiB, 16 file bytes at 120, `memsz` in memory).
fn tiny_elf(memsz: u64) -> Vec<u8> {
    let mut k = vec![0u8; 136];
    k[..4].copy_from_slice(b"\x7fELF");
    k[4] = 2;
    k[5] = 1;
    k[16..18].copy_from_slice(&2u16.to_le_bytes());
    k[18..20].copy_from_slice(&62u16.to_le_bytes());
    k[24..32].copy_from_slice(&0x10_0000u64.to_le_bytes()); // e_entry
    k[32..40].copy_from_slice(&64u64.to_le_bytes()); // e_phoff
    k[54..56].copy_from_slice(&56u16.to_le_bytes());
    k[56..58].copy_from_slice(&1u16.to_le_bytes());
    k[64..68].copy_from_slice(&elf::PT_LOAD.0.to_le_bytes());
    set(&mut k, 72, 120); // p_offset
    set(&mut k, 80, 0x10_0000); // p_vaddr
    set(&mut k, 88, 0x10_0000); // p_paddr
    set(&mut k, 96, 16); // p_filesz
    set(&mut k, 104, memsz); // p_memsz
    k
}

fn set(k: &mut [u8], at: usize, v: u64) {
    k[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

#[test]
fn crafted_elf_headers_are_errors_not_panics() {
    let p = Path::new("k");
    assert_eq!(check_kernel(p, &tiny_elf(16)).unwrap(), KernelFormat::Elf);
    let bad = |k: &[u8]| match check_kernel(p, k) {
        Err(Error::BadElf { what, .. }) => what,
        other => panic!("{other:?}"),
    };
    // e_phoff + phentsize * phnum overflows.
    let mut k = tiny_elf(16);
    set(&mut k, 32, u64::MAX - 10);
    assert!(bad(&k).contains("program header table"));
    // A table far past the end of the file.
    let mut k = tiny_elf(16);
    set(&mut k, 32, 1 << 40);
    assert!(matches!(
        check_kernel(p, &k),
        Err(Error::Truncated { need, .. }) if need == (1 << 40) + 56
    ));
    // Entries too small for a program header.
    let mut k = tiny_elf(16);
    k[54..56].copy_from_slice(&4u16.to_le_bytes());
    assert!(bad(&k).contains("56 bytes"));
    // p_offset + p_filesz overflows.
    let mut k = tiny_elf(u64::MAX);
    set(&mut k, 72, u64::MAX);
    assert!(bad(&k).contains("file offset"));
    // p_filesz > p_memsz.
    assert!(bad(&tiny_elf(8)).contains("more file bytes"));
    // p_paddr + p_memsz overflows.
    let mut k = tiny_elf(u64::MAX - 10);
    set(&mut k, 88, 1 << 20);
    assert!(bad(&k).contains("address"));
}

#[test]
fn an_elf_segment_beyond_guest_memory_is_refused_before_loading() {
    let g = LinuxGuest::default();
    let f = files(tiny_elf(1 << 40), None);
    assert!(matches!(
        load(&mem(32), 32 << 20, &f, &g, &[]),
        Err(Error::KernelTooBig { need, .. }) if need == (1 << 20) + (1 << 40)
    ));
    let f = files(tiny_elf(64 << 20), None);
    assert!(matches!(
        load(&mem(32), 32 << 20, &f, &g, &[]),
        Err(Error::KernelTooBig { .. })
    ));
    // A segment placed beyond guest memory: refused with what it needs,
    // before linux-loader tries (and fails) to write it.
    let mut k = tiny_elf(16);
    set(&mut k, 88, 1 << 40);
    let f = files(k, None);
    assert!(matches!(
        load(&mem(32), 32 << 20, &f, &g, &[]),
        Err(Error::KernelTooBig { need, .. }) if need == (1 << 40) + 16
    ));
}
