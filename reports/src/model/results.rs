//! The top of the model: the run as a whole, its configuration and tools,
//! and loading and writing `results.json`.
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{now_rfc3339, Artifact, BackendKind, BackendResult, HostFacts, WarmSection};

/// The schema version this crate writes.
pub const SCHEMA_VERSION: u32 = 1;

/// The schema versions this crate can read.
pub const KNOWN_SCHEMA_VERSIONS: &[u32] = &[1];

/// Loading `results.json` failed.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The results file could not be read.
    #[error("cannot read results file {path}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The results file is not valid JSON or does not match the schema.
    #[error("{path} is not a vmlab results file")]
    Parse {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// The results file has no `schema_version` number.
    #[error("{path} has no numeric `schema_version`: it is not a vmlab results file")]
    NoVersion {
        /// The file.
        path: String,
    },
    /// The results file was written by a vmlab with another schema.
    #[error("{path} has schema_version {found}; this vmlab reads version(s) {known:?}: re-run `vmlab compare` or use the matching vmlab")]
    UnknownVersion {
        /// The file.
        path: String,
        /// The version in the file.
        found: u64,
        /// The versions this build reads.
        known: &'static [u32],
    },
}

/// Everything one `vmlab compare` run produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Results {
    /// Always [`SCHEMA_VERSION`] when written by this crate.
    pub schema_version: u32,
    /// When the run finished, RFC 3339 in UTC (see [`super::rfc3339_utc`]).
    pub generated_at: String,
    /// `git rev-parse --short HEAD` of the vmlab tree, or "unknown".
    pub git_revision: String,
    /// The machine the figures come from.
    pub host: HostFacts,
    /// Versions of the tools and peers used.
    pub tools: Vec<Tool>,
    /// How the run was configured.
    pub config: RunConfig,
    /// One entry per backend asked for, including the skipped ones.
    pub backends: Vec<BackendResult>,
    /// Sizes of the individual artifacts the images step built.
    #[serde(default)]
    pub images: Vec<Artifact>,
    /// Held-instance scale runs, one per backend measured (absent in
    /// results written before scale existed).
    #[serde(default)]
    pub scale: Vec<super::ScaleResult>,
    /// Cold against warm starts, when measured.
    #[serde(default)]
    pub warm: Option<WarmSection>,
}

/// One tool or peer and its version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    /// Command name (e.g. `crun`).
    pub name: String,
    /// First line of `--version`, when it answered.
    pub version: Option<String>,
    /// Where it was found on PATH.
    pub path: Option<String>,
}

/// How the comparison was run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct RunConfig {
    /// Measured runs per backend.
    pub runs: u32,
    /// Whether `--quick` shortened the run.
    pub quick: bool,
    /// Unmeasured runs before the measured ones.
    pub warmup: u32,
    /// Seed of the random backend order within each round, when the order
    /// was randomised (reproduce a run's order with it).
    #[serde(default)]
    pub order_seed: Option<u64>,
}

impl Results {
    /// An empty result set stamped with the current schema version and time;
    /// `vmlab compare` fills `backends` and `images`.
    pub fn new(
        host: HostFacts,
        tools: Vec<Tool>,
        git_revision: String,
        config: RunConfig,
    ) -> Results {
        Results {
            schema_version: SCHEMA_VERSION,
            generated_at: now_rfc3339(),
            git_revision,
            host,
            tools,
            config,
            backends: Vec::new(),
            images: Vec::new(),
            scale: Vec::new(),
            warm: None,
        }
    }

    /// Parses results JSON, checking the schema version first so an unknown
    /// version gets its own message. `origin` names the source in errors.
    pub fn from_json(text: &str, origin: &str) -> Result<Results, LoadError> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|source| LoadError::Parse {
                path: origin.to_string(),
                source,
            })?;
        let version = value
            .get("schema_version")
            .and_then(|v| v.as_u64())
            .ok_or_else(|| LoadError::NoVersion {
                path: origin.to_string(),
            })?;
        if !KNOWN_SCHEMA_VERSIONS
            .iter()
            .any(|&k| u64::from(k) == version)
        {
            return Err(LoadError::UnknownVersion {
                path: origin.to_string(),
                found: version,
                known: KNOWN_SCHEMA_VERSIONS,
            });
        }
        serde_json::from_value(value).map_err(|source| LoadError::Parse {
            path: origin.to_string(),
            source,
        })
    }

    /// Reads and parses a `results.json` file.
    pub fn load(path: &Path) -> Result<Results, LoadError> {
        let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Results::from_json(&text, &path.display().to_string())
    }

    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        // Serialising plain data with string keys cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// The plain-process backend, the reference for overhead ratios.
    pub fn reference(&self) -> Option<&BackendResult> {
        self.backends
            .iter()
            .find(|b| b.kind == BackendKind::Process && b.available)
    }

    /// True when any measured VM figure comes from emulated guest code.
    pub fn any_emulated(&self) -> bool {
        self.host.kvm.is_software() || self.backends.iter().any(|b| b.available && b.emulated)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_version_is_named() {
        let err = Results::from_json(r#"{"schema_version": 7}"#, "x.json").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("schema_version 7"), "{msg}");
        assert!(msg.contains("[1]"), "{msg}");
        let err = Results::from_json(r#"{"a": 1}"#, "x.json").unwrap_err();
        assert!(matches!(err, LoadError::NoVersion { .. }));
        let err = Results::from_json("not json", "x.json").unwrap_err();
        assert!(matches!(err, LoadError::Parse { .. }));
    }

    /// A results file written before the optional fields existed (the test
    /// fixture has none of them) loads, with every new field empty.
    #[test]
    fn results_without_the_new_fields_load() {
        let text = include_str!("../../tests/fixtures/results.json");
        assert!(!text.contains("\"failures\""), "the fixture must stay old");
        let r = Results::from_json(text, "fixture").unwrap();
        assert_eq!(r.schema_version, SCHEMA_VERSION);
        assert_eq!(r.config.order_seed, None);
        assert_eq!(r.host.repro, Default::default());
        for b in &r.backends {
            assert!(b.failures.is_empty() && b.protections.is_none() && b.isolation.is_none());
            assert!(b.boot.rounds.is_empty());
        }
        // And what this crate writes reads back the same.
        assert_eq!(Results::from_json(&r.to_json(), "again").unwrap(), r);
    }
}
