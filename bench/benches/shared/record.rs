//! The record of what a bench ran and skipped, for the test that opens
//! Criterion's report (`reports/tests/criterion_benches.rs`): it must find
//! every function that ran on the report's pages, and knows why the others
//! are absent.
//!
//! The record is `vmlab-ran.json` in Criterion's output directory (found
//! as Criterion finds it). Each bench binary replaces its own entry and
//! leaves the others':
//!
//! ```json
//! {"benches": {"boot": {"mode": "quick",
//!   "groups": {"boot/call_to_ready": ["process", "sandbox"]},
//!   "skipped": {"boot/crun": "needs root, crun and unshare on PATH"}}}}
//! ```
//!
//! A function counts as run once Criterion has called its routine (a
//! filter on the command line leaves the others out).
use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::fmt::Display;
use std::path::PathBuf;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::mode;

/// The record's file name in Criterion's output directory.
pub const FILE: &str = "vmlab-ran.json";

/// Every bench's entry.
#[derive(Default, Serialize, Deserialize)]
struct Record {
    benches: BTreeMap<String, Entry>,
}

/// One bench binary's run.
#[derive(Default, Serialize, Deserialize)]
struct Entry {
    /// `quick` or `full` (see `mode`).
    mode: String,
    /// Group name to the functions that ran in it.
    groups: BTreeMap<String, BTreeSet<String>>,
    /// What was skipped (`boot/crun`, `overhead/runsc`) to why.
    skipped: BTreeMap<String, String>,
}

static THIS_RUN: Mutex<Entry> = Mutex::new(Entry {
    mode: String::new(),
    groups: BTreeMap::new(),
    skipped: BTreeMap::new(),
});

fn this_run() -> std::sync::MutexGuard<'static, Entry> {
    // A bench that panicked while holding the lock has ended anyway.
    THIS_RUN.lock().unwrap_or_else(|e| e.into_inner())
}

/// Criterion's output directory, found the way Criterion finds it:
/// `$CRITERION_HOME`, else `$CARGO_TARGET_DIR/criterion`, else the target
/// directory `cargo metadata` names, else `target/criterion`.
pub fn criterion_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .or_else(metadata_target_dir);
    match target {
        Some(t) => t.join("criterion"),
        None => PathBuf::from("target/criterion"),
    }
}

/// The target directory, from `$CARGO metadata` (cargo sets `$CARGO` for
/// the benches it runs).
fn metadata_target_dir() -> Option<PathBuf> {
    let out = std::process::Command::new(std::env::var_os("CARGO")?)
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .output()
        .ok()?;
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    meta["target_directory"].as_str().map(PathBuf::from)
}

/// Notes that function `function` of group `group` ran; call it from the
/// routine Criterion runs.
pub fn ran(group: &str, function: &str) {
    this_run()
        .groups
        .entry(group.to_string())
        .or_default()
        .insert(function.to_string());
}

/// Prints that `what` (e.g. `boot/crun`) is skipped and why, and notes it.
pub fn skipped(what: &str, why: impl Display) {
    let why = why.to_string();
    eprintln!("{what}: skipped: {why}");
    this_run().skipped.insert(what.to_string(), why);
}

/// Writes this run's entry as bench `bench`'s into the record, keeping the
/// other benches' entries. A record that cannot be written ends the bench
/// with a message and exit status 1.
pub fn save(bench: &str) {
    let dir = criterion_dir();
    let path = dir.join(FILE);
    let mut record: Record = std::fs::read(&path)
        .ok()
        .and_then(|text| serde_json::from_slice(&text).ok())
        .unwrap_or_default();
    let mut entry = std::mem::take(&mut *this_run());
    entry.mode = mode::name().to_string();
    record.benches.insert(bench.to_string(), entry);
    let text = serde_json::to_vec_pretty(&record).expect("the record serializes");
    // Written aside, then renamed: a reader never sees half a record.
    let aside = path.with_extension("json.new");
    let written = std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(&aside, text))
        .and_then(|()| std::fs::rename(&aside, &path));
    if let Err(e) = written {
        eprintln!(
            "cannot write the record of what ran, {}: {e}",
            path.display()
        );
        std::process::exit(1);
    }
    eprintln!("{bench}: what ran is recorded in {}", path.display());
}
