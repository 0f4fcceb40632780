//! The results model: what `vmlab compare` measured, as versioned JSON.
//!
//! Raw samples are kept (not only summaries) so that a later `vmlab report`
//! can redo every statistic and compare against a baseline. Bump
//! [`SCHEMA_VERSION`] whenever a field changes meaning or is removed;
//! adding an optional field (with `#[serde(default)]`) keeps the version.
//!
//! - [`results`]: the run as a whole, its configuration, loading and writing;
//! - [`host`]: host facts and reproducibility facts;
//! - [`backend`]: one backend's samples, memory and image;
//! - [`scale`]: held instances, density and concurrency;
//! - [`evidence`]: failed runs, protections, isolation evidence;
//! - [`warm`]: cold against warm starts (restore, pool).
//!
//! The date formatting used for `generated_at` lives here.
mod backend;
mod evidence;
mod host;
mod results;
mod scale;
mod warm;

pub use backend::{
    Artifact, BackendKind, BackendResult, BootOrigin, ImageSize, KernelSamples, MemorySample,
    Phase, Samples,
};
pub use evidence::{AttackTally, IsolationEvidence, Protections, RunFailure, SyscallSurface};
pub use host::{CgroupMode, HostFacts, KvmKind, Reproducibility};
pub use results::{LoadError, Results, RunConfig, Tool, KNOWN_SCHEMA_VERSIONS, SCHEMA_VERSION};
pub use scale::{ConcurrencyLevel, DensityStep, ScaleResult};
pub use warm::{StartKind, Timing, WarmRow, WarmSection};

/// Formats seconds since the Unix epoch as RFC 3339 UTC (`2026-01-02T03:04:05Z`);
/// past the year 9999, its last instant.
pub fn rfc3339_utc(unix_secs: u64) -> String {
    i64::try_from(unix_secs)
        .ok()
        .and_then(|s| jiff::Timestamp::from_second(s).ok())
        .unwrap_or(jiff::Timestamp::MAX)
        .to_string()
}

/// Now, as RFC 3339 UTC.
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    rfc3339_utc(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_known_dates() {
        assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339_utc(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339_utc(4_102_444_799), "2099-12-31T23:59:59Z");
    }
}
