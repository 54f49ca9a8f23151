//! `optout serve`, the real binary on a free loopback port, against loopback sites: its
//! answers equal the CLI's on the same inputs (`optout check --json`, `optout fetch --json`,
//! `optout log export`, on a second store), no refused path is ever requested, the evidence
//! endpoints read the same log, SIGTERM during a batch loses no record, and `/openapi.json`
//! is `docs/openapi.json`.

#[path = "support/serve.rs"]
mod serve;
#[path = "support/server.rs"]
mod server;

use serde_json::{Value, json};
use serve::{Service, get, optout, post, without_seq};
use server::{Reply, Server};
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::time::Duration;

/// Refuses `/private/` to everyone, and everything to `strictbot` (not an AI crawler, so
/// no `robots.ai-crawler-block` for the others).
const ROBOTS: &str = "User-agent: *\nDisallow: /private/\n\nUser-agent: strictbot\nDisallow: /\n";

/// A site that refuses `/private/` to everyone, reserves `/tdm/` by TDMRep, and answers
/// every page with a small body.
fn site(ip: [u8; 4]) -> Server {
    let server = Server::start_on(IpAddr::V4(Ipv4Addr::from(ip)));
    server.route("/robots.txt", Reply::ok(ROBOTS));
    server.route(
        "/.well-known/tdmrep.json",
        Reply::ok(r#"[{"location": "/tdm/*", "tdm-reservation": 1}]"#)
            .header("Content-Type", "application/json"),
    );
    server.route("/ai.txt", Reply::status(404));
    server
        .fallback(Reply::ok("<html><body>page</body></html>").header("Content-Type", "text/html"));
    server
}

/// A config with a fast pace, so fetches of one host do not wait a second each.
fn config(dir: &Path) -> String {
    let path = dir.join("optout.toml");
    std::fs::write(
        &path,
        "[politeness]\nmin_interval_ms = 1\n[net]\nread_timeout_ms = 5000\ntotal_timeout_ms = 10000\n",
    )
    .unwrap();
    path.display().to_string()
}

fn start(dir: &Path) -> Service {
    let config = config(dir);
    Service::start_with_config(&dir.join("store"), &config, &[], &[])
}

fn urls(a: &Server, b: &Server) -> Vec<String> {
    vec![
        a.url("/"),
        a.url("/private/secret.html"),
        a.url("/tdm/article.html"),
        b.url("/public/page.html"),
        b.url("/private/x"),
        "not a url".into(),
        "ftp://example.com/x".into(),
        a.url("/page?q=1"),
    ]
}

/// The CLI's `--json` lines for `args` on a store of its own, as values without `seq`.
fn cli_lines(dir: &Path, args: &[&str]) -> Vec<Value> {
    let config = config(dir);
    let store = dir.join("cli-store");
    let mut all = vec![
        "--config",
        &config,
        "--store",
        store.to_str().unwrap(),
        "--allow-private-addresses",
    ];
    all.extend_from_slice(args);
    let output = optout(&all);
    assert!(output.status.code().unwrap() <= 2, "{output:?}");
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| without_seq(serde_json::from_str(l).unwrap()))
        .collect()
}

/// No request to any path but the policy files, and no refused path at all.
fn assert_only_policy_files(sites: &[&Server]) {
    for site in sites {
        for seen in site.requests() {
            assert!(
                ["/robots.txt", "/.well-known/tdmrep.json", "/ai.txt"]
                    .contains(&seen.path.as_str()),
                "a check requested {}",
                seen.path
            );
        }
    }
}

fn assert_no_refused_path(sites: &[&Server]) {
    for site in sites {
        for seen in site.requests() {
            assert!(
                !seen.path.starts_with("/private/") && !seen.path.starts_with("/tdm/"),
                "a refused path was requested: {}",
                seen.path
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checks_equal_the_cli_and_request_only_policy_files() {
    let (a, b) = (site([127, 0, 0, 1]), site([127, 0, 0, 2]));
    let dir = tempfile::tempdir().unwrap();
    let service = start(dir.path());
    let urls = urls(&a, &b);
    for purpose in ["train-ai", "search"] {
        let (status, headers, body) = post(
            &service.url("/v1/check"),
            &json!({"urls": urls, "purpose": purpose, "agent": "mybot"}),
        )
        .await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        assert_eq!(headers["content-type"], "application/json");
        // The service fetched each origin's files once however many URLs and batches asked
        // for them (the CLI run below fetches them once more, on its own store).
        let cli_runs = usize::from(purpose == "search");
        assert_eq!(a.count("/robots.txt"), 1 + cli_runs);
        let answer: Value = serde_json::from_slice(&body).unwrap();
        let results = answer["results"].as_array().unwrap();
        assert_eq!(results.len(), urls.len());
        // Every decision on a URL is on record; an input that is not a URL has no record.
        for (result, url) in results.iter().zip(&urls) {
            assert_eq!(result["url"], url.as_str());
            assert_eq!(result.get("seq").is_some(), result["verdict"] != "error");
        }
        let mut args = vec!["check", "--json", "--agent", "mybot", "--purpose", purpose];
        args.extend(urls.iter().map(String::as_str));
        let got: Vec<Value> = results.iter().cloned().map(without_seq).collect();
        assert_eq!(got, cli_lines(dir.path(), &args), "{purpose}");
    }
    // One URL by GET is the same line.
    let one = format!(
        "{}?url={}&agent=mybot",
        service.url("/v1/check"),
        urlencode(&a.url("/private/secret.html"))
    );
    let (status, _, body) = get(&one).await;
    assert_eq!(status, 200);
    let line: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(line["verdict"], "refused");
    assert_eq!(line["reasons"][0]["code"], "robots.disallow");
    assert_only_policy_files(&[&a, &b]);
    let (_, _, metrics) = get(&service.url("/metrics")).await;
    let metrics = String::from_utf8(metrics).unwrap();
    assert!(
        metrics.contains("optout_decisions_total{verdict=\"refused\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("optout_decision_reasons_total{code=\"robots.disallow\"}"));
    assert!(metrics.contains("optout_policy_cache_hits_total"));
    assert!(
        !metrics.contains("optout_policy_cache_misses_total 0\n"),
        "{metrics}"
    );
    assert!(service.stop().success());
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evaluate_equals_the_cli_with_files() {
    let dir = tempfile::tempdir().unwrap();
    let service = start(dir.path());
    let robots = dir.path().join("robots.txt");
    std::fs::write(&robots, ROBOTS).unwrap();
    let html = r#"<html><head><meta name="robots" content="noai"></head></html>"#;
    let html_file = dir.path().join("page.html");
    std::fs::write(&html_file, html).unwrap();
    let urls = [
        "https://example.com/",
        "https://example.com/private/a",
        "bad url",
    ];
    for agent in ["mybot", "strictbot"] {
        let (status, _, body) = post(
            &service.url("/v1/evaluate"),
            &json!({"urls": urls, "agent": agent, "robots": ROBOTS, "html": html,
                    "headers": [{"name": "X-Robots-Tag", "value": "noimageai"}]}),
        )
        .await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        let answer: Value = serde_json::from_slice(&body).unwrap();
        let got: Vec<Value> = answer["results"]
            .as_array()
            .unwrap()
            .iter()
            .cloned()
            .map(without_seq)
            .collect();
        let mut args = vec![
            "check",
            "--json",
            "--agent",
            agent,
            "--robots",
            robots.to_str().unwrap(),
            "--html",
            html_file.to_str().unwrap(),
            "--header",
            "X-Robots-Tag: noimageai",
        ];
        args.extend(urls);
        assert_eq!(got, cli_lines(dir.path(), &args), "{agent}");
    }
    assert!(service.stop().success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetches_equal_the_cli_and_never_request_a_refused_path() {
    let (a, b) = (site([127, 0, 0, 1]), site([127, 0, 0, 2]));
    let dir = tempfile::tempdir().unwrap();
    let service = start(dir.path());
    // One allowed URL: the body, with the verdict and the record in headers.
    let (status, headers, body) =
        post(&service.url("/v1/fetch"), &json!({"url": a.url("/a")})).await;
    assert_eq!(status, 200);
    assert_eq!(body, b"<html><body>page</body></html>");
    assert_eq!(headers["optout-verdict"], "allowed");
    assert_eq!(headers["optout-status"], "200");
    assert_eq!(headers["content-type"], "text/html");
    assert!(
        headers["optout-seq"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    // One refused URL: its line as JSON, nothing requested.
    let (status, headers, body) = post(
        &service.url("/v1/fetch"),
        &json!({"url": a.url("/private/x")}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(headers["optout-verdict"], "refused");
    let line: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(line["reasons"][0]["code"], "robots.disallow");
    // A batch: NDJSON lines in input order, as `optout fetch --json` prints them.
    let urls = urls(&a, &b);
    let (status, headers, body) = post(&service.url("/v1/fetch"), &json!({"urls": urls})).await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "application/x-ndjson");
    let got: Vec<Value> = String::from_utf8(body)
        .unwrap()
        .lines()
        .map(|l| without_seq(serde_json::from_str(l).unwrap()))
        .collect();
    assert_eq!(
        got.iter()
            .map(|l| l["url"].as_str().unwrap())
            .collect::<Vec<_>>(),
        urls.iter().map(|u| u.trim()).collect::<Vec<_>>()
    );
    let mut args = vec!["fetch", "--json"];
    args.extend(urls.iter().map(String::as_str));
    let mut want = cli_lines(dir.path(), &args);
    // The CLI prints in the order fetches end; the service in input order.
    let key = |v: &Value| v["url"].as_str().unwrap().to_owned();
    want.sort_by_key(key);
    let mut sorted = got.clone();
    sorted.sort_by_key(key);
    assert_eq!(sorted, want);
    // Bodies on request.
    let (_, _, body) = post(
        &service.url("/v1/fetch"),
        &json!({"urls": [b.url("/x"), b.url("/private/y")], "bodies": true}),
    )
    .await;
    let lines: Vec<Value> = String::from_utf8(body)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines[0]["body_base64"],
        "PGh0bWw+PGJvZHk+cGFnZTwvYm9keT48L2h0bWw+"
    );
    assert!(lines[1].get("body_base64").is_none());
    assert_no_refused_path(&[&a, &b]);
    let (_, _, metrics) = get(&service.url("/metrics")).await;
    let metrics = String::from_utf8(metrics).unwrap();
    assert!(
        !metrics.contains("optout_fetch_duration_seconds_count 0\n"),
        "{metrics}"
    );
    assert!(service.stop().success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evidence_endpoints_read_the_log_the_cli_reads() {
    let a = site([127, 0, 0, 1]);
    let dir = tempfile::tempdir().unwrap();
    let service = start(dir.path());
    let (status, _, _) = post(
        &service.url("/v1/check"),
        &json!({"urls": [a.url("/"), a.url("/private/x"), a.url("/y")]}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, headers, exported) = get(&service.url("/v1/evidence")).await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "application/x-ndjson");
    let (_, _, refused) = get(&service.url("/v1/evidence?verdict=refused&format=csv")).await;
    let refused = String::from_utf8(refused).unwrap();
    assert_eq!(refused.lines().count(), 2, "{refused}");
    assert!(refused.contains("/private/x"));
    let (status, _, shown) = get(&service.url("/v1/evidence/2")).await;
    assert_eq!(status, 200);
    let shown: Value = serde_json::from_slice(&shown).unwrap();
    assert_eq!(shown["record"]["seq"], 2);
    let lines = shown["sources"][0]["lines"].as_array().unwrap();
    let deciding: Vec<&Value> = lines.iter().filter(|l| l["deciding"] == true).collect();
    assert_eq!(deciding.len(), 1);
    assert_eq!(deciding[0]["text"], "Disallow: /private/");
    let (status, headers, body) = get(&service.url("/v1/evidence/99")).await;
    assert_eq!(serve::error_code(status, &headers, &body), "not-found");
    let (status, headers, body) = get(&service.url("/v1/evidence/x")).await;
    assert_eq!(serve::error_code(status, &headers, &body), "bad-request");
    let (status, _, checkpoint) = get(&service.url("/v1/checkpoint")).await;
    assert_eq!(status, 200);
    let checkpoint: Value = serde_json::from_slice(&checkpoint).unwrap();
    assert_eq!(checkpoint["seq"], 3);
    assert!(service.stop().success());
    // The same log, read by the CLI once the service is gone.
    let store = dir.path().join("store");
    let store = store.to_str().unwrap();
    let cli = optout(&["--store", store, "log", "export"]);
    assert_eq!(cli.stdout, exported);
    let cli = optout(&["--store", store, "log", "checkpoint"]);
    let line = String::from_utf8(cli.stdout).unwrap();
    let head = format!("seq=3 hash={} ", checkpoint["hash"].as_str().unwrap());
    assert!(line.contains(&head), "{line} / {head}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_a_batch_answers_it_and_loses_no_record() {
    // The policy files come slowly, so the batch is in flight when SIGTERM comes.
    let slow = Server::start_on(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3)));
    slow.route(
        "/robots.txt",
        Reply::ok(ROBOTS).delayed(Duration::from_millis(1500)),
    );
    slow.fallback(Reply::status(404));
    let dir = tempfile::tempdir().unwrap();
    let service = start(dir.path());
    let urls: Vec<String> = (0..500).map(|i| slow.url(&format!("/p/{i}"))).collect();
    let url = service.url("/v1/check");
    let batch = tokio::spawn(async move { post(&url, &json!({"urls": urls})).await });
    while slow.count("/robots.txt") == 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    service.terminate();
    let (status, _, body) = batch.await.unwrap();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let answer: Value = serde_json::from_slice(&body).unwrap();
    let seqs: Vec<u64> = answer["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs.len(), 500);
    let status = service.wait();
    assert_eq!(status.code(), Some(0));
    let store = dir.path().join("store");
    let store = store.to_str().unwrap();
    let verify = optout(&["--store", store, "log", "verify"]);
    assert!(verify.status.success(), "{verify:?}");
    let export = String::from_utf8(optout(&["--store", store, "log", "export"]).stdout).unwrap();
    let stored: std::collections::HashSet<u64> = export
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["seq"]
                .as_u64()
                .unwrap()
        })
        .collect();
    for seq in seqs {
        assert!(
            stored.contains(&seq),
            "answered record {seq} is not in the log"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_json_is_the_file_in_docs() {
    let dir = tempfile::tempdir().unwrap();
    let service = start(dir.path());
    let (status, _, served) = get(&service.url("/openapi.json")).await;
    assert_eq!(status, 200);
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/openapi.json");
    if std::env::var_os("OPTOUT_BLESS_OPENAPI").is_some() {
        std::fs::write(file, &served).unwrap();
    }
    let kept = std::fs::read(file).expect("docs/openapi.json (OPTOUT_BLESS_OPENAPI=1 writes it)");
    assert!(
        kept == served,
        "docs/openapi.json is not what /openapi.json serves: regenerate it with OPTOUT_BLESS_OPENAPI=1 cargo test --test serve openapi"
    );
    let api: Value = serde_json::from_slice(&served).unwrap();
    for path in [
        "/v1/check",
        "/v1/evaluate",
        "/v1/fetch",
        "/v1/evidence",
        "/v1/evidence/{seq}",
        "/v1/checkpoint",
        "/healthz",
        "/metrics",
    ] {
        assert!(api["paths"].get(path).is_some(), "{path}");
    }
    assert!(service.stop().success());
}
