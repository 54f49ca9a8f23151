//! Hostile-input tests for `RobotsTxt`: property tests over arbitrary and robots-like bytes,
//! every stored robots.txt file, and pathological patterns and paths.
//!
//! The same invariants are checked by the cargo-fuzz target in `fuzz/fuzz_targets/robots.rs`.

#[path = "support/decision_shape.rs"]
mod decision_shape;
use decision_shape::check_decision;
use optout::policy::robots::canonical;
use optout::policy::{Code, RobotsTxt, Verdict, parse_url};
use proptest::prelude::*;
use proptest::sample::Index;
use std::borrow::Cow;
use std::path::Path;

// ---------------------------------------------------------------------------------------
// Invariants shared by every test.
// ---------------------------------------------------------------------------------------

/// `canonical` is idempotent, and its output is recognised as canonical (borrowed).
fn check_canonical(bytes: &[u8]) {
    let once = canonical(bytes);
    let twice = canonical(&once);
    assert_eq!(once, twice, "canonical is not idempotent on {bytes:?}");
    assert!(
        matches!(twice, Cow::Borrowed(_)),
        "canonical output is not recognised as canonical: {once:?}"
    );
}

/// Runs every query of the API on `robots` for `agent` and `path`, checking invariants.
fn exercise(robots: &RobotsTxt, agent: &str, path: &str) {
    let d = robots.allowed_path(agent, path);
    check_decision(robots, &d, &format!("allowed_path({agent:?}, {path:?})"));
    if let Ok(url) = parse_url(&format!("http://example.com{path}")) {
        let d = robots.allowed(agent, &url);
        check_decision(robots, &d, &format!("allowed({agent:?}, {url})"));
    }
    for robots_path in ["/robots.txt", "/robots.txt?x=1"] {
        let d = robots.allowed_path(agent, robots_path);
        assert_eq!(d.verdict, Verdict::Allowed, "{robots_path}: {d:?}");
        assert_eq!(d.reasons[0].code, Code::RobotsImplicitAllow);
    }
    check_canonical(path.as_bytes());
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
    assert!(robots.sitemaps().iter().all(|(line, _)| *line >= 1));
}

fn parse(bytes: &[u8], limit: Option<usize>) -> RobotsTxt {
    match limit {
        Some(limit) => RobotsTxt::parse_with_limit(bytes, limit),
        None => RobotsTxt::parse(bytes),
    }
}

const AGENTS: &[&str] = &[
    "googlebot",
    "GPTBot",
    "CCBot",
    "Google-Extended",
    "foo-bar",
    "*",
    "x",
    "",
];

const PATHS: &[&str] = &[
    "/",
    "",
    "/robots.txt",
    "/index.html",
    "/admin/",
    "/search?q=x&y=%2F",
    "/a/%E3%83%84",
    "/a/ツ",
    "/%2a$",
    "/wiki/Special:Random",
];

// ---------------------------------------------------------------------------------------
// Strategies.
// ---------------------------------------------------------------------------------------

const KEYS: &[&str] = &[
    "User-agent",
    "user-agent",
    "USER-AGENT",
    "useragent",
    "user agent",
    "Allow",
    "allow",
    "Disallow",
    "disallow",
    "DISALLOW",
    "disalow",
    "dissallow",
    "Sitemap",
    "site-map",
    "Crawl-delay",
    "crawl-delay",
    "Content-Usage",
    "Content-Signal",
    "Host",
    "#",
    "",
];

const SEPARATORS: &[&str] = &[": ", ":", " ", "\t", " : ", "  ", ":\t", "::"];

const VALUE_PIECES: &[&str] = &[
    "*",
    "/",
    "$",
    "%",
    "%2F",
    "%2f",
    "%25",
    "%2A",
    "%24",
    "%zz",
    "%E3%83%84",
    "é",
    "ツ",
    "🦀",
    "a",
    "bot",
    "GPTBot",
    "googlebot",
    "FooBot/2.1",
    "#",
    "?",
    "=",
    "&",
    " ",
    "\t",
    "\u{FEFF}",
    "\u{FFFD}",
    "robots.txt",
    "train-ai=n",
    "1.5",
    "-1",
    "NaN",
    "1e400",
    ".",
];

/// No BOM, a BOM, partial BOMs, and a BOM encoded twice (read as Latin-1, re-encoded).
const BOMS: &[&[u8]] = &[
    b"",
    b"\xEF\xBB\xBF",
    b"\xEF\xBB",
    b"\xEF",
    b"\xC3\xAF\xC2\xBB\xC2\xBF",
];

const EOLS: &[&str] = &["\n", "\r\n", "\r"];

fn robots_line() -> impl Strategy<Value = String> {
    (
        prop::sample::select(KEYS),
        prop::sample::select(SEPARATORS),
        prop::collection::vec(prop::sample::select(VALUE_PIECES), 0..8),
        prop::sample::select(EOLS),
    )
        .prop_map(|(key, sep, value, eol)| format!("{key}{sep}{}{eol}", value.concat()))
}

/// Robots-like text from the keyword vocabulary, with an optional (partial) BOM and a few
/// invalid UTF-8 bytes spliced in.
fn robots_like() -> impl Strategy<Value = Vec<u8>> {
    (
        prop::sample::select(BOMS),
        prop::collection::vec(robots_line(), 0..40),
        prop::collection::vec((any::<Index>(), any::<u8>()), 0..3),
    )
        .prop_map(|(bom, lines, splices)| {
            let mut bytes = bom.to_vec();
            bytes.extend(lines.concat().into_bytes());
            for (at, byte) in splices {
                let at = at.index(bytes.len() + 1);
                bytes.insert(at, byte);
            }
            bytes
        })
}

fn agent() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(AGENTS).prop_map(str::to_owned),
        "[A-Za-z_-]{1,12}",
        any::<String>(),
    ]
}

fn path() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(PATHS).prop_map(str::to_owned),
        "/[a-z0-9/%?.=&*$éツ]{0,30}",
        any::<String>(),
        any::<String>().prop_map(|s| format!("/{s}")),
    ]
}

/// `None` for the default limit, or a limit somewhere inside (or just past) the body.
fn limit_for(len: usize, pick: Option<Index>) -> Option<usize> {
    pick.map(|i| i.index(len + 2))
}

// ---------------------------------------------------------------------------------------
// Properties.
// ---------------------------------------------------------------------------------------

proptest! {
    // Failures print their minimal input; nothing is written next to the test sources.
    #![proptest_config(ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn arbitrary_bytes_never_panic(
        bytes in prop::collection::vec(any::<u8>(), 0..4096),
        agent in agent(),
        path in path(),
        limit in any::<Option<Index>>(),
    ) {
        let robots = parse(&bytes, limit_for(bytes.len(), limit));
        exercise(&robots, &agent, &path);
        check_canonical(&bytes);
    }

    #[test]
    fn robots_like_text_never_panics(
        bytes in robots_like(),
        agent in agent(),
        path in path(),
        limit in any::<Option<Index>>(),
    ) {
        let robots = parse(&bytes, limit_for(bytes.len(), limit));
        exercise(&robots, &agent, &path);
        for agent in AGENTS {
            exercise(&robots, agent, &path);
        }
    }

    #[test]
    fn canonical_is_idempotent(
        bytes in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..256),
            prop::collection::vec(
                prop::sample::select(&[
                    "%", "%2", "%2F", "%2f", "%25", "%e3", "%E3", "%%", "a", "/", "é", " ",
                    "F", "f", "7", "e", "~", "%7e", "%7E", "%41", "%00", "%FF",
                ][..]),
                0..40,
            ).prop_map(|pieces| pieces.concat().into_bytes()),
        ],
    ) {
        check_canonical(&bytes);
    }

    #[test]
    fn robots_txt_is_always_allowed(bytes in robots_like(), agent in agent(), query in "[a-z=&%/]{0,10}") {
        let robots = RobotsTxt::parse(&bytes);
        for path in ["/robots.txt".to_owned(), format!("/robots.txt?{query}")] {
            let d = robots.allowed_path(&agent, &path);
            prop_assert_eq!(d.verdict, Verdict::Allowed, "{} {:?}", path, d);
            prop_assert_eq!(d.reasons[0].code, Code::RobotsImplicitAllow);
        }
        let url = parse_url("https://example.com/robots.txt").unwrap();
        prop_assert_eq!(robots.allowed(&agent, &url).verdict, Verdict::Allowed);
    }

    #[test]
    fn parsing_is_deterministic(
        bytes in prop_oneof![robots_like(), prop::collection::vec(any::<u8>(), 0..2048)],
        path in path(),
        limit in any::<Option<Index>>(),
    ) {
        let limit = limit_for(bytes.len(), limit);
        let a = parse(&bytes, limit);
        let b = parse(&bytes, limit);
        for agent in AGENTS {
            for p in PATHS.iter().copied().chain([path.as_str()]) {
                prop_assert_eq!(a.allowed_path(agent, p), b.allowed_path(agent, p));
            }
            prop_assert_eq!(a.crawl_delay(agent), b.crawl_delay(agent));
        }
        prop_assert_eq!(a.sitemaps(), b.sitemaps());
        prop_assert_eq!(a.extension_lines(), b.extension_lines());
        prop_assert_eq!(format!("{:?}", a.groups()), format!("{:?}", b.groups()));
        prop_assert_eq!(a.is_truncated(), b.is_truncated());
        prop_assert_eq!(a.had_invalid_utf8(), b.had_invalid_utf8());
    }

    #[test]
    fn disallow_all_in_star_group_refuses_unnamed_agents(
        before in prop::collection::vec(other_group(), 0..4),
        after in prop::collection::vec(other_group(), 0..4),
        star in prop::sample::select(&["*", "* ignored", "*\t", " * "][..]),
        disallow in prop::sample::select(&["Disallow: /", "disallow:/", "DISALLOW /", "Disalow: /", "Disallow :  /  # all"][..]),
        extra in prop::collection::vec(star_group_line(), 0..6),
        eol in prop::sample::select(EOLS),
        bom in any::<bool>(),
        agent in "[A-Za-z_-]{1,12}",
        path in prop_oneof!["/[a-z0-9/%?.=&*$éツ]{0,30}", any::<String>().prop_map(|s| format!("/{s}"))],
    ) {
        prop_assume!(!agent.to_ascii_lowercase().starts_with("other"));
        let path_only = path.split_once('?').map_or(path.as_str(), |(p, _)| p);
        prop_assume!(path_only != "/robots.txt");
        let mut text = String::new();
        if bom {
            text.push('\u{FEFF}');
        }
        for group in &before {
            text.push_str(group);
        }
        text.push_str(&format!("User-agent: {star}\n{disallow}\n"));
        for line in &extra {
            text.push_str(line);
        }
        for group in &after {
            text.push_str(group);
        }
        let text = text.replace('\n', eol);
        let robots = RobotsTxt::parse(text.as_bytes());
        let d = robots.allowed_path(&agent, &path);
        prop_assert_eq!(d.verdict, Verdict::Refused, "{:?} {:?}\n{}", path, d, text);
        if let Ok(url) = parse_url(&format!("http://example.com{path}")) {
            let expected = if url.path() == "/robots.txt" { Verdict::Allowed } else { Verdict::Refused };
            prop_assert_eq!(robots.allowed(&agent, &url).verdict, expected, "{}", url);
        }
        // The named agents are not bound by the `*` group.
        for group in before.iter().chain(&after) {
            let name = group.lines().next().unwrap().trim_start_matches("User-agent: ");
            let token: String = name.chars().take_while(|c| c.is_ascii_alphabetic()).collect();
            let d = robots.allowed_path(&token, "/only-for-star");
            prop_assert_eq!(d.verdict, Verdict::Allowed, "{} {:?}\n{}", token, d, text);
        }
    }

    #[test]
    fn long_multibyte_lines_keep_later_rules_and_line_numbers(
        prefix in "[a-z]{0,7}",
        chars in prop::collection::vec(prop::sample::select(&["é", "ツ", "🦀", "ü", "a", "%", "%E3"][..]), 1..64),
        target_len in 17_000usize..40_000,
        key in prop::sample::select(&["Disallow", "Allow", "User-agent", "Sitemap", "Content-Usage", "# comment"][..]),
        eol in prop::sample::select(EOLS),
    ) {
        let mut unit = chars.concat();
        if unit.is_ascii() {
            unit.push('ツ');
        }
        let mut long = prefix;
        while long.len() < target_len {
            long.push_str(&unit);
        }
        let text = [
            "User-agent: *".to_owned(),
            format!("{key}: /{long}"),
            "Disallow: /private".to_owned(),
            "Allow: /private/open".to_owned(),
            String::new(),
        ]
        .join(eol);
        let robots = RobotsTxt::parse(text.as_bytes());
        let d = robots.allowed_path("somebot", "/private/x");
        prop_assert_eq!(d.verdict, Verdict::Refused);
        prop_assert_eq!(d.reasons[0].line, Some(3));
        let d = robots.allowed_path("somebot", "/private/open/x");
        prop_assert_eq!(d.verdict, Verdict::Allowed);
        prop_assert_eq!(d.reasons[0].line, Some(4));
        exercise(&robots, "somebot", &format!("/{long}"));
        // The same with invalid UTF-8 right after the long line's cut.
        let mut bytes = text.into_bytes();
        bytes.insert(16_660.min(bytes.len()), 0xFF);
        let robots = RobotsTxt::parse(&bytes);
        exercise(&robots, "somebot", "/private/x");
    }
}

/// A group for an agent whose product token starts with `other`.
fn other_group() -> impl Strategy<Value = String> {
    (
        "other[a-z]{0,6}",
        prop::sample::select(&["", "/2.1", " extra words"][..]),
        prop::collection::vec(
            (
                prop::sample::select(&["Allow", "Disallow"][..]),
                "/[a-z*$]{0,6}",
            ),
            0..4,
        ),
    )
        .prop_map(|(name, suffix, rules)| {
            let mut group = format!("User-agent: {name}{suffix}\n");
            // A rule ends the group, so the next `User-agent` line starts a new one.
            group.push_str("Allow: /only-for-star\n");
            for (key, pattern) in rules {
                group.push_str(&format!("{key}: {pattern}\n"));
            }
            group
        })
}

/// A line that may follow `Disallow: /` in the `*` group without allowing anything.
fn star_group_line() -> impl Strategy<Value = String> {
    prop_oneof![
        "/[a-z*$%é]{0,8}".prop_map(|p| format!("Disallow: {p}\n")),
        Just("Disallow:\n".to_owned()),
        Just("Crawl-delay: 3\n".to_owned()),
        Just("Content-Usage: train-ai=n\n".to_owned()),
        Just("Sitemap: https://example.com/sitemap.xml\n".to_owned()),
        Just("# Allow: /\n".to_owned()),
        Just("\n".to_owned()),
        Just("Host: example.com\n".to_owned()),
    ]
}

// ---------------------------------------------------------------------------------------
// Stored files and pathological inputs.
// ---------------------------------------------------------------------------------------

fn parse_every_file_in(dir: &Path) -> usize {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .collect();
    entries.sort();
    for file in &entries {
        let bytes = std::fs::read(file).unwrap();
        let robots = RobotsTxt::parse(&bytes);
        for agent in AGENTS {
            for path in PATHS {
                exercise(&robots, agent, path);
            }
        }
        // A small limit cuts real files at arbitrary points.
        let robots = RobotsTxt::parse_with_limit(&bytes, bytes.len() / 3);
        exercise(&robots, "googlebot", "/index.html");
    }
    entries.len()
}

#[test]
fn every_stored_robots_file_parses() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let local = parse_every_file_in(&root.join("tests/data/robots"));
    assert!(local > 0, "tests/data/robots is empty");
    let shared = root.join("../shared/corpus/robots");
    if shared.is_dir() {
        let n = parse_every_file_in(&shared);
        eprintln!(
            "parsed {local} files in tests/data/robots and {n} in {}",
            shared.display()
        );
    } else {
        eprintln!(
            "parsed {local} files in tests/data/robots; {} is absent, skipped",
            shared.display()
        );
    }
}

#[test]
fn pathological_wildcard_line_and_long_path_finish() {
    // One 500 KB `*a*a*a…` line (the parser cuts it; the cut must land safely).
    let pattern = "*a".repeat(250_000);
    let text = format!("User-agent: *\nDisallow: /{pattern}b\nAllow: /{pattern}$\n");
    let robots = RobotsTxt::parse(text.as_bytes());
    let long_a = format!("/{}", "a".repeat(100_000));
    let long_mixed = format!("/{}", "ab%2F".repeat(20_000));
    for path in [long_a.as_str(), long_mixed.as_str(), "/a", "/"] {
        exercise(&robots, "x", path);
    }

    // A parse limit's worth of short wildcard rules, none of which matches a 100 KB path,
    // so every rule scans the whole path.
    let mut text = String::from("User-agent: *\n");
    let mut i = 0;
    while text.len() < 500_000 {
        text.push_str(&format!("Disallow: /*a*a*a*{i}b\n"));
        i += 1;
    }
    let robots = RobotsTxt::parse(text.as_bytes());
    let d = robots.allowed_path("x", &long_a);
    assert_eq!(d.verdict, Verdict::Allowed, "{d:?}");
    exercise(&robots, "x", &long_a);

    // Many groups naming the same agent: rules are merged at decision time.
    let mut text = String::new();
    while text.len() < 500_000 {
        text.push_str("User-agent: x\nDisallow: /*a*a*zz\n");
    }
    let robots = RobotsTxt::parse(text.as_bytes());
    assert_eq!(robots.allowed_path("x", &long_a).verdict, Verdict::Allowed);

    // Many groups naming the agent (or `*`), each with many other agents: a no-match
    // decision lists the agents of every group that applies.
    for agent_line in ["User-agent: x\n", "User-agent: *\n"] {
        let mut text = String::new();
        let mut n = 0;
        while text.len() < 500_000 {
            text.push_str(agent_line);
            for _ in 0..100 {
                text.push_str(&format!("User-agent:b{n}\n"));
                n += 1;
            }
            text.push_str("Disallow:/q\n");
        }
        let robots = RobotsTxt::parse(text.as_bytes());
        let d = robots.allowed_path("x", "/a");
        assert_eq!(
            d.reasons[0].code,
            Code::RobotsNoMatch,
            "{:?}",
            d.reasons[0].code
        );
    }
}

// ---------------------------------------------------------------------------------------
// Reproducers of behaviour found while fuzzing that src/ does not meet yet. Ignored until
// fixed; run with `cargo test --test robots_hostile -- --ignored`.
// ---------------------------------------------------------------------------------------

/// `ExtensionLine::value` is documented as "the value, trimmed, comment removed", but
/// unknown-key values reach `handle_unknown_action` after robotstxt's `escape_pattern`:
/// non-ASCII is percent-encoded, `%xx` is upper-cased, and once anything is rewritten a `%`
/// not followed by two hex digits is dropped together with the two octets after it.
#[test]
fn extension_line_value_is_kept_as_written() {
    let robots = RobotsTxt::parse(
        "User-agent: *\nLicense: https://example.com/50%off-café\nContent-Usage: train-ai=n %ab\n"
            .as_bytes(),
    );
    let values: Vec<&str> = robots.extension_lines().iter().map(|e| &*e.value).collect();
    // Today: ["https://example.com/50f-caf%C3%A9", "train-ai=n %AB"].
    assert_eq!(
        values,
        ["https://example.com/50%off-café", "train-ai=n %ab"]
    );
}

/// Rules are compared in canonical form, where `%72` is `r` and `%2E` is `.`, so
/// `Disallow: /` matches `/%72obots.txt`; the implicit allow of `/robots.txt` (RFC 9309
/// §2.2.2) compares the path as written and does not.
#[test]
fn percent_encoded_robots_txt_is_implicitly_allowed() {
    let robots = RobotsTxt::parse(b"User-agent: *\nDisallow: /\n");
    for path in ["/%72obots.txt", "/robots%2Etxt", "/robots%2etxt?x=1"] {
        let d = robots.allowed_path("x", path);
        assert_eq!(d.verdict, Verdict::Allowed, "{path}: {d:?}");
    }
}
