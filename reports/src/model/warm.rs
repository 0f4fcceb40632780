//! Warm start: each backend's cold start next to its restore from a
//! snapshot or its hand-off from a pool, measured in the same run.
use serde::{Deserialize, Serialize};

use super::BackendKind;

/// How an instance was started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StartKind {
    /// From nothing: a cold boot or start.
    Cold,
    /// From a snapshot or checkpoint file.
    Restore,
    /// Handed a pre-created instance (a pool's).
    Pool,
}

impl StartKind {
    /// A short human label.
    pub fn label(self) -> &'static str {
        match self {
            StartKind::Cold => "cold",
            StartKind::Restore => "restore",
            StartKind::Pool => "pool",
        }
    }

    /// Warm: restore or pool.
    pub fn is_warm(self) -> bool {
        self != StartKind::Cold
    }
}

/// What a row's clock covers, so that only rows on one basis are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Timing {
    /// Inside the measuring process: from the start (or release) request to
    /// the ready mark; no process spawn.
    InProcess,
    /// From the spawn of the tool's process to its ready line.
    EndToEnd,
}

impl Timing {
    /// A short human label.
    pub fn label(self) -> &'static str {
        match self {
            Timing::InProcess => "in-process",
            Timing::EndToEnd => "end to end",
        }
    }
}

/// One backend started one way, its samples or why it did not run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WarmRow {
    /// The backend (`sandbox`, `vm-bare`, `qemu-bare`, `runc`).
    pub backend: String,
    /// Its kind.
    pub kind: BackendKind,
    /// How it was started.
    pub start: StartKind,
    /// What the clock covers.
    pub timing: Timing,
    /// How, in a few words (`qemu -incoming exec:cat FILE`).
    pub method: String,
    /// To-ready samples, ns (empty when skipped).
    #[serde(default)]
    pub to_ready_ns: Vec<u64>,
    /// Median ns of each phase up to ready, where the backend reports them.
    #[serde(default)]
    pub phases: Vec<(String, u64)>,
    /// Bytes of the snapshot on disk (restore rows).
    #[serde(default)]
    pub snapshot_bytes: Option<u64>,
    /// Why the row did not run.
    #[serde(default)]
    pub skipped: Option<String>,
    /// Runs that failed, with why.
    #[serde(default)]
    pub failures: Vec<String>,
    /// Guest code was emulated (software nested KVM, or TCG).
    #[serde(default)]
    pub emulated: bool,
}

impl WarmRow {
    /// A row with nothing measured yet.
    pub fn new(
        backend: &str,
        kind: BackendKind,
        start: StartKind,
        timing: Timing,
        method: &str,
    ) -> WarmRow {
        WarmRow {
            backend: backend.to_string(),
            kind,
            start,
            timing,
            method: method.to_string(),
            to_ready_ns: Vec::new(),
            phases: Vec::new(),
            snapshot_bytes: None,
            skipped: None,
            failures: Vec::new(),
            emulated: false,
        }
    }

    /// The row, skipped for `why`.
    pub fn skip(mut self, why: impl Into<String>) -> WarmRow {
        self.skipped = Some(why.into());
        self
    }

    /// Whether it has samples.
    pub fn measured(&self) -> bool {
        self.skipped.is_none() && !self.to_ready_ns.is_empty()
    }

    /// The median to-ready, ns.
    pub fn median_ns(&self) -> Option<u64> {
        let mut v = self.to_ready_ns.clone();
        v.sort_unstable();
        match v.len() {
            0 => None,
            n if n % 2 == 1 => Some(v[n / 2]),
            n => Some((v[n / 2 - 1] + v[n / 2]) / 2),
        }
    }
}

/// The warm-start section of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct WarmSection {
    /// Measured runs per row (interleaved, row by row).
    pub runs: u32,
    /// Cold and warm rows, backend by backend.
    pub rows: Vec<WarmRow>,
}

impl WarmSection {
    /// The row of `backend` started as `start`, if any.
    pub fn row(&self, backend: &str, start: StartKind) -> Option<&WarmRow> {
        self.rows
            .iter()
            .find(|r| r.backend == backend && r.start == start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_of_even_and_odd_samples() {
        let mut r = WarmRow::new(
            "sandbox",
            BackendKind::Container,
            StartKind::Pool,
            Timing::InProcess,
            "x",
        );
        assert_eq!(r.median_ns(), None);
        assert!(!r.measured());
        r.to_ready_ns = vec![5, 1, 3];
        assert_eq!(r.median_ns(), Some(3));
        r.to_ready_ns.push(7);
        assert_eq!(r.median_ns(), Some(4));
        assert!(r.measured());
        assert!(!r.clone().skip("no").measured());
    }

    #[test]
    fn start_kinds_serialise_in_kebab_case() {
        let j = serde_json::to_string(&[StartKind::Cold, StartKind::Pool]).unwrap();
        assert_eq!(j, r#"["cold","pool"]"#);
        let t = serde_json::to_string(&Timing::EndToEnd).unwrap();
        assert_eq!(t, r#""end-to-end""#);
    }
}
