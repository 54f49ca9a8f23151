//! `optout serve` is safe by default: loopback unless a token is configured, bearer tokens
//! (401 with `WWW-Authenticate: Bearer`), and every limit answered in the one error shape
//! with its stable code (400, 401, 404, 405, 413, 415, 422, 429, 503).

#[path = "support/serve.rs"]
mod serve;
#[path = "support/server.rs"]
mod server;

use serde_json::json;
use serve::{Service, client, error_code, get, optout, post};
use server::{Reply, Server};
use std::time::Duration;

const TOKEN: &str = "s3cret-token-0123456789";

fn token_file(dir: &std::path::Path) -> String {
    let path = dir.join("token");
    std::fs::write(&path, format!("{TOKEN}\n")).unwrap();
    path.display().to_string()
}

#[test]
fn a_non_loopback_bind_without_a_token_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let out = optout(&[
        "--store",
        store.to_str().unwrap(),
        "serve",
        "--listen",
        "0.0.0.0:0",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("without a bearer token"), "{err}");
    // A weak token is refused too, naming where it came from.
    let weak = dir.path().join("weak");
    std::fs::write(&weak, "short\n").unwrap();
    let out = optout(&[
        "--store",
        store.to_str().unwrap(),
        "serve",
        "--token-file",
        weak.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("--token-file") && err.lines().count() == 1,
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bearer_tokens_from_a_file_or_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let file = token_file(dir.path());
    let by_file = Service::start(&dir.path().join("a"), &["--token-file", &file], &[]);
    let by_env = Service::start(&dir.path().join("b"), &[], &[("OPTOUT_SERVE_TOKEN", TOKEN)]);
    for service in [&by_file, &by_env] {
        let url = service.url("/v1/evaluate");
        let body =
            json!({"urls": ["https://e.com/"], "robots": "User-agent: *\nAllow: /\n"}).to_string();
        let send = |auth: Option<String>| {
            let mut request = client()
                .post(&url)
                .header("content-type", "application/json")
                .body(body.clone());
            if let Some(auth) = auth {
                request = request.header("authorization", auth);
            }
            request.send()
        };
        for auth in [
            None,
            Some("Bearer wrong-token-0123456789".into()),
            Some(format!("Basic {TOKEN}")),
        ] {
            let response = send(auth.clone()).await.unwrap();
            assert_eq!(response.status(), 401, "{auth:?}");
            assert!(
                response.headers()["www-authenticate"]
                    .to_str()
                    .unwrap()
                    .starts_with("Bearer"),
            );
            let headers = response.headers().clone();
            let body = response.bytes().await.unwrap();
            assert_eq!(error_code(401, &headers, &body), "unauthorized");
        }
        let response = send(Some(format!("Bearer {TOKEN}"))).await.unwrap();
        assert_eq!(response.status(), 200);
        let response = send(Some(format!("bearer {TOKEN}"))).await.unwrap();
        assert_eq!(response.status(), 200, "the scheme is case-insensitive");
        // Open: the health check and the API description; not the metrics.
        assert_eq!(get(&service.url("/healthz")).await.0, 200);
        assert_eq!(get(&service.url("/openapi.json")).await.0, 200);
        assert_eq!(get(&service.url("/metrics")).await.0, 401);
        assert_eq!(get(&service.url("/v1/evidence")).await.0, 401);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_has_the_one_shape_and_its_code() {
    let dir = tempfile::tempdir().unwrap();
    let service = Service::start(
        &dir.path().join("store"),
        &["--max-body-bytes", "4096"],
        &[],
    );
    let check = service.url("/v1/check");
    let robots = "User-agent: *\nDisallow: /\n";
    let cases: Vec<(serde_json::Value, &str, &str)> = vec![
        (json!({"urls": "nope"}), "bad-request", "/v1/check"),
        (
            json!({"urls": [], "purpose": "train-ai"}),
            "invalid",
            "/v1/check",
        ),
        (
            json!({"urls": ["https://e.com/"], "purpose": "world-domination"}),
            "invalid",
            "/v1/check",
        ),
        (
            json!({"urls": ["https://e.com/"], "agent": "bad agent"}),
            "invalid",
            "/v1/check",
        ),
        (
            json!({"urls": ["https://e.com/"], "unknown": 1}),
            "bad-request",
            "/v1/check",
        ),
        (
            json!({"urls": ["https://e.com/"]}),
            "invalid",
            "/v1/evaluate",
        ),
        (
            json!({"urls": ["https://e.com/"], "robots": robots,
                "headers": [{"name": "X-Robots-Tag", "value": "all\r\nX-Robots-Tag: noai"}]}),
            "invalid",
            "/v1/evaluate",
        ),
        (
            json!({"url": "https://e.com/", "urls": ["https://e.com/"]}),
            "invalid",
            "/v1/fetch",
        ),
        (
            json!({"urls": vec!["x"; 4000]}),
            "body-too-large",
            "/v1/check",
        ),
    ];
    for (body, code, path) in cases {
        let (status, headers, answer) = post(&service.url(path), &body).await;
        assert_eq!(error_code(status, &headers, &answer), code, "{path} {body}");
    }
    // Not JSON at all, and not said to be JSON.
    let response = client()
        .post(&check)
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    let (status, headers) = (response.status().as_u16(), response.headers().clone());
    assert_eq!(
        error_code(status, &headers, &response.bytes().await.unwrap()),
        "bad-request"
    );
    let response = client().post(&check).body("{}").send().await.unwrap();
    let (status, headers) = (response.status().as_u16(), response.headers().clone());
    assert_eq!(status, 415);
    assert_eq!(
        error_code(status, &headers, &response.bytes().await.unwrap()),
        "unsupported-media-type"
    );
    let (status, headers, body) = get(&service.url("/no/such/path")).await;
    assert_eq!(error_code(status, &headers, &body), "not-found");
    let response = client().delete(&check).send().await.unwrap();
    let (status, headers) = (response.status().as_u16(), response.headers().clone());
    assert_eq!(
        error_code(status, &headers, &response.bytes().await.unwrap()),
        "method-not-allowed"
    );
    let (status, headers, body) = get(&check).await;
    assert_eq!(
        error_code(status, &headers, &body),
        "bad-request",
        "GET without url"
    );
    let (status, headers, body) = get(&service.url("/v1/evidence?since=yesterday")).await;
    assert_eq!(error_code(status, &headers, &body), "invalid");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_has_at_most_ten_thousand_urls() {
    let dir = tempfile::tempdir().unwrap();
    let service = Service::start(&dir.path().join("store"), &[], &[]);
    let robots = "User-agent: *\nDisallow: /private/\n";
    let urls: Vec<String> = (0..10_000).map(|i| format!("https://e.com/{i}")).collect();
    let (status, _, body) = post(
        &service.url("/v1/evaluate"),
        &json!({"urls": urls, "robots": robots}),
    )
    .await;
    assert_eq!(status, 200);
    let answer: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(answer["results"].as_array().unwrap().len(), 10_000);
    let urls: Vec<String> = (0..10_001).map(|i| format!("https://e.com/{i}")).collect();
    let (status, headers, body) = post(
        &service.url("/v1/evaluate"),
        &json!({"urls": urls, "robots": robots}),
    )
    .await;
    assert_eq!(error_code(status, &headers, &body), "invalid");
    assert!(String::from_utf8_lossy(&body).contains("10000"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_in_flight_per_client_and_time_per_request_are_bounded() {
    // robots.txt never comes: a check of this site waits until the time limit.
    let hanging = Server::start();
    hanging.route("/robots.txt", Reply::Hang);
    let dir = tempfile::tempdir().unwrap();
    let service = Service::start(
        &dir.path().join("store"),
        &["--max-in-flight", "1", "--request-timeout", "2s"],
        &[],
    );
    let url = service.url("/v1/check");
    let target = hanging.url("/page");
    let first = tokio::spawn(async move { post(&url, &json!({"urls": [target]})).await });
    while hanging.count("/robots.txt") == 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The first is in flight: a second from the same client is turned away.
    let (status, headers, body) = post(
        &service.url("/v1/check"),
        &json!({"urls": ["https://e.com/"]}),
    )
    .await;
    assert_eq!(error_code(status, &headers, &body), "too-many-requests");
    assert!(headers.contains_key("retry-after"));
    let (status, headers, body) = first.await.unwrap();
    assert_eq!(error_code(status, &headers, &body), "timeout");
    assert_eq!(status, 503);
    // Its place is given back.
    assert_eq!(get(&service.url("/healthz")).await.0, 200);
    assert!(service.stop().success());
}
