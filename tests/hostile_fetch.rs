//! What the fetcher hands out when the response is not the page: redirects it cannot follow,
//! server errors, pay-per-crawl offers and statuses that carry no content. None of them is
//! ever returned as a page, each is recorded with its status, and the one request for it
//! carries nothing that would pay or log in.

#[path = "support/server.rs"]
mod server;

use optout::config::{Config, Lists};
use optout::evidence::EvidenceLog;
use optout::evidence::export::{Filter, jsonl};
use optout::fetcher::{Fetcher, Outcome, Refusal};
use optout::policy::{Code, Purpose, Verdict};
use optout::store::{Sled, Store};
use server::{Reply, Server};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

struct Rig {
    _dir: tempfile::TempDir,
    fetcher: Fetcher,
}

/// A fetcher on loopback, paced at 1 ms, retrying 5xx twice.
fn rig() -> Rig {
    let toml = "[net]\nallow_private_addresses = true\nread_timeout_ms = 2000\n\
                total_timeout_ms = 5000\n[politeness]\nmin_interval_ms = 1\nmax_retries = 2\n\
                backoff_s = 1\n";
    let config = Config::from_toml(toml).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("store")).unwrap();
    let log = Arc::new(EvidenceLog::open(store, config.evidence).unwrap());
    let fetcher = Fetcher::new(&config, log, Lists::default()).unwrap();
    Rig { _dir: dir, fetcher }
}

impl Rig {
    /// Fetches `url` for training and expects no page.
    async fn refused(&self, url: &str) -> Refusal {
        match self.fetcher.fetch(url, Purpose::TrainAi).await.unwrap() {
            Outcome::NotFetched(r) => r,
            Outcome::Fetched(page) => panic!(
                "{url}: handed out as a page: HTTP {} {:?}",
                page.status,
                String::from_utf8_lossy(&page.body)
            ),
        }
    }

    /// The stored record with sequence number `seq`.
    fn record(&self, seq: u64) -> serde_json::Value {
        let log = self.fetcher.log();
        log.sync().unwrap();
        let mut out = Vec::new();
        jsonl(log.store(), &Filter::default(), &mut out).unwrap();
        String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .find(|r| r["seq"] == seq)
            .unwrap_or_else(|| panic!("no record #{seq}"))
    }
}

fn site() -> Server {
    let s = Server::start();
    s.route("/robots.txt", Reply::ok("User-agent: *\nAllow: /\n"));
    s.route("/page", Reply::ok("the page"));
    s
}

/// Checks a refusal: `code` first, `verdict`, `status`, nothing of `body` in it, and a record
/// saying the same.
fn assert_refusal(rig: &Rig, r: &Refusal, code: Code, verdict: Verdict, status: u16) {
    assert_eq!(r.reasons[0].code, code, "{r:?}");
    assert_eq!(r.verdict, verdict, "{r:?}");
    assert_eq!(r.status, Some(status), "{r:?}");
    let record = rig.record(r.seq.expect("recorded"));
    assert_eq!(record["status"], status, "{record}");
    assert_eq!(record["verdict"], verdict.as_str(), "{record}");
    assert_eq!(record["reasons"][0]["code"], code.as_str(), "{record}");
}

#[tokio::test]
async fn redirects_without_a_usable_location_fail_and_follow_nowhere() {
    let s = site();
    let cases = [
        ("/none", Reply::text(302, "REDIRECT BODY")),
        (
            "/empty",
            Reply::text(302, "REDIRECT BODY").header("Location", ""),
        ),
        (
            "/blank",
            Reply::text(301, "REDIRECT BODY").header("Location", "  "),
        ),
        (
            "/unparsable",
            Reply::text(307, "REDIRECT BODY").header("Location", "http://[::1"),
        ),
        (
            "/ftp",
            Reply::text(302, "REDIRECT BODY").header("Location", "ftp://127.0.0.1/x"),
        ),
        (
            "/js",
            Reply::text(303, "REDIRECT BODY").header("Location", "javascript:alert(1)"),
        ),
        (
            "/mailto",
            Reply::text(308, "REDIRECT BODY").header("Location", "mailto:a@example.com"),
        ),
        ("/multiple", Reply::text(300, "REDIRECT BODY")),
    ];
    for (path, reply) in &cases {
        s.route(path, reply.clone());
    }
    let rig = rig();
    for (path, reply) in cases {
        let Reply::Fixed { status, .. } = reply else {
            unreachable!()
        };
        let r = rig.refused(&s.url(path)).await;
        assert_refusal(&rig, &r, Code::FetchBadRedirect, Verdict::Allowed, status);
        assert!(!format!("{r:?}").contains("REDIRECT BODY"), "{path}: {r:?}");
        assert_eq!(s.count(path), 1, "{path}");
    }
    // Nothing but the policy files and the redirects themselves was requested.
    let others: Vec<_> = s
        .requests()
        .into_iter()
        .map(|r| r.path)
        .filter(|p| !cases_contain(p) && !is_policy_file(p))
        .collect();
    assert!(others.is_empty(), "{others:?}");
}

fn cases_contain(path: &str) -> bool {
    [
        "/none",
        "/empty",
        "/blank",
        "/unparsable",
        "/ftp",
        "/js",
        "/mailto",
        "/multiple",
    ]
    .contains(&path)
}

fn is_policy_file(path: &str) -> bool {
    matches!(path, "/robots.txt" | "/.well-known/tdmrep.json" | "/ai.txt")
}

/// A route that answers `first` `times` times, then `then`.
fn flaky(first: Reply, times: usize, then: Reply) -> Reply {
    let hits = AtomicUsize::new(0);
    Reply::dynamic(move |_| {
        if hits.fetch_add(1, Ordering::SeqCst) < times {
            first.clone()
        } else {
            then.clone()
        }
    })
}

#[tokio::test]
async fn server_errors_are_retried_then_fail_without_a_body() {
    let s = site();
    let error = |status| Reply::text(status, "ERROR PAGE").header("Retry-After", "0");
    for status in [500, 502, 504] {
        s.route(&format!("/down{status}"), error(status));
        s.route(
            &format!("/flaky{status}"),
            flaky(error(status), 1, Reply::ok("recovered")),
        );
    }
    for status in [501, 505, 511, 520, 599] {
        s.route(&format!("/down{status}"), error(status));
    }
    // No Retry-After: the configured back-off (1 s), once.
    s.route(
        "/slow-flaky",
        flaky(Reply::text(502, "ERROR PAGE"), 1, Reply::ok("recovered")),
    );
    // A Retry-After beyond politeness.max_backoff_s: given up at once.
    s.route(
        "/closed",
        Reply::text(500, "ERROR PAGE").header("Retry-After", "86400"),
    );
    let rig = rig();
    for status in [500, 502, 504] {
        let path = format!("/down{status}");
        let r = rig.refused(&s.url(&path)).await;
        assert_refusal(&rig, &r, Code::FetchServerError, Verdict::Allowed, status);
        assert!(!format!("{r:?}").contains("ERROR PAGE"), "{r:?}");
        assert_eq!(s.count(&path), 3, "{path}: max_retries = 2 means 3 tries");

        let path = format!("/flaky{status}");
        match rig.fetcher.fetch(&s.url(&path), Purpose::TrainAi).await {
            Ok(Outcome::Fetched(page)) => assert_eq!(page.body, b"recovered"),
            other => panic!("{path}: {other:?}"),
        }
        assert_eq!(s.count(&path), 2, "{path}");
    }
    // Other server errors are not transient: one request, no body.
    for status in [501, 505, 511, 520, 599] {
        let path = format!("/down{status}");
        let r = rig.refused(&s.url(&path)).await;
        assert_refusal(&rig, &r, Code::FetchServerError, Verdict::Allowed, status);
        assert_eq!(s.count(&path), 1, "{path}");
    }
    match rig
        .fetcher
        .fetch(&s.url("/slow-flaky"), Purpose::TrainAi)
        .await
    {
        Ok(Outcome::Fetched(page)) => assert_eq!(page.body, b"recovered"),
        other => panic!("{other:?}"),
    }
    let r = rig.refused(&s.url("/closed")).await;
    assert_refusal(&rig, &r, Code::FetchServerError, Verdict::Allowed, 500);
    assert_eq!(s.count("/closed"), 1);
}

/// The pay-per-crawl request headers optout must never send (they agree to pay).
const PAYING: [&str; 2] = ["crawler-exact-price", "crawler-max-price"];

#[tokio::test]
async fn pay_per_crawl_is_never_paid_nor_retried() {
    let s = site();
    s.route(
        "/priced",
        Reply::text(402, "PAID CONTENT").header("crawler-price", "USD 0.01"),
    );
    s.route(
        "/missing-price",
        Reply::text(402, "PAID CONTENT").header("crawler-error", "MissingCrawlerPrice"),
    );
    s.route("/plain402", Reply::text(402, "PAID CONTENT"));
    // A server that says it charged for a page optout never offered to pay for.
    s.route(
        "/charged",
        Reply::ok("PAID CONTENT").header("crawler-charged", "USD 0.01"),
    );
    let rig = rig();
    for path in ["/priced", "/missing-price"] {
        let r = rig.refused(&s.url(path)).await;
        assert_refusal(&rig, &r, Code::AccessPaymentRequired, Verdict::Refused, 402);
        assert!(!format!("{r:?}").contains("PAID CONTENT"), "{r:?}");
        assert_eq!(s.count(path), 1, "{path}: never retried");
    }
    let r = rig.refused(&s.url("/priced")).await;
    assert!(
        r.reasons[0].to_string().contains("USD 0.01"),
        "the price is on record: {r:?}"
    );
    let r = rig.refused(&s.url("/plain402")).await;
    assert_refusal(&rig, &r, Code::AccessDenied, Verdict::Refused, 402);
    let r = rig.refused(&s.url("/charged")).await;
    assert_refusal(
        &rig,
        &r,
        Code::AccessPaymentRequired,
        Verdict::Discarded,
        200,
    );
    assert!(!format!("{r:?}").contains("PAID CONTENT"), "{r:?}");
    for seen in s.requests() {
        for name in PAYING {
            assert!(
                seen.header(name).is_none(),
                "{} sent {name}: {:?}",
                seen.path,
                seen.headers
            );
        }
    }
}

#[tokio::test]
async fn responses_without_content_are_not_pages() {
    let s = site();
    s.route("/s204", Reply::status(204));
    s.route("/s205", Reply::status(205));
    s.route("/s206", Reply::text(206, "PART OF A PAGE"));
    s.route("/s304", Reply::status(304));
    s.route("/s799", Reply::text(799, "NOT HTTP"));
    let rig = rig();
    for status in [204, 205, 206, 304, 799] {
        let path = format!("/s{status}");
        let r = rig.refused(&s.url(&path)).await;
        assert_refusal(&rig, &r, Code::FetchNotContent, Verdict::Allowed, status);
        assert!(!format!("{r:?}").contains("PART OF"), "{r:?}");
        assert_eq!(s.count(&path), 1, "{path}");
    }
    // A body in a coding the client did not decode: what it says (a meta tag) is unreadable.
    s.route(
        "/encoded",
        Reply::ok("ENCODED BYTES")
            .header("Content-Type", "text/html")
            .header("Content-Encoding", "x-hostile"),
    );
    let r = rig.refused(&s.url("/encoded")).await;
    assert_refusal(&rig, &r, Code::FetchNotContent, Verdict::Allowed, 200);
    assert!(!format!("{r:?}").contains("ENCODED BYTES"), "{r:?}");
    // A page still is one, also when it says it is not encoded.
    s.route(
        "/identity",
        Reply::ok("the page").header("Content-Encoding", "identity"),
    );
    for path in ["/page", "/identity"] {
        match rig.fetcher.fetch(&s.url(path), Purpose::TrainAi).await {
            Ok(Outcome::Fetched(page)) => assert_eq!(page.body, b"the page"),
            other => panic!("{path}: {other:?}"),
        }
    }
    // The client decodes gzip (and removes the header): a gzipped page is read as a page.
    s.route(
        "/gzipped",
        Reply::ok(GZIPPED.to_vec()).header("Content-Encoding", "gzip"),
    );
    match rig
        .fetcher
        .fetch(&s.url("/gzipped"), Purpose::TrainAi)
        .await
    {
        Ok(Outcome::Fetched(page)) => assert_eq!(page.body, b"User-agent: *\nDisallow: /zipped\n"),
        other => panic!("{other:?}"),
    }
}

/// `User-agent: *\nDisallow: /zipped\n`, gzipped.
const GZIPPED: [u8; 52] = [
    31, 139, 8, 0, 0, 0, 0, 0, 2, 3, 11, 45, 78, 45, 210, 77, 76, 79, 205, 43, 177, 82, 208, 226,
    114, 201, 44, 78, 204, 201, 201, 47, 183, 82, 208, 175, 202, 44, 40, 72, 77, 225, 2, 0, 229,
    78, 114, 97, 32, 0, 0, 0,
];

/// A server that answers every request with `raw` bytes as written (after a 404 for the
/// policy files), then closes: for responses axum will not send. Stops when dropped.
struct RawServer {
    addr: std::net::SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RawServer {
    fn start(raw: &'static [u8]) -> RawServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                let Ok((mut socket, _)) = listener.accept() else {
                    std::thread::sleep(std::time::Duration::from_millis(5));
                    continue;
                };
                socket.set_nonblocking(false).unwrap();
                socket
                    .set_read_timeout(Some(std::time::Duration::from_secs(5)))
                    .unwrap();
                let mut head = Vec::new();
                let mut byte = [0u8];
                while !head.ends_with(b"\r\n\r\n") && socket.read(&mut byte).unwrap_or(0) == 1 {
                    head.push(byte[0]);
                }
                let line = String::from_utf8_lossy(&head);
                let path = line.split(' ').nth(1).unwrap_or("");
                let reply: &[u8] = if is_policy_file(path) {
                    b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                } else {
                    raw
                };
                let _ = socket.write_all(reply);
            }
        });
        RawServer {
            addr,
            stop,
            thread: Some(thread),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for RawServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[tokio::test]
async fn a_final_informational_response_is_not_a_page() {
    let raw = RawServer::start(
        b"HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: x\r\n\r\nUPGRADED BYTES",
    );
    let rig = rig();
    match rig.fetcher.fetch(&raw.url("/page"), Purpose::TrainAi).await {
        Ok(Outcome::NotFetched(r)) => {
            assert_eq!(r.verdict, Verdict::Allowed, "{r:?}");
            assert_eq!(r.reasons[0].code, Code::FetchNotContent, "{r:?}");
            assert_eq!(r.status, Some(101), "{r:?}");
            assert!(!format!("{r:?}").contains("UPGRADED"), "{r:?}");
        }
        other => panic!("{other:?}"),
    }
}

mod cli {
    use super::*;

    /// Runs the binary with the store in `dir` and a config there pacing at 1 ms.
    fn optout(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
        let config = dir.join("optout.toml");
        std::fs::write(&config, "[politeness]\nmin_interval_ms = 1\n").unwrap();
        Command::new(env!("CARGO_BIN_EXE_optout"))
            .arg("--store")
            .arg(dir.join("store"))
            .arg("--config")
            .arg(&config)
            .arg("--allow-private-addresses")
            .args(args)
            .output()
            .unwrap()
    }

    /// `optout fetch URL` prints nothing of the body, `expected` (verdict word, status, code)
    /// on standard error, and exits 1.
    fn assert_not_fetched(dir: &std::path::Path, url: &str, expected: &[&str]) {
        let out = optout(dir, &["fetch", url]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{url}: {err}");
        assert!(
            out.stdout.is_empty(),
            "{url}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        for word in expected {
            assert!(err.contains(word), "{url}: {word} not in {err}");
        }
    }

    #[test]
    fn fetch_exits_1_for_what_is_not_a_page() {
        let s = site();
        s.route("/none", Reply::text(302, "BODY"));
        s.route(
            "/js",
            Reply::text(302, "BODY").header("Location", "javascript:alert(1)"),
        );
        s.route("/down", Reply::text(502, "BODY").header("Retry-After", "0"));
        s.route(
            "/priced",
            Reply::text(402, "BODY").header("crawler-price", "USD 0.01"),
        );
        s.route("/empty", Reply::status(204));
        let dir = tempfile::tempdir().unwrap();
        let cases: [(&str, &[&str]); 5] = [
            ("/none", &["failed ", "HTTP 302", "fetch.bad-redirect"]),
            ("/js", &["failed ", "HTTP 302", "fetch.bad-redirect"]),
            ("/down", &["failed ", "HTTP 502", "fetch.server-error"]),
            (
                "/priced",
                &["refused ", "HTTP 402", "access.payment-required"],
            ),
            ("/empty", &["failed ", "HTTP 204", "fetch.not-content"]),
        ];
        for (path, expected) in cases {
            assert_not_fetched(dir.path(), &s.url(path), expected);
        }
        for seen in s.requests() {
            for name in PAYING {
                assert!(seen.header(name).is_none(), "{name}: {:?}", seen.headers);
            }
        }
        let verify = optout(dir.path(), &["log", "verify"]);
        assert_eq!(verify.status.code(), Some(0));
    }
}
