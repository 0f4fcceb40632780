//! The command-line flag that fixes a VMM error, added by the CLI (the
//! library says what is wrong, not which flag to change).
use vmlab_vmm::loader::{bare, linux};
use vmlab_vmm::{memory, vm, Error};

/// What to change on the command line for `e`, when a flag fixes it.
pub fn flag_hint(e: &Error) -> Option<&'static str> {
    let mem = Some("choose the guest memory with --mem (MiB)");
    match e {
        Error::Memory(
            memory::Error::TooSmall { .. }
            | memory::Error::TooLarge { .. }
            | memory::Error::BeyondLimit { .. },
        ) => mem,
        Error::Bare(bare::Error::TooBig { .. }) => mem,
        Error::Linux(linux::Error::KernelTooBig { .. } | linux::Error::InitramfsTooBig { .. }) => {
            mem
        }
        Error::Linux(linux::Error::KernelMissing(_)) => {
            Some("pass --kernel PATH or set VMLAB_KERNEL")
        }
        Error::Linux(linux::Error::InitramfsMissing(_)) => {
            Some("build it with `vmlab images build` or pass --initramfs PATH")
        }
        Error::Guest {
            failure: vm::Error::Timeout { .. },
            ..
        } => Some("allow more time with --timeout (seconds)"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_timeout_and_missing_files_name_their_flag() {
        let small = Error::Memory(memory::Error::TooSmall { mib: 1, min_mib: 2 });
        assert!(flag_hint(&small).unwrap().contains("--mem"));
        let timeout = Error::Guest {
            failure: vm::Error::Timeout {
                secs: 1.0,
                ready: false,
            },
            console: Vec::new(),
            console_dropped_bytes: 0,
            exits: Default::default(),
        };
        assert!(flag_hint(&timeout).unwrap().contains("--timeout"));
        let kernel = Error::Linux(linux::Error::KernelMissing("/k".into()));
        assert!(flag_hint(&kernel).unwrap().contains("--kernel"));
        let reset = Error::Guest {
            failure: vm::Error::Reset,
            console: Vec::new(),
            console_dropped_bytes: 0,
            exits: Default::default(),
        };
        assert_eq!(flag_hint(&reset), None);
    }
}
