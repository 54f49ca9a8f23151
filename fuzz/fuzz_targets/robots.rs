//! Fuzzes `RobotsTxt` parsing and decisions.
//!
//! Input layout:
//! - byte 0: agent length (mod 64);
//! - byte 1: parse-limit selector: high bit clear -> `RobotsTxt::parse` (default limit);
//!   high bit set -> `parse_with_limit(body, body.len() * (b & 0x7f) / 128)`, so the limit
//!   falls inside the body (0x80 gives a zero limit);
//! - then the agent bytes, then a path up to the first NUL (or the end), then the body.
//!
//! Text fields are decoded lossily, so every input reaches the parser.

#![no_main]

#[path = "../../tests/support/decision_shape.rs"]
mod decision_shape;
use decision_shape::check_decision;
use libfuzzer_sys::fuzz_target;
use optout::policy::robots::{canonical, google};
use optout::policy::{Code, RobotsTxt, Verdict, parse_url};
use std::borrow::Cow;

struct Input<'a> {
    agent: Cow<'a, str>,
    path: Cow<'a, str>,
    body: &'a [u8],
    limit: Option<usize>,
}

fn split(data: &[u8]) -> Option<Input<'_>> {
    let (&agent_len, rest) = data.split_first()?;
    let (&selector, rest) = rest.split_first()?;
    let agent_len = usize::from(agent_len % 64).min(rest.len());
    let (agent, rest) = rest.split_at(agent_len);
    let (path, body) = match rest.iter().position(|&b| b == 0) {
        Some(nul) => (&rest[..nul], &rest[nul + 1..]),
        None => (rest, &[][..]),
    };
    let limit = (selector & 0x80 != 0).then(|| body.len() * usize::from(selector & 0x7f) / 128);
    Some(Input {
        agent: String::from_utf8_lossy(agent),
        path: String::from_utf8_lossy(path),
        body,
        limit,
    })
}

fn check_canonical(bytes: &[u8]) {
    let once = canonical(bytes);
    let twice = canonical(&once);
    assert_eq!(once, twice, "canonical is not idempotent on {bytes:?}");
    assert!(
        matches!(twice, Cow::Borrowed(_)),
        "canonical output is not recognised as canonical: {once:?}"
    );
}

/// Google's form (used for rules with a stray `%`) is idempotent and ASCII.
fn check_google(bytes: &[u8]) {
    let once = google(bytes);
    assert!(once.is_ascii(), "google form is not ASCII: {once:?}");
    assert!(
        matches!(google(&once), Cow::Borrowed(_)),
        "google form is not stable on {bytes:?}"
    );
}

fuzz_target!(|data: &[u8]| {
    let Some(input) = split(data) else { return };
    let robots = match input.limit {
        Some(limit) => RobotsTxt::parse_with_limit(input.body, limit),
        None => RobotsTxt::parse(input.body),
    };
    let agent = &*input.agent;
    let path = &*input.path;

    let d = robots.allowed_path(agent, path);
    check_decision(&robots, &d, "allowed_path");

    if let Ok(url) = parse_url(&format!("http://example.com{path}")) {
        let url: url::Url = url;
        let d = robots.allowed(agent, &url);
        check_decision(&robots, &d, "allowed");
    }

    for robots_path in ["/robots.txt", "/robots.txt?x=1"] {
        let d = robots.allowed_path(agent, robots_path);
        check_decision(&robots, &d, robots_path);
        assert_eq!(d.verdict, Verdict::Allowed, "{robots_path} refused: {d:?}");
        assert_eq!(d.reasons[0].code, Code::RobotsImplicitAllow);
    }
    let url = parse_url("http://example.com/robots.txt").expect("static URL");
    assert_eq!(robots.allowed(agent, &url).verdict, Verdict::Allowed);

    check_canonical(path.as_bytes());
    check_canonical(input.body);
    check_google(path.as_bytes());
    check_google(input.body);

    if let Some(delay) = robots.crawl_delay(agent) {
        assert!(
            delay.seconds.is_finite() && delay.seconds >= 0.0,
            "{delay:?}"
        );
        assert!(delay.line >= 1, "{delay:?}");
    }
    let groups = robots.groups();
    for group in groups {
        assert!(!group.agents.is_empty() && group.line >= 1, "{group:?}");
    }
    for ext in robots.extension_lines() {
        assert!(ext.line >= 1, "{ext:?}");
        assert!(ext.group.is_none_or(|g| g < groups.len()), "{ext:?}");
    }
    for (line, _) in robots.sitemaps() {
        assert!(*line >= 1);
    }
});
