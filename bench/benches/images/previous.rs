//! The previous run's image sizes. Criterion cannot compare a run with
//! zero spread to the one before it (its change analysis panics on
//! identical samples), and image sizes always have zero spread. So the
//! bench reads the last sizes from Criterion's output, removes that output
//! (each run starts as a first run), and says itself what changed.
use std::collections::BTreeMap;
use std::path::Path;

/// Function name (`rootfs/zstd`) to its bytes in the previous run.
pub type Sizes = BTreeMap<String, u64>;

/// Reads, then removes, group `group`'s previous output under `dir`. An
/// output that cannot be removed ends the bench with a message and exit
/// status 1.
pub fn take(dir: &Path, group: &str) -> Sizes {
    let group_dir = dir.join(group);
    let mut sizes = Sizes::new();
    for e in std::fs::read_dir(&group_dir)
        .into_iter()
        .flatten()
        .flatten()
    {
        let new = e.path().join("new");
        let read = |f: &str| -> Option<serde_json::Value> {
            serde_json::from_slice(&std::fs::read(new.join(f)).ok()?).ok()
        };
        let (Some(id), Some(estimates)) = (read("benchmark.json"), read("estimates.json")) else {
            continue;
        };
        let bytes = estimates["mean"]["point_estimate"].as_f64();
        if let (Some(f), Some(b)) = (id["function_id"].as_str(), bytes) {
            sizes.insert(f.to_string(), b.round() as u64);
        }
    }
    if group_dir.exists() {
        if let Err(e) = std::fs::remove_dir_all(&group_dir) {
            eprintln!(
                "cannot remove the previous run's {}: {e}",
                group_dir.display()
            );
            std::process::exit(1);
        }
    }
    sizes
}

/// Prints how `function`'s size compares with the previous run's.
pub fn compare(previous: &Sizes, function: &str, bytes: u64) {
    match previous.get(function) {
        Some(&was) if was != bytes => {
            let change = (bytes as f64 - was as f64) / was as f64 * 100.0;
            eprintln!("images/{function}: {bytes} bytes, was {was} ({change:+.2}%)");
        }
        Some(_) => {}
        None => eprintln!("images/{function}: {bytes} bytes, new"),
    }
}
