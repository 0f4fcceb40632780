//! The seccomp deny list, compiled to BPF in the parent before cloning.
//!
//! The filter allows every system call except the ones below, which fail with
//! `EPERM` (`clone3` fails with `ENOSYS`, so that libc falls back to `clone`,
//! whose flags the filter can inspect). The list follows the spirit of the OCI
//! and Docker defaults, kept short and documented:
//!
//! | group | calls | why |
//! |---|---|---|
//! | filesystems | `mount`, `umount2`, `pivot_root`, `chroot`, `fsopen`, `fsconfig`, `fsmount`, `fspick`, `move_mount`, `open_tree`, `mount_setattr` | rearranging mounts could uncover the host's tree |
//! | namespaces | `unshare`, `setns`, `clone` with any `CLONE_NEW*` flag, `clone3` | new user namespaces give back every capability |
//! | kernel code | `init_module`, `finit_module`, `delete_module`, `kexec_load`, `kexec_file_load`, `bpf`, `perf_event_open`, `userfaultfd` | loading code into, or probing, the kernel |
//! | keys | `keyctl`, `add_key`, `request_key` | the keyring is not namespaced |
//! | other processes | `ptrace`, `process_vm_readv`, `process_vm_writev`, `kcmp`, `pidfd_getfd` | reading or steering another process |
//! | host state | `reboot`, `swapon`, `swapoff`, `acct`, `settimeofday`, `clock_settime`, `clock_adjtime`, `adjtimex`, `syslog`, `quotactl`, `vhangup`, `iopl`, `ioperm`, `lookup_dcookie`, `nfsservctl`, `uselib`, `personality` | the clock, swap, kernel log and I/O ports are the host's |
//! | handles | `open_by_handle_at`, `name_to_handle_at` | opening files by handle bypasses the mount tree |
use std::collections::BTreeMap;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

/// The seccomp filter could not be built.
#[derive(Debug, thiserror::Error)]
#[error("the seccomp filter could not be compiled")]
pub struct SeccompError(#[from] seccompiler::BackendError);

/// System calls denied with `EPERM`, unconditionally.
pub const DENIED: &[(&str, i64)] = &[
    ("mount", libc::SYS_mount),
    ("umount2", libc::SYS_umount2),
    ("pivot_root", libc::SYS_pivot_root),
    ("chroot", libc::SYS_chroot),
    ("fsopen", libc::SYS_fsopen),
    ("fsconfig", libc::SYS_fsconfig),
    ("fsmount", libc::SYS_fsmount),
    ("fspick", libc::SYS_fspick),
    ("move_mount", libc::SYS_move_mount),
    ("open_tree", libc::SYS_open_tree),
    ("mount_setattr", libc::SYS_mount_setattr),
    ("unshare", libc::SYS_unshare),
    ("setns", libc::SYS_setns),
    ("init_module", libc::SYS_init_module),
    ("finit_module", libc::SYS_finit_module),
    ("delete_module", libc::SYS_delete_module),
    ("kexec_load", libc::SYS_kexec_load),
    ("kexec_file_load", libc::SYS_kexec_file_load),
    ("bpf", libc::SYS_bpf),
    ("perf_event_open", libc::SYS_perf_event_open),
    ("userfaultfd", libc::SYS_userfaultfd),
    ("keyctl", libc::SYS_keyctl),
    ("add_key", libc::SYS_add_key),
    ("request_key", libc::SYS_request_key),
    ("ptrace", libc::SYS_ptrace),
    ("process_vm_readv", libc::SYS_process_vm_readv),
    ("process_vm_writev", libc::SYS_process_vm_writev),
    ("kcmp", libc::SYS_kcmp),
    ("pidfd_getfd", libc::SYS_pidfd_getfd),
    ("reboot", libc::SYS_reboot),
    ("swapon", libc::SYS_swapon),
    ("swapoff", libc::SYS_swapoff),
    ("acct", libc::SYS_acct),
    ("settimeofday", libc::SYS_settimeofday),
    ("clock_settime", libc::SYS_clock_settime),
    ("clock_adjtime", libc::SYS_clock_adjtime),
    ("adjtimex", libc::SYS_adjtimex),
    ("syslog", libc::SYS_syslog),
    ("quotactl", libc::SYS_quotactl),
    ("vhangup", libc::SYS_vhangup),
    ("iopl", libc::SYS_iopl),
    ("ioperm", libc::SYS_ioperm),
    ("lookup_dcookie", libc::SYS_lookup_dcookie),
    ("nfsservctl", libc::SYS_nfsservctl),
    ("uselib", libc::SYS_uselib),
    ("personality", libc::SYS_personality),
    ("open_by_handle_at", libc::SYS_open_by_handle_at),
    ("name_to_handle_at", libc::SYS_name_to_handle_at),
];

/// `clone` flags that create namespaces; `clone` with any of them is denied.
pub const CLONE_NS_FLAGS: &[i32] = &[
    libc::CLONE_NEWUSER,
    libc::CLONE_NEWNS,
    libc::CLONE_NEWPID,
    libc::CLONE_NEWNET,
    libc::CLONE_NEWUTS,
    libc::CLONE_NEWIPC,
    libc::CLONE_NEWCGROUP,
];

/// Builds the deny-list program for x86_64.
pub fn program() -> Result<BpfProgram, SeccompError> {
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    for &(_, nr) in DENIED {
        rules.insert(nr, Vec::new());
    }
    let clone_rules = CLONE_NS_FLAGS
        .iter()
        .map(|&flag| {
            let cond = SeccompCondition::new(
                0,
                SeccompCmpArgLen::Qword,
                SeccompCmpOp::MaskedEq(flag as u64),
                flag as u64,
            )?;
            SeccompRule::new(vec![cond])
        })
        .collect::<Result<Vec<_>, _>>()?;
    rules.insert(libc::SYS_clone, clone_rules);
    let eperm = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM as u32),
        TargetArch::x86_64,
    )?;
    let mut program: BpfProgram = eperm.try_into()?;
    // clone3 passes its flags in memory the filter cannot read: answer ENOSYS
    // so that libc falls back to clone. A seccompiler filter has one match
    // action, so this different answer is a short prefix of our own.
    program.splice(0..0, clone3_enosys());
    Ok(program)
}

/// A BPF prefix that returns `ENOSYS` for `clone3` (after the arch check the
/// main program repeats) and falls through otherwise.
fn clone3_enosys() -> Vec<seccompiler::sock_filter> {
    use seccompiler::sock_filter;
    const LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
    const JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
    const RET_K: u16 = 0x06; // BPF_RET | BPF_K
    const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
    let stmt = |code, k| sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    };
    let jump = |code, k, jt, jf| sock_filter { code, jt, jf, k };
    vec![
        // if arch != x86_64 skip this prefix (the main program kills).
        stmt(LD_W_ABS, 4),
        jump(JEQ_K, AUDIT_ARCH_X86_64, 0, 3),
        stmt(LD_W_ABS, 0),
        jump(JEQ_K, libc::SYS_clone3 as u32, 0, 1),
        stmt(RET_K, libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn program_compiles_and_starts_with_clone3_check() {
        let p = program().unwrap();
        assert!(p.len() > DENIED.len());
        assert_eq!(p[3].k, libc::SYS_clone3 as u32);
        assert_eq!(p[4].k, libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32);
    }

    #[test]
    fn deny_list_has_no_duplicates_and_spares_exec() {
        let mut nrs: Vec<i64> = DENIED.iter().map(|d| d.1).collect();
        nrs.sort_unstable();
        nrs.dedup();
        assert_eq!(nrs.len(), DENIED.len());
        for needed in [libc::SYS_execve, libc::SYS_exit_group, libc::SYS_write] {
            assert!(!nrs.contains(&needed));
        }
    }
}
