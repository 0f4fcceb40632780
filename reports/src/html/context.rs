//! The data the page template sees: plain serialisable structs, every
//! number already formatted, so the template only lays things out.
use serde::Serialize;

use super::evidence::{self, Fact, FailureRow, IsolationRow, ProtectionRow};
use crate::baseline::Baseline;
use crate::charts::{fmt_bytes, fmt_ns, fmt_ratio};
use crate::claims::host_dependencies;
use crate::claims::Claim;
use crate::figures::{exit, ready, OverheadRatio};
use crate::model::{BackendKind, Results, Tool};
use crate::stats::{
    as_f64, iqr, median, ALPHA, BEATS_PROCESS_NOISE, CLAIM_THRESHOLD, CONFIDENCE, MIN_N_MEDIAN,
    MIN_N_RATIO, NOISE_FLOOR,
};

/// Everything the page shows.
#[derive(Debug, Serialize)]
pub struct Page {
    pub generated_at: String,
    pub git_revision: String,
    pub schema_version: u32,
    pub software_nested: bool,
    pub any_emulated: bool,
    pub host: HostView,
    pub tools: Vec<Tool>,
    pub runs: u32,
    pub warmup: u32,
    pub quick: bool,
    pub backends: Vec<BackendRow>,
    pub skipped: Vec<SkippedRow>,
    pub claims: Vec<Claim>,
    pub charts: Charts,
    pub phases: Vec<PhaseTable>,
    pub images: Vec<ImageRow>,
    pub artifacts: Vec<ImageRow>,
    pub overhead: Vec<OverheadRow>,
    /// The I/O section's rows (empty: no I/O kernels in this run).
    pub io: Vec<super::io::IoLine>,
    pub memory: Vec<MemoryRow>,
    pub scale: Vec<super::scale::ScaleRow>,
    pub baseline: Option<Baseline>,
    pub stats: StatsView,
    pub protections: Vec<ProtectionRow>,
    pub failures: Vec<FailureRow>,
    pub isolation: Vec<IsolationRow>,
    pub repro: Vec<Fact>,
    pub order_seed: String,
    pub methodology: &'static str,
    /// The warm-start rows (`None`: the run has no warm-start section).
    pub warm: Option<Vec<super::warm::WarmLine>>,
}

#[derive(Debug, Serialize)]
pub struct HostView {
    pub cpu_model: String,
    pub cores: u32,
    pub mem: String,
    pub kernel: String,
    pub kvm: &'static str,
    pub cgroup_mode: &'static str,
    pub controllers: String,
    pub userns: bool,
}

/// The rendered SVG charts.
#[derive(Debug, Serialize, Default)]
pub struct Charts {
    pub boot: Option<String>,
    pub phases: Option<String>,
    pub images: Option<String>,
    pub memory: Option<String>,
    pub overhead: Vec<KernelChart>,
    pub scale: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct KernelChart {
    pub kernel: String,
    pub svg: String,
}

#[derive(Debug, Serialize)]
pub struct BackendRow {
    pub name: String,
    pub kind: &'static str,
    pub emulated: bool,
    pub version: String,
    pub notes: String,
    pub origin: &'static str,
    pub n: usize,
    pub timed_out: usize,
    pub ready: String,
    pub ready_iqr: String,
    pub ready_ci: String,
    pub ready_range: String,
    pub exit: String,
    pub exit_iqr: String,
}

#[derive(Debug, Serialize)]
pub struct SkippedRow {
    pub name: String,
    pub kind: &'static str,
    pub reason: String,
}

#[derive(Debug, Serialize)]
pub struct PhaseTable {
    pub backend: String,
    pub emulated: bool,
    pub rows: Vec<PhaseRow>,
}

#[derive(Debug, Serialize)]
pub struct PhaseRow {
    pub name: String,
    pub n: usize,
    pub median: String,
    pub iqr: String,
}

#[derive(Debug, Serialize)]
pub struct ImageRow {
    pub name: String,
    pub emulated: bool,
    pub contents: String,
    pub boots: String,
    pub expanded: String,
    pub needs: &'static str,
    pub uncompressed: String,
    pub gzip: String,
    pub zstd: String,
    pub on_disk: String,
    pub files: u64,
}

#[derive(Debug, Serialize)]
pub struct OverheadRow {
    pub kernel: String,
    pub backend: String,
    pub emulated: bool,
    pub ratio: String,
    pub ci: String,
    pub n: String,
    pub beats_process: bool,
}

#[derive(Debug, Serialize)]
pub struct MemoryRow {
    pub backend: String,
    pub emulated: bool,
    pub rss: String,
    pub pss: String,
    pub per_instance: String,
    pub instances: u32,
}

#[derive(Debug, Serialize)]
pub struct StatsView {
    pub confidence: String,
    pub min_n_median: usize,
    pub min_n_ratio: usize,
    pub claim_threshold: f64,
    pub alpha: f64,
    pub noise_floor: String,
    pub beats_noise: String,
}

fn kind(k: BackendKind) -> &'static str {
    k.label()
}

/// A time that may be censored (a timeout: only "at least the limit").
fn censored_ns(v: f64) -> String {
    if v.is_infinite() {
        "timed out".into()
    } else {
        fmt_ns(v)
    }
}

/// Builds the page from results, charts, claims and the optional baseline.
pub fn page(
    results: &Results,
    charts: Charts,
    claims: Vec<Claim>,
    ratios: &[OverheadRatio],
    baseline: Option<Baseline>,
) -> Page {
    let h = &results.host;
    let available = || results.backends.iter().filter(|b| b.available);
    let backends = available()
        .map(|b| {
            let r = ready(b);
            let e = exit(b);
            BackendRow {
                name: b.name.clone(),
                kind: kind(b.kind),
                emulated: b.emulated,
                version: b.version.clone().unwrap_or_default(),
                notes: b.notes.join("; "),
                origin: match b.boot.origin {
                    crate::model::BootOrigin::Spawn => "spawn",
                    crate::model::BootOrigin::LibraryCall => "library call",
                },
                n: r.map_or(0, |s| s.n),
                timed_out: r.map_or(0, |s| s.censored),
                ready: r.map_or("–".into(), |s| censored_ns(s.median)),
                ready_iqr: r.map_or("–".into(), |s| censored_ns(s.q3 - s.q1)),
                ready_ci: r.map_or("–".into(), |s| {
                    if s.has_ci() {
                        format!("[{}, {}]", censored_ns(s.ci_lo), censored_ns(s.ci_hi))
                    } else {
                        format!("n too small (n < {MIN_N_MEDIAN})")
                    }
                }),
                ready_range: r.map_or("–".into(), |s| {
                    format!("{} – {}", censored_ns(s.min), censored_ns(s.max))
                }),
                exit: e.map_or("–".into(), |s| fmt_ns(s.median)),
                exit_iqr: e.map_or("–".into(), |s| fmt_ns(s.q3 - s.q1)),
            }
        })
        .collect();
    let skipped = results
        .backends
        .iter()
        .filter(|b| !b.available)
        .map(|b| SkippedRow {
            name: b.name.clone(),
            kind: kind(b.kind),
            reason: b
                .skipped_reason
                .clone()
                .unwrap_or_else(|| "no reason recorded".into()),
        })
        .collect();
    let phases = available()
        .filter(|b| !b.boot.phases.is_empty())
        .map(|b| PhaseTable {
            backend: b.label(),
            emulated: b.emulated,
            rows: b
                .boot
                .phases
                .iter()
                .map(|p| {
                    let xs = as_f64(&p.ns);
                    PhaseRow {
                        name: p.name.clone(),
                        n: xs.len(),
                        median: fmt_ns(median(&xs)),
                        iqr: fmt_ns(iqr(&xs)),
                    }
                })
                .collect(),
        })
        .collect();
    let size_row = |name: String,
                    emulated: bool,
                    kind: Option<BackendKind>,
                    i: &crate::model::ImageSize| ImageRow {
        name,
        emulated,
        contents: i.contents.clone(),
        boots: i.boots.clone().unwrap_or_else(|| i.contents.clone()),
        expanded: i
            .expanded
            .map_or("not measured".into(), |e| fmt_bytes(e as f64)),
        needs: kind.map_or("", host_dependencies),
        uncompressed: fmt_bytes(i.uncompressed as f64),
        gzip: fmt_bytes(i.gzip as f64),
        zstd: fmt_bytes(i.zstd as f64),
        on_disk: fmt_bytes(i.on_disk as f64),
        files: i.files,
    };
    let images = results
        .backends
        .iter()
        .filter_map(|b| {
            b.image
                .as_ref()
                .map(|i| size_row(b.name.clone(), b.emulated, Some(b.kind), i))
        })
        .collect();
    let artifacts = results
        .images
        .iter()
        .map(|a| size_row(a.name.clone(), false, None, &a.size))
        .collect();
    let overhead = ratios
        .iter()
        .map(|r| OverheadRow {
            kernel: r.kernel.clone(),
            backend: r.backend.clone(),
            emulated: r.emulated,
            ratio: fmt_ratio(r.ratio),
            ci: if r.ci_lo.is_finite() {
                format!("[{}, {}]", fmt_ratio(r.ci_lo), fmt_ratio(r.ci_hi))
            } else {
                format!("n too small (n < {MIN_N_RATIO} on a side)")
            },
            n: format!("{} / {}", r.n, r.n_ref),
            beats_process: r.beats_process,
        })
        .collect();
    let opt_bytes = |v: Option<u64>| v.map_or("–".into(), |v| fmt_bytes(v as f64));
    let memory = available()
        .filter_map(|b| b.memory.as_ref().map(|m| (b, m)))
        .map(|(b, m)| MemoryRow {
            backend: b.name.clone(),
            emulated: b.emulated,
            rss: fmt_bytes(m.rss_bytes as f64),
            pss: opt_bytes(m.pss_bytes),
            per_instance: opt_bytes(m.per_instance_bytes),
            instances: m.instances,
        })
        .collect();
    Page {
        generated_at: results.generated_at.clone(),
        git_revision: results.git_revision.clone(),
        schema_version: results.schema_version,
        software_nested: h.kvm.is_software(),
        any_emulated: results.any_emulated(),
        host: HostView {
            cpu_model: h.cpu_model.clone(),
            cores: h.cores,
            mem: fmt_bytes(h.mem_bytes as f64),
            kernel: h.kernel.clone(),
            kvm: h.kvm.label(),
            cgroup_mode: h.cgroup_mode.label(),
            controllers: h.controllers.join(", "),
            userns: h.userns,
        },
        tools: results.tools.clone(),
        runs: results.config.runs,
        warmup: results.config.warmup,
        quick: results.config.quick,
        backends,
        skipped,
        claims,
        charts,
        phases,
        images,
        artifacts,
        overhead,
        memory,
        scale: super::scale::rows(results),
        baseline,
        stats: StatsView {
            confidence: format!("{:.0} %", CONFIDENCE * 100.0),
            min_n_median: MIN_N_MEDIAN,
            min_n_ratio: MIN_N_RATIO,
            claim_threshold: CLAIM_THRESHOLD,
            alpha: ALPHA,
            noise_floor: format!("{:.0} %", NOISE_FLOOR * 100.0),
            beats_noise: format!("{:.0} %", BEATS_PROCESS_NOISE * 100.0),
        },
        protections: evidence::protections(results),
        failures: evidence::failures(results),
        isolation: evidence::isolation(results),
        repro: evidence::repro(&h.repro),
        order_seed: results
            .config
            .order_seed
            .map_or("not recorded (fixed order)".into(), |s| format!("{s:#x}")),
        methodology: super::METHODOLOGY,
        warm: super::warm::lines(results),
        io: super::io::lines(results),
    }
}
