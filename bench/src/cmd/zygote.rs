//! `vmlab zygote` (hidden): the scale driver's VM fork server, serving on
//! its stdin (see `vmlab_bench::scale::zygote`).
use clap::Args;
use vmlab_bench::scale::zygote::server;

/// Arguments of `vmlab zygote`.
#[derive(Args, Debug, Clone)]
pub struct ZygoteArgs {
    /// Guest RAM of every VM, MiB.
    #[arg(long, default_value_t = vmlab_bench::scale::zygote::MEM_MIB, value_parser = clap::value_parser!(u64).range(1..=vmlab_vmm::memory::MAX_MIB))]
    pub mem: u64,
    /// The workload's arguments for every VM.
    #[arg(last = true)]
    pub workload: Vec<String>,
}

/// Runs the server until the driver closes its socket.
pub fn main(args: ZygoteArgs) -> anyhow::Result<u8> {
    server::main(server::Guest {
        mem_mib: args.mem,
        args: args.workload.join(" "),
        timeout: vmlab_sandbox::config::MAX_TIMEOUT,
    })?;
    Ok(0)
}
