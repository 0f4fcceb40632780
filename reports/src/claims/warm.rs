//! Warm-start claims: a VM restored from a snapshot against a container
//! restored from a checkpoint, a VM handed off by a pool against a
//! container handed off by a pool, and the cold pair from the same run.
//! Like for like only: restore with restore, pool with pool, cold with
//! cold, both rows on one clock (in-process or end to end), native VM
//! figures, enough samples; otherwise the row says which of these failed.
use super::verdict::{ratio_verdict, Claim};
use crate::charts::{fmt_ns, fmt_ratio};
use crate::model::{BackendKind, Results, StartKind, WarmRow, WarmSection};
use crate::stats::{as_f64, median, ratio_ci, CLAIM_THRESHOLD, MIN_N_RATIO};

const QUOTES: [&str; 1] = ["VM has slower booting time"];

const METRIC: &str = "warm.to_ready: from the start, restore or release request to the workload's ready mark, on the clock the row names";

fn test() -> String {
    format!(
        "ratio of medians VM ÷ container with its distribution-free 95 % interval; it must exclude 1 \
         and pass {CLAIM_THRESHOLD}× (or 1/{CLAIM_THRESHOLD}×); both rows started the same way \
         (restore with restore, pool with pool, cold with cold) and timed on the same clock; native VM runs only; n ≥ {MIN_N_RATIO} per side"
    )
}

/// The measured rows of `kind` started as `start`.
fn rows(s: &WarmSection, kind: BackendKind, start: StartKind) -> Vec<&WarmRow> {
    s.rows
        .iter()
        .filter(|r| r.kind == kind && r.start == start && r.measured())
        .collect()
}

fn label(r: &WarmRow) -> String {
    let m = r.median_ns().map_or(f64::NAN, |v| v as f64);
    format!(
        "{} {} ({}): {}, n = {}",
        r.backend,
        r.start.label(),
        r.timing.label(),
        fmt_ns(m),
        r.to_ready_ns.len()
    )
}

/// The first VM and container rows that share a clock, or why none do.
fn pair<'s>(
    vms: &[&'s WarmRow],
    cts: &[&'s WarmRow],
) -> Result<(&'s WarmRow, &'s WarmRow), String> {
    if vms.is_empty() || cts.is_empty() {
        return Err("this run measured no such VM row and container row".into());
    }
    let native: Vec<_> = vms.iter().filter(|v| !v.emulated).collect();
    if native.is_empty() {
        let names: Vec<_> = vms.iter().map(|v| label(v)).collect();
        return Err(format!(
            "every VM row ran emulated guest code here ({}); emulated figures say nothing about VMs on hardware",
            names.join("; ")
        ));
    }
    for v in &native {
        if let Some(c) = cts.iter().find(|c| c.timing == v.timing) {
            return Ok((v, c));
        }
    }
    Err(format!(
        "no VM and container row share a clock: VMs {}; containers {} (an in-process figure has no process spawn in it, an end-to-end one does)",
        native.iter().map(|v| format!("{} {}", v.backend, v.timing.label())).collect::<Vec<_>>().join(", "),
        cts.iter().map(|c| format!("{} {}", c.backend, c.timing.label())).collect::<Vec<_>>().join(", ")
    ))
}

fn decide(mut c: Claim, vms: &[&WarmRow], cts: &[&WarmRow]) -> Claim {
    let (v, k) = match pair(vms, cts) {
        Ok(p) => p,
        Err(why) => return c.not_measurable(why),
    };
    c.vm = label(v);
    c.container = label(k);
    let (n, d) = (as_f64(&v.to_ready_ns), as_f64(&k.to_ready_ns));
    if n.len() < MIN_N_RATIO || d.len() < MIN_N_RATIO {
        return c.not_measurable(format!("fewer than {MIN_N_RATIO} samples on a side"));
    }
    let ratio = median(&n) / median(&d);
    let ci = ratio_ci(&n, &d);
    let verdict = ratio_verdict(ratio, ci, CLAIM_THRESHOLD);
    let ci_text = ci.map_or("no interval".to_string(), |(lo, hi)| {
        format!("{}–{}", fmt_ratio(lo), fmt_ratio(hi))
    });
    c.set(
        verdict,
        format!(
            "VM ÷ container = {} (95 % interval {ci_text})",
            fmt_ratio(ratio)
        ),
    );
    c
}

/// The claim `pair` formed from the VM and container rows started as `start`.
fn same_start(results: &Results, pair: &'static str, start: StartKind) -> Claim {
    let c = Claim::new(QUOTES.to_vec(), pair, METRIC, &test());
    let Some(s) = &results.warm else {
        return c
            .not_measurable("this run has no warm-start section (run compare without --no-warm)");
    };
    decide(
        c,
        &rows(s, BackendKind::Vm, start),
        &rows(s, BackendKind::Container, start),
    )
}

/// "VM restored from a snapshot vs container restored from a checkpoint".
pub fn restored_vs_restored(results: &Results) -> Claim {
    same_start(
        results,
        "VM restored from a snapshot vs container restored from a checkpoint",
        StartKind::Restore,
    )
}

/// "VM from a pool vs container from a pool": both handed a prepared
/// instance.
pub fn pool_vs_pool(results: &Results) -> Claim {
    same_start(
        results,
        "VM from a pool vs container from a pool (prepared, handed off)",
        StartKind::Pool,
    )
}

/// "VM restored from a snapshot vs cold container": not formed, by rule.
pub fn restored_vs_cold(results: &Results) -> Claim {
    let c = Claim::new(
        QUOTES.to_vec(),
        "VM restored from a snapshot vs container cold",
        METRIC,
        &test(),
    );
    let has = results
        .warm
        .as_ref()
        .is_some_and(|s| !rows(s, BackendKind::Vm, StartKind::Restore).is_empty());
    let what = if has {
        ""
    } else {
        " (and this run has no restored VM row)"
    };
    c.not_measurable(format!(
        "not like for like: a restored VM is compared with a restored container, a pooled VM with a \
         pooled container and a cold VM with a cold one; see the rows beside this one{what}"
    ))
}

/// The cold pair of the warm-start section.
pub fn cold_vs_cold(results: &Results) -> Claim {
    let c = Claim::new(
        QUOTES.to_vec(),
        "VM cold vs container cold (warm-start section, same run)",
        METRIC,
        &test(),
    );
    let Some(s) = &results.warm else {
        return c
            .not_measurable("this run has no warm-start section (run compare without --no-warm)");
    };
    decide(
        c,
        &rows(s, BackendKind::Vm, StartKind::Cold),
        &rows(s, BackendKind::Container, StartKind::Cold),
    )
}
