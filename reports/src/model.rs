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
//! - [`evidence`]: failed runs, protections, isolation evidence.
//!
//! The date formatting used for `generated_at` lives here.
mod backend;
mod evidence;
mod host;
mod results;

pub use backend::{
    Artifact, BackendKind, BackendResult, BootOrigin, ImageSize, KernelSamples, MemorySample,
    Phase, Samples,
};
pub use evidence::{AttackTally, IsolationEvidence, Protections, RunFailure, SyscallSurface};
pub use host::{CgroupMode, HostFacts, KvmKind, Reproducibility};
pub use results::{LoadError, Results, RunConfig, Tool, KNOWN_SCHEMA_VERSIONS, SCHEMA_VERSION};

/// Formats seconds since the Unix epoch as RFC 3339 UTC (`2026-01-02T03:04:05Z`).
pub fn rfc3339_utc(unix_secs: u64) -> String {
    let days = unix_secs / 86_400;
    let rem = unix_secs % 86_400;
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    // Shift the epoch to 0000-03-01 so leap days fall at the end of a year.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
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
