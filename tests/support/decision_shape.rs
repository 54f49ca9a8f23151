//! The shape every robots.txt decision must have; shared by `tests/robots_hostile.rs` and
//! the `robots` fuzz target through `#[path]`.

use optout::policy::{Code, Decision, RobotsTxt, Verdict};

/// Checks the shape of one decision: at least one reason, the first decides the verdict,
/// the rest are notes that agree with the parse.
pub fn check_decision(robots: &RobotsTxt, d: &Decision, context: &str) {
    let first = d
        .reasons
        .first()
        .unwrap_or_else(|| panic!("{context}: decision without a reason"));
    match first.code {
        Code::RobotsDisallow => {
            assert_eq!(d.verdict, Verdict::Refused, "{context}: {d:?}");
            assert!(first.line.is_some_and(|l| l >= 1), "{context}: {d:?}");
            assert!(first.rule.is_some(), "{context}: {d:?}");
        }
        Code::RobotsAllow => {
            assert_eq!(d.verdict, Verdict::Allowed, "{context}: {d:?}");
            assert!(first.line.is_some_and(|l| l >= 1), "{context}: {d:?}");
            assert!(first.rule.is_some(), "{context}: {d:?}");
        }
        Code::RobotsNoMatch | Code::RobotsNoGroup | Code::RobotsImplicitAllow => {
            assert_eq!(d.verdict, Verdict::Allowed, "{context}: {d:?}");
        }
        other => panic!("{context}: unexpected deciding reason {other:?}: {d:?}"),
    }
    for note in &d.reasons[1..] {
        assert!(
            matches!(note.code, Code::RobotsTruncated | Code::RobotsInvalidUtf8),
            "{context}: unexpected note {note:?}"
        );
    }
    assert_eq!(
        robots.is_truncated(),
        d.reasons.iter().any(|r| r.code == Code::RobotsTruncated),
        "{context}: truncation note"
    );
    assert_eq!(
        robots.had_invalid_utf8(),
        d.reasons.iter().any(|r| r.code == Code::RobotsInvalidUtf8),
        "{context}: invalid-UTF-8 note"
    );
}
