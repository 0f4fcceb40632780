//! Which of KVM's state ioctls read and set back on this host: each one's
//! get → set round trip on a fresh VM with the in-kernel irqchip and PIT
//! (so the LAPIC, PIC, IOAPIC and PIT exist).
use super::ioctls;
use crate::builder::create_vm;
use crate::kvm::KvmHandle;
use crate::vcpu;

/// One state ioctl pair and how its round trip went.
#[derive(Clone, Debug)]
pub struct IoctlCheck {
    /// The state (e.g. `regs`, `msrs`).
    pub name: &'static str,
    /// `Ok(detail)` or the error of the get or the set.
    pub result: Result<String, String>,
}

fn check<T>(
    name: &'static str,
    get: impl FnOnce() -> Result<T, kvm_ioctls::Error>,
    set: impl FnOnce(&T) -> Result<(), kvm_ioctls::Error>,
) -> IoctlCheck {
    let result = match get() {
        Err(e) => Err(format!("get: {e}")),
        Ok(v) => set(&v)
            .map(|()| String::new())
            .map_err(|e| format!("set: {e}")),
    };
    IoctlCheck { name, result }
}

/// Runs every state ioctl's get → set round trip the snapshot uses.
pub fn check_ioctls() -> Result<Vec<IoctlCheck>, crate::Error> {
    let kvm = KvmHandle::open(true)?;
    let vm = create_vm(&kvm, true)?;
    let vcpu = vcpu::create(&vm)?;
    let mut out = vec![
        check("regs", || vcpu.get_regs(), |v| vcpu.set_regs(v)),
        check("sregs", || vcpu.get_sregs(), |v| vcpu.set_sregs(v)),
        check("fpu", || vcpu.get_fpu(), |v| vcpu.set_fpu(v)),
        check(
            "xsave",
            || vcpu.get_xsave(),
            // SAFETY: `v` is the whole `kvm_xsave` KVM just filled; KVM reads
            // no more than it wrote.
            |v| unsafe { vcpu.set_xsave(v) },
        ),
        check("xcrs", || vcpu.get_xcrs(), |v| vcpu.set_xcrs(v)),
        check("lapic", || vcpu.get_lapic(), |v| vcpu.set_lapic(v)),
        check(
            "vcpu_events",
            || vcpu.get_vcpu_events(),
            |v| vcpu.set_vcpu_events(v),
        ),
        check(
            "mp_state",
            || vcpu.get_mp_state(),
            |v| vcpu.set_mp_state(*v),
        ),
        check(
            "debugregs",
            || vcpu.get_debug_regs(),
            |v| vcpu.set_debug_regs(v),
        ),
        check(
            "cpuid2",
            || vcpu.get_cpuid2(kvm_bindings::KVM_MAX_CPUID_ENTRIES),
            |v| vcpu.set_cpuid2(v),
        ),
        check("clock", || vm.get_clock(), |v| vm.set_clock(v)),
        check("pit2", || vm.get_pit2(), |v| vm.set_pit2(v)),
    ];
    for (name, chip_id) in [
        ("irqchip_pic_master", kvm_bindings::KVM_IRQCHIP_PIC_MASTER),
        ("irqchip_pic_slave", kvm_bindings::KVM_IRQCHIP_PIC_SLAVE),
        ("irqchip_ioapic", kvm_bindings::KVM_IRQCHIP_IOAPIC),
    ] {
        out.push(check(
            name,
            || {
                let mut c = kvm_bindings::kvm_irqchip {
                    chip_id,
                    ..Default::default()
                };
                vm.get_irqchip(&mut c).map(|()| c)
            },
            |c| vm.set_irqchip(c),
        ));
    }
    // MSRs: the listed ones that read and set back one by one, then all of
    // them set at once as a restore does.
    let listed = kvm.kvm.get_msr_index_list().map(|l| l.as_slice().len());
    let result = match (listed, ioctls::msrs(&kvm.kvm, &vcpu)) {
        (Err(e), _) => Err(format!("KVM_GET_MSR_INDEX_LIST: {e}")),
        (_, Err(e)) => Err(e.to_string()),
        (Ok(listed), Ok(kept)) => {
            let all = kvm_bindings::Msrs::from_entries(&kept).map_err(|e| format!("{e:?}"));
            match all.map(|m| vcpu.set_msrs(&m)) {
                Ok(Ok(n)) if n == kept.len() => {
                    Ok(format!("{n} of {listed} listed MSRs set back at once"))
                }
                Ok(Ok(n)) => Err(format!("set {n} of {}", kept.len())),
                Ok(Err(e)) => Err(format!("set: {e}")),
                Err(e) => Err(e),
            }
        }
    };
    out.push(IoctlCheck {
        name: "msrs",
        result,
    });
    Ok(out)
}
