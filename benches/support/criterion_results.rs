//! Reading criterion's own result files, to print ratios measured in one run (shared by the
//! benches through `#[path]`).

use std::path::PathBuf;
use std::time::SystemTime;

/// Where criterion writes its results (its own order of preference, without running
/// `cargo metadata`).
pub fn criterion_home() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        PathBuf::from(home)
    } else if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        PathBuf::from(target).join("criterion")
    } else {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/target/criterion"))
    }
}

/// Criterion's median time per iteration for `group/id`, in ns, if this run wrote it.
pub fn median_ns(group: &str, id: &str, since: SystemTime) -> Option<f64> {
    let path = criterion_home()
        .join(group)
        .join(id)
        .join("new")
        .join("estimates.json");
    let fresh = std::fs::metadata(&path).ok()?.modified().ok()? >= since;
    if !fresh {
        return None;
    }
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    json["median"]["point_estimate"].as_f64()
}
