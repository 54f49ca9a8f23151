//! Live policy sources against real HTTP servers on 127.0.0.1 (never a mocked client, never
//! the Internet): RFC 9309 status and redirect rules, timeouts, the parse limit, tdmrep.json
//! and ai.txt, cache lifetimes and conditional refetches, the 30-day fallback, single
//! flight, the private-address guard, persistence, the memory bound and the online CLI.
//!
//! Time is a `ManualClock` the tests move; only the timeout tests (short timeouts) and the
//! single-flight test (300 ms answers) wait.

#[path = "support/server.rs"]
mod server;

use optout::config::Config;
use optout::evidence::record::sha256_hex;
use optout::net::{Clock, HttpClient, ManualClock, OriginPolicy, PolicySources};
use optout::policy::crawlers::AiCrawlers;
use optout::policy::excluded::ExcludedDomains;
use optout::policy::judge::Judge;
use optout::policy::{Code, Decision, Purpose, Verdict};
use optout::store::{Sled, Store};
use server::{Reply, Server, Silent};
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use url::Url;

const ROBOTS: &str = "User-agent: *\nDisallow: /private\n";

const DAY: Duration = Duration::from_secs(24 * 3600);

/// `[net]` for the tests: loopback allowed, timeouts short enough that a failure shows fast
/// and long enough for a loaded 2-core machine.
const NET: &str = "[net]\nallow_private_addresses = true\nconnect_timeout_ms = 2000\nread_timeout_ms = 5000\ntotal_timeout_ms = 10000\n";

/// The test configuration with more `[net]` keys (and any later tables) appended.
fn config(extra: &str) -> Config {
    Config::from_toml(&format!("{NET}{extra}")).unwrap()
}

fn start_time() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)
}

fn manual_clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(start_time()))
}

fn sources_with(
    config: &Config,
    store: Option<Store>,
    clock: Option<&Arc<ManualClock>>,
) -> PolicySources {
    let client = HttpClient::new(config).unwrap();
    let sources = PolicySources::new(config, client, store, Arc::new(AiCrawlers::default()));
    match clock {
        Some(clock) => sources.with_clock(Arc::clone(clock) as Arc<dyn Clock>),
        None => sources,
    }
}

fn sources(config: &Config) -> PolicySources {
    sources_with(config, None, None)
}

fn decide(policy: &OriginPolicy, url: &str, purpose: Purpose) -> Decision {
    let excluded = ExcludedDomains::default();
    let judge = Judge {
        agent: "optout",
        purpose,
        excluded: &excluded,
        ai_crawler_blocks: true,
    };
    judge.decide(&policy.site, None, &Url::parse(url).unwrap())
}

/// Fetches (or takes from the cache) the policy of `url`'s origin and decides for `url`.
async fn check(sources: &PolicySources, url: &str, purpose: Purpose) -> Decision {
    let policy = sources.for_url(&Url::parse(url).unwrap()).await.unwrap();
    decide(&policy, url, purpose)
}

fn codes(d: &Decision) -> Vec<&'static str> {
    d.reasons.iter().map(|r| r.code.as_str()).collect()
}

fn has(d: &Decision, code: Code) -> bool {
    d.reasons.iter().any(|r| r.code == code)
}

#[track_caller]
fn assert_refused_by(d: &Decision, code: Code, context: &str) {
    assert_eq!(d.verdict, Verdict::Refused, "{context}: {d:#?}");
    assert!(
        has(d, code),
        "{context}: expected {} in {:?}: {d:#?}",
        code.as_str(),
        codes(d)
    );
}

#[track_caller]
fn assert_allowed(d: &Decision, context: &str) {
    assert_eq!(
        d.verdict,
        Verdict::Allowed,
        "{context}: {:?}: {d:#?}",
        codes(d)
    );
}

/// A server whose robots.txt is `reply`; tdmrep.json and ai.txt are 404.
fn robots_server(reply: Reply) -> Server {
    let server = Server::start();
    server.route("/robots.txt", reply);
    server
}

const ALL_PURPOSES: [Purpose; 3] = [Purpose::TrainAi, Purpose::AiInput, Purpose::Search];

// ---------------------------------------------------------------------------------------
// 1. Status codes (RFC 9309 §2.3.1)
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn rfc9309_2_3_1_1_2xx_is_parsed_and_disallow_honoured() {
    let server = robots_server(Reply::ok(ROBOTS));
    let sources = sources(&config(""));
    for purpose in ALL_PURPOSES {
        let d = check(&sources, &server.url("/private/page"), purpose).await;
        assert_refused_by(&d, Code::RobotsDisallow, "disallowed path");
        let disallow = d
            .reasons
            .iter()
            .find(|r| r.code == Code::RobotsDisallow)
            .unwrap();
        assert_eq!(disallow.line, Some(2));
        assert_eq!(disallow.source.as_deref(), Some("robots.txt"));
        let d = check(&sources, &server.url("/public/page"), purpose).await;
        assert_allowed(&d, "a path no rule matches");
    }
    let policy = sources
        .for_url(&Url::parse(&server.url("/")).unwrap())
        .await
        .unwrap();
    assert_eq!(policy.origin, server.origin());
    let robots = policy
        .sources
        .iter()
        .find(|s| s.kind == "robots.txt")
        .unwrap();
    assert_eq!(robots.url, server.url("/robots.txt"));
    assert_eq!(robots.status, Some(200));
    assert_eq!(robots.sha256, sha256_hex(ROBOTS.as_bytes()));
    // Each file once, whatever the number of checks; an honest User-Agent.
    assert_eq!(server.count("/robots.txt"), 1);
    assert_eq!(server.count("/.well-known/tdmrep.json"), 1);
    assert_eq!(server.count("/ai.txt"), 1);
    for seen in server.requests() {
        let ua = seen.header("user-agent").unwrap_or_default();
        assert!(ua.starts_with("optout/"), "User-Agent {ua:?}");
        assert_eq!(seen.method, "GET");
    }
}

#[tokio::test]
async fn rfc9309_2_3_1_3_401_403_404_410_allow_everything() {
    for status in [401, 403, 404, 410] {
        // The body says "disallow everything": a 4xx body is not a robots.txt.
        let server = robots_server(Reply::text(status, "User-agent: *\nDisallow: /\n"));
        let sources = sources(&config(""));
        for purpose in ALL_PURPOSES {
            let d = check(&sources, &server.url("/private/page"), purpose).await;
            let context = format!("HTTP {status}, {purpose:?}");
            assert_allowed(&d, &context);
            assert!(
                has(&d, Code::RobotsUnavailable),
                "{context}: {:?}",
                codes(&d)
            );
            assert!(!has(&d, Code::RobotsDisallow), "{context}: {:?}", codes(&d));
        }
        assert_eq!(server.count("/robots.txt"), 1, "HTTP {status}");
    }
}

#[tokio::test]
async fn rfc9309_2_3_1_4_429_500_503_refuse_everything() {
    for status in [429, 500, 503] {
        let server = robots_server(Reply::text(status, "User-agent: *\nAllow: /\n"));
        let sources = sources(&config(""));
        for purpose in ALL_PURPOSES {
            let context = format!("HTTP {status}, {purpose:?}");
            for path in ["/", "/public/page", "/private/page"] {
                let d = check(&sources, &server.url(path), purpose).await;
                assert_refused_by(&d, Code::RobotsUnreachable, &context);
            }
        }
        assert_eq!(server.count("/robots.txt"), 1, "HTTP {status}");
    }
}

#[tokio::test]
async fn rfc9309_2_3_1_4_unreachable_is_retried_with_backoff_and_retry_after() {
    let clock = manual_clock();
    // retry_unreachable_s = 60 (the default), doubling.
    let plain = robots_server(Reply::status(503));
    let later = robots_server(Reply::status(503).header("Retry-After", "600"));
    let sources = sources_with(&config(""), None, Some(&clock));
    let count = |s: &Server| s.count("/robots.txt");
    check(&sources, &plain.url("/"), Purpose::TrainAi).await;
    check(&sources, &later.url("/"), Purpose::TrainAi).await;
    assert_eq!((count(&plain), count(&later)), (1, 1));

    clock.advance(Duration::from_secs(59));
    check(&sources, &plain.url("/"), Purpose::TrainAi).await;
    check(&sources, &later.url("/"), Purpose::TrainAi).await;
    assert_eq!(
        (count(&plain), count(&later)),
        (1, 1),
        "before the first retry"
    );

    clock.advance(Duration::from_secs(2)); // 61 s
    let d = check(&sources, &plain.url("/"), Purpose::TrainAi).await;
    assert_refused_by(&d, Code::RobotsUnreachable, "still 503");
    check(&sources, &later.url("/"), Purpose::TrainAi).await;
    assert_eq!(
        (count(&plain), count(&later)),
        (2, 1),
        "retried after 60 s, unless Retry-After asks for longer"
    );

    // Second failure: 120 s.
    clock.advance(Duration::from_secs(118)); // 179 s: 118 s after the retry
    check(&sources, &plain.url("/"), Purpose::TrainAi).await;
    assert_eq!(count(&plain), 2, "the wait doubled");
    clock.advance(Duration::from_secs(4)); // 183 s
    check(&sources, &plain.url("/"), Purpose::TrainAi).await;
    assert_eq!(count(&plain), 3);

    // Retry-After: 600 holds the retry off until 600 s.
    clock.advance(Duration::from_secs(400)); // 583 s
    check(&sources, &later.url("/"), Purpose::TrainAi).await;
    assert_eq!(count(&later), 1, "Retry-After honoured");
    later.route("/robots.txt", Reply::ok(ROBOTS));
    clock.advance(Duration::from_secs(20)); // 603 s
    let d = check(&sources, &later.url("/private/x"), Purpose::Search).await;
    assert_eq!(count(&later), 2);
    assert_refused_by(&d, Code::RobotsDisallow, "back, with rules");
    assert!(!has(&d, Code::RobotsUnreachable), "{:?}", codes(&d));
    let d = check(&sources, &later.url("/open"), Purpose::Search).await;
    assert_allowed(&d, "back");
}

// ---------------------------------------------------------------------------------------
// 2. Redirects (RFC 9309 §2.3.1.2)
// ---------------------------------------------------------------------------------------

/// Makes `a`'s /robots.txt redirect `redirects` times through `/hop1`, `/hop2`, ... on `a`
/// and `b` (b, b, a, a, b, b, ...; absolute `Location` across origins, relative within
/// one), the last hop answering `last`. Returns, for each hop, its server (true for `b`).
fn chain(a: &Server, b: &Server, redirects: usize, last: Reply) -> Vec<bool> {
    let on_b: Vec<bool> = (1..=redirects).map(|i| (i - 1) / 2 % 2 == 0).collect();
    let statuses = [301, 302, 303, 307, 308];
    let server = |is_b: bool| if is_b { b } else { a };
    let mut from: (&Server, String) = (a, "/robots.txt".to_owned());
    let mut from_is_b = false;
    for (i, &is_b) in on_b.iter().enumerate() {
        let path = format!("/hop{}", i + 1);
        let location = if is_b == from_is_b {
            path.clone()
        } else {
            server(is_b).url(&path)
        };
        from.0.route(
            &from.1,
            Reply::redirect(statuses[i % statuses.len()], &location),
        );
        from = (server(is_b), path);
        from_is_b = is_b;
    }
    from.0.route(&from.1, last);
    on_b
}

#[tokio::test]
async fn rfc9309_2_3_1_2_redirects_of_1_to_5_hops_across_origins_are_followed() {
    for redirects in 1..=5 {
        let (a, b) = (Server::start(), Server::start());
        let on_b = chain(&a, &b, redirects, Reply::ok(ROBOTS));
        let sources = sources(&config(""));
        let context = format!("{redirects} redirect(s)");
        // The rules found at the end of the chain apply to the origin first asked.
        let d = check(&sources, &a.url("/private/x"), Purpose::TrainAi).await;
        assert_refused_by(&d, Code::RobotsDisallow, &context);
        let d = check(&sources, &a.url("/public"), Purpose::TrainAi).await;
        assert_allowed(&d, &context);
        assert!(!has(&d, Code::RobotsRedirectLimit), "{context}");
        assert_eq!(a.count("/robots.txt"), 1, "{context}");
        assert_eq!(b.count("/robots.txt"), 0, "{context}");
        for (i, is_b) in on_b.iter().enumerate() {
            let (here, there) = if *is_b { (&b, &a) } else { (&a, &b) };
            let path = format!("/hop{}", i + 1);
            assert_eq!(here.count(&path), 1, "{context}: {path}");
            assert_eq!(there.count(&path), 0, "{context}: {path}");
        }
        let policy = sources
            .for_url(&Url::parse(&a.url("/")).unwrap())
            .await
            .unwrap();
        let robots = policy
            .sources
            .iter()
            .find(|s| s.kind == "robots.txt")
            .unwrap();
        assert_eq!(robots.url, a.url("/robots.txt"), "{context}");
        assert_eq!(robots.status, Some(200), "{context}");
        assert_eq!(robots.sha256, sha256_hex(ROBOTS.as_bytes()), "{context}");
    }
}

#[tokio::test]
async fn rfc9309_2_3_1_2_a_sixth_redirect_is_the_redirect_limit() {
    let (a, b) = (Server::start(), Server::start());
    let on_b = chain(&a, &b, 6, Reply::ok(ROBOTS));
    let sources = sources(&config(""));
    for purpose in ALL_PURPOSES {
        for path in ["/", "/public", "/private/x"] {
            let d = check(&sources, &a.url(path), purpose).await;
            assert_refused_by(&d, Code::RobotsRedirectLimit, "6 redirects");
        }
    }
    // Five redirects followed; the sixth target is never asked for.
    for (i, is_b) in on_b.iter().enumerate() {
        let server = if *is_b { &b } else { &a };
        let path = format!("/hop{}", i + 1);
        let expected = usize::from(i < 5);
        assert_eq!(server.count(&path), expected, "{path}");
    }
}

#[tokio::test]
async fn rfc9309_2_3_1_2_a_redirect_loop_is_the_redirect_limit() {
    // Back to the start: a/robots.txt -> b/loop -> a/robots.txt.
    let (a, b) = (Server::start(), Server::start());
    a.route("/robots.txt", Reply::redirect(302, &b.url("/loop")));
    b.route("/loop", Reply::redirect(301, &a.url("/robots.txt")));
    let sources = sources(&config(""));
    let d = check(&sources, &a.url("/"), Purpose::Search).await;
    assert_refused_by(&d, Code::RobotsRedirectLimit, "loop to the start");
    assert_eq!(a.count("/robots.txt"), 1);
    assert_eq!(b.count("/loop"), 1);

    // A loop further on: a/robots.txt -> b/x -> b/y -> b/x.
    let (a, b) = (Server::start(), Server::start());
    a.route("/robots.txt", Reply::redirect(307, &b.url("/x")));
    b.route("/x", Reply::redirect(302, "/y"));
    b.route("/y", Reply::redirect(302, "/x"));
    let sources = sources_with(&config(""), None, None);
    let d = check(&sources, &a.url("/"), Purpose::TrainAi).await;
    assert_refused_by(&d, Code::RobotsRedirectLimit, "loop between hops");
    assert_eq!((b.count("/x"), b.count("/y")), (1, 1));
}

// ---------------------------------------------------------------------------------------
// 3. Servers that do not answer
// ---------------------------------------------------------------------------------------

/// Timeouts short enough for the test, long enough that a loaded machine connects.
fn short_timeouts() -> Config {
    Config::from_toml(
        "[net]\nallow_private_addresses = true\nconnect_timeout_ms = 1000\nread_timeout_ms = 500\ntotal_timeout_ms = 2000\n",
    )
    .unwrap()
}

#[tokio::test]
async fn rfc9309_2_3_1_4_a_server_that_never_answers_is_unreachable_within_the_timeouts() {
    // An HTTP server that reads the request and never answers.
    let hanging = Server::start();
    hanging.fallback(Reply::Hang);
    // A listener that accepts and never reads or writes.
    let silent = Silent::start_on(IpAddr::V4(Ipv4Addr::LOCALHOST));
    for origin in [hanging.origin(), silent.origin()] {
        let sources = sources(&short_timeouts());
        let started = Instant::now();
        let d = check(&sources, &format!("{origin}/page"), Purpose::TrainAi).await;
        let took = started.elapsed();
        assert!(took < Duration::from_secs(10), "{origin}: took {took:?}");
        assert_refused_by(&d, Code::RobotsUnreachable, &origin);
        assert!(
            has(&d, Code::TdmrepUnreachable),
            "{origin}: {:?}",
            codes(&d)
        );
        assert!(has(&d, Code::AitxtUnreachable), "{origin}: {:?}", codes(&d));
        let d = check(&sources, &format!("{origin}/page"), Purpose::Search).await;
        assert_refused_by(&d, Code::RobotsUnreachable, &origin);
    }
    assert_eq!(hanging.count("/robots.txt"), 1);
    assert!(silent.accepted() >= 1);
}

#[tokio::test]
async fn rfc9309_2_3_1_4_a_refused_connection_is_unreachable() {
    let origin = format!("http://127.0.0.1:{}", server::closed_port());
    let sources = sources(&short_timeouts());
    let d = check(&sources, &format!("{origin}/"), Purpose::Search).await;
    assert_refused_by(&d, Code::RobotsUnreachable, "connection refused");
}

// ---------------------------------------------------------------------------------------
// 4. The parse limit (RFC 9309 §2.5)
// ---------------------------------------------------------------------------------------

const LIMIT: usize = 512 * 1024;

/// A 10 MB policy file in robots.txt syntax: `Disallow: /private`, then 1 KiB lines that
/// allow only /private/xyyy...y, laid out so that the 512 KiB limit cuts one of them right
/// after "Allow: /private/x". Read as a rule, that half line would allow /private/x, which
/// the site disallowed. At 1 MiB, `Disallow: /late`. Returns the reply, the first line and
/// the repeated line.
fn huge_file() -> (Reply, String, String) {
    const TOTAL: usize = 10 * 1024 * 1024;
    let line = format!("Allow: /private/x{}\n", "y".repeat(1024 - 18));
    assert_eq!(line.len(), 1024);
    let head = "User-agent: *\nDisallow: /private\n# ";
    let prefix = format!("{head}{}\n", "p".repeat(1024 - 17 - head.len() - 1));
    assert_eq!((LIMIT - prefix.len()) % line.len(), 17);
    let reply = Reply::Stream {
        status: 200,
        headers: Vec::new(),
        prefix: prefix.clone().into(),
        filler: line.clone().into(),
        late: "Disallow: /late\n".into(),
        late_at: 1024 * 1024,
        total: TOTAL,
    };
    (reply, prefix, line)
}

#[tokio::test]
async fn rfc9309_2_5_a_10_mb_robots_txt_is_parsed_up_to_the_limit() {
    let (reply, prefix, line) = huge_file();
    let server = robots_server(reply);
    let store_dir = tempfile::tempdir().unwrap();
    let store = Store::open(store_dir.path()).unwrap();
    let sources = sources_with(&config(""), Some(store.clone()), None);

    let d = check(&sources, &server.url("/private/x"), Purpose::TrainAi).await;
    assert_refused_by(
        &d,
        Code::RobotsDisallow,
        "the line cut by the limit is not a rule",
    );
    assert!(has(&d, Code::RobotsTruncated), "{:?}", codes(&d));
    let d = check(&sources, &server.url("/late"), Purpose::TrainAi).await;
    assert_allowed(&d, "a rule past the limit is ignored");
    assert!(has(&d, Code::RobotsTruncated), "{:?}", codes(&d));
    let d = check(&sources, &server.url("/private/xyy"), Purpose::TrainAi).await;
    assert_refused_by(&d, Code::RobotsDisallow, "/private/xyy");
    let d = check(
        &sources,
        &server.url(&format!("/private/x{}", "y".repeat(1006))),
        Purpose::TrainAi,
    )
    .await;
    assert_allowed(&d, "a whole line before the limit is a rule");

    // Memory is bounded by the limit: what was kept (and snapshotted) is at most the limit,
    // and it is exactly the start of what the server sent.
    let policy = sources
        .for_url(&Url::parse(&server.url("/")).unwrap())
        .await
        .unwrap();
    let robots = policy
        .sources
        .iter()
        .find(|s| s.kind == "robots.txt")
        .unwrap();
    let snapshot = store
        .snapshot(&hex::decode(&robots.sha256).unwrap())
        .unwrap()
        .expect("the robots.txt bytes are a snapshot");
    assert!(snapshot.len() <= LIMIT, "{} bytes kept", snapshot.len());
    let mut sent = prefix.into_bytes();
    while sent.len() < snapshot.len() {
        sent.extend_from_slice(line.as_bytes());
    }
    assert_eq!(&snapshot[..], &sent[..snapshot.len()]);
    for item in store.snapshots().iter() {
        let (_, bytes) = item.unwrap();
        assert!(bytes.len() <= LIMIT, "a snapshot of {} bytes", bytes.len());
    }
    assert_eq!(server.count("/robots.txt"), 1);
}

#[tokio::test]
async fn aitxt_a_10_mb_file_is_read_up_to_the_limit_without_the_line_it_cuts() {
    let (reply, _, _) = huge_file();
    let server = robots_server(Reply::status(404));
    server.route("/ai.txt", reply);
    let sources = sources(&config(""));
    let d = check(&sources, &server.url("/private/x"), Purpose::TrainAi).await;
    assert_refused_by(
        &d,
        Code::AitxtDisallow,
        "the line cut by the limit is not a rule",
    );
    let d = check(&sources, &server.url("/late"), Purpose::TrainAi).await;
    assert_allowed(&d, "a rule past the limit is ignored");
    let d = check(
        &sources,
        &server.url(&format!("/private/x{}", "y".repeat(1006))),
        Purpose::TrainAi,
    )
    .await;
    assert_allowed(&d, "a whole line before the limit is a rule");
}

// ---------------------------------------------------------------------------------------
// 5. tdmrep.json and ai.txt
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn tdmrep_an_invalid_file_is_a_note_and_never_a_crash() {
    for body in [
        &b"{not json"[..],
        b"{\"location\": \"/\", \"tdm-reservation\": 1}",
        b"[{\"location\": 5}]",
        b"\xff\xfe\x00garbage",
        b"",
    ] {
        let server = robots_server(Reply::status(404));
        server.route("/.well-known/tdmrep.json", Reply::ok(body.to_vec()));
        let sources = sources(&config(""));
        let context = String::from_utf8_lossy(body).into_owned();
        for purpose in [Purpose::TrainAi, Purpose::AiInput] {
            let d = check(&sources, &server.url("/page"), purpose).await;
            assert_allowed(&d, &context);
            assert!(has(&d, Code::TdmrepInvalid), "{context}: {:?}", codes(&d));
            assert!(!has(&d, Code::TdmrepReserved), "{context}");
        }
    }
}

#[tokio::test]
async fn tdmrep_reservation_1_refuses_train_ai() {
    let server = robots_server(Reply::ok(ROBOTS));
    server.route(
        "/.well-known/tdmrep.json",
        Reply::ok(r#"[{"location": "/", "tdm-reservation": 1, "tdm-policy": "https://example.com/policy"}]"#)
            .header("Content-Type", "application/json"),
    );
    let sources = sources(&config(""));
    let d = check(&sources, &server.url("/article"), Purpose::TrainAi).await;
    assert_refused_by(&d, Code::TdmrepReserved, "tdm-reservation 1");
    let reserved = d
        .reasons
        .iter()
        .find(|r| r.code == Code::TdmrepReserved)
        .unwrap();
    assert_eq!(reserved.source.as_deref(), Some("tdmrep.json"));
    let d = check(&sources, &server.url("/article"), Purpose::AiInput).await;
    assert_refused_by(
        &d,
        Code::TdmrepReserved,
        "ai-input is text and data mining too",
    );
    let d = check(&sources, &server.url("/article"), Purpose::Search).await;
    assert_allowed(&d, "search is not text and data mining");
    let policy = sources
        .for_url(&Url::parse(&server.url("/")).unwrap())
        .await
        .unwrap();
    let tdmrep = policy
        .sources
        .iter()
        .find(|s| s.kind == "tdmrep.json")
        .unwrap();
    assert_eq!(tdmrep.url, server.url("/.well-known/tdmrep.json"));
    assert_eq!(tdmrep.status, Some(200));
}

#[tokio::test]
async fn tdmrep_503_refuses_train_ai_and_ai_input() {
    let server = robots_server(Reply::ok(ROBOTS));
    server.route("/.well-known/tdmrep.json", Reply::status(503));
    let sources = sources(&config(""));
    for purpose in [Purpose::TrainAi, Purpose::AiInput] {
        let d = check(&sources, &server.url("/article"), purpose).await;
        assert_refused_by(&d, Code::TdmrepUnreachable, &format!("{purpose:?}"));
        assert!(!has(&d, Code::RobotsUnreachable), "{:?}", codes(&d));
    }
    let d = check(&sources, &server.url("/article"), Purpose::Search).await;
    assert_allowed(&d, "tdmrep.json says nothing about search");
}

#[tokio::test]
async fn aitxt_503_refuses_train_ai_only() {
    let server = robots_server(Reply::ok(ROBOTS));
    server.route("/ai.txt", Reply::status(503));
    let sources = sources(&config(""));
    let d = check(&sources, &server.url("/article"), Purpose::TrainAi).await;
    assert_refused_by(&d, Code::AitxtUnreachable, "train-ai");
    for purpose in [Purpose::AiInput, Purpose::Search] {
        let d = check(&sources, &server.url("/article"), purpose).await;
        assert_allowed(&d, &format!("{purpose:?}"));
    }
}

#[tokio::test]
async fn tdmrep_and_aitxt_404_are_not_used_and_not_fetched_when_disabled() {
    let server = robots_server(Reply::ok(ROBOTS));
    let sources = sources(&config(""));
    let d = check(&sources, &server.url("/article"), Purpose::TrainAi).await;
    assert_allowed(&d, "404 tdmrep.json and ai.txt");
    for r in &d.reasons {
        let source = r.source.as_deref().unwrap_or_default();
        assert!(
            source != "tdmrep.json" && source != "ai.txt",
            "a reason from a missing file: {r:?}"
        );
    }

    let server = robots_server(Reply::ok(ROBOTS));
    let sources = sources_with(
        &config("fetch_tdmrep = false\nfetch_aitxt = false\n"),
        None,
        None,
    );
    let policy = sources
        .for_url(&Url::parse(&server.url("/")).unwrap())
        .await
        .unwrap();
    assert_eq!(policy.sources.len(), 1);
    assert_eq!(server.count("/.well-known/tdmrep.json"), 0);
    assert_eq!(server.count("/ai.txt"), 0);
    assert_eq!(server.count("/robots.txt"), 1);
}

// ---------------------------------------------------------------------------------------
// 6-8. Cache lifetimes, conditional refetch, the 30-day fallback
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn rfc9309_2_4_cache_control_max_age_60_is_refetched_after_60_s() {
    let clock = manual_clock();
    let server = robots_server(Reply::ok(ROBOTS).header("Cache-Control", "public, max-age=60"));
    let sources = sources_with(&config(""), None, Some(&clock));
    let url = server.url("/private/x");
    check(&sources, &url, Purpose::TrainAi).await;
    assert_eq!(server.count("/robots.txt"), 1);
    clock.advance(Duration::from_secs(59));
    let d = check(&sources, &url, Purpose::TrainAi).await;
    assert_refused_by(&d, Code::RobotsDisallow, "cached");
    assert_eq!(server.count("/robots.txt"), 1, "fresh for 60 s");
    clock.advance(Duration::from_secs(2));
    let d = check(&sources, &url, Purpose::TrainAi).await;
    assert_refused_by(&d, Code::RobotsDisallow, "refetched");
    assert_eq!(server.count("/robots.txt"), 2, "refetched after 60 s");
    // The 404 files have the default lifetime: not refetched with robots.txt.
    assert_eq!(server.count("/.well-known/tdmrep.json"), 1);
    assert_eq!(server.count("/ai.txt"), 1);
    clock.advance(Duration::from_secs(30));
    check(&sources, &url, Purpose::TrainAi).await;
    assert_eq!(server.count("/robots.txt"), 2);
}

#[tokio::test]
async fn rfc9309_2_4_the_default_lifetime_is_24_hours_and_at_most_24_hours() {
    let clock = manual_clock();
    let plain = robots_server(Reply::ok(ROBOTS));
    // A week is more than RFC 9309 §2.4 allows: 24 hours.
    let long = robots_server(Reply::ok(ROBOTS).header("Cache-Control", "max-age=604800"));
    let sources = sources_with(&config(""), None, Some(&clock));
    for server in [&plain, &long] {
        check(&sources, &server.url("/"), Purpose::TrainAi).await;
    }
    clock.advance(DAY - Duration::from_secs(1));
    for server in [&plain, &long] {
        check(&sources, &server.url("/"), Purpose::TrainAi).await;
        assert_eq!(server.count("/robots.txt"), 1, "fresh for 24 h");
    }
    clock.advance(Duration::from_secs(2));
    for server in [&plain, &long] {
        check(&sources, &server.url("/"), Purpose::TrainAi).await;
        assert_eq!(server.count("/robots.txt"), 2, "refetched after 24 h");
        assert_eq!(server.count("/.well-known/tdmrep.json"), 2);
        assert_eq!(server.count("/ai.txt"), 2);
    }
}

#[tokio::test]
async fn rfc9309_2_4_no_store_is_refetched_every_time() {
    let server = robots_server(Reply::ok(ROBOTS).header("Cache-Control", "no-store"));
    let sources = sources_with(&config(""), None, Some(&manual_clock()));
    for n in 1..=3 {
        let d = check(&sources, &server.url("/private"), Purpose::TrainAi).await;
        assert_refused_by(&d, Code::RobotsDisallow, "no-store");
        assert_eq!(server.count("/robots.txt"), n);
    }
    assert_eq!(server.count("/ai.txt"), 1);
}

#[tokio::test]
async fn rfc9111_a_conditional_refetch_answered_304_keeps_the_rules() {
    const ETAG: &str = "\"v1-abc\"";
    const LAST_MODIFIED: &str = "Wed, 21 Oct 2026 07:28:00 GMT";
    let clock = manual_clock();
    let server = robots_server(Reply::dynamic(|seen| {
        if seen.header("if-none-match") == Some(ETAG) {
            Reply::status(304)
                .header("ETag", ETAG)
                .header("Cache-Control", "max-age=60")
        } else {
            Reply::ok(ROBOTS)
                .header("ETag", ETAG)
                .header("Last-Modified", LAST_MODIFIED)
                .header("Cache-Control", "max-age=60")
        }
    }));
    let sources = sources_with(&config(""), None, Some(&clock));
    let url = server.url("/private/x");
    let first = sources.for_url(&Url::parse(&url).unwrap()).await.unwrap();
    assert_refused_by(
        &decide(&first, &url, Purpose::TrainAi),
        Code::RobotsDisallow,
        "200",
    );

    clock.advance(Duration::from_secs(61));
    let renewed = sources.for_url(&Url::parse(&url).unwrap()).await.unwrap();
    let d = decide(&renewed, &url, Purpose::TrainAi);
    assert_refused_by(&d, Code::RobotsDisallow, "after the 304");
    assert!(!has(&d, Code::CachedCopy), "{:?}", codes(&d));
    assert!(!has(&d, Code::RobotsUnreachable), "{:?}", codes(&d));
    assert_allowed(
        &decide(&renewed, &server.url("/public"), Purpose::TrainAi),
        "after the 304",
    );

    let requests = server.requests_for("/robots.txt");
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].header("if-none-match"), None);
    assert_eq!(requests[0].header("if-modified-since"), None);
    assert_eq!(requests[1].header("if-none-match"), Some(ETAG));
    assert_eq!(requests[1].header("if-modified-since"), Some(LAST_MODIFIED));
    let conditional = requests
        .iter()
        .filter(|r| r.header("if-none-match").is_some())
        .count();
    assert_eq!(conditional, 1);

    // The evidence names the same bytes, confirmed at the time of the 304.
    let robots = |p: &OriginPolicy| {
        p.sources
            .iter()
            .find(|s| s.kind == "robots.txt")
            .unwrap()
            .clone()
    };
    let (before, after) = (robots(&first), robots(&renewed));
    assert_eq!(after.sha256, before.sha256);
    assert_eq!(after.sha256, sha256_hex(ROBOTS.as_bytes()));
    assert_ne!(
        after.fetched_at, before.fetched_at,
        "the 304 renews the copy"
    );

    // Renewed for the 304's max-age.
    clock.advance(Duration::from_secs(59));
    check(&sources, &url, Purpose::TrainAi).await;
    assert_eq!(server.count("/robots.txt"), 2);
    clock.advance(Duration::from_secs(2));
    check(&sources, &url, Purpose::TrainAi).await;
    assert_eq!(server.count("/robots.txt"), 3);
    assert_eq!(
        server.requests_for("/robots.txt")[2].header("if-none-match"),
        Some(ETAG)
    );
}

#[tokio::test]
async fn rfc9309_2_3_1_4_a_good_copy_stands_in_for_30_days_then_everything_is_refused() {
    let clock = manual_clock();
    let server = robots_server(Reply::ok(ROBOTS));
    let sources = sources_with(&config(""), None, Some(&clock));
    let private = server.url("/private/x");
    let public = server.url("/public");
    assert_refused_by(
        &check(&sources, &private, Purpose::TrainAi).await,
        Code::RobotsDisallow,
        "200",
    );
    server.route("/robots.txt", Reply::status(503));

    // Expired, and now 503: the copy is used, and says so.
    clock.advance(DAY + Duration::from_secs(1));
    let d = check(&sources, &private, Purpose::TrainAi).await;
    assert_eq!(server.count("/robots.txt"), 2);
    assert_refused_by(&d, Code::RobotsDisallow, "the cached copy's rules");
    assert!(has(&d, Code::CachedCopy), "{:?}", codes(&d));
    assert!(!has(&d, Code::RobotsUnreachable), "{:?}", codes(&d));
    let d = check(&sources, &public, Purpose::TrainAi).await;
    assert_allowed(&d, "the cached copy allows it");
    assert!(has(&d, Code::CachedCopy), "{:?}", codes(&d));
    let note = d
        .reasons
        .iter()
        .find(|r| r.code == Code::CachedCopy)
        .unwrap();
    assert_eq!(note.source.as_deref(), Some("robots.txt"));

    // Still within 30 days of the good fetch.
    clock.advance(28 * DAY);
    let d = check(&sources, &public, Purpose::TrainAi).await;
    assert_eq!(server.count("/robots.txt"), 3);
    assert_allowed(&d, "day 29");
    assert!(has(&d, Code::CachedCopy), "{:?}", codes(&d));

    // Day 31: too old to stand in.
    clock.advance(2 * DAY);
    let d = check(&sources, &public, Purpose::TrainAi).await;
    assert_eq!(server.count("/robots.txt"), 4);
    assert_refused_by(&d, Code::RobotsUnreachable, "day 31");
    assert!(!has(&d, Code::CachedCopy), "{:?}", codes(&d));
    let d = check(&sources, &public, Purpose::Search).await;
    assert_refused_by(&d, Code::RobotsUnreachable, "day 31, search");
}

// ---------------------------------------------------------------------------------------
// 9. Single flight
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_flight_300_concurrent_checks_fetch_each_file_once() {
    let server = Server::start();
    // Slow answers, so that every check arrives while the first fetch is under way.
    let slow = Duration::from_millis(300);
    server.route("/robots.txt", Reply::ok(ROBOTS).delayed(slow));
    server.route(
        "/.well-known/tdmrep.json",
        Reply::ok(r#"[{"location": "/reserved", "tdm-reservation": 1}]"#).delayed(slow),
    );
    server.route("/ai.txt", Reply::status(404).delayed(slow));
    let sources = Arc::new(sources(&config("")));
    let tasks: Vec<_> = (0..300)
        .map(|i| {
            let sources = Arc::clone(&sources);
            let url = Url::parse(&server.url(&format!("/page/{i}"))).unwrap();
            tokio::spawn(async move { sources.for_url(&url).await.unwrap() })
        })
        .collect();
    let mut policies = Vec::new();
    for task in tasks {
        policies.push(task.await.unwrap());
    }
    assert_eq!(server.count("/robots.txt"), 1);
    assert_eq!(server.count("/.well-known/tdmrep.json"), 1);
    assert_eq!(server.count("/ai.txt"), 1);
    assert_eq!(server.total(), 3);
    assert!(policies.iter().all(|p| Arc::ptr_eq(p, &policies[0])));
    let d = decide(&policies[0], &server.url("/private/1"), Purpose::TrainAi);
    assert_refused_by(&d, Code::RobotsDisallow, "shared result");
}

// ---------------------------------------------------------------------------------------
// 10. The private-address guard
// ---------------------------------------------------------------------------------------

fn guarded_config() -> Config {
    Config::from_toml(
        "[net]\nconnect_timeout_ms = 2000\nread_timeout_ms = 5000\ntotal_timeout_ms = 10000\n",
    )
    .unwrap()
}

#[tokio::test]
async fn guard_refuses_a_loopback_literal_and_a_name_for_loopback_by_default() {
    let server = robots_server(Reply::ok(ROBOTS));
    let guarded = guarded_config();
    assert!(!guarded.net.allow_private_addresses);
    let sources = sources(&guarded);
    for url in [
        server.url("/public"),
        format!("http://localhost:{}/public", server.port()),
    ] {
        for purpose in ALL_PURPOSES {
            let d = check(&sources, &url, purpose).await;
            assert_refused_by(&d, Code::NetworkPrivateAddress, &url);
            let private = d
                .reasons
                .iter()
                .filter(|r| r.code == Code::NetworkPrivateAddress)
                .count();
            assert_eq!(private, 1, "one refusal, not one per file: {:?}", codes(&d));
        }
    }
    assert_eq!(server.total(), 0, "{:?}", server.counts());

    // Allowed by configuration, the same server is consulted.
    let sources = sources_with(&config(""), None, None);
    let d = check(&sources, &server.url("/private/x"), Purpose::TrainAi).await;
    assert_refused_by(&d, Code::RobotsDisallow, "allowed loopback");
    assert!(!has(&d, Code::NetworkPrivateAddress));
    assert_allowed(
        &check(&sources, &server.url("/public"), Purpose::TrainAi).await,
        "allowed loopback",
    );
    let by_name = format!("http://localhost:{}/private/x", server.port());
    let d = check(&sources, &by_name, Purpose::TrainAi).await;
    assert_refused_by(&d, Code::RobotsDisallow, &by_name);
    assert_eq!(server.count("/robots.txt"), 2);
}

#[tokio::test]
async fn guard_refuses_every_loopback_address() {
    let other = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
    let server = Server::start_on(other);
    server.route("/robots.txt", Reply::ok(ROBOTS));
    let d = check(
        &sources(&guarded_config()),
        &server.url("/public"),
        Purpose::Search,
    )
    .await;
    assert_refused_by(&d, Code::NetworkPrivateAddress, "127.0.0.2");
    assert_eq!(server.total(), 0);
    let d = check(
        &sources(&config("")),
        &server.url("/public"),
        Purpose::Search,
    )
    .await;
    assert_allowed(&d, "127.0.0.2, allowed");
    let seen = server.requests_for("/robots.txt");
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].local.ip(), other);
}

#[tokio::test]
async fn guard_refusals_are_not_persisted() {
    // A refused address says nothing about the site: another run that allows it fetches.
    let server = robots_server(Reply::ok(ROBOTS));
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        let sources = sources_with(&guarded_config(), Some(store), None);
        let d = check(&sources, &server.url("/public"), Purpose::TrainAi).await;
        assert_refused_by(&d, Code::NetworkPrivateAddress, "guarded");
    }
    let store = Store::open(dir.path()).unwrap();
    let sources = sources_with(&config(""), Some(store), None);
    let d = check(&sources, &server.url("/public"), Purpose::TrainAi).await;
    assert_allowed(&d, "allowed in a later run");
    assert_eq!(server.count("/robots.txt"), 1);
}

#[tokio::test]
async fn guard_a_cache_written_with_private_addresses_allowed_is_not_trusted_by_a_guarded_run() {
    let server = robots_server(Reply::ok(ROBOTS));
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        let sources = sources_with(&config(""), Some(store), None);
        assert_allowed(
            &check(&sources, &server.url("/public"), Purpose::TrainAi).await,
            "allowed run",
        );
    }
    let store = Store::open(dir.path()).unwrap();
    let sources = sources_with(&guarded_config(), Some(store), None);
    let d = check(&sources, &server.url("/public"), Purpose::TrainAi).await;
    assert_refused_by(
        &d,
        Code::NetworkPrivateAddress,
        "guarded run over the same store",
    );
    assert_eq!(server.count("/robots.txt"), 1);
}

#[tokio::test]
async fn tdmrep_a_file_longer_than_the_body_limit_refuses_rather_than_being_ignored() {
    let server = robots_server(Reply::ok(ROBOTS));
    let mut json = String::from("[");
    while json.len() < 700_000 {
        json.push_str(r#"{"location": "/nothing-here", "tdm-reservation": 0},"#);
    }
    json.push_str(r#"{"location": "/", "tdm-reservation": 1}]"#);
    server.route("/.well-known/tdmrep.json", Reply::ok(json.clone()));
    // Within net.max_body_bytes the whole file is read, past the robots.txt parse limit.
    let sources = sources(&config(""));
    let d = check(&sources, &server.url("/public"), Purpose::TrainAi).await;
    assert_refused_by(&d, Code::TdmrepReserved, "700 KB tdmrep.json read whole");
    // Longer than the body limit: cut JSON cannot be read, so TDM rights are unknown.
    let small = sources_with(
        &config(
            "max_body_bytes = 600000
",
        ),
        None,
        None,
    );
    let d = check(&small, &server.url("/public"), Purpose::TrainAi).await;
    assert_refused_by(&d, Code::TdmrepUnreachable, "cut tdmrep.json");
    assert_allowed(
        &check(&small, &server.url("/public"), Purpose::Search).await,
        "search is not text and data mining",
    );
}

#[tokio::test]
async fn client_accepts_compressed_bodies_and_says_who_it_is() {
    // `User-agent: *\nDisallow: /zipped\n`, gzipped.
    const GZIPPED: [u8; 52] = [
        31, 139, 8, 0, 0, 0, 0, 0, 2, 3, 11, 45, 78, 45, 210, 77, 76, 79, 205, 43, 177, 82, 208,
        226, 114, 201, 44, 78, 204, 201, 201, 47, 183, 82, 208, 175, 202, 44, 40, 72, 77, 225, 2,
        0, 229, 78, 114, 97, 32, 0, 0, 0,
    ];
    let server = robots_server(
        Reply::ok(GZIPPED.to_vec())
            .header("Content-Encoding", "gzip")
            .header("Content-Type", "text/plain"),
    );
    let sources = sources(&config(""));
    let d = check(&sources, &server.url("/zipped/a"), Purpose::TrainAi).await;
    assert_refused_by(&d, Code::RobotsDisallow, "gzipped robots.txt");
    let seen = &server.requests_for("/robots.txt")[0];
    assert!(
        seen.header("accept-encoding")
            .is_some_and(|v| v.contains("gzip"))
    );
    let agent = seen.header("user-agent").unwrap();
    assert!(
        agent.starts_with("optout/") && agent.contains("(+https://"),
        "{agent}"
    );
}

// ---------------------------------------------------------------------------------------
// 11. Persistence
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn store_a_reopened_store_serves_fresh_entries_without_fetching() {
    let server = robots_server(Reply::ok(ROBOTS));
    server.route(
        "/.well-known/tdmrep.json",
        Reply::ok(r#"[{"location": "/reserved", "tdm-reservation": 1}]"#),
    );
    let dir = tempfile::tempdir().unwrap();
    let urls = ["/private/x", "/public", "/reserved/y"].map(|p| server.url(p));
    let (before, sources_before) = {
        let store = Store::open(dir.path()).unwrap();
        let sources = sources_with(&config(""), Some(store), None);
        let mut decisions = Vec::new();
        for url in &urls {
            decisions.push(check(&sources, url, Purpose::TrainAi).await);
        }
        let policy = sources
            .for_url(&Url::parse(&urls[0]).unwrap())
            .await
            .unwrap();
        (decisions, policy.sources.clone())
    };
    assert_eq!(server.total(), 3);
    let store = Store::open(dir.path()).unwrap();
    let sources = sources_with(&config(""), Some(store), None);
    for (url, before) in urls.iter().zip(&before) {
        let after = check(&sources, url, Purpose::TrainAi).await;
        assert_eq!(after.verdict, before.verdict, "{url}");
        assert_eq!(codes(&after), codes(before), "{url}");
    }
    assert_eq!(
        server.total(),
        3,
        "no request after reopening: {:?}",
        server.counts()
    );
    let policy = sources
        .for_url(&Url::parse(&urls[0]).unwrap())
        .await
        .unwrap();
    assert_eq!(
        serde_json::to_value(&policy.sources).unwrap(),
        serde_json::to_value(&sources_before).unwrap()
    );
    assert_refused_by(&before[0], Code::RobotsDisallow, "private");
    assert_allowed(&before[1], "public");
    assert_refused_by(&before[2], Code::TdmrepReserved, "reserved");
}

// ---------------------------------------------------------------------------------------
// 13. The memory bound
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn cache_entries_bounds_the_origins_in_memory() {
    let servers: Vec<Server> = (0..5).map(|_| robots_server(Reply::ok(ROBOTS))).collect();
    let sources = sources(&config("cache_entries = 2\n"));
    for server in &servers {
        let d = check(&sources, &server.url("/private"), Purpose::TrainAi).await;
        assert_refused_by(&d, Code::RobotsDisallow, &server.origin());
        assert!(
            sources.cached_origins() <= 2,
            "{}",
            sources.cached_origins()
        );
    }
    // The most recent origin is still cached; the first was forgotten and is fetched again.
    check(&sources, &servers[4].url("/"), Purpose::TrainAi).await;
    assert_eq!(servers[4].count("/robots.txt"), 1);
    check(&sources, &servers[0].url("/"), Purpose::TrainAi).await;
    assert_eq!(servers[0].count("/robots.txt"), 2);
    assert!(sources.cached_origins() <= 2);
}

// ---------------------------------------------------------------------------------------
// 10, 12. The command line, online
// ---------------------------------------------------------------------------------------

struct Cli {
    data: tempfile::TempDir,
    dir: tempfile::TempDir,
    config: std::path::PathBuf,
}

impl Cli {
    fn new() -> Cli {
        let data = tempfile::tempdir().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("optout.toml");
        std::fs::write(
            &config,
            "[net]\nconnect_timeout_ms = 2000\nread_timeout_ms = 5000\ntotal_timeout_ms = 10000\n",
        )
        .unwrap();
        Cli { data, dir, config }
    }

    fn store(&self) -> std::path::PathBuf {
        self.dir.path().join("store")
    }

    fn run(&self, args: &[&str]) -> Output {
        run_cli(self.data.path(), &self.config, &self.store(), args)
    }
}

fn run_cli(data: &Path, config: &Path, store: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_optout"))
        .env("XDG_DATA_HOME", data)
        .arg("--config")
        .arg(config)
        .arg("--store")
        .arg(store)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

fn json_lines(o: &Output) -> Vec<serde_json::Value> {
    text(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn line_codes(line: &serde_json::Value) -> Vec<String> {
    line["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap().to_owned())
        .collect()
}

#[track_caller]
fn assert_verified(cli: &Cli) {
    let o = cli.run(&["log", "verify"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "log verify: {}{}",
        text(&o.stdout),
        text(&o.stderr)
    );
}

#[test]
fn cli_guard_refuses_loopback_without_the_flag_and_allows_it_with() {
    let server = robots_server(Reply::ok(ROBOTS));
    let cli = Cli::new();
    let url = server.url("/public");
    let o = cli.run(&["check", "--json", &url]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let lines = json_lines(&o);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["verdict"], "refused");
    assert!(
        line_codes(&lines[0]).contains(&"network.private-address".to_owned()),
        "{:?}",
        lines[0]
    );
    assert_eq!(server.total(), 0);
    assert_verified(&cli);

    let o = cli.run(&["--allow-private-addresses", "check", "--json", &url]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let lines = json_lines(&o);
    assert_eq!(lines[0]["verdict"], "allowed", "{:?}", lines[0]);
    assert_eq!(server.count("/robots.txt"), 1);
    assert_verified(&cli);
}

#[test]
fn cli_online_check_over_two_origins_records_verifiable_evidence() {
    let a = robots_server(Reply::ok(ROBOTS));
    let b = robots_server(Reply::status(404));
    b.route(
        "/.well-known/tdmrep.json",
        Reply::ok(r#"[{"location": "/", "tdm-reservation": 1}]"#),
    );
    let cli = Cli::new();
    let urls = [a.url("/public"), a.url("/private/x"), b.url("/any")];
    let mut args = vec!["--allow-private-addresses", "check", "--json"];
    args.extend(urls.iter().map(String::as_str));
    let o = cli.run(&args);
    assert_eq!(o.status.code(), Some(1), "a refusal: {}", text(&o.stderr));
    let lines = json_lines(&o);
    assert_eq!(lines.len(), 3, "{}", text(&o.stdout));
    for (line, url) in lines.iter().zip(&urls) {
        assert_eq!(line["url"], url.as_str(), "input order");
        assert_eq!(line["agent"], "optout");
        assert_eq!(line["purpose"], "train-ai");
        assert!(line["seq"].as_u64().is_some(), "recorded: {line}");
    }
    assert_eq!(lines[0]["verdict"], "allowed", "{}", lines[0]);
    assert_eq!(lines[1]["verdict"], "refused", "{}", lines[1]);
    assert!(line_codes(&lines[1]).contains(&"robots.disallow".to_owned()));
    assert_eq!(lines[2]["verdict"], "refused", "{}", lines[2]);
    let b_codes = line_codes(&lines[2]);
    assert!(
        b_codes.contains(&"tdmrep.reserved".to_owned()),
        "{b_codes:?}"
    );
    assert!(
        b_codes.contains(&"robots.unavailable".to_owned()),
        "{b_codes:?}"
    );
    for server in [&a, &b] {
        assert_eq!(server.count("/robots.txt"), 1, "{}", server.origin());
        assert_eq!(server.count("/.well-known/tdmrep.json"), 1);
        assert_eq!(server.count("/ai.txt"), 1);
    }

    // Only allowed URLs: exit 0. The policy comes from the store: nothing is fetched.
    let o = cli.run(&[
        "--allow-private-addresses",
        "check",
        &a.url("/public"),
        &a.url("/other"),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert_eq!(out.lines().count(), 2, "{out}");
    assert!(out.lines().all(|l| l.starts_with("allowed")), "{out}");
    assert_eq!(a.count("/robots.txt"), 1, "served from the store");

    // The evidence: five records, each with its sources and their hashes; the log verifies.
    assert_verified(&cli);
    let o = cli.run(&["log", "export"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let records = json_lines(&o);
    assert_eq!(records.len(), 5);
    for record in &records {
        let origin = record["origin"].as_str().unwrap();
        let sources = record["sources"].as_array().unwrap();
        let kinds: Vec<&str> = sources
            .iter()
            .map(|s| s["kind"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["robots.txt", "tdmrep.json", "ai.txt"], "{record}");
        for source in sources {
            let sha = source["sha256"].as_str().unwrap();
            assert_eq!(sha.len(), 64, "{source}");
            assert!(sha.bytes().all(|c| c.is_ascii_hexdigit()), "{source}");
            assert!(
                source["url"].as_str().unwrap().starts_with(origin),
                "{source}"
            );
            assert!(source["status"].as_u64().is_some(), "{source}");
            assert!(source["fetched_at"].as_str().is_some(), "{source}");
        }
    }
    let robots_a = &records[0]["sources"][0];
    assert_eq!(robots_a["sha256"], sha256_hex(ROBOTS.as_bytes()).as_str());
    assert_eq!(robots_a["status"], 200);
    assert_eq!(records[2]["sources"][0]["status"], 404);
}

#[test]
fn cli_online_check_bad_urls_are_error_lines_with_exit_2() {
    let server = robots_server(Reply::ok(ROBOTS));
    let cli = Cli::new();
    let good = server.url("/public");
    let inputs = [
        "not a url",
        "ftp://127.0.0.1/file",
        "http://user:secret@127.0.0.1/",
        good.as_str(),
    ];
    let mut args = vec!["--allow-private-addresses", "check", "--json"];
    args.extend(inputs);
    let o = cli.run(&args);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    let lines = json_lines(&o);
    assert_eq!(lines.len(), 4, "{}", text(&o.stdout));
    let expected = ["url.invalid", "url.unsupported-scheme", "url.userinfo"];
    for (line, code) in lines.iter().zip(expected) {
        assert_eq!(line["verdict"], "error", "{line}");
        assert_eq!(line_codes(line), [code], "{line}");
        assert!(
            line.get("seq").is_none(),
            "an error is not a decision: {line}"
        );
    }
    assert_eq!(lines[3]["verdict"], "allowed", "{}", lines[3]);
    // Nothing was fetched for the bad inputs (the server knows only its own origin).
    assert_eq!(server.count("/robots.txt"), 1);

    // The plain output says `error` too.
    let o = cli.run(&["--allow-private-addresses", "check", "ftp://127.0.0.1/file"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stdout).starts_with("error"), "{}", text(&o.stdout));
    assert_verified(&cli);
}
