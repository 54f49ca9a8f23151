//! `optout crawl` against the generated site farm (issue 13, "How it is checked"): the
//! servers' request logs, the WARC files read back by an independent reader, `skipped.jsonl`
//! and every byte under the crawl directory are the judges (`support/judge.rs`); the expected
//! result is computed from the farm's model (`support/farm.rs`), never by optout's code.

#[path = "support/farm.rs"]
mod farm;
#[path = "support/judge.rs"]
mod judge;
#[path = "support/scenario.rs"]
mod scenario;
#[path = "support/server.rs"]
mod server;
#[path = "support/warc_check.rs"]
mod warc_check;

use farm::{Expect, Plan, Requests, config_toml, grid};
use judge::{CrawlDir, Report, judge_all, summary_line};
use scenario::scenario;
use std::collections::BTreeSet;
use std::time::Duration;

const INTERVAL_MS: u64 = 50;
const LIMIT: Duration = Duration::from_secs(180);

fn args<'a>(seeds: &'a [String], extra: &[&'a str]) -> Vec<&'a str> {
    let mut v: Vec<&str> = seeds.iter().map(String::as_str).collect();
    v.extend_from_slice(extra);
    v
}

/// Fetches a URL of the farm with plain reqwest: `(status, headers, body)`.
async fn get(
    client: &reqwest::Client,
    url: &str,
) -> Result<(u16, reqwest::header::HeaderMap, Vec<u8>), String> {
    let response = client
        .get(url)
        .send()
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.bytes().await.map_err(|e| format!("{url}: {e}"))?;
    Ok((status, headers, body.to_vec()))
}

/// The `href`s of a page, resolved against its URL and `<base href>`: this test's own
/// reading, to check the model's link lists against the markup it serves.
fn hrefs(url: &str, body: &[u8]) -> BTreeSet<String> {
    let text = String::from_utf8_lossy(body);
    let href = regex::Regex::new(r#"href="([^"]*)""#).unwrap();
    let base_re = regex::Regex::new(r#"<base href="([^"]*)""#).unwrap();
    let base = base_re
        .captures(&text)
        .map(|c| c[1].to_owned())
        .unwrap_or_else(|| url.to_owned());
    let base = url::Url::parse(&base).unwrap();
    href.captures_iter(&text)
        .filter(|c| !text[..c.get(0).unwrap().start()].ends_with("<base "))
        .map(|c| base.join(&c[1]).unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn farm_serves_its_model() {
    let (farm, seeds) = scenario();
    let client = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut problems = Vec::new();
    for (base, origin) in &farm.origins {
        let robots = get(&client, &format!("{base}/robots.txt")).await;
        match (&robots, origin.refused, origin.always_500) {
            (Err(_), true, _) => continue,
            (Ok((500, _, _)), _, true) => continue,
            (Ok((200, _, body)), false, false) if body == origin.robots_txt().as_bytes() => {}
            (other, ..) => problems.push(format!(
                "{base}/robots.txt: {:?}",
                other.as_ref().map(|r| r.0)
            )),
        }
        for (path, page) in &origin.pages {
            let url = format!("{base}{path}");
            if path.starts_with("/hdr-tdm") {
                // The endless body: only its headers are read here.
                let r = client.get(&url).send().await.unwrap();
                assert_eq!(r.headers()["tdm-reservation"], "1", "{url}");
                continue;
            }
            let (status, headers, body) = match get(&client, &url).await {
                Ok(r) => r,
                Err(e) => {
                    problems.push(e);
                    continue;
                }
            };
            if let Some(marker) = &page.marker
                && status < 300
                && memchr::memmem::find(&body, marker.as_bytes()).is_none()
            {
                problems.push(format!("{url}: marker {marker} not in the body"));
            }
            match &page.expect {
                Expect::Kept if page.marker.is_none() => {
                    // A busy page answers 429 or 503 first.
                    let busy = page.requests == Requests::Between(2, 2);
                    if (busy && !matches!(status, 429 | 503)) || (!busy && status != 200) {
                        problems.push(format!("{url}: status {status}, busy: {busy}"));
                    }
                    if status == 200 && body != page.body.as_ref() {
                        problems.push(format!("{url}: served body differs from the model's"));
                    }
                    if status == 200 {
                        let served = hrefs(&url, &body);
                        for link in page.links.iter().chain(&page.nofollow) {
                            if !served.contains(link) {
                                problems.push(format!("{url}: the model links to {link}, the markup does not ({served:?})"));
                            }
                        }
                    }
                }
                Expect::Redirect(to) => {
                    let location = headers.get("location").and_then(|v| v.to_str().ok());
                    if !(300..400).contains(&status) || location != Some(to.as_str()) {
                        problems.push(format!(
                            "{url}: {status} to {location:?}, the model says a redirect to {to}"
                        ));
                    }
                }
                _ => {}
            }
        }
        for (path, sitemap) in &origin.sitemaps {
            let url = format!("{base}{path}");
            let (status, _, body) = get(&client, &url).await.unwrap();
            let text = if body.starts_with(&[0x1f, 0x8b]) {
                let mut out = String::new();
                std::io::Read::read_to_string(
                    &mut flate2::read::GzDecoder::new(&body[..]),
                    &mut out,
                )
                .unwrap();
                out
            } else {
                String::from_utf8(body).unwrap()
            };
            for listed in sitemap.urls.iter().chain(&sitemap.children) {
                if status != 200 || !text.contains(listed.as_str()) {
                    problems.push(format!("{url}: {status}, does not list {listed}"));
                }
            }
        }
    }
    // The second request to a busy page is served.
    for (server, path) in [(0, "/busy.html"), (1, "/busy503.html")] {
        let busy = format!("{}{path}", farm.hosts[0].servers[server].origin());
        let status = get(&client, &busy).await.unwrap().0;
        assert_eq!(status, 200, "{busy} after its 429/503");
    }

    // The expectation itself, for the plan of the scenario test.
    let expected = farm.expect(&Plan::new(&seeds));
    let kept = expected.kept();
    for must in [
        "/cycle/2.html",
        "/nf-twice.html",
        "/base/dir/child.html",
        "/area-target.html",
        "/canon.html",
        "/broken-child.html",
        "/huge-child.html",
        "/r-in-target.html",
        "/orphan-gz.html",
        "/orphan-txt.html",
        "/busy.html",
        "/busy503.html",
    ] {
        if !kept.iter().any(|k| k.ends_with(must)) {
            problems.push(format!("the expectation does not keep {must}: {kept:?}"));
        }
    }
    for never in [
        "/nf-only.html",
        "/meta-nf-child.html",
        "/private/secret.html",
        "/from-a0.html",
        "/r-out-target.html",
    ] {
        let hit = expected.found.iter().find(|(u, _)| u.ends_with(never));
        if !matches!(hit, Some((_, (_, Expect::NotKept { .. }, Requests::Never)))) {
            problems.push(format!(
                "the expectation must find {never} and never request it: {hit:?}"
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "the farm does not serve its model:\n{}",
        problems.join("\n")
    );
}

/// Every scenario group at once: discovery (cycles, cross-origin and cross-host links, base,
/// area, canonical, broken HTML, huge pages, sitemaps of every kind, redirects), nofollow,
/// every reservation, access control, failing hosts, crawl-delay and Retry-After.
#[test]
fn crawl_of_the_scenario_farm_keeps_exactly_what_the_model_allows() {
    let (farm, seeds) = scenario();
    let cd = CrawlDir::new(&config_toml(INTERVAL_MS));
    let out = cd.run(&args(&seeds, &["--scope", "host", "-q"]), LIMIT);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(0),
        "the crawl must run to its end:\n{}",
        judge::tail(&stderr, 40)
    );
    let expected = farm.expect(&Plan::new(&seeds));
    let mut report = Report::default();
    judge_all(&cd, &farm, &expected, true, INTERVAL_MS, &mut report);

    let a0 = farm.hosts[0].servers[0].origin();
    let streamed = farm.hosts[0].servers[0].streamed_bytes();
    if streamed > 32 << 20 {
        report.push(format!(
            "{a0}/hdr-tdm.html: {streamed} bytes of a header-reserved body were read"
        ));
    }
    for (server, path) in [(0, "/busy.html"), (1, "/busy503.html")] {
        let origin = farm.hosts[0].servers[server].origin();
        let busy = farm.hosts[0].servers[server].requests_for(path);
        if busy.len() == 2 && busy[1].at.duration_since(busy[0].at) < Duration::from_millis(800) {
            report.push(format!(
                "{origin}{path} retried {:?} after a 429/503 with Retry-After: 1",
                busy[1].at.duration_since(busy[0].at)
            ));
        }
    }
    let h4 = &farm.hosts[4].servers[0];
    let failing: BTreeSet<String> = h4
        .requests()
        .into_iter()
        .map(|s| s.path)
        .filter(|p| p.starts_with("/e/"))
        .collect();
    if failing.len() > 5 {
        report.push(format!(
            "host {} answered 500 to {} pages: not given up after host_max_errors = 5",
            farm.hosts[4].ip,
            failing.len()
        ));
    }
    if let Some(s) = farm
        .server(&farm.hosts[3].servers[0].origin())
        .map(|s| s.requests())
        && !s.is_empty()
    {
        report.push(format!(
            "out-of-scope host {} saw {:?}",
            farm.hosts[3].ip,
            s.iter().map(|r| &r.path).collect::<Vec<_>>()
        ));
    }
    match summary_line(&stderr) {
        None => report.push("no summary line starting `crawl:` on stderr".into()),
        Some(line) => {
            let kept = expected.kept().len().to_string();
            for word in [
                "kept",
                "refused",
                "discarded",
                "failed",
                kept.as_str(),
                "robots.disallow",
            ] {
                if !line.contains(word) {
                    report.push(format!("the summary line lacks {word:?}: {line}"));
                }
            }
        }
    }
    report.assert_clean(&stderr);
}

#[test]
fn a_non_empty_directory_without_resume_is_a_usage_error_and_stays_untouched() {
    let (farm, seeds) = grid(1, 3, false);
    let farm = farm.build();
    let cd = CrawlDir::new(&config_toml(INTERVAL_MS));
    std::fs::create_dir_all(&cd.dir).unwrap();
    std::fs::write(cd.dir.join("notes.txt"), "mine").unwrap();
    let out = cd.run(&args(&seeds, &[]), LIMIT);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a non-empty DIR without --resume: {stderr}"
    );
    assert!(
        stderr.contains("--resume"),
        "the usage error names --resume: {stderr}"
    );
    let names: Vec<_> = std::fs::read_dir(&cd.dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["notes.txt"], "the directory must stay untouched");
    assert_eq!(
        std::fs::read_to_string(cd.dir.join("notes.txt")).unwrap(),
        "mine"
    );
    assert_eq!(
        farm.total_requests(),
        0,
        "nothing may be fetched on a usage error"
    );
}

/// The test reader (`support/warc_check.rs`) against a file written by warcio (Python,
/// `tests/data/warc/warcio_sample.warc.gz`: warcinfo, response, request; one gzip member
/// each): it reads every record, finds no problem, and catches a changed byte and a file cut
/// mid-record. A reader that accepted anything would make every WARC judge vacuous.
#[test]
fn the_warc_reader_agrees_with_warcio_and_rejects_damage() {
    let sample = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/warc/warcio_sample.warc.gz");
    let records = warc_check::read_file(&sample).unwrap();
    let kinds: Vec<&str> = records.iter().map(|r| r.kind.as_str()).collect();
    assert_eq!(kinds, ["warcinfo", "response", "request"]);
    assert_eq!(warc_check::problems(&records), Vec::<String>::new());
    let response = &records[1];
    assert_eq!(response.target.as_deref(), Some("http://127.0.0.2:1/x"));
    assert_eq!(response.http.as_ref().unwrap().status, Some(200));
    assert_eq!(
        response.http.as_ref().unwrap().payload,
        b"<html>hello</html>"
    );

    let mut changed = response.clone();
    let last = changed.block.len() - 2;
    changed.block[last] ^= 1;
    changed.http = Some(warc_check::parse_http(&changed.block).unwrap());
    let problems = warc_check::problems(&[records[0].clone(), changed]);
    assert!(
        problems.iter().any(|p| p.contains("Block-Digest")),
        "{problems:?}"
    );
    assert!(
        problems.iter().any(|p| p.contains("Payload-Digest")),
        "{problems:?}"
    );

    let bytes = std::fs::read(&sample).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cut = dir.path().join("cut.warc.gz");
    std::fs::write(&cut, &bytes[..bytes.len() - 30]).unwrap();
    assert!(
        warc_check::read_file(&cut).is_err(),
        "a file cut mid-record must not read back"
    );
}

/// The request judges on logs this test makes itself: a walk that requests exactly what the
/// model allows passes, one request for a disallowed path is caught and named, and requests
/// closer than the interval are caught. Judges that passed anything would make every crawl
/// test vacuous.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_judges_pass_a_perfect_walk_and_name_what_a_bad_one_did() {
    let (farm, seeds) = scenario();
    let expected = farm.expect(&Plan::new(&seeds));
    let client = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for base in &expected.visited {
        let _ = client.get(format!("{base}/robots.txt")).send().await;
    }
    for url in &expected.sitemaps {
        client.get(url).send().await.unwrap();
    }
    for (url, (_, _, requests)) in &expected.found {
        if let Requests::Between(min, _) = requests {
            for _ in 0..*min {
                // Headers only: the endless body is never read.
                client.get(url).send().await.unwrap();
            }
        }
    }
    let mut report = Report::default();
    judge::judge_requests(&farm, &expected, true, &mut report);
    assert_eq!(report.0, Vec::<String>::new(), "a perfect walk");

    let secret = format!("{}/private/secret.html", farm.hosts[0].servers[0].origin());
    client.get(&secret).send().await.unwrap();
    let mut report = Report::default();
    judge::judge_requests(&farm, &expected, true, &mut report);
    assert_eq!(report.0.len(), 1, "{:?}", report.0);
    assert!(report.0[0].contains(&secret), "{:?}", report.0);

    let (grid, seeds) = grid(1, 4, false);
    let grid = grid.build();
    for _ in 0..3 {
        client.get(&seeds[0]).send().await.unwrap();
    }
    let mut report = Report::default();
    judge::judge_politeness(&grid, 10_000, &mut report);
    assert_eq!(report.0.len(), 2, "two gaps under 10 s: {:?}", report.0);
    assert!(report.0[0].contains("host 127.0.0.2"), "{:?}", report.0);
}

/// The marker judge finds a reserved body stored plainly, gzipped (as in a WARC) and deep in a
/// subdirectory (as in the store), and names the file.
#[test]
fn the_marker_judge_finds_a_body_wherever_it_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let deep = dir.path().join("store/blobs");
    std::fs::create_dir_all(&deep).unwrap();
    std::fs::write(dir.path().join("clean.txt"), "nothing here").unwrap();
    std::fs::write(deep.join("db"), b"\x00\x01MARK-plain-1\x02").unwrap();
    std::fs::write(dir.path().join("a.warc.gz"), farm::gzip(b"x MARK-gz-2 y")).unwrap();
    let markers = [
        ("http://h/plain".to_owned(), "MARK-plain-1".to_owned()),
        ("http://h/gz".to_owned(), "MARK-gz-2".to_owned()),
        ("http://h/absent".to_owned(), "MARK-absent-3".to_owned()),
    ];
    let mut report = Report::default();
    judge::judge_markers(dir.path(), &markers, &mut report);
    assert_eq!(report.0.len(), 2, "{:?}", report.0);
    assert!(
        report
            .0
            .iter()
            .any(|p| p.contains("http://h/plain") && p.contains("db"))
    );
    assert!(
        report
            .0
            .iter()
            .any(|p| p.contains("http://h/gz") && p.contains("a.warc.gz"))
    );
}
