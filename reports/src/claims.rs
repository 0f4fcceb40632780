//! The claims table: what the seed notes say about VMs and containers, the
//! metric each claim maps to, this machine's numbers and a verdict.
//!
//! Each claim compares the *best* container (smallest value of the metric)
//! with the *best* VM, so a slow runtime cannot make a whole technology look
//! slow. Timing verdicts need the permutation test (p < [`ALPHA`]) and a gap
//! above the noise threshold; otherwise the verdict is "mixed".
use serde::Serialize;

use crate::charts::{fmt_bytes, fmt_ns, fmt_ratio};
use crate::figures::{best, overhead_ratios, ready, OverheadRatio};
use crate::model::{BackendKind, BackendResult, Results};
use crate::stats::{as_f64, permutation_test, ALPHA, NOISE_THRESHOLD, SEED};

/// What this machine says about a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// The numbers agree with the claim.
    Supported,
    /// The numbers say the opposite.
    Contradicted,
    /// No clear difference, or the parts of the claim disagree.
    Mixed,
    /// This run has no figure that answers the claim.
    NotMeasurable,
}

impl Verdict {
    /// A short human label.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Supported => "supported",
            Verdict::Contradicted => "contradicted",
            Verdict::Mixed => "mixed",
            Verdict::NotMeasurable => "not measurable here",
        }
    }
}

/// One row of the claims table.
#[derive(Debug, Clone, Serialize)]
pub struct Claim {
    /// The notes' words, verbatim.
    pub quotes: Vec<&'static str>,
    /// The metric the claim maps to.
    pub metric: String,
    /// This machine's best container figure.
    pub container: String,
    /// This machine's best VM figure.
    pub vm: String,
    /// The verdict.
    pub verdict: Verdict,
    /// The verdict's label.
    pub verdict_label: &'static str,
    /// Why, including what the figure does not measure.
    pub reason: String,
}

impl Claim {
    fn new(quotes: Vec<&'static str>, metric: &str) -> Claim {
        Claim {
            quotes,
            metric: metric.to_string(),
            container: "–".into(),
            vm: "–".into(),
            verdict: Verdict::NotMeasurable,
            verdict_label: Verdict::NotMeasurable.label(),
            reason: String::new(),
        }
    }

    fn set(&mut self, verdict: Verdict, reason: String) {
        self.verdict = verdict;
        self.verdict_label = verdict.label();
        self.reason = reason;
    }
}

const EMULATED_NOTE: &str = " The VM figure comes from software-nested KVM (pvm) or emulation: every guest instruction is emulated here, so hardware KVM would give a different, much smaller VM figure.";

/// Every claim, in the order the notes make them.
pub fn claims(results: &Results) -> Vec<Claim> {
    let ratios = overhead_ratios(results);
    vec![
        boot_claim(results),
        size_claim(results),
        isolation_claim(results, &ratios),
        lightweight_claim(results, &ratios),
    ]
}

fn median_ready(b: &BackendResult) -> Option<f64> {
    ready(b).map(|s| s.median)
}

fn boot_claim(results: &Results) -> Claim {
    let mut c = Claim::new(
        vec![
            "Containers are more \"lightweight\" and have faster booting time",
            "VM has slower booting time",
        ],
        "boot.to_ready: median time from the backend's first action to the workload's ready mark",
    );
    let (Some((cb, cm)), Some((vb, vm))) = (
        best(results, BackendKind::Container, median_ready),
        best(results, BackendKind::Vm, median_ready),
    ) else {
        c.reason =
            "This run has no boot samples for at least one container and one VM backend.".into();
        return c;
    };
    c.container = format!("{}: {}", cb.name, fmt_ns(cm));
    c.vm = format!("{}: {}", vb.label(), fmt_ns(vm));
    let p = permutation_test(
        &as_f64(&cb.boot.to_ready_ns),
        &as_f64(&vb.boot.to_ready_ns),
        SEED,
    );
    let gap = vm / cm;
    let (verdict, mut reason) = if p < ALPHA && gap > 1.0 + NOISE_THRESHOLD {
        (
            Verdict::Supported,
            format!(
                "The fastest container is ready {} sooner than the fastest VM ({} faster; permutation test p = {p:.4}).",
                fmt_ns(vm - cm),
                fmt_ratio(gap)
            ),
        )
    } else if p < ALPHA && gap < 1.0 - NOISE_THRESHOLD {
        (
            Verdict::Contradicted,
            format!(
                "The fastest VM is ready {} sooner than the fastest container (p = {p:.4}).",
                fmt_ns(cm - vm)
            ),
        )
    } else {
        (
            Verdict::Mixed,
            format!("No clear difference between the fastest container and the fastest VM (ratio {}, p = {p:.4}).", fmt_ratio(gap)),
        )
    };
    // Where the technologies overlap, say so: a fast VM can beat a slow runtime.
    let slower: Vec<&str> = results
        .backends
        .iter()
        .filter(|b| b.available && b.kind == BackendKind::Container)
        .filter(|b| median_ready(b).is_some_and(|m| m > vm))
        .map(|b| b.name.as_str())
        .collect();
    if !slower.is_empty() {
        reason.push_str(&format!(
            " Yet {} boots faster than {}.",
            vb.name,
            slower.join(", ")
        ));
    }
    if vb.emulated || results.host.kvm.is_software() {
        reason.push_str(EMULATED_NOTE);
    }
    c.set(verdict, reason);
    c
}

fn size_claim(results: &Results) -> Claim {
    let mut c = Claim::new(
        vec!["VMs generally have larger size than containers"],
        "image: bytes shipped (uncompressed and zstd); VM = kernel + initramfs or bare ELF, container = rootfs or OCI layout",
    );
    let size = |b: &BackendResult| b.image.as_ref().map(|i| i.uncompressed as f64);
    let (Some((cb, _)), Some((vb, _))) = (
        best(results, BackendKind::Container, size),
        best(results, BackendKind::Vm, size),
    ) else {
        c.reason =
            "This run has no image sizes for at least one container and one VM backend.".into();
        return c;
    };
    let (Some(ci), Some(vi)) = (&cb.image, &vb.image) else {
        return c;
    };
    c.container = format!(
        "{}: {} (zstd {})",
        cb.name,
        fmt_bytes(ci.uncompressed as f64),
        fmt_bytes(ci.zstd as f64)
    );
    c.vm = format!(
        "{}: {} (zstd {})",
        vb.label(),
        fmt_bytes(vi.uncompressed as f64),
        fmt_bytes(vi.zstd as f64)
    );
    let larger_raw = vi.uncompressed > ci.uncompressed;
    let larger_zstd = vi.zstd > ci.zstd;
    let what = format!(
        "Smallest VM image ({}: {}) against smallest container image ({}: {}).",
        vb.name, vi.contents, cb.name, ci.contents
    );
    let (verdict, why) = match (larger_raw, larger_zstd) {
        (true, true) => (Verdict::Supported, "The VM image is larger both uncompressed and compressed."),
        (false, false) => (
            Verdict::Contradicted,
            "The VM image is smaller both uncompressed and compressed: a VM image need not carry a general-purpose kernel.",
        ),
        _ => (Verdict::Mixed, "Which is larger depends on compression."),
    };
    let others: Vec<String> = results
        .backends
        .iter()
        .filter(|b| b.kind == BackendKind::Vm && b.name != vb.name)
        .filter_map(|b| b.image.as_ref().map(|i| (b, i)))
        .filter(|(_, i)| i.uncompressed > ci.uncompressed)
        .map(|(b, i)| format!("{} ({})", b.name, fmt_bytes(i.uncompressed as f64)))
        .collect();
    let mut reason = format!("{what} {why}");
    if !others.is_empty() && verdict != Verdict::Supported {
        reason.push_str(&format!(
            " Larger than the container: {}.",
            others.join(", ")
        ));
    }
    c.set(verdict, reason);
    c
}

/// The `crossing` kernel's ratio (a null system call in a process or
/// container, a port read that exits to the VMM in a VM) of the backend of
/// `kind` with the smallest ratio.
fn boundary(ratios: &[OverheadRatio], kind: BackendKind) -> Option<&OverheadRatio> {
    ratios
        .iter()
        .filter(|r| r.kind == kind && r.kernel == "crossing")
        .min_by(|a, b| a.ratio.total_cmp(&b.ratio))
}

fn isolation_claim(results: &Results, ratios: &[OverheadRatio]) -> Claim {
    let mut c = Claim::new(
        vec!["VM provides better isolation"],
        "no single figure: shown is the cost of one round trip across the isolation boundary (kernel `crossing`: a null system call, or a port read that exits to the VMM), as a ratio to the plain process",
    );
    let cb = boundary(ratios, BackendKind::Container);
    let vb = boundary(ratios, BackendKind::Vm);
    if let Some(r) = cb {
        c.container = format!("{}: {}", r.backend, fmt_ratio(r.ratio));
    }
    if let Some(r) = vb {
        c.vm = format!("{}: {}", r.label, fmt_ratio(r.ratio));
    }
    let mut reason = String::from(
        "How well a boundary holds is not a timing, so there is no verdict here. (vmlab's test suite does \
         try a list of escapes from its own sandbox, in root and rootless mode, and requires all to fail; that checks one \
         configuration, it does not rank containers against VMs.) \
         What differs by construction: a container's system calls reach the shared host kernel (narrowed by \
         namespaces, seccomp and capabilities); a VM's reach its own guest kernel, and only VM exits (port I/O, \
         MMIO, a few emulated devices) reach the VMM and the host's KVM. The figures show what crossing that \
         boundary costs, not how hard it is to break. Not measured: kernel or VMM bugs, side channels, \
         configuration mistakes.",
    );
    if vb.is_some_and(|r| r.emulated) || (vb.is_some() && results.host.kvm.is_software()) {
        reason.push_str(EMULATED_NOTE);
    }
    c.set(Verdict::NotMeasurable, reason);
    c
}

fn lightweight_claim(results: &Results, ratios: &[OverheadRatio]) -> Claim {
    let mut c = Claim::new(
        vec!["Containers are more \"lightweight\""],
        "memory.per_instance: extra memory per additional instance (peak RSS when not measured)",
    );
    let mem = |b: &BackendResult| {
        b.memory
            .as_ref()
            .map(|m| m.per_instance_bytes.unwrap_or(m.rss_bytes) as f64)
    };
    let (Some((cb, cm)), Some((vb, vm))) = (
        best(results, BackendKind::Container, mem),
        best(results, BackendKind::Vm, mem),
    ) else {
        c.reason =
            "This run has no memory figures for at least one container and one VM backend.".into();
        return c;
    };
    c.container = format!("{}: {}", cb.name, fmt_bytes(cm));
    c.vm = format!("{}: {}", vb.label(), fmt_bytes(vm));
    let gap = vm / cm;
    let (verdict, mut reason) = if gap > 1.0 + NOISE_THRESHOLD {
        (
            Verdict::Supported,
            format!(
                "The lightest VM needs {} the memory of the lightest container.",
                fmt_ratio(gap)
            ),
        )
    } else if gap < 1.0 - NOISE_THRESHOLD {
        (
            Verdict::Contradicted,
            format!(
                "The lightest VM needs only {} the memory of the lightest container.",
                fmt_ratio(gap)
            ),
        )
    } else {
        (
            Verdict::Mixed,
            format!(
                "Memory differs by less than {:.0} % ({}).",
                NOISE_THRESHOLD * 100.0,
                fmt_ratio(gap)
            ),
        )
    };
    let cpu = |kind| {
        ratios
            .iter()
            .filter(|r| r.kind == kind && r.kernel == "cpu")
            .min_by(|a, b| a.ratio.total_cmp(&b.ratio))
    };
    if let (Some(cc), Some(vc)) = (cpu(BackendKind::Container), cpu(BackendKind::Vm)) {
        reason.push_str(&format!(
            " Run-time cost of the `cpu` kernel relative to the plain process: {} {} vs {} {}.",
            cc.backend,
            fmt_ratio(cc.ratio),
            vc.label,
            fmt_ratio(vc.ratio)
        ));
        if vc.emulated || results.host.kvm.is_software() {
            reason.push_str(EMULATED_NOTE);
        }
    }
    c.set(verdict, reason);
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdict_labels() {
        assert_eq!(Verdict::NotMeasurable.label(), "not measurable here");
        assert_eq!(
            serde_json::to_string(&Verdict::NotMeasurable).unwrap(),
            "\"not-measurable\""
        );
    }
}
