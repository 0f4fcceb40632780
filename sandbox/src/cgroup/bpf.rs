//! The two `bpf(2)` commands the device policy needs on cgroup v2: loading
//! a `BPF_PROG_TYPE_CGROUP_DEVICE` program and attaching it to a cgroup.
//! The only unsafe code of [`crate::cgroup`].
use std::ffi::CStr;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// One eBPF instruction (`struct bpf_insn`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Insn {
    /// Opcode.
    pub code: u8,
    /// Destination register (low nibble) and source register (high nibble).
    pub regs: u8,
    /// Offset (memory access, jump).
    pub off: i16,
    /// Immediate.
    pub imm: i32,
}

impl Insn {
    /// `dst = *(u32 *)(src + off)` (`BPF_LDX | BPF_MEM | BPF_W`).
    pub fn ldx_w(dst: u8, src: u8, off: i16) -> Insn {
        Insn {
            code: 0x61,
            regs: dst | (src << 4),
            off,
            imm: 0,
        }
    }

    /// `dst = (u32)dst & imm` (`BPF_ALU | BPF_AND | BPF_K`).
    pub fn and32(dst: u8, imm: i32) -> Insn {
        Insn {
            code: 0x54,
            regs: dst,
            off: 0,
            imm,
        }
    }

    /// `if dst != imm goto pc + 1 + off` (`BPF_JMP | BPF_JNE | BPF_K`).
    pub fn jne(dst: u8, imm: i32, off: i16) -> Insn {
        Insn {
            code: 0x55,
            regs: dst,
            off,
            imm,
        }
    }

    /// `dst = imm` (`BPF_ALU64 | BPF_MOV | BPF_K`).
    pub fn mov64(dst: u8, imm: i32) -> Insn {
        Insn {
            code: 0xb7,
            regs: dst,
            off: 0,
            imm,
        }
    }

    /// `return r0` (`BPF_JMP | BPF_EXIT`).
    pub fn exit() -> Insn {
        Insn {
            code: 0x95,
            regs: 0,
            off: 0,
            imm: 0,
        }
    }
}

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;

/// The `BPF_PROG_LOAD` part of `union bpf_attr` (the kernel zero-fills the
/// fields after `expected_attach_type`).
#[repr(C)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

/// The `BPF_PROG_ATTACH` part of `union bpf_attr`.
#[repr(C)]
struct ProgAttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
}

/// The program's license. A device program calls no helper at all, so
/// nothing requires a GPL-compatible one; it is this project's.
const LICENSE: &CStr = c"Apache-2.0";

fn prog_load(attr: &ProgLoadAttr) -> std::io::Result<OwnedFd> {
    // SAFETY: `attr` is a valid BPF_PROG_LOAD attribute of the given size;
    // the instruction, license and log pointers in it point to live memory
    // of the lengths it states, which the kernel only reads (the log it
    // writes, within log_size).
    let fd = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_LOAD,
            attr as *const ProgLoadAttr,
            std::mem::size_of::<ProgLoadAttr>() as libc::c_uint,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: BPF_PROG_LOAD returned a new (close-on-exec) fd nobody owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Loads `insns` as a cgroup device program named `name` (at most 15
/// bytes). When the verifier refuses it, the error carries its log.
pub fn load_cgroup_device(insns: &[Insn], name: &CStr) -> std::io::Result<OwnedFd> {
    let mut prog_name = [0u8; 16];
    let bytes = name.to_bytes();
    let n = bytes.len().min(15);
    prog_name[..n].copy_from_slice(&bytes[..n]);
    let mut attr = ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: insns.len() as u32,
        insns: insns.as_ptr() as u64,
        license: LICENSE.as_ptr() as u64,
        log_level: 0,
        log_size: 0,
        log_buf: 0,
        kern_version: 0,
        prog_flags: 0,
        prog_name,
        prog_ifindex: 0,
        expected_attach_type: BPF_CGROUP_DEVICE,
    };
    match prog_load(&attr) {
        Err(e) if matches!(e.raw_os_error(), Some(libc::EACCES | libc::EINVAL)) => {
            // Once more with the verifier's log, to say why.
            let mut log = vec![0u8; 16 << 10];
            attr.log_level = 1;
            attr.log_size = log.len() as u32;
            attr.log_buf = log.as_mut_ptr() as u64;
            let again = prog_load(&attr);
            let text = CStr::from_bytes_until_nul(&log)
                .map(|s| s.to_string_lossy().trim().to_string())
                .unwrap_or_default();
            match again {
                Ok(fd) => Ok(fd),
                Err(_) if text.is_empty() => Err(e),
                Err(_) => Err(std::io::Error::new(
                    e.kind(),
                    format!("{e}; verifier log: {text}"),
                )),
            }
        }
        other => other,
    }
}

/// Attaches the cgroup device program `prog` to the cgroup directory
/// `cgroup` (no flags: cgroups below cannot override it).
pub fn attach_cgroup_device(cgroup: BorrowedFd<'_>, prog: &OwnedFd) -> std::io::Result<()> {
    let attr = ProgAttachAttr {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: 0,
        replace_bpf_fd: 0,
    };
    // SAFETY: `attr` is a valid BPF_PROG_ATTACH attribute of the given size
    // naming two fds this process holds open; the kernel only reads it.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_ATTACH,
            &attr as *const ProgAttachAttr,
            std::mem::size_of::<ProgAttachAttr>() as libc::c_uint,
        )
    };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_attributes_have_the_kernel_layout() {
        assert_eq!(std::mem::size_of::<Insn>(), 8);
        assert_eq!(std::mem::size_of::<ProgLoadAttr>(), 72);
        assert_eq!(std::mem::offset_of!(ProgLoadAttr, prog_name), 48);
        assert_eq!(std::mem::offset_of!(ProgLoadAttr, expected_attach_type), 68);
        assert_eq!(std::mem::size_of::<ProgAttachAttr>(), 20);
        assert_eq!(Insn::ldx_w(2, 1, 4).regs, 0x12);
    }
}
