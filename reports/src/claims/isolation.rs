//! The isolation claims, decided by measured evidence: the attack battery
//! run as the workload inside each backend (attacks tried / blocked), and
//! the host-kernel surface (distinct host system calls made on the
//! workload's behalf during a run).
use super::pairs::{select, BackendClass, Need};
use super::verdict::{Claim, Verdict};
use crate::model::{AttackTally, BackendResult, Results, SyscallSurface};
use crate::stats::CLAIM_THRESHOLD;

fn attacks(b: &BackendResult) -> Option<&AttackTally> {
    b.isolation
        .as_ref()?
        .attacks
        .as_ref()
        .filter(|a| a.tried > 0)
}

fn surface(b: &BackendResult) -> Option<&SyscallSurface> {
    b.isolation
        .as_ref()?
        .host_syscalls
        .as_ref()
        .filter(|s| s.distinct > 0)
}

fn both(b: &BackendResult) -> usize {
    usize::from(attacks(b).is_some() && surface(b).is_some())
}

fn only_attacks(b: &BackendResult) -> usize {
    usize::from(attacks(b).is_some())
}

/// "5/7 blocked, 41 host syscalls".
pub fn evidence_text(b: &BackendResult) -> String {
    let a = attacks(b).map(|a| format!("{}/{} attacks blocked", a.blocked, a.tried));
    let s = surface(b).map(|s| format!("{} distinct host syscalls", s.distinct));
    let parts: Vec<String> = [a, s].into_iter().flatten().collect();
    format!(
        "{}: {}",
        b.name,
        if parts.is_empty() {
            "–".into()
        } else {
            parts.join(", ")
        }
    )
}

/// The plain process, the battery's positive control: it must let at least
/// one attack through, or the battery shows nothing.
fn control(results: &Results) -> Result<&BackendResult, String> {
    let need = Need {
        class: BackendClass::Process,
        native: true,
        what: "attack-battery result",
        n: &only_attacks,
        min_n: 1,
    };
    let p = select(results, &need)?
        .into_iter()
        .next()
        .ok_or("no process")?;
    match attacks(p) {
        Some(a) if a.blocked < a.tried => Ok(p),
        _ => Err("the plain process (the positive control) blocked every attack, so the battery shows nothing here.".into()),
    }
}

/// Sort key: more blocked first, then the smaller surface.
fn stronger(a: &BackendResult, b: &BackendResult) -> std::cmp::Ordering {
    let share = |x: &BackendResult| attacks(x).map_or(0.0, AttackTally::blocked_share);
    let surf = |x: &BackendResult| surface(x).map_or(u32::MAX, |s| s.distinct);
    share(b).total_cmp(&share(a)).then(surf(a).cmp(&surf(b)))
}

/// "VM provides better isolation".
pub(super) fn vms_isolate_better(results: &Results) -> Claim {
    let c = Claim::new(
        vec!["VM provides better isolation"],
        "Linux containers vs Linux VMs",
        "isolation evidence per backend: attacks of the battery blocked / tried, and distinct host system calls made on the workload's behalf (the workload's own for a container, the VMM's for a VM)",
        &format!("the strongest Linux VM against the strongest Linux container: supported when the VM blocks at least the same share of attacks and reaches a host-syscall surface smaller by {CLAIM_THRESHOLD}× or more; contradicted when it blocks a smaller share without a smaller surface, or reaches a surface larger by {CLAIM_THRESHOLD}× without blocking more; mixed otherwise; the plain process must let an attack through (positive control)"),
    );
    if let Err(why) = control(results) {
        return c.not_measurable(why);
    }
    let need = |class| Need {
        class,
        native: true,
        what: "isolation evidence (attacks and host-syscall surface)",
        n: &both,
        min_n: 1,
    };
    let mut containers = match select(results, &need(BackendClass::LinuxContainer)) {
        Ok(v) => v,
        Err(why) => return c.not_measurable(why),
    };
    let mut vms = match select(results, &need(BackendClass::LinuxVm)) {
        Ok(v) => v,
        Err(why) => return c.not_measurable(why),
    };
    containers.sort_by(|a, b| stronger(a, b));
    vms.sort_by(|a, b| stronger(a, b));
    let (cb, vb) = (containers[0], vms[0]);
    let (Some(ca), Some(va), Some(cs), Some(vs)) =
        (attacks(cb), attacks(vb), surface(cb), surface(vb))
    else {
        return c.not_measurable("an isolation figure went missing");
    };
    let mut c = c;
    c.container = evidence_text(cb);
    c.vm = evidence_text(vb);
    let blocks = va.blocked_share().total_cmp(&ca.blocked_share());
    let (v, k) = (f64::from(vs.distinct), f64::from(cs.distinct));
    let surf = if v * CLAIM_THRESHOLD <= k {
        std::cmp::Ordering::Greater // the VM's surface is smaller: better
    } else if k * CLAIM_THRESHOLD <= v {
        std::cmp::Ordering::Less
    } else {
        std::cmp::Ordering::Equal
    };
    use std::cmp::Ordering::{Equal, Greater, Less};
    let verdict = match (blocks, surf) {
        (Greater | Equal, Greater) => Verdict::Supported,
        (Less, Less | Equal) | (Equal, Less) => Verdict::Contradicted,
        _ => Verdict::Mixed,
    };
    let reason = format!(
        "{} blocked {:.0} % of the attacks it tried, {} {:.0} %; {} reached {} distinct host syscalls ({}), {} {} ({}). \
         Counted: attacks that this battery tries and system calls that reach the host; not measured: kernel or VMM \
         bugs, side channels, configuration mistakes.",
        vb.name,
        va.blocked_share() * 100.0,
        cb.name,
        ca.blocked_share() * 100.0,
        vb.name,
        vs.distinct,
        vs.counted,
        cb.name,
        cs.distinct,
        cs.counted,
    );
    c.set(verdict, reason);
    c
}

/// "It's harder for a process to penetrate through the sandbox of
/// container": read as a container against the unsandboxed process.
pub(super) fn containers_contain(results: &Results) -> Claim {
    let c = Claim::new(
        vec!["It's harder for a process to penetrate through the sandbox of container"],
        "Linux containers vs the plain process",
        "attacks of the battery blocked / tried, run as the workload",
        "the weakest Linux container against the plain process (the positive control): supported when it blocks a larger share of the attacks; contradicted when it blocks no more; the control must let an attack through",
    );
    let p = match control(results) {
        Ok(p) => p,
        Err(why) => return c.not_measurable(why),
    };
    let need = Need {
        class: BackendClass::LinuxContainer,
        native: true,
        what: "attack-battery result",
        n: &only_attacks,
        min_n: 1,
    };
    let mut containers = match select(results, &need) {
        Ok(v) => v,
        Err(why) => return c.not_measurable(why),
    };
    containers.sort_by(|a, b| stronger(a, b));
    let weakest = containers[containers.len() - 1];
    let (Some(w), Some(pa)) = (attacks(weakest), attacks(p)) else {
        return c.not_measurable("an attack tally went missing");
    };
    let mut c = c;
    c.container = evidence_text(weakest);
    c.vm = "– (not part of this claim)".into();
    let verdict = if w.blocked_share() > pa.blocked_share() {
        Verdict::Supported
    } else {
        Verdict::Contradicted
    };
    c.set(
        verdict,
        format!(
            "The weakest container, {}, blocked {}/{} attacks; the plain process {}/{}. {} container(s) ran the battery.",
            weakest.name,
            w.blocked,
            w.tried,
            pa.blocked,
            pa.tried,
            containers.len()
        ),
    );
    c
}
