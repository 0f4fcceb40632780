//! The arguments of `vmlab rig`.
use std::path::PathBuf;

use clap::Args;

use super::cpu::Cpu;

/// Arguments of `vmlab rig`.
#[derive(Args, Debug, Clone)]
pub struct RigArgs {
    /// Which emulated CPU L1 gets: amd (QEMU TCG, SVM) or intel (Bochs, VT-x).
    #[arg(long, value_enum, default_value_t = Cpu::Amd)]
    pub cpu: Cpu,
    /// Print one JSON object instead of a summary.
    #[arg(long)]
    pub json: bool,
    /// Kill L1 after this many seconds (1 to 86400; default 180 for amd, 600 for intel).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=crate::run::MAX_TIMEOUT_S))]
    pub timeout: Option<u64>,
    /// Guest kernel (bzImage) for L1 and L2. Default: $VMLAB_KERNEL, then the cache.
    #[arg(long)]
    pub kernel: Option<PathBuf>,
    /// Also run checks that must fail cleanly (corrupt initramfs, too little memory).
    #[arg(long)]
    pub negative: bool,
    /// Run only this check (repeatable; the names the summary prints, e.g.
    /// vm-linux-io). The restores need vm-linux-snapshot too.
    #[arg(long, value_name = "NAME")]
    pub only: Vec<String>,
    /// Keep L1's console log, results channel and emulator logs in this directory.
    #[arg(long)]
    pub keep: Option<PathBuf>,
    /// Workload arguments for the L2 guests (after `--`).
    #[arg(last = true)]
    pub workload: Vec<String>,
}
