//! The two emulated CPUs the rig can give L1, and how the KVM kind that
//! vmlab sees inside L1 is relabelled in what the rig prints and stores.
use serde::Serialize;
use vmlab_vmm::kvm::KvmKind;

/// Which hardware virtualisation L1's emulator provides.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Cpu {
    /// AMD SVM with nested paging, under QEMU TCG (`kvm-amd` in L1).
    Amd,
    /// Intel VT-x with EPT and unrestricted guest, under Bochs (`kvm-intel` in L1).
    Intel,
}

impl Cpu {
    /// The vendor module L1 loads after `irqbypass` and `kvm`.
    pub fn kvm_module(self) -> &'static str {
        match self {
            Cpu::Amd => "kvm-amd",
            Cpu::Intel => "kvm-intel",
        }
    }

    /// What runs L1.
    pub fn emulator(self) -> &'static str {
        match self {
            Cpu::Amd => "QEMU TCG, emulated AMD SVM",
            Cpu::Intel => "Bochs, emulated Intel VT-x",
        }
    }

    /// The KVM kind vmlab reports inside L1 (it cannot tell emulation apart).
    pub fn label_inside(self) -> &'static str {
        match self {
            Cpu::Amd => KvmKind::Amd.label(),
            Cpu::Intel => KvmKind::Intel.label(),
        }
    }

    /// What the rig prints and stores instead.
    pub fn label(self) -> &'static str {
        match self {
            Cpu::Amd => "emulated AMD SVM (nested KVM in L1 under QEMU TCG, not hardware)",
            Cpu::Intel => "emulated Intel VT-x (nested KVM in L1 under Bochs, not hardware)",
        }
    }

    /// Replaces the inside label in `vmlab run --json` output (`facts.kvm`)
    /// and `vmlab snapshot --json` output (`kvm`).
    pub fn relabel_run(self, run: &mut serde_json::Value) {
        for at in ["/facts/kvm", "/kvm"] {
            if let Some(kvm) = run.pointer_mut(at) {
                if kvm.as_str() == Some(self.label_inside()) {
                    *kvm = self.label().into();
                }
            }
        }
    }

    /// Replaces the inside label in free text (a check's stderr).
    pub fn relabel_text(self, text: &str) -> String {
        text.replace(self.label_inside(), self.label())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hardware_label_from_inside_l1_becomes_emulated() {
        for cpu in [Cpu::Amd, Cpu::Intel] {
            let mut run = serde_json::json!({"facts": {"kvm": cpu.label_inside()}});
            cpu.relabel_run(&mut run);
            let kvm = run["facts"]["kvm"].as_str().unwrap();
            assert!(kvm.starts_with("emulated"), "{kvm}");
            assert!(!kvm.contains("hardware ("), "{kvm}");
            let mut snap = serde_json::json!({"kvm": cpu.label_inside(), "msrs": 3});
            cpu.relabel_run(&mut snap);
            assert_eq!(snap["kvm"], cpu.label());
            let text = cpu.relabel_text(&format!("kvm: {}\n", cpu.label_inside()));
            assert_eq!(text, format!("kvm: {}\n", cpu.label()));
        }
    }

    #[test]
    fn other_labels_and_shapes_are_left_alone() {
        let mut run = serde_json::json!({"facts": {"kvm": KvmKind::Pvm.label()}});
        Cpu::Intel.relabel_run(&mut run);
        assert_eq!(run["facts"]["kvm"], KvmKind::Pvm.label());
        let mut odd = serde_json::json!({"exit_code": 3});
        Cpu::Intel.relabel_run(&mut odd);
        assert_eq!(odd, serde_json::json!({"exit_code": 3}));
    }

    #[test]
    fn each_cpu_loads_its_vendor_module() {
        assert_eq!(Cpu::Amd.kvm_module(), "kvm-amd");
        assert_eq!(Cpu::Intel.kvm_module(), "kvm-intel");
    }
}
