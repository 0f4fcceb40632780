//! The boot-time claims: Linux containers against Linux VMs, and the
//! unikernel-style VM against the process and the sandbox.
use super::pairs::{select, BackendClass, Need};
use super::verdict::{ratio_verdict, Claim, Verdict};
use crate::charts::{fmt_ns, fmt_ratio};
use crate::model::{BackendResult, Results};
use crate::stats::{as_f64, median, ratio_ci, CLAIM_THRESHOLD, MIN_N_RATIO};

const QUOTES: [&str; 2] = [
    "Containers are more \"lightweight\" and have faster booting time",
    "VM has slower booting time",
];

const METRIC: &str =
    "boot.to_ready: time from the spawn of the backend's command to the workload's ready mark";

fn test() -> String {
    format!(
        "ratio of medians VM ÷ container; its distribution-free 95 % interval (order statistics, \
         each median at 97.5 %) must exclude 1 and the ratio pass {CLAIM_THRESHOLD}× (or 1/{CLAIM_THRESHOLD}×); \
         native runs only, n ≥ {MIN_N_RATIO} per side"
    )
}

fn n_ready(b: &BackendResult) -> usize {
    b.boot.to_ready_ns.len()
}

fn ready(b: &BackendResult) -> Vec<f64> {
    as_f64(&b.boot.to_ready_ns)
}

fn need(class: BackendClass) -> Need<'static> {
    Need {
        class,
        native: true,
        what: "boot samples",
        n: &n_ready,
        min_n: MIN_N_RATIO,
    }
}

/// The fastest of `bs` by median to-ready.
fn fastest<'r>(bs: &[&'r BackendResult]) -> &'r BackendResult {
    bs.iter()
        .copied()
        .min_by(|a, b| median(&ready(a)).total_cmp(&median(&ready(b))))
        .unwrap_or(bs[0])
}

/// The verdict and its sentence for `vm` against `container`.
fn judge(vm: &BackendResult, container: &BackendResult) -> (Verdict, f64, Option<(f64, f64)>) {
    let (v, c) = (ready(vm), ready(container));
    let ratio = median(&v) / median(&c);
    let ci = ratio_ci(&v, &c);
    (ratio_verdict(ratio, ci, CLAIM_THRESHOLD), ratio, ci)
}

fn ci_text(ci: Option<(f64, f64)>) -> String {
    ci.map_or("no interval".into(), |(lo, hi)| {
        format!("95 % interval [{}, {}]", fmt_ratio(lo), fmt_ratio(hi))
    })
}

fn sentence(
    verdict: Verdict,
    vm: &str,
    container: &str,
    ratio: f64,
    ci: Option<(f64, f64)>,
) -> String {
    let how = match verdict {
        Verdict::Supported => "boots slower than",
        Verdict::Contradicted => "boots faster than",
        _ => "shows no difference beyond the threshold from",
    };
    format!(
        "{vm} {how} {container}: ratio {} ({}).",
        fmt_ratio(ratio),
        ci_text(ci)
    )
}

/// Linux containers against Linux VMs.
pub(super) fn linux(results: &Results) -> Claim {
    let c = Claim::new(
        QUOTES.to_vec(),
        "Linux containers vs Linux VMs",
        METRIC,
        &test(),
    );
    let containers = match select(results, &need(BackendClass::LinuxContainer)) {
        Ok(v) => v,
        Err(why) => return c.not_measurable(why),
    };
    let vms = match select(results, &need(BackendClass::LinuxVm)) {
        Ok(v) => v,
        Err(why) => return c.not_measurable(format!("{why} vm-bare runs no OS, so it is not compared with Linux containers here (see its own row).")),
    };
    let (cb, vb) = (fastest(&containers), fastest(&vms));
    let mut c = c;
    c.container = format!("{}: {}", cb.name, fmt_ns(median(&ready(cb))));
    c.vm = format!("{}: {}", vb.name, fmt_ns(median(&ready(vb))));
    let (verdict, ratio, ci) = judge(vb, cb);
    let mut reason = format!(
        "Fastest against fastest. {}",
        sentence(verdict, &vb.name, &cb.name, ratio, ci)
    );
    // Every other comparable pair, so one pair cannot hide the rest.
    let mut tally = [0usize; 3];
    for v in &vms {
        for k in &containers {
            match judge(v, k).0 {
                Verdict::Supported => tally[0] += 1,
                Verdict::Contradicted => tally[1] += 1,
                _ => tally[2] += 1,
            }
        }
    }
    reason.push_str(&format!(
        " Over all {} native pairs: {} VM slower, {} VM faster, {} no clear difference.",
        vms.len() * containers.len(),
        tally[0],
        tally[1],
        tally[2]
    ));
    c.set(verdict, reason);
    c
}

/// vm-bare against the sandbox (the verdict) and the process (shown).
pub(super) fn unikernel(results: &Results) -> Claim {
    let c = Claim::new(
        vec!["VM has slower booting time"],
        "unikernel-style VM (vm-bare) vs process/sandbox",
        METRIC,
        &test(),
    );
    let vms = match select(results, &need(BackendClass::UnikernelVm)) {
        Ok(v) => v,
        Err(why) => return c.not_measurable(why),
    };
    let vm = fastest(&vms);
    let sandbox = select(results, &need(BackendClass::LinuxContainer))
        .ok()
        .and_then(|v| v.into_iter().find(|b| b.name == "sandbox"));
    let process = select(results, &need(BackendClass::Process)).ok();
    let against = match (sandbox, process.as_ref().and_then(|p| p.first().copied())) {
        (Some(s), _) => s,
        (None, Some(p)) => p,
        (None, None) => {
            return c.not_measurable(
                "neither the sandbox nor the plain process has enough native boot samples to compare vm-bare with.",
            )
        }
    };
    let mut c = c;
    c.container = format!("{}: {}", against.name, fmt_ns(median(&ready(against))));
    c.vm = format!("{}: {}", vm.name, fmt_ns(median(&ready(vm))));
    let (verdict, ratio, ci) = judge(vm, against);
    let mut reason = sentence(verdict, &vm.name, &against.name, ratio, ci);
    if let Some(p) = process.and_then(|p| p.first().copied()) {
        if p.name != against.name {
            let (_, r, ci) = judge(vm, p);
            reason.push_str(&format!(
                " Against the plain process: ratio {} ({}).",
                fmt_ratio(r),
                ci_text(ci)
            ));
        }
    }
    reason.push_str(" vm-bare loads one ELF and boots no kernel: this says what a VM costs without an OS, not what a Linux VM costs.");
    c.set(verdict, reason);
    c
}
