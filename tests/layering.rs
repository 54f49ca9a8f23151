//! The workspace's layering, read from `cargo metadata` (docs/architecture.md): the
//! compiler enforces the direction of every dependency, and this test the facts a reviewer
//! checks, so that a dependency added in the wrong crate fails CI rather than a review.

use serde_json::Value;
use std::collections::BTreeMap;
use std::process::Command;

/// Each member's normal (non-dev, non-build) dependencies, by package name.
fn members() -> BTreeMap<String, Vec<String>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut members = BTreeMap::new();
    for package in meta["packages"].as_array().unwrap() {
        let deps = package["dependencies"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["kind"].is_null())
            .map(|d| d["name"].as_str().unwrap().to_owned())
            .collect();
        members.insert(package["name"].as_str().unwrap().to_owned(), deps);
    }
    members
}

fn users_of(members: &BTreeMap<String, Vec<String>>, dep: &str) -> Vec<String> {
    members
        .iter()
        .filter(|(_, deps)| deps.iter().any(|d| d == dep))
        .map(|(name, _)| name.clone())
        .collect()
}

#[test]
fn the_policy_crate_uses_nothing_of_ours_and_no_io() {
    let members = members();
    let policy = &members["optout-policy"];
    for dep in policy {
        assert!(!dep.starts_with("optout"), "optout-policy depends on {dep}");
        for io in ["tokio", "reqwest", "hyper", "sled", "axum", "async-trait"] {
            assert_ne!(dep, io, "optout-policy depends on {io}");
        }
    }
}

#[test]
fn axum_is_the_service_crates_alone() {
    assert_eq!(users_of(&members(), "axum"), ["optout-serve"]);
}

#[test]
fn clap_is_the_binarys_alone() {
    assert_eq!(users_of(&members(), "clap"), ["optout"]);
}

#[test]
fn the_workspace_has_the_layers_as_crates() {
    let members = members();
    for layer in [
        "optout-policy",
        "optout-evidence",
        "optout-sled",
        "optout-config",
        "optout-net",
        "optout-fetch",
        "optout-engine",
        "optout-crawl",
        "optout-report",
        "optout-serve",
    ] {
        assert!(members.contains_key(layer), "no crate {layer}");
    }
}

/// sled is the embedded backend's alone: everything above it holds the evidence layer's
/// store handle, so a second backend replaces no caller.
#[test]
fn sled_is_the_sled_backends_alone() {
    assert_eq!(users_of(&members(), "sled"), ["optout-sled"]);
}

/// No crate names a crate above it: each layer's dependencies of ours are among the layers
/// listed below it in docs/architecture.md. The evidence layer owns the backend interface
/// and the sled backend implements it, so evidence never names the backend, and no library
/// above it does either (the binary, the facade and Python open stores).
#[test]
fn dependencies_point_down() {
    const LIBRARIES: &[&str] = &[
        "optout-policy",
        "optout-evidence",
        "optout-config",
        "optout-net",
        "optout-fetch",
        "optout-engine",
    ];
    let below: &[(&str, &[&str])] = &[
        ("optout-policy", &[]),
        ("optout-evidence", &["optout-policy"]),
        ("optout-sled", &["optout-policy", "optout-evidence"]),
        ("optout-config", &["optout-policy", "optout-evidence"]),
        (
            "optout-net",
            &["optout-policy", "optout-evidence", "optout-config"],
        ),
        ("optout-fetch", &LIBRARIES[..4]),
        ("optout-engine", &LIBRARIES[..5]),
        ("optout-crawl", &LIBRARIES[..5]),
        ("optout-report", &LIBRARIES[..4]),
        ("optout-serve", LIBRARIES),
    ];
    let members = members();
    for (layer, allowed) in below {
        for dep in members[*layer].iter().filter(|d| d.starts_with("optout")) {
            assert!(allowed.contains(&dep.as_str()), "{layer} depends on {dep}");
        }
    }
}
