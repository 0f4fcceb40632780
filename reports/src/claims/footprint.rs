//! The footprint claims: image size, memory, and what each kind needs from
//! the host.
use super::pairs::{class, no_reason, select, BackendClass, Need};
use super::verdict::{ratio_verdict, Claim, Verdict};
use crate::charts::{fmt_bytes, fmt_ratio};
use crate::model::{BackendKind, BackendResult, Results};
use crate::stats::CLAIM_THRESHOLD;

/// What each kind of backend needs from the host, in words.
pub fn host_dependencies(kind: BackendKind) -> &'static str {
    match kind {
        BackendKind::Process => "the host's kernel and its user space",
        BackendKind::Container => {
            "the host's Linux kernel (its system calls run there: namespaces, cgroups, seccomp) and a runtime"
        }
        BackendKind::Vm => "KVM (/dev/kvm) and a VMM; brings its own kernel (vm-bare: none)",
    }
}

fn has_image(b: &BackendResult) -> usize {
    usize::from(b.image.is_some())
}

fn smallest<'r>(bs: &[&'r BackendResult]) -> &'r BackendResult {
    let size = |b: &BackendResult| b.image.as_ref().map_or(u64::MAX, |i| i.uncompressed);
    bs.iter().copied().min_by_key(|b| size(b)).unwrap_or(bs[0])
}

fn image_figure(b: &BackendResult) -> String {
    let Some(i) = &b.image else {
        return "–".into();
    };
    let expanded = i
        .expanded
        .map(|e| format!(", expanded {}", fmt_bytes(e as f64)))
        .unwrap_or_default();
    format!(
        "{}: {} as shipped (zstd {}{expanded})",
        b.name,
        fmt_bytes(i.uncompressed as f64),
        fmt_bytes(i.zstd as f64)
    )
}

/// "VMs generally have larger size than containers".
pub(super) fn size(results: &Results) -> Claim {
    let c = Claim::new(
        vec!["VMs generally have larger size than containers"],
        "Linux containers vs Linux VMs",
        "image: bytes of the files each backend boots, as shipped and zstd-compressed (a Linux VM: kernel + initramfs; a container: root filesystem or OCI layout)",
        &format!("exact byte counts (no sampling): the smallest Linux VM image ÷ the smallest container image, as shipped and zstd; a verdict needs both ratios past {CLAIM_THRESHOLD}× (or 1/{CLAIM_THRESHOLD}×) the same way"),
    );
    // Sizes are bytes on disk: emulation does not change them.
    let need = |class| Need {
        class,
        native: false,
        what: "image size",
        n: &has_image,
        min_n: 1,
        missing: no_reason,
    };
    let containers = match select(results, &need(BackendClass::LinuxContainer)) {
        Ok(v) => v,
        Err(why) => return c.not_measurable(why),
    };
    let vms = match select(results, &need(BackendClass::LinuxVm)) {
        Ok(v) => v,
        Err(why) => return c.not_measurable(why),
    };
    let (cb, vb) = (smallest(&containers), smallest(&vms));
    let (Some(ci), Some(vi)) = (&cb.image, &vb.image) else {
        return c.not_measurable("an image size went missing");
    };
    let mut c = c;
    c.container = image_figure(cb);
    c.vm = image_figure(vb);
    let raw = ratio_verdict(
        vi.uncompressed as f64 / ci.uncompressed as f64,
        None,
        CLAIM_THRESHOLD,
    );
    let zstd = ratio_verdict(vi.zstd as f64 / ci.zstd as f64, None, CLAIM_THRESHOLD);
    let verdict = if raw == zstd { raw } else { Verdict::Mixed };
    let mut reason = format!(
        "{} ({}) against {} ({}): {} as shipped, {} compressed.",
        vb.name,
        vi.contents,
        cb.name,
        ci.contents,
        fmt_ratio(vi.uncompressed as f64 / ci.uncompressed as f64),
        fmt_ratio(vi.zstd as f64 / ci.zstd as f64)
    );
    if let Some(bare) = results
        .backends
        .iter()
        .find(|b| class(b) == BackendClass::UnikernelVm && b.image.is_some())
    {
        reason.push_str(&format!(
            " Not counted: {}, a VM image with no kernel at all.",
            image_figure(bare)
        ));
    }
    reason
        .push_str(" A container image does not carry the kernel it runs on: the host provides it.");
    c.set(verdict, reason);
    c
}

/// Memory per extra held instance (the slope of `vmlab scale`'s density
/// run), where one was measured.
fn held_bytes(results: &Results, b: &BackendResult) -> Option<f64> {
    results
        .scale
        .iter()
        .find(|s| s.backend == b.name && s.density.len() >= 3)
        .and_then(|s| s.bytes_per_instance)
        .filter(|v| *v > 0.0)
}

/// "Containers are more lightweight" (memory): what each extra instance
/// costs the host when many are held at once, never one instance's peak.
pub(super) fn memory(results: &Results) -> Claim {
    let c = Claim::new(
        vec!["Containers are more \"lightweight\""],
        "Linux containers vs Linux VMs",
        "memory per extra held instance (slope of the host's MemAvailable over N instances held at once, kernel-side memory included)",
        &format!("the lightest Linux VM ÷ the lightest Linux container (one slope per backend, so there is no interval on the ratio); threshold {CLAIM_THRESHOLD}×; native runs only"),
    );
    let held = |b: &BackendResult| held_bytes(results, b);
    let any = |b: &BackendResult| usize::from(held(b).is_some());
    let need = |class| Need {
        class,
        native: true,
        what: "memory per extra held instance (vmlab scale, or compare's scale section)",
        n: &any,
        min_n: 1,
        missing: no_reason,
    };
    let containers = match select(results, &need(BackendClass::LinuxContainer)) {
        Ok(v) => v,
        Err(why) => return c.not_measurable(why),
    };
    let vms = match select(results, &need(BackendClass::LinuxVm)) {
        Ok(v) => v,
        Err(why) => return c.not_measurable(why),
    };
    let lightest = |bs: &[&BackendResult]| {
        bs.iter()
            .filter_map(|b| held(b).map(|m| (b.name.clone(), m)))
            .min_by(|a, b| a.1.total_cmp(&b.1))
    };
    let (Some((cn, cm)), Some((vn, vm))) = (lightest(&containers), lightest(&vms)) else {
        return c.not_measurable(
            "memory per extra held instance was not measured for both a Linux container and a Linux VM; one instance's peak RSS does not say what an extra instance costs",
        );
    };
    let mut c = c;
    c.container = format!("{cn}: {} per extra held instance", fmt_bytes(cm));
    c.vm = format!("{vn}: {} per extra held instance", fmt_bytes(vm));
    let ratio = vm / cm;
    let verdict = ratio_verdict(ratio, None, CLAIM_THRESHOLD);
    c.set(
        verdict,
        format!(
            "{vn} needs {} the memory of {cn} per extra held instance. Measured over many held instances: MemAvailable counts kernel-side memory (page tables, KVM, namespaces, cgroups) too.",
            fmt_ratio(ratio)
        ),
    );
    c
}

/// "Containers can pack up all its dependencies".
pub(super) fn dependencies(results: &Results) -> Claim {
    let mut c = Claim::new(
        vec!["Containers can pack up all its dependencies (require less dependencies on OS level)"],
        "Linux containers vs Linux VMs",
        "what each kind needs from the host, next to what its image carries",
        "none: a dependency list is not a quantity, so no threshold can decide it",
    );
    c.container = host_dependencies(BackendKind::Container).into();
    c.vm = host_dependencies(BackendKind::Vm).into();
    let files = |class| {
        results
            .backends
            .iter()
            .filter(|b| super::pairs::class(b) == class)
            .find_map(|b| {
                b.image
                    .as_ref()
                    .map(|i| format!("{} ({} files)", b.name, i.files))
            })
    };
    let mut reason = String::from(
        "Both kinds here pack the same user space (one static workload binary), so what they pack is equal by \
         construction; they differ in what they take from the host: a container the host's kernel and its \
         features, a VM the hypervisor interface only.",
    );
    if let (Some(ci), Some(vi)) = (
        files(BackendClass::LinuxContainer),
        files(BackendClass::LinuxVm),
    ) {
        reason.push_str(&format!(" Images: {ci}; {vi}."));
    }
    c.set(Verdict::NotMeasurable, reason);
    c
}
