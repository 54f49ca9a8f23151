//! The fetch pipeline against real loopback servers: the server's request log is the judge.
//! Several ports are several origins; 127.0.0.x addresses are several hosts.

#[path = "support/server.rs"]
mod server;

use optout::config::{Config, Lists};
use optout::evidence::{EvidenceLog, verify_store};
use optout::fetcher::{Fetcher, Outcome};
use optout::policy::{Code, Purpose, Verdict};
use optout::store::{Sled, Store};
use server::{Reply, Server};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

struct Rig {
    _dir: tempfile::TempDir,
    fetcher: Arc<Fetcher>,
}

/// A fetcher with private addresses allowed (the servers are on loopback) and `extra` TOML.
fn rig(extra: &str) -> Rig {
    let toml = format!(
        "[net]\nallow_private_addresses = true\nread_timeout_ms = 2000\ntotal_timeout_ms = 5000\n{extra}"
    );
    let config = Config::from_toml(&toml).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("store")).unwrap();
    let log = Arc::new(EvidenceLog::open(store, config.evidence).unwrap());
    let fetcher = Fetcher::new(&config, log, Lists::default()).unwrap();
    Rig {
        _dir: dir,
        fetcher: Arc::new(fetcher),
    }
}

fn fast() -> &'static str {
    "[politeness]\nmin_interval_ms = 1\n"
}

fn codes(outcome: &Outcome) -> Vec<&'static str> {
    let reasons = match outcome {
        Outcome::Fetched(page) => &page.reasons,
        Outcome::NotFetched(r) => &r.reasons,
    };
    reasons.iter().map(|r| r.code.as_str()).collect()
}

/// Fetches each path of `server` for `train-ai` and checks it was discarded for `code`,
/// first of its reasons, with nothing of the body (`reserved text`) kept.
async fn assert_discarded(rig: &Rig, server: &Server, cases: &[(&str, &str)]) {
    for (path, code) in cases {
        let outcome = rig
            .fetcher
            .fetch(&server.url(path), Purpose::TrainAi)
            .await
            .unwrap();
        let Outcome::NotFetched(r) = &outcome else {
            panic!("{path}: a reservation was missed: {outcome:?}")
        };
        assert_eq!(r.verdict, Verdict::Discarded, "{path}");
        assert_eq!(r.reasons[0].code.as_str(), *code, "{path}");
        assert!(
            !format!("{outcome:?}").contains("reserved text"),
            "{path}: body kept"
        );
    }
}

fn site() -> Server {
    let s = Server::start();
    s.route(
        "/robots.txt",
        Reply::ok("User-agent: *\nDisallow: /private/\n"),
    );
    s.route(
        "/page",
        Reply::ok("<html><body>hello</body></html>").header("Content-Type", "text/html"),
    );
    s.route("/private/secret", Reply::ok("SECRET"));
    s.route("/go-private", Reply::redirect(302, "/private/secret"));
    s.route("/go-page", Reply::redirect(301, "/page"));
    s
}

#[tokio::test]
async fn no_request_reaches_a_refused_path_and_every_request_is_recorded() {
    let s = site();
    let rig = rig(fast());
    let f = &rig.fetcher;
    let page = f.fetch(&s.url("/page"), Purpose::TrainAi).await.unwrap();
    let Outcome::Fetched(page) = page else {
        panic!("{page:?}")
    };
    assert_eq!(page.body, b"<html><body>hello</body></html>");
    let refused = f
        .fetch(&s.url("/private/secret"), Purpose::TrainAi)
        .await
        .unwrap();
    assert!(matches!(&refused, Outcome::NotFetched(r) if r.verdict == Verdict::Refused));
    assert_eq!(codes(&refused)[0], "robots.disallow");
    // A redirect to a disallowed path is not followed.
    let redirected = f
        .fetch(&s.url("/go-private"), Purpose::TrainAi)
        .await
        .unwrap();
    assert_eq!(codes(&redirected)[0], "robots.disallow", "{redirected:?}");
    // A redirect to an allowed path is.
    let followed = f.fetch(&s.url("/go-page"), Purpose::TrainAi).await.unwrap();
    let Outcome::Fetched(followed) = followed else {
        panic!("{followed:?}")
    };
    assert_eq!(followed.url.path(), "/page");

    assert_eq!(s.count("/private/secret"), 0, "{:?}", s.counts());
    let pages = s
        .requests()
        .into_iter()
        .filter(|r| {
            !matches!(
                r.path.as_str(),
                "/robots.txt" | "/.well-known/tdmrep.json" | "/ai.txt"
            )
        })
        .count();
    assert_eq!(pages, 4, "{:?}", s.counts()); // /page, /go-private, /go-page, /page
    // Records: 4 responses + 2 refusals (the path and the redirect target).
    let log = f.log();
    log.sync().unwrap();
    let verified = verify_store(log.store()).unwrap();
    assert_eq!(verified.records, 6);
}

#[tokio::test]
async fn requests_to_one_host_keep_the_interval_and_the_crawl_delay() {
    let s = Server::start();
    s.route("/robots.txt", Reply::ok("User-agent: *\nAllow: /\n"));
    s.fallback(Reply::ok("x"));
    let rig = rig("[politeness]\nmin_interval_ms = 150\n");
    for i in 0..4 {
        rig.fetcher
            .fetch(&s.url(&format!("/p{i}")), Purpose::TrainAi)
            .await
            .unwrap();
    }
    let times: Vec<_> = s
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/p"))
        .map(|r| r.at)
        .collect();
    assert_eq!(times.len(), 4);
    // The policy files are requests to the host like any other: every request, theirs
    // included, keeps the interval.
    let all: Vec<_> = s.requests().iter().map(|r| r.at).collect();
    assert_eq!(all.len(), 7, "robots.txt, tdmrep.json, ai.txt and 4 pages");
    for pair in all.windows(2) {
        // The server's clock: the gap between arrivals never falls below the interval
        // (less 2 ms for the loopback's scheduling jitter).
        assert!(
            pair[1] - pair[0] >= Duration::from_millis(148),
            "{:?}",
            pair[1] - pair[0]
        );
    }

    let slow = Server::start();
    slow.route(
        "/robots.txt",
        Reply::ok("User-agent: *\nCrawl-delay: 0.4\n"),
    );
    slow.fallback(Reply::ok("x"));
    for i in 0..3 {
        rig.fetcher
            .fetch(&slow.url(&format!("/q{i}")), Purpose::TrainAi)
            .await
            .unwrap();
    }
    // After robots.txt, everything (tdmrep.json, ai.txt, pages) keeps its crawl-delay.
    let requests = slow.requests();
    assert_eq!(requests[0].path, "/robots.txt");
    let times: Vec<_> = requests.iter().map(|r| r.at).collect();
    assert_eq!(times.len(), 6);
    for pair in times.windows(2) {
        assert!(
            pair[1] - pair[0] >= Duration::from_millis(398),
            "{:?}",
            pair[1] - pair[0]
        );
    }
}

/// Policy files that redirect to another host are requested there in that host's turn:
/// three files of one origin, all redirected to one other host, reach it an interval apart.
#[tokio::test]
async fn redirected_policy_files_are_paced_on_the_host_they_land_on() {
    let site = Server::start_on(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 4)));
    let cdn = Server::start_on(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 5)));
    site.route("/robots.txt", Reply::redirect(301, &cdn.url("/robots.txt")));
    site.route(
        "/.well-known/tdmrep.json",
        Reply::redirect(301, &cdn.url("/tdmrep.json")),
    );
    site.route("/ai.txt", Reply::redirect(301, &cdn.url("/ai.txt")));
    site.fallback(Reply::ok("x"));
    cdn.route("/robots.txt", Reply::ok("User-agent: *\nAllow: /\n"));
    cdn.fallback(Reply::status(404));
    let rig = rig("[politeness]\nmin_interval_ms = 200\n");
    let outcome = rig
        .fetcher
        .fetch(&site.url("/page"), Purpose::TrainAi)
        .await
        .unwrap();
    assert!(matches!(outcome, Outcome::Fetched(_)), "{outcome:?}");
    let times: Vec<_> = cdn.requests().iter().map(|r| r.at).collect();
    assert_eq!(times.len(), 3, "{:?}", cdn.requests());
    for pair in times.windows(2) {
        assert!(
            pair[1] - pair[0] >= Duration::from_millis(198),
            "{:?}",
            pair[1] - pair[0]
        );
    }
    let times: Vec<_> = site.requests().iter().map(|r| r.at).collect();
    assert_eq!(times.len(), 4, "{:?}", site.requests());
    for pair in times.windows(2) {
        assert!(
            pair[1] - pair[0] >= Duration::from_millis(198),
            "{:?}",
            pair[1] - pair[0]
        );
    }
}

#[tokio::test]
async fn a_crawl_delay_over_the_cap_skips_the_site() {
    let s = Server::start();
    s.route(
        "/robots.txt",
        Reply::ok("User-agent: *\nCrawl-delay: 3600\n"),
    );
    s.fallback(Reply::ok("x"));
    let rig = rig("[politeness]\nmax_crawl_delay_s = 30\n");
    let outcome = rig
        .fetcher
        .fetch(&s.url("/a"), Purpose::TrainAi)
        .await
        .unwrap();
    assert_eq!(codes(&outcome), ["politeness.crawl-delay-too-long"]);
    assert_eq!(s.count("/a"), 0);
    // Nor is anything else requested sooner than the hour it asked for.
    assert_eq!(s.requests().len(), 1, "{:?}", s.requests());
}

#[tokio::test]
async fn retry_after_is_honoured_then_the_page_is_fetched() {
    let s = Server::start();
    s.route("/robots.txt", Reply::ok("User-agent: *\nAllow: /\n"));
    let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let h = Arc::clone(&hits);
    s.route(
        "/busy",
        Reply::dynamic(move |_| {
            if h.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
                Reply::status(503).header("Retry-After", "1")
            } else {
                Reply::ok("done")
            }
        }),
    );
    let rig = rig(fast());
    let outcome = rig
        .fetcher
        .fetch(&s.url("/busy"), Purpose::TrainAi)
        .await
        .unwrap();
    assert!(
        matches!(&outcome, Outcome::Fetched(p) if p.body == b"done"),
        "{outcome:?}"
    );
    let times: Vec<_> = s.requests_for("/busy").iter().map(|r| r.at).collect();
    assert_eq!(times.len(), 2);
    assert!(
        times[1] - times[0] >= Duration::from_millis(998),
        "{:?}",
        times[1] - times[0]
    );

    // A Retry-After beyond the maximum gives up at once.
    s.route("/closed", Reply::status(429).header("Retry-After", "86400"));
    let outcome = rig
        .fetcher
        .fetch(&s.url("/closed"), Purpose::TrainAi)
        .await
        .unwrap();
    assert_eq!(codes(&outcome), ["politeness.gave-up"]);
    assert_eq!(s.count("/closed"), 1);
}

#[tokio::test]
async fn access_control_is_never_retried_and_reserved_bodies_are_discarded() {
    let s = Server::start();
    s.route("/robots.txt", Reply::ok("User-agent: *\nAllow: /\n"));
    for status in [401, 402, 403, 407, 451] {
        s.route(&format!("/s{status}"), Reply::text(status, "members only"));
    }
    s.route(
        "/noai",
        Reply::ok("reserved text").header("X-Robots-Tag", "noai"),
    );
    s.route(
        "/tdm",
        Reply::ok("reserved text").header("tdm-reservation", "1"),
    );
    s.route(
        "/meta",
        Reply::ok("<html><head><meta name=\"robots\" content=\"noai, noimageai\"></head>reserved text</html>")
            .header("Content-Type", "text/html"),
    );
    s.route(
        "/paywall",
        Reply::ok(r#"<html><script type="application/ld+json">{"@type":"NewsArticle","isAccessibleForFree":false}</script>reserved text</html>"#)
            .header("Content-Type", "text/html; charset=utf-8"),
    );
    // Reservations spelled so that no keyword is in the bytes: the fetcher's scan must still
    // send these pages to the parser.
    s.route(
        "/meta-ref",
        Reply::ok(
            "<html><head><meta name=r&#111;bots content=\"n&#x6F;ai\"></head>reserved text</html>",
        )
        .header("Content-Type", "text/html"),
    );
    s.route(
        "/tdm-meta-ref",
        Reply::ok("<html><head><meta name=\"tdm&#45;reservation\" content=\"&#49;\"></head>reserved text</html>")
            .header("Content-Type", "text/html"),
    );
    s.route(
        "/paywall-escaped",
        Reply::ok(r#"<html><script type="application/ld&#43;json">{"\u0069sAccessibleForFree":"False"}</script>reserved text</html>"#)
            .header("Content-Type", "text/html"),
    );
    let rig = rig(fast());
    for status in [401, 402, 403, 407, 451] {
        let outcome = rig
            .fetcher
            .fetch(&s.url(&format!("/s{status}")), Purpose::TrainAi)
            .await
            .unwrap();
        let Outcome::NotFetched(r) = &outcome else {
            panic!("{outcome:?}")
        };
        assert_eq!(r.reasons[0].code, Code::AccessDenied);
        assert_eq!(r.status, Some(status));
        assert_eq!(s.count(&format!("/s{status}")), 1, "never retried");
    }
    assert_discarded(
        &rig,
        &s,
        &[
            ("/noai", "tags.noai"),
            ("/tdm", "tdmrep.reserved"),
            ("/meta", "tags.noai"),
            ("/paywall", "access.paywalled"),
            ("/meta-ref", "tags.noai"),
            ("/tdm-meta-ref", "tdmrep.reserved"),
            ("/paywall-escaped", "access.paywalled"),
        ],
    )
    .await;
    // For search, noai and the paywall markup do not reserve.
    let outcome = rig
        .fetcher
        .fetch(&s.url("/paywall"), Purpose::Search)
        .await
        .unwrap();
    assert!(matches!(outcome, Outcome::Fetched(_)), "{outcome:?}");
}

#[tokio::test]
async fn hosts_are_paced_independently() {
    let a = Server::start_on(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)));
    let b = Server::start_on(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3)));
    for s in [&a, &b] {
        s.route("/robots.txt", Reply::ok("User-agent: *\nAllow: /\n"));
        s.fallback(Reply::ok("x"));
    }
    let rig = rig("[politeness]\nmin_interval_ms = 300\n");
    let start = std::time::Instant::now();
    let mut tasks = Vec::new();
    for s in [&a, &b] {
        for i in 0..3 {
            let f = Arc::clone(&rig.fetcher);
            let url = s.url(&format!("/p{i}"));
            tasks.push(tokio::spawn(async move {
                f.fetch(&url, Purpose::TrainAi).await.unwrap()
            }));
        }
    }
    for t in tasks {
        assert!(matches!(t.await.unwrap(), Outcome::Fetched(_)));
    }
    // Six requests a host (its three policy files, then three pages) at 300 ms take at least
    // 1.5 s; the two hosts one after the other would take 3.3 s.
    let elapsed = start.elapsed();
    assert!(elapsed >= Duration::from_millis(1500), "{elapsed:?}");
    assert!(elapsed < Duration::from_millis(2700), "{elapsed:?}");
    for s in [&a, &b] {
        let times: Vec<_> = s
            .requests()
            .iter()
            .filter(|r| r.path.starts_with("/p"))
            .map(|r| r.at)
            .collect();
        let mut times = times;
        times.sort();
        for pair in times.windows(2) {
            assert!(
                pair[1] - pair[0] >= Duration::from_millis(298),
                "{:?}",
                pair[1] - pair[0]
            );
        }
    }
}

#[tokio::test]
async fn private_addresses_are_refused_by_default() {
    let s = site();
    let config = Config::default();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let log = Arc::new(EvidenceLog::open(store, config.evidence).unwrap());
    let fetcher = Fetcher::new(&config, log, Lists::default()).unwrap();
    let outcome = fetcher
        .fetch(&s.url("/page"), Purpose::TrainAi)
        .await
        .unwrap();
    assert_eq!(codes(&outcome), ["network.private-address"]);
    let outcome = fetcher
        .fetch(
            &format!("http://localhost:{}/page", s.port()),
            Purpose::TrainAi,
        )
        .await
        .unwrap();
    assert_eq!(codes(&outcome)[0], "network.private-address");
    assert_eq!(s.total(), 0);
}

#[tokio::test]
async fn a_redirect_chain_longer_than_the_limit_stops() {
    let s = Server::start();
    s.route("/robots.txt", Reply::ok("User-agent: *\nAllow: /\n"));
    for i in 0..5 {
        s.route(
            &format!("/r{i}"),
            Reply::redirect(302, &format!("/r{}", i + 1)),
        );
    }
    s.route("/r5", Reply::ok("end"));
    let rig = rig("[politeness]\nmin_interval_ms = 1\n[fetch]\nmax_redirects = 3\n");
    let outcome = rig
        .fetcher
        .fetch(&s.url("/r0"), Purpose::TrainAi)
        .await
        .unwrap();
    assert_eq!(codes(&outcome), ["fetch.redirect-limit"]);
    assert_eq!(s.count("/r4"), 0);
    assert_eq!(s.count("/r5"), 0);
}

#[tokio::test]
async fn truncated_bodies_and_credential_redirects_are_not_collected() {
    let s = Server::start();
    s.route("/robots.txt", Reply::ok("User-agent: *\nAllow: /\n"));
    s.route("/big", Reply::ok("x".repeat(5000)));
    let port = s.port();
    s.route(
        "/login",
        Reply::redirect(302, &format!("http://user:pw@127.0.0.1:{port}/members")),
    );
    let rig = rig("max_body_bytes = 1000\n[politeness]\nmin_interval_ms = 1\n");
    let big = rig
        .fetcher
        .fetch(&s.url("/big"), Purpose::TrainAi)
        .await
        .unwrap();
    let Outcome::NotFetched(r) = &big else {
        panic!("{big:?}")
    };
    assert_eq!(r.verdict, Verdict::Discarded);
    assert_eq!(r.reasons[0].code, Code::FetchTruncated);
    let login = rig
        .fetcher
        .fetch(&s.url("/login"), Purpose::TrainAi)
        .await
        .unwrap();
    assert_eq!(codes(&login), ["url.userinfo"]);
    assert_eq!(s.count("/members"), 0);
}

mod cli {
    use super::*;
    use std::process::Command;

    fn optout(store: &std::path::Path, args: &[&str]) -> std::process::Output {
        Command::new(env!("CARGO_BIN_EXE_optout"))
            .arg("--store")
            .arg(store)
            .arg("--allow-private-addresses")
            .args(args)
            .output()
            .unwrap()
    }

    #[test]
    fn fetch_prints_allowed_bodies_only() {
        let s = site();
        s.route(
            "/noai",
            Reply::ok("RESERVED BODY").header("X-Robots-Tag", "noai"),
        );
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("store");
        let out = optout(&store, &["fetch", &s.url("/page")]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.stdout, b"<html><body>hello</body></html>");

        for path in ["/noai", "/private/secret"] {
            let out = optout(&store, &["fetch", &s.url(path)]);
            assert_eq!(out.status.code(), Some(1));
            assert!(
                out.stdout.is_empty(),
                "{path}: {}",
                String::from_utf8_lossy(&out.stdout)
            );
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                err.contains("tags.noai") || err.contains("robots.disallow"),
                "{err}"
            );
        }
        let out = optout(&store, &["fetch", "ftp://example.com/"]);
        assert_eq!(out.status.code(), Some(2));

        // Several URLs: JSON lines, -o stores allowed bodies only.
        let bodies = dir.path().join("bodies");
        let out = optout(
            &store,
            &[
                "fetch",
                "--json",
                "-o",
                bodies.to_str().unwrap(),
                &s.url("/page"),
                &s.url("/noai"),
                &s.url("/private/secret"),
            ],
        );
        assert_eq!(out.status.code(), Some(1));
        let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 3);
        for line in &lines {
            assert!(line["seq"].as_u64().is_some(), "{line}");
            let expected = if line["url"].as_str().unwrap().ends_with("/page") {
                "allowed"
            } else if line["url"].as_str().unwrap().ends_with("/noai") {
                "discarded"
            } else {
                "refused"
            };
            assert_eq!(line["verdict"], expected, "{line}");
        }
        let files: Vec<_> = std::fs::read_dir(&bodies).unwrap().collect();
        assert_eq!(files.len(), 1);
        for file in std::fs::read_dir(&bodies).unwrap() {
            let body = std::fs::read(file.unwrap().path()).unwrap();
            assert!(!String::from_utf8_lossy(&body).contains("RESERVED"));
        }
        assert_eq!(s.count("/private/secret"), 0);
        let verify = optout(&store, &["log", "verify"]);
        assert_eq!(
            verify.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&verify.stderr)
        );
    }

    /// draft-illyes-repext-03 §3.1.1: a `Robots-Tag: *;noai` response is discarded for
    /// training, its body never printed or kept, and the record names the header that
    /// decided; a member for another crawler does not reserve.
    #[test]
    fn fetch_discards_a_robots_tag_reservation_and_names_the_header() {
        let s = site();
        s.route(
            "/robots-tag",
            Reply::ok("RESERVED BODY").header("Robots-Tag", "ExampleBot;noindex, *;noai"),
        );
        s.route(
            "/robots-tag-other",
            Reply::ok("open body").header("Robots-Tag", "ExampleBot;noai"),
        );
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("store");
        let out = optout(&store, &["fetch", "--json", &s.url("/robots-tag")]);
        assert_eq!(out.status.code(), Some(1));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(!stdout.contains("RESERVED"), "{stdout}");
        let line: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
        assert_eq!(line["verdict"], "discarded", "{line}");
        assert_eq!(line["reasons"][0]["code"], "tags.noai", "{line}");
        assert_eq!(line["reasons"][0]["source"], "header Robots-Tag", "{line}");
        assert_eq!(line["reasons"][0]["rule"], "*;noai", "{line}");

        let out = optout(&store, &["fetch", &s.url("/robots-tag-other")]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.stdout, b"open body");

        let verify = optout(&store, &["log", "verify"]);
        assert_eq!(verify.status.code(), Some(0));
    }
}

#[cfg(feature = "reqwest-middleware")]
mod middleware {
    use super::*;
    use optout::middleware::Optout;

    #[tokio::test]
    async fn the_middleware_runs_the_same_pipeline() {
        let s = site();
        s.route(
            "/noai",
            Reply::ok("RESERVED BODY").header("X-Robots-Tag", "noai"),
        );
        let rig = rig(fast());
        let inner = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let client = reqwest_middleware::ClientBuilder::new(inner)
            .with(Optout::new(Arc::clone(&rig.fetcher), Purpose::TrainAi))
            .build();
        let page = client.get(s.url("/page")).send().await.unwrap();
        assert_eq!(page.status(), 200);
        assert_eq!(
            page.text().await.unwrap(),
            "<html><body>hello</body></html>"
        );
        let followed = client.get(s.url("/go-page")).send().await.unwrap();
        assert_eq!(
            followed.text().await.unwrap(),
            "<html><body>hello</body></html>"
        );
        let refused = client.get(s.url("/go-private")).send().await.unwrap_err();
        assert!(refused.to_string().contains("robots.disallow"), "{refused}");
        let discarded = client.get(s.url("/noai")).send().await.unwrap_err();
        assert!(discarded.to_string().contains("discarded"), "{discarded}");
        assert!(!discarded.to_string().contains("RESERVED"));
        assert_eq!(s.count("/private/secret"), 0);
        // Credentials are never sent, and a URL with userinfo is refused before any request.
        let with_cookie = client
            .get(s.url("/page"))
            .header("Cookie", "session=1")
            .send()
            .await
            .unwrap_err();
        assert!(
            with_cookie.to_string().contains("credentials"),
            "{with_cookie}"
        );
        let userinfo = format!("http://u:p@127.0.0.1:{}/page", s.port());
        assert!(client.get(userinfo).send().await.is_err());
        rig.fetcher.log().sync().unwrap();
        assert!(verify_store(rig.fetcher.log().store()).unwrap().records >= 5);
    }

    /// Through the layer too, reserving headers are judged before the body is read: 1 GiB
    /// behind `X-Robots-Tag: noai` is discarded for the header, not downloaded and cut.
    #[tokio::test]
    async fn through_the_middleware_a_body_its_headers_reserve_is_never_read() {
        let s = Server::start();
        s.route("/robots.txt", Reply::ok("User-agent: *\nAllow: /\n"));
        s.route(
            "/reserved",
            Reply::Stream {
                status: 200,
                headers: vec![
                    ("content-type".into(), "text/html".into()),
                    ("x-robots-tag".into(), "noai".into()),
                ],
                prefix: "<html>reserved text".into(),
                filler: "x".repeat(64 * 1024).into(),
                late: "".into(),
                late_at: usize::MAX,
                total: 1 << 30,
            },
        );
        let rig = rig(fast());
        let client = reqwest_middleware::ClientBuilder::new(
            Optout::client_builder(&rig.fetcher).build().unwrap(),
        )
        .with(Optout::new(Arc::clone(&rig.fetcher), Purpose::TrainAi))
        .build();
        let discarded = client.get(s.url("/reserved")).send().await.unwrap_err();
        let text = discarded.to_string();
        assert!(text.contains("tags.noai"), "{text}");
        assert!(!text.contains("fetch.truncated"), "{text}");
        assert!(
            s.streamed_bytes() < 64 << 20,
            "{} bytes sent",
            s.streamed_bytes()
        );
    }

    /// The inner client here has no timeout: the layer's total timeout still ends a body
    /// that never does, now that the body is read after the headers are judged.
    #[tokio::test]
    async fn through_the_middleware_an_endless_body_is_cut_off_by_the_total_timeout() {
        // `rig`: read timeout 2 s, total timeout 5 s; a chunk every 50 ms.
        let rig = rig(fast());
        let s = Server::start();
        s.route("/robots.txt", Reply::ok("User-agent: *\nAllow: /\n"));
        s.route(
            "/endless",
            Reply::Trickle {
                every: Duration::from_millis(50),
                chunk: "<p>more</p>".into(),
            },
        );
        let inner = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let client = reqwest_middleware::ClientBuilder::new(inner)
            .with(Optout::new(Arc::clone(&rig.fetcher), Purpose::TrainAi))
            .build();
        let sent = tokio::time::timeout(
            Duration::from_secs(30),
            client.get(s.url("/endless")).send(),
        )
        .await
        .expect("the layer's timeout ends the exchange");
        let text = sent.unwrap_err().to_string();
        assert!(text.contains("fetch.failed"), "{text}");
    }
}

#[tokio::test]
async fn a_body_that_never_ends_is_cut_off_by_the_total_timeout() {
    // Each chunk comes well within the read timeout; only the total timeout can end it.
    let toml = "[net]\nallow_private_addresses = true\nread_timeout_ms = 1000\ntotal_timeout_ms = 1500\n\
        [politeness]\nmin_interval_ms = 1\n";
    let config = Config::from_toml(toml).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(
        EvidenceLog::open(
            Store::open(&dir.path().join("store")).unwrap(),
            config.evidence,
        )
        .unwrap(),
    );
    let fetcher = Fetcher::new(&config, log, Lists::default()).unwrap();
    let s = Server::start();
    s.route("/robots.txt", Reply::ok("User-agent: *\nAllow: /\n"));
    s.route(
        "/endless",
        Reply::Trickle {
            every: Duration::from_millis(50),
            chunk: "<p>more</p>".into(),
        },
    );
    let started = std::time::Instant::now();
    let outcome = fetcher
        .fetch(&s.url("/endless"), Purpose::TrainAi)
        .await
        .unwrap();
    let took = started.elapsed();
    let Outcome::NotFetched(refusal) = &outcome else {
        panic!("an endless body was returned: {outcome:?}");
    };
    assert_eq!(codes(&outcome)[0], "fetch.failed", "{refusal:?}");
    let detail = refusal.reasons[0].detail.as_deref().unwrap_or_default();
    assert!(detail.contains("timed out"), "{detail}");
    assert!(refusal.seq.is_some(), "the failure is on record");
    // Cut at the total timeout, not at the end of a body that has none.
    assert!(took >= Duration::from_millis(1400), "{took:?}");
    assert!(took < Duration::from_secs(10), "{took:?}");
}

fn utf16(text: &str, little_endian: bool, bom: bool) -> Vec<u8> {
    let mut bytes = Vec::new();
    if bom {
        bytes.extend_from_slice(if little_endian {
            &[0xFF, 0xFE]
        } else {
            &[0xFE, 0xFF]
        });
    }
    for unit in text.encode_utf16() {
        bytes.extend_from_slice(&if little_endian {
            unit.to_le_bytes()
        } else {
            unit.to_be_bytes()
        });
    }
    bytes
}

#[tokio::test]
async fn pages_in_utf16_are_read_as_a_browser_reads_them() {
    // In UTF-16 every ASCII letter has a zero byte beside it: read as UTF-8, the page has no
    // meta tags at all. A browser decodes it by its byte order mark or its HTTP charset.
    let reserved = "<!DOCTYPE html><html><head><meta name=\"robots\" content=\"noai\"></head><body>reserved text</body></html>";
    let paywalled = r#"<html><head><script type="application/ld+json">{"@type":"NewsArticle","isAccessibleForFree":false}</script></head><body>reserved text</body></html>"#;
    let clean = "<html><head><meta name=\"description\" content=\"plain\"></head><body>free text</body></html>";
    let s = Server::start();
    s.route("/robots.txt", Reply::ok("User-agent: *\nAllow: /\n"));
    s.route(
        "/le-bom",
        Reply::ok(utf16(reserved, true, true)).header("Content-Type", "text/html"),
    );
    // No Content-Type: the body is sniffed as markup through its byte order mark.
    s.route("/be-bom-untyped", Reply::ok(utf16(reserved, false, true)));
    s.route(
        "/le-charset",
        Reply::ok(utf16(reserved, true, false))
            .header("Content-Type", "text/html; charset=\"UTF-16\""),
    );
    s.route(
        "/be-charset-paywall",
        Reply::ok(utf16(paywalled, false, false))
            .header("Content-Type", "text/html;charset=utf-16be"),
    );
    // Labelled UTF-16 but sent as UTF-8: the bytes still reserve it.
    s.route(
        "/mislabelled",
        Reply::ok(reserved).header("Content-Type", "text/html; charset=utf-16"),
    );
    s.route(
        "/clean",
        Reply::ok(utf16(clean, true, true)).header("Content-Type", "text/html"),
    );
    let rig = rig(fast());
    assert_discarded(
        &rig,
        &s,
        &[
            ("/le-bom", "tags.noai"),
            ("/be-bom-untyped", "tags.noai"),
            ("/le-charset", "tags.noai"),
            ("/be-charset-paywall", "access.paywalled"),
            ("/mislabelled", "tags.noai"),
        ],
    )
    .await;
    let outcome = rig
        .fetcher
        .fetch(&s.url("/clean"), Purpose::TrainAi)
        .await
        .unwrap();
    let Outcome::Fetched(page) = &outcome else {
        panic!("a UTF-16 page without a reservation: {outcome:?}")
    };
    assert_eq!(page.body, utf16(clean, true, true), "returned as it came");
}

/// Headers that reserve a response are judged before its body is read: a reserved body is
/// never downloaded (img2dataset#298 downloads first). The body here is 1 GiB; read, it
/// would be cut at `net.max_body_bytes` and discarded as truncated, not for the header.
#[tokio::test]
async fn a_body_its_headers_reserve_is_never_read() {
    let s = Server::start();
    s.route("/robots.txt", Reply::ok("User-agent: *\nAllow: /\n"));
    s.route(
        "/reserved",
        Reply::Stream {
            status: 200,
            headers: vec![
                ("content-type".into(), "text/html".into()),
                ("x-robots-tag".into(), "noai".into()),
            ],
            prefix: "<html>reserved text".into(),
            filler: "x".repeat(64 * 1024).into(),
            late: "".into(),
            late_at: usize::MAX,
            total: 1 << 30,
        },
    );
    let rig = rig(fast());
    let outcome = rig
        .fetcher
        .fetch(&s.url("/reserved"), Purpose::TrainAi)
        .await
        .unwrap();
    let Outcome::NotFetched(r) = &outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(r.verdict, Verdict::Discarded);
    assert_eq!(codes(&outcome)[0], "tags.noai", "{outcome:?}");
    rig.fetcher.log().sync().unwrap();
    let mut last = None;
    let filter = optout::evidence::export::Filter::default();
    optout::evidence::export::for_each(rig.fetcher.log().store(), &filter, |_, record| {
        last = Some(record.clone());
        Ok(())
    })
    .unwrap();
    let record = last.unwrap();
    assert_eq!(record["status"], 200, "{record}");
    assert!(record.get("bytes").is_none_or(|b| b.is_null()), "{record}");
}
