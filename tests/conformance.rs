//! Google's robots.txt conformance suite (google/robotstxt-spec-test, Apache-2.0), flattened
//! to JSON in `tests/data/conformance/`. Every `STANDARD` case must pass, except the cases
//! listed in [`RFC_EXCEPTIONS`], where the suite predates RFC 9309 and the RFC overrules it.
//! `GOOGLE_SPECIFIC` cases describe Google's own choices; they are run (nothing may panic)
//! and counted, but not required.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use optout::policy::{RobotsTxt, Verdict};
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Deserialize)]
struct Case {
    file: String,
    test_index: u32,
    expectation_index: u32,
    robotstxt_b64: String,
    url_b64: String,
    user_agent: String,
    expected: String,
    test_type: String,
}

/// `(file, test_index, expectation_index)` of each STANDARD case that contradicts RFC 9309,
/// with the sentence of the RFC that overrules it.
const RFC_EXCEPTIONS: &[(&str, u32, u32, &str)] = &[
    (
        "non-ascii-paths.textproto",
        1,
        1,
        "RFC 9309 §2.2.2: \"Octets in the URI ... outside the range of the ASCII coded character set ... MUST be percent-encoded ... prior to comparison\" (Figure 4: /foo/bar/U+E38384 -> /foo/bar/%E3%83%84); the suite expects a raw non-ASCII URL not to match its own encoding",
    ),
    (
        "non-ascii-paths.textproto",
        2,
        1,
        "RFC 9309 §2.2.2 (as above): /foo/bar/ツ in the URL is /foo/bar/%E3%83%84 and matches Allow: /foo/bar/%E3%83%84",
    ),
    (
        "non-ascii-paths.textproto",
        3,
        0,
        "RFC 9309 §2.2.2: \"If a percent-encoded ASCII octet is encountered in the URI, it MUST be unencoded prior to comparison\" (Figure 4: /foo/bar/%62%61%7A -> match against /foo/bar/baz)",
    ),
    (
        "327748.textproto",
        0,
        5,
        "RFC 9309 §2.2.2: \"The /robots.txt URI is implicitly allowed.\"",
    ),
    (
        "369883.textproto",
        0,
        5,
        "RFC 9309 §2.2.2: \"The /robots.txt URI is implicitly allowed.\"",
    ),
    (
        "369883.textproto",
        0,
        9,
        "RFC 9309 §2.2.2: \"The /robots.txt URI is implicitly allowed.\"",
    ),
    (
        "860237.textproto",
        0,
        9,
        "RFC 9309 §2.2.2: \"The /robots.txt URI is implicitly allowed.\"",
    ),
];

fn load(name: &str) -> Vec<Case> {
    let path = format!(
        "{}/tests/data/conformance/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Runs one case; `None` when the URL cannot be parsed (only in GOOGLE_SPECIFIC cases).
fn verdict(case: &Case) -> Option<Verdict> {
    let body = B64.decode(&case.robotstxt_b64).expect("robotstxt_b64");
    let url = B64.decode(&case.url_b64).expect("url_b64");
    let url = url::Url::parse(&String::from_utf8_lossy(&url)).ok()?;
    Some(
        RobotsTxt::parse(&body)
            .allowed(&case.user_agent, &url)
            .verdict,
    )
}

fn expected(case: &Case) -> Verdict {
    match case.expected.as_str() {
        "ALLOWED" => Verdict::Allowed,
        "DISALLOWED" => Verdict::Refused,
        other => panic!("unknown expectation {other}"),
    }
}

fn run_suite(name: &str) -> (usize, usize, Vec<String>) {
    let cases = load(name);
    let mut standard = 0;
    let mut google_passed = 0;
    let mut failures = Vec::new();
    let mut google_total = 0;
    for case in &cases {
        let got = verdict(case);
        let key = (case.file.as_str(), case.test_index, case.expectation_index);
        let is_exception = RFC_EXCEPTIONS.iter().any(|&(f, t, e, _)| (f, t, e) == key);
        match case.test_type.as_str() {
            "STANDARD" => {
                standard += 1;
                let pass = got == Some(expected(case));
                if pass == is_exception {
                    failures.push(format!(
                        "{} #{}.{} agent={:?}: expected {}, got {:?}{}",
                        case.file,
                        case.test_index,
                        case.expectation_index,
                        case.user_agent,
                        case.expected,
                        got,
                        if is_exception {
                            " (listed as an RFC exception but passes: remove it from the list)"
                        } else {
                            ""
                        }
                    ));
                }
            }
            _ => {
                google_total += 1;
                google_passed += usize::from(got == Some(expected(case)));
            }
        }
    }
    eprintln!(
        "{name}: {standard} STANDARD cases ({} RFC exceptions listed), GOOGLE_SPECIFIC {google_passed}/{google_total} agree with Google",
        RFC_EXCEPTIONS.len()
    );
    (standard, google_total, failures)
}

#[test]
fn google_correctness_suite_standard_cases_pass() {
    let (standard, google, failures) = run_suite("correctness.json");
    assert_eq!(standard + google, 146);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn google_stress_suite_standard_cases_pass() {
    let (standard, _, failures) = run_suite("stress.json");
    assert_eq!(standard, 254);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn exceptions_are_few_and_each_cites_the_rfc() {
    let mut per_file: BTreeMap<&str, usize> = BTreeMap::new();
    for (file, _, _, why) in RFC_EXCEPTIONS {
        assert!(why.starts_with("RFC 9309 §"), "{why}");
        *per_file.entry(file).or_default() += 1;
    }
    assert!(RFC_EXCEPTIONS.len() <= 7, "{per_file:?}");
}

#[test]
fn suite_copy_matches_shared_when_present() {
    let shared = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/conformance/robotstxt-spec-test"
    );
    if !std::path::Path::new(shared).exists() {
        eprintln!("skipped: {shared} is absent (not a development checkout)");
        return;
    }
    for name in ["correctness.json", "stress.json"] {
        let ours = std::fs::read(format!(
            "{}/tests/data/conformance/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        let theirs = std::fs::read(format!("{shared}/{name}")).unwrap();
        assert!(ours == theirs, "tests/data/conformance/{name} is stale");
    }
}
