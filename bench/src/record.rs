//! The run record: what one `vmlab run` measured. `vmlab run --json` prints
//! it and `vmlab compare` reads it back, with this one type.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use vmlab_workload_host::protocol::Line;

use crate::id::BackendId;

/// The fact holding CLOCK_MONOTONIC (ns) just before the backend started.
pub const START_FACT: &str = "start_monotonic_ns";

/// What one run produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// The backend.
    pub backend: BackendId,
    /// The workload's exit code (also the process exit code).
    pub exit_code: u8,
    /// Start to the ready mark, in ns.
    pub to_ready_ns: Option<u64>,
    /// Start to everything gone and reaped, in ns.
    pub to_exit_ns: u64,
    /// Named phases, each as ns since start, in order.
    #[serde(default)]
    pub phases: Vec<(String, u64)>,
    /// Protocol marks (id, ns since start).
    #[serde(default)]
    pub marks: Vec<(u32, u64)>,
    /// Exit counts by kind (VM) or other counters.
    #[serde(default)]
    pub counters: BTreeMap<String, u64>,
    /// The workload's result and error lines, and the escape battery's.
    #[serde(default)]
    pub results: Vec<Line>,
    /// Facts about this run worth keeping (KVM kind, limits, ...).
    #[serde(default)]
    pub facts: BTreeMap<String, String>,
}

impl RunRecord {
    /// A record of `backend` with nothing measured yet.
    pub fn new(backend: BackendId, exit_code: u8, to_exit_ns: u64) -> RunRecord {
        RunRecord {
            backend,
            exit_code,
            to_ready_ns: None,
            to_exit_ns,
            phases: Vec::new(),
            marks: Vec::new(),
            counters: BTreeMap::new(),
            results: Vec::new(),
            facts: BTreeMap::new(),
        }
    }

    /// Keeps the kernels' lines (results and errors) and the battery's
    /// (attempts and summary) of the workload's output `text`, wherever
    /// they start on a line.
    pub fn with_results_of(mut self, text: &str) -> RunRecord {
        self.results = Line::scan(text).filter(Line::is_outcome_line).collect();
        self
    }

    /// Records when the backend started (CLOCK_MONOTONIC, ns).
    pub fn set_started(&mut self, monotonic_ns: u64) {
        self.facts
            .insert(START_FACT.to_string(), monotonic_ns.to_string());
    }

    /// When the backend started (CLOCK_MONOTONIC, ns), if recorded.
    pub fn started(&self) -> Option<u64> {
        self.facts.get(START_FACT)?.parse().ok()
    }

    /// Whether the workload reported a kernel it could not run (it then
    /// exits 1, and the other kernels still count).
    pub fn kernel_failed(&self) -> bool {
        self.results.iter().any(|l| matches!(l, Line::Error(_)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_round_trips_and_keeps_only_kernel_and_battery_lines() {
        let console = "[ 0.1] noise\n{\"vmlab\":\"ready\"}\n\
            x {\"vmlab\":\"result\",\"kernel\":\"cpu\",\"iters\":3,\"total_ns\":6,\"ns_per_iter\":2.000,\"bytes\":0}\n\
            {\"vmlab\":\"error\",\"kernel\":\"tcp\",\"message\":\"no lo\"}\n\
            {\"vmlab\":\"escape\",\"attempt\":\"mount\",\"escaped\":false,\"rc\":-1,\"errno\":1}\n\
            {\"vmlab\":\"result\",broken\n{\"vmlab\":\"exit\",\"code\":1}\n";
        let mut r = RunRecord::new(BackendId::VmBare, 1, 900).with_results_of(console);
        r.to_ready_ns = Some(500);
        r.phases.push(("load".into(), 100));
        r.set_started(3000);
        assert_eq!(r.results.len(), 3, "{:?}", r.results);
        assert!(r.kernel_failed());
        assert_eq!(r.started(), Some(3000));
        let json = serde_json::to_string_pretty(&r).unwrap();
        assert!(json.contains("\"backend\": \"vm-bare\""), "{json}");
        assert!(
            json.contains(&format!("\"{START_FACT}\": \"3000\"")),
            "{json}"
        );
        let back: RunRecord = serde_json::from_str(&json).unwrap();
        assert_eq!(back, r);
        let clean = RunRecord::new(BackendId::Process, 0, 1);
        assert!(!clean.kernel_failed() && clean.started().is_none());
    }
}
