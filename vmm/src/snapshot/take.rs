//! Taking a snapshot: boot the guest to its snapshot mark, complete
//! the pending port I/O, read the state and write the file.
use std::path::{Path, PathBuf};
use std::time::Duration;

use vmlab_workload::protocol::SNAPSHOT_MARK;

use super::state::{Config, State};
use super::{file, ioctls, Error};
use crate::builder;
use crate::kvm::{KvmHandle, KvmKind};
use crate::machine::{self, Machine, Timeline};
use crate::{memory, vm, Guest, VmConfig};

/// The workload flag that makes it send the snapshot mark.
pub const SNAPSHOT_FLAG: &str = "--snapshot";

/// A snapshot written.
#[derive(Clone, Debug)]
pub struct Taken {
    /// Where it is.
    pub path: PathBuf,
    /// The file's length (memory holes included).
    pub bytes: u64,
    /// What it occupies on disk (its all-zero pages are holes).
    pub disk_bytes: u64,
    /// Guest RAM in bytes (the memory image's length).
    pub mem_bytes: u64,
    /// Guest pages written (not all zero).
    pub data_pages: u64,
    /// MSRs saved.
    pub msrs: usize,
    /// From the start of the boot to the snapshot mark, ns.
    pub to_mark_ns: u64,
    /// From the mark to the file renamed into place, ns.
    pub write_ns: u64,
    /// The KVM kind that ran it.
    pub kvm_kind: KvmKind,
    /// What the guest wrote to COM1 before the mark.
    pub console: Vec<u8>,
    /// Temporary files of snapshot writers that died mid-write, found in
    /// the target's directory and removed before this one was written.
    pub swept: Vec<PathBuf>,
}

/// Boots the guest of `config` (the bare guest, or a Linux kernel with the
/// workload initramfs; its arguments get `--snapshot` when they lack it)
/// to its snapshot mark and writes a snapshot to `out`. A Linux guest's
/// snapshot also holds its in-kernel irqchip (PICs, IOAPIC, LAPIC), PIT,
/// CPUID and kvmclock MSRs (see [`crate::snapshot`]).
/// The VMM runs unjailed (a jailed VMM cannot create files); virtio
/// devices are refused. A hold gate is not used: the run stops at the mark,
/// before the guest's hold, and a restore answers the hold port at once.
pub fn take(config: VmConfig<'_>, out: &Path) -> Result<Taken, crate::Error> {
    if config.jail {
        return Err(Error::Unsupported("a jailed VMM (it cannot write the file)").into());
    }
    if !config.virtio.is_empty() {
        return Err(Error::Unsupported("virtio devices (their queues are not saved)").into());
    }
    let guest = with_snapshot_flag(&config.guest);
    let mut t = Timeline::new();
    // A Linux guest's kernel and initramfs are read first (`read_files`).
    let linux_files = builder::prepare(&mut t, &guest, config.mem_mib)?;
    let kvm = KvmHandle::open(linux_files.is_some())?;
    t.mark("kvm_open");
    let devices = machine::Devices {
        serial_stream: config.serial_stream,
        virtio: Vec::new(),
        virtio_selftest: false,
    };
    let mut m = machine::setup(
        t,
        &kvm,
        &guest,
        linux_files.as_ref(),
        config.mem_mib,
        devices,
    )?;
    let timer = machine::arm(config.timeout)?;
    let result = m.run_until(config.timeout, vm::Hold::Answer, true, &timer);
    drop(timer);
    m.kvm = Some(kvm);
    // A failure is reported as a boot's would be (console and exits kept).
    let failed = |m: Machine, e: vm::Error| {
        m.finish(Err(e), false, None)
            .expect_err("a failed run is an error")
    };
    match result {
        Ok(vm::Stop::Snapshot) => {}
        Ok(_) => {
            return Err(Error::NoMark {
                code: m.exit_code(),
            }
            .into())
        }
        Err(e) => return Err(failed(m, e)),
    }
    if let Err(e) = complete_io(&mut m.vcpu) {
        return Err(failed(m, e));
    }
    let to_mark = m
        .ran
        .marks
        .iter()
        .rev()
        .find(|(id, _)| *id == SNAPSHOT_MARK)
        .map_or(Duration::ZERO, |&(_, d)| d);
    let kvm = m.kvm.as_ref().expect("set above");
    let mut vcpu = ioctls::capture_vcpu(&kvm.kvm, &m.vm, &m.vcpu, m.is_linux)?;
    if m.kvm_kind == KvmKind::Amd {
        ioctls::tr_as_svm_holds_it(&mut vcpu.sregs);
    }
    let vm_state = ioctls::capture_vm(&m.vm, m.is_linux)?;
    let state = State {
        config: Config {
            mem_mib: m.mem_mib,
            tsc_khz: m.tsc_khz,
            irqchip: m.is_linux,
            entry: m.entry.to_string(),
            to_mark_ns: to_mark.as_nanos() as u64,
        },
        host_cpuid: ioctls::host_cpuid().to_vec(),
        devices: m.bus.state(),
        vcpu,
        vm: vm_state,
    };
    let written = file::write(out, &state, &m.mem)?;
    let write_ns = m.t.start.elapsed().saturating_sub(to_mark).as_nanos() as u64;
    let kvm_kind = m.kvm_kind;
    let mem_bytes = memory::bytes(m.mem_mib).unwrap_or(0);
    let Machine {
        vcpu,
        vm,
        mem,
        kvm,
        bus,
        ..
    } = m;
    // Torn down in order: vCPU, VM, memory, KVM.
    drop((vcpu, vm, mem, kvm));
    let (console, _) = bus.serial.into_output();
    Ok(Taken {
        path: out.to_path_buf(),
        bytes: written.bytes,
        disk_bytes: written.disk_bytes,
        mem_bytes,
        data_pages: written.data_pages,
        msrs: state.vcpu.msrs.len(),
        to_mark_ns: state.config.to_mark_ns,
        write_ns,
        kvm_kind,
        console,
        swept: written.swept,
    })
}

/// `guest` with the workload's [`SNAPSHOT_FLAG`] added to its arguments
/// where they lack it (the bare guest's argument string, a Linux guest's
/// init arguments).
fn with_snapshot_flag<'a>(guest: &Guest<'a>) -> Guest<'a> {
    match guest {
        Guest::Bare { elf, args } => {
            let args = if args.split_whitespace().any(|a| a == SNAPSHOT_FLAG) {
                args.clone()
            } else {
                format!("{args} {SNAPSHOT_FLAG}").trim().to_string()
            };
            Guest::Bare { elf, args }
        }
        Guest::Linux(l) => {
            let mut l = l.clone();
            if !l.init_args.iter().any(|a| a == SNAPSHOT_FLAG) {
                l.init_args.push(SNAPSHOT_FLAG.to_string());
            }
            Guest::Linux(l)
        }
    }
}

/// Completes the port I/O the vCPU last exited on without running guest
/// code: `KVM_RUN` with `immediate_exit` set finishes the pending
/// instruction (rip moves past the `out`) and returns `EINTR` at once, so
/// the state read afterwards is that of an instruction boundary.
fn complete_io(vcpu: &mut kvm_ioctls::VcpuFd) -> Result<(), vm::Error> {
    vcpu.set_kvm_immediate_exit(1);
    let r = vcpu.run().map(|_| ());
    vcpu.set_kvm_immediate_exit(0);
    match r {
        Err(e) if e.errno() == libc::EINTR => Ok(()),
        Err(e) => Err(vm::Error::Run(e)),
        Ok(()) => Err(vm::Error::UnexpectedExit(
            "an exit while completing port I/O with immediate_exit set".into(),
        )),
    }
}
