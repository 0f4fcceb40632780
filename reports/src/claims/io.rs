//! "Containers are more lightweight", read as what isolation costs while
//! the workload does I/O: per I/O kernel, the Linux container's and the
//! Linux VM's time per iteration, each as a ratio to the plain process in
//! the same run doing the same I/O to the same kind of target
//! ([`crate::io::section`]); rows that are not like for like are left out.
use super::pairs::{class, select, BackendClass, Need};
use super::verdict::{Claim, Verdict};
use crate::charts::fmt_ratio;
use crate::io::{is_io, section, IoCell};
use crate::model::{BackendResult, Results};
use crate::stats::{CLAIM_THRESHOLD, MIN_N_RATIO};

fn test() -> String {
    format!(
        "per I/O kernel, the lightest native Linux VM's ratio to the process ÷ the lightest Linux container's \
         (both against the same process run); a kernel counts for the claim when the VM's interval lies wholly \
         above the container's and the quotient reaches {CLAIM_THRESHOLD}×, against it in the mirror case; \
         supported when every kernel counts for it, contradicted when every one counts against; \
         n ≥ {MIN_N_RATIO} a side; rows not like for like left out"
    )
}

/// Runs of the I/O kernels a backend has (its fewest over the kernels).
fn io_runs(b: &BackendResult) -> usize {
    b.overhead
        .iter()
        .filter(|k| is_io(&k.kernel))
        .map(|k| k.ns_per_iter.len())
        .min()
        .unwrap_or(0)
}

/// A cell the claim may use: like for like, native, with an interval.
fn usable(c: &IoCell) -> bool {
    c.not_like_for_like.is_none() && c.native && c.ratio.ci_lo.is_finite()
}

fn text(c: &IoCell) -> String {
    format!(
        "{} {} [{}, {}]",
        c.ratio.backend,
        fmt_ratio(c.ratio.ratio),
        fmt_ratio(c.ratio.ci_lo),
        fmt_ratio(c.ratio.ci_hi)
    )
}

/// The lightest usable cell of `want`'s class in each kernel row.
fn lightest<'a>(results: &Results, cells: &'a [IoCell], want: BackendClass) -> Option<&'a IoCell> {
    cells
        .iter()
        .filter(|c| usable(c))
        .filter(|c| {
            results
                .backends
                .iter()
                .any(|b| b.name == c.ratio.backend && class(b) == want)
        })
        .min_by(|a, b| a.ratio.ratio.total_cmp(&b.ratio.ratio))
}

/// The claim's row.
pub(super) fn io_cost(results: &Results) -> Claim {
    let c = Claim::new(
        vec!["Containers are more \"lightweight\""],
        "Linux containers vs Linux VMs, each against the process",
        "what isolation costs in I/O: time per iteration ÷ the plain process's on net-rr, net-stream, blk-rand and blk-seq (the I/O section)",
        &test(),
    );
    let rows = section(results);
    if rows.is_empty() {
        return c.not_measurable(
            "no I/O kernel ran in the plain process and another backend in this run.",
        );
    }
    let mut c = c;
    let mut containers = Vec::new();
    let mut pairs = Vec::new();
    for row in &rows {
        let ct = lightest(results, &row.backends, BackendClass::LinuxContainer);
        let vm = lightest(results, &row.backends, BackendClass::LinuxVm);
        if let Some(ct) = ct {
            containers.push(format!("{}: {}", row.kernel, text(ct)));
        }
        if let (Some(ct), Some(vm)) = (ct, vm) {
            pairs.push((row.kernel.clone(), ct, vm));
        }
    }
    c.container = if containers.is_empty() {
        "–".into()
    } else {
        containers.join("; ")
    };
    if pairs.is_empty() {
        let need = |class| Need {
            class,
            native: true,
            what: "I/O kernel runs",
            n: &io_runs,
            min_n: MIN_N_RATIO,
            missing: |_| None,
        };
        let why = match (
            select(results, &need(BackendClass::LinuxContainer)),
            select(results, &need(BackendClass::LinuxVm)),
        ) {
            (Err(why), _) | (_, Err(why)) => why,
            _ => "no I/O kernel has a like-for-like row with an interval for both a Linux container and a Linux VM.".into(),
        };
        return c.not_measurable(why);
    }
    let mut tally = [0usize; 3];
    let mut vms = Vec::new();
    for (kernel, ct, vm) in &pairs {
        vms.push(format!("{kernel}: {}", text(vm)));
        let q = vm.ratio.ratio / ct.ratio.ratio;
        if vm.ratio.ci_lo > ct.ratio.ci_hi && q >= CLAIM_THRESHOLD {
            tally[0] += 1;
        } else if vm.ratio.ci_hi < ct.ratio.ci_lo && q <= 1.0 / CLAIM_THRESHOLD {
            tally[1] += 1;
        } else {
            tally[2] += 1;
        }
    }
    c.vm = vms.join("; ");
    let n = pairs.len();
    let verdict = match tally {
        [f, 0, 0] if f == n => Verdict::Supported,
        [0, a, 0] if a == n => Verdict::Contradicted,
        _ => Verdict::Mixed,
    };
    c.set(
        verdict,
        format!(
            "Over {n} I/O kernel(s) with both sides: the VM costs more in {}, less in {}, no clear difference in {}.",
            tally[0], tally[1], tally[2]
        ),
    );
    c
}
