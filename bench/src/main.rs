//! `vmlab`: VM or container? Measured on this machine.
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};
use vmlab_bench::compare;

mod cmd;
mod rig;
mod run;

/// VM or container? Boot time, image size and isolation overhead, measured.
#[derive(Parser, Debug)]
#[command(name = "vmlab", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Build the artifacts every backend boots, or show their sizes.
    #[command(subcommand)]
    Images(cmd::images::ImagesCommand),
    /// Boot the workload once in one backend (or, vm-bare and vm-linux, from a snapshot: --restore).
    Run(run::RunArgs),
    /// Boot vm-bare or vm-linux to the workload's snapshot mark and write a snapshot
    /// file for `vmlab run --restore`.
    Snapshot(run::snapshot::SnapshotArgs),
    /// Run every backend this host supports and write results.json + index.html.
    Compare(compare::CompareArgs),
    /// Hold many instances of each backend at once: memory per extra
    /// instance, start time against N, latency and throughput of boots
    /// started together.
    Scale(cmd::scale::ScaleArgs),
    /// Re-render the HTML report from a results.json (optionally against a baseline).
    Report(cmd::report::ReportArgs),
    /// Show what this host can run, why not, and how to fix it.
    Doctor(cmd::doctor::DoctorArgs),
    /// Prove the Linux-guest path on hardware-style KVM: nested under QEMU
    /// TCG with emulated AMD SVM (testing the Linux path without VT-x).
    Rig(rig::RigArgs),
    /// Print a shell completion script (e.g. `vmlab completions bash >
    /// ~/.local/share/bash-completion/completions/vmlab`).
    Completions(cmd::generate::CompletionsArgs),
    /// Print the man page as roff (e.g. `vmlab man | man -l -`), or write
    /// one page per subcommand with --out.
    Man(cmd::generate::ManArgs),
    /// The scale driver's VM fork server (internal: started by `vmlab scale`).
    #[command(hide = true)]
    Zygote(cmd::zygote::ZygoteArgs),
    /// The I/O kernels' host-side server while a command runs (internal:
    /// the rig's I/O check inside its L1).
    #[command(hide = true)]
    IoServe(cmd::io_serve::IoServeArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Images(c) => cmd::images::main(c).map(|()| 0),
        Command::Run(args) => run::main(args),
        Command::Snapshot(args) => run::snapshot::main(args),
        Command::Compare(args) => compare::main(args),
        Command::Scale(args) => cmd::scale::main(args),
        Command::Report(args) => cmd::report::main(args),
        Command::Doctor(args) => cmd::doctor::main(args),
        Command::Rig(args) => rig::main(args),
        Command::Completions(args) => cmd::generate::completions(args, Cli::command()),
        Command::Man(args) => cmd::generate::man(args, Cli::command()),
        Command::Zygote(args) => cmd::zygote::main(args),
        Command::IoServe(args) => cmd::io_serve::main(args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("vmlab: error: {e:#}");
            ExitCode::from(1)
        }
    }
}
