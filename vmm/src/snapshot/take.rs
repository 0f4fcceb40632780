//! Taking a snapshot: boot the bare guest to its snapshot mark, complete
//! the pending port I/O, read the state and write the file.
use std::path::{Path, PathBuf};
use std::time::Duration;

use vmlab_workload::protocol::SNAPSHOT_MARK;

use super::state::{Config, State};
use super::{file, ioctls, Error};
use crate::builder::{self, Control, Timeline, BARE_MIN_MIB};
use crate::devices::port::PortBus;
use crate::kvm::{KvmHandle, KvmKind};
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
}

/// Boots the bare guest of `config` (its arguments get `--snapshot` when
/// they lack it) to its snapshot mark and writes a snapshot to `out`.
/// The VMM runs unjailed (a jailed VMM cannot create files).
pub fn take(config: VmConfig<'_>, out: &Path) -> Result<Taken, crate::Error> {
    if config.jail {
        return Err(Error::Unsupported("a jailed VMM (it cannot write the file)").into());
    }
    let Guest::Bare { elf, args } = &config.guest else {
        return Err(Error::Unsupported("a Linux guest (only the bare guest)").into());
    };
    let args = if args.split_whitespace().any(|a| a == SNAPSHOT_FLAG) {
        args.clone()
    } else {
        format!("{args} {SNAPSHOT_FLAG}").trim().to_string()
    };
    memory::check_size(config.mem_mib, BARE_MIN_MIB, memory::host_mib())?;
    let mut t = Timeline::new();
    let kvm = KvmHandle::open(false)?;
    t.mark("kvm_open");
    let guest = Guest::Bare { elf, args };
    let m = builder::setup(&mut t, kvm, &guest, config.mem_mib, None)?;
    let bus = PortBus::new(config.serial_stream);
    let ctl = Control {
        timeout: config.timeout,
        jailed: None,
        keep: Vec::new(),
        probe: None,
        stop_at_snapshot: true,
    };
    let (mut m, bus, result, ran, _) = builder::drive(&mut t, m, bus, &ctl)?;
    let failed = |failure: vm::Error, bus: PortBus, ran: &vm::Ran| {
        let (console, console_dropped_bytes) = bus.serial.into_output();
        crate::Error::Guest {
            failure,
            console,
            console_dropped_bytes,
            exits: ran.exits.clone(),
        }
    };
    match result {
        Ok(vm::Stop::Snapshot) => {}
        Ok(vm::Stop::Exited) => {
            return Err(Error::NoMark {
                code: ran.exit_code,
            }
            .into())
        }
        Err(e) => return Err(failed(e, bus, &ran)),
    }
    if let Err(e) = vm::complete_io(&mut m.vcpu) {
        return Err(failed(e, bus, &ran));
    }
    let to_mark = ran
        .marks
        .iter()
        .rev()
        .find(|(id, _)| *id == SNAPSHOT_MARK)
        .map_or(Duration::ZERO, |&(_, d)| d);
    let vcpu = ioctls::capture_vcpu(&m.kvm.kvm, &m.vm, &m.vcpu, m.irqchip)?;
    let vm_state = ioctls::capture_vm(&m.vm, m.irqchip)?;
    let state = State {
        config: Config {
            mem_mib: m.mem_mib,
            tsc_khz: m.tsc_khz,
            irqchip: m.irqchip,
            entry: m.entry.to_string(),
            to_mark_ns: to_mark.as_nanos() as u64,
        },
        host_cpuid: ioctls::host_cpuid(),
        devices: bus.state(),
        vcpu,
        vm: vm_state,
    };
    let written = file::write(out, &state, &m.mem)?;
    let write_ns = t.start.elapsed().saturating_sub(to_mark).as_nanos() as u64;
    let kvm_kind = m.kvm.kind;
    let mem_bytes = memory::bytes(m.mem_mib).unwrap_or(0);
    drop(m);
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
    })
}
