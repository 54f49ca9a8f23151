//! Discovery by the real binary against loopback servers whose request logs judge it (issue
//! 21): a sitemap index is read as the crawl needs URLs and no further than its limits;
//! redirect chains end at `fetch.max_redirects` and within `--max-pages`; a redirect to an
//! equivalent URL (the same canonical key) still brings the page.

#[path = "support/crawl_run.rs"]
#[allow(dead_code)]
mod crawl_run;
#[path = "support/server.rs"]
mod server;
#[path = "support/warc_check.rs"]
mod warc_check;

use crawl_run::{CrawlDir, Report, log_verify};
use server::{Reply, Server};
use std::path::Path;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(120);

/// A fast, polite-enough configuration with `max_redirects` redirects per chain.
fn config(max_redirects: usize) -> String {
    format!(
        "[politeness]\nmin_interval_ms = 5\nmax_retries = 0\n\n\
         [net]\nallow_private_addresses = true\nconnect_timeout_ms = 2000\n\
         read_timeout_ms = 5000\ntotal_timeout_ms = 20000\n\n\
         [fetch]\nmax_redirects = {max_redirects}\n\n\
         [crawl]\ncheckpoint_every_ms = 200\n"
    )
}

fn html(text: &str) -> Reply {
    Reply::ok(format!(
        "<!DOCTYPE html><html><body><p>{text}</p></body></html>"
    ))
    .header("Content-Type", "text/html; charset=utf-8")
}

/// The lines of `skipped.jsonl` as JSON.
fn skipped(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("skipped.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn code(line: &serde_json::Value) -> &str {
    line["reasons"][0].as_str().unwrap_or_default()
}

/// Bytes of every file under `dir`.
fn size_of(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => size_of(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

fn run(cd: &CrawlDir, args: &[&str]) -> String {
    let out = cd.run(args, LIMIT);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    stderr
}

const CHILDREN: usize = 6;
const URLS_PER_CHILD: usize = 20_000;

/// A site whose robots.txt names an index of [`CHILDREN`] sitemaps of [`URLS_PER_CHILD`]
/// URLs each (`/p/I/J`, pages); it disallows `/start`.
fn sitemap_site() -> (Server, String) {
    let site = Server::start();
    let origin = site.origin();
    site.route(
        "/robots.txt",
        Reply::ok(format!(
            "User-agent: *\nDisallow: /start\nSitemap: {origin}/index.xml\n"
        )),
    );
    let mut index =
        String::from(r#"<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">"#);
    for i in 0..CHILDREN {
        index.push_str(&format!(
            "<sitemap><loc>{origin}/sm/{i}.xml</loc></sitemap>"
        ));
        let mut child =
            String::from(r#"<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">"#);
        for j in 0..URLS_PER_CHILD {
            child.push_str(&format!("<url><loc>{origin}/p/{i}/{j}</loc></url>"));
        }
        child.push_str("</urlset>");
        site.route(&format!("/sm/{i}.xml"), Reply::ok(child));
    }
    index.push_str("</sitemapindex>");
    site.route("/index.xml", Reply::ok(index));
    site.fallback(Reply::dynamic(|seen| {
        if seen.path.starts_with("/p/") {
            html(&seen.path)
        } else {
            Reply::status(404)
        }
    }));
    (site, origin)
}

/// An index of [`CHILDREN`] sitemaps of [`URLS_PER_CHILD`] URLs each, with `--max-pages 1`
/// and a seed that is not kept (robots.txt disallows it; a 404 would be kept): the first
/// sitemap URL is the page. Read whole, the index
/// made the crawl request every child, hold and queue every URL and report each skipped.
#[test]
fn a_sitemap_index_is_read_as_urls_are_needed_and_not_past_max_pages() {
    let (site, origin) = sitemap_site();
    let cd = CrawlDir::new(&config(5));
    let seed = format!("{origin}/start");
    let stderr = run(&cd, &[&seed, "--max-pages", "1", "-q"]);

    let mut report = Report::default();
    let paths: Vec<String> = site.requests().into_iter().map(|s| s.path).collect();
    let children = paths.iter().filter(|p| p.starts_with("/sm/")).count();
    let pages = paths.iter().filter(|p| p.starts_with("/p/")).count();
    if children > 1 {
        report.push(format!(
            "{children} child sitemaps requested for one page: {paths:?}"
        ));
    }
    if pages != 1 {
        report.push(format!(
            "{pages} sitemap pages requested with --max-pages 1"
        ));
    }
    let bytes = std::fs::metadata(cd.dir.join("skipped.jsonl")).map_or(0, |m| m.len());
    if bytes > 64 * 1024 {
        report.push(format!("skipped.jsonl is {bytes} bytes for one kept page"));
    }
    let frontier = size_of(&cd.dir.join("frontier"));
    let all_urls = (CHILDREN * URLS_PER_CHILD) as u64;
    if frontier > all_urls * 8 {
        report.push(format!(
            "the frontier is {frontier} bytes: it holds the URLs never offered"
        ));
    }
    // One summary line per sitemap left: the child read in part, the others not read.
    let lines = skipped(&cd.dir);
    let summaries: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| l.get("sitemap").is_some())
        .collect();
    let read: Vec<_> = summaries
        .iter()
        .filter(|l| l["sitemap"]["read"] == true)
        .collect();
    let unread = summaries
        .iter()
        .filter(|l| l["sitemap"]["read"] == false)
        .count();
    if read.len() != 1
        || read[0]["url"] != format!("{origin}/sm/0.xml")
        || read[0]["found_on"] != format!("{origin}/index.xml")
        || read[0]["sitemap"]["not_offered"].as_u64().unwrap_or(0) < URLS_PER_CHILD as u64 - 2_000
    {
        report.push(format!("no summary of the child read in part: {read:?}"));
    }
    if unread != CHILDREN - 1 {
        report.push(format!(
            "{unread} summaries of unread children, expected {}",
            CHILDREN - 1
        ));
    }
    for line in &summaries {
        if line["verdict"] != "skipped" || code(line) != "crawl.max-pages" {
            report.push(format!("summary line without its verdict and code: {line}"));
        }
    }
    log_verify(&cd.store(), &mut report);
    report.assert_clean(&stderr);
}

/// Sitemap entries are depth 1: under `--max-depth 0` each was reported `crawl.max-depth`,
/// every child read for it.
#[test]
fn max_depth_0_reads_no_sitemap() {
    let (site, origin) = sitemap_site();
    let cd = CrawlDir::new(&config(5));
    let seed = format!("{origin}/p/0/0");
    let stderr = run(&cd, &[&seed, "--max-depth", "0", "-q"]);
    let mut report = Report::default();
    let paths: Vec<String> = site.requests().into_iter().map(|s| s.path).collect();
    if paths.iter().any(|p| p.ends_with(".xml")) {
        report.push(format!("sitemaps requested under --max-depth 0: {paths:?}"));
    }
    let lines = skipped(&cd.dir).len();
    if lines > 0 {
        report.push(format!(
            "{lines} lines in skipped.jsonl for a seed without links"
        ));
    }
    report.assert_clean(&stderr);
}

/// `/r/N` redirects to `/r/N+1` without end. Each target was queued at its source's depth
/// and redirects were no pages: `--max-depth 0 --max-pages 1` requested without end.
#[test]
fn a_redirect_chain_ends_at_max_redirects_and_is_reported() {
    let site = Server::start();
    site.fallback(Reply::dynamic(|seen| match seen.path.strip_prefix("/r/") {
        Some(n) => Reply::redirect(302, &format!("/r/{}", n.parse::<u64>().unwrap_or(0) + 1)),
        None => Reply::status(404),
    }));
    let cd = CrawlDir::new(&config(5));
    let seed = site.url("/r/0");
    let stderr = run(&cd, &[&seed, "--max-depth", "0", "--max-pages", "1", "-q"]);

    let mut report = Report::default();
    let chain = site
        .requests()
        .iter()
        .filter(|s| s.path.starts_with("/r/"))
        .count();
    if chain != 6 {
        report.push(format!(
            "{chain} requests of the chain, expected 6 (5 redirects followed)"
        ));
    }
    let lines = skipped(&cd.dir);
    let end = lines.iter().find(|l| code(l) == "fetch.redirect-limit");
    match end {
        Some(l)
            if l["url"] == site.url("/r/6")
                && l["found_on"] == site.url("/r/5")
                && l["verdict"] == "refused"
                && l["seq"].is_u64() => {}
        _ => report.push(format!("the end of the chain is not reported: {lines:?}")),
    }
    log_verify(&cd.store(), &mut report);
    report.assert_clean(&stderr);
}

/// Ten seeds each redirect to `/t/N`, which redirects off the site (out of scope): no page
/// is ever kept, so the page limit never stopped the crawl following redirects (a 404 would
/// be kept). `--max-pages 1` allows `fetch.max_redirects` (2) redirects; the targets past
/// them are reported, not requested.
#[test]
fn redirects_count_against_max_pages() {
    let site = Server::start();
    site.fallback(Reply::dynamic(|seen| {
        if let Some(n) = seen.path.strip_prefix("/s/") {
            Reply::redirect(301, &format!("/t/{n}"))
        } else if seen.path.starts_with("/t/") {
            Reply::redirect(301, "http://elsewhere.invalid/")
        } else {
            Reply::status(404)
        }
    }));
    let seeds: Vec<String> = (0..10).map(|i| site.url(&format!("/s/{i}"))).collect();
    let mut args: Vec<&str> = seeds.iter().map(String::as_str).collect();
    args.extend(["--max-pages", "1", "-q"]);
    let cd = CrawlDir::new(&config(2));
    let stderr = run(&cd, &args);

    let mut report = Report::default();
    let targets = site
        .requests()
        .iter()
        .filter(|s| s.path.starts_with("/t/"))
        .count();
    if targets > 2 {
        report.push(format!(
            "{targets} redirect targets requested, at most 2 allowed"
        ));
    }
    let lines = skipped(&cd.dir);
    let over = lines
        .iter()
        .filter(|l| code(l) == "crawl.max-pages" && l["url"].as_str().unwrap_or("").contains("/t/"))
        .count();
    if over + targets != 10 {
        report.push(format!(
            "{over} targets reported crawl.max-pages, {targets} requested; expected 10 in all"
        ));
    }
    report.assert_clean(&stderr);
}

/// `/canon/%7Ex` redirects to `/canon/~x`, the same canonical key: the frontier took the
/// target for the URL already fetched and the page was lost, without a word.
#[test]
fn a_redirect_to_an_equivalent_url_brings_the_page() {
    let site = Server::start();
    site.route("/canon/%7Ex", Reply::redirect(301, "/canon/~x"));
    site.route("/canon/~x", html("the page"));
    // A loop through equivalent URLs ends at the chain's limit; one through distinct URLs
    // ends when the frontier has seen the URL.
    site.route("/loop/a", Reply::redirect(301, "/loop/%61"));
    site.route("/loop/%61", Reply::redirect(301, "/loop/a"));
    site.route("/ab/a", Reply::redirect(302, "/ab/b"));
    site.route("/ab/b", Reply::redirect(302, "/ab/a"));
    site.fallback(Reply::status(404));
    let cd = CrawlDir::new(&config(4));
    let seeds = [
        site.url("/canon/%7Ex"),
        site.url("/loop/a"),
        site.url("/ab/a"),
    ];
    let mut args: Vec<&str> = seeds.iter().map(String::as_str).collect();
    args.extend(["--no-sitemaps", "-q"]);
    let stderr = run(&cd, &args);

    let mut report = Report::default();
    if site.count("/canon/~x") != 1 {
        report.push(format!(
            "/canon/~x requested {} times",
            site.count("/canon/~x")
        ));
    }
    let records = warc_check::read_dir(&cd.dir).unwrap_or_else(|e| panic!("{e}"));
    let kept: Vec<_> = records
        .iter()
        .filter(|r| r.kind == "response")
        .filter_map(|r| r.target.clone())
        .collect();
    if kept != [site.url("/canon/~x")] {
        report.push(format!("kept {kept:?}, expected the redirect's target"));
    }
    let looped = site.count("/loop/a") + site.count("/loop/%61");
    if looped != 5 {
        report.push(format!(
            "the equivalent loop made {looped} requests, expected 5"
        ));
    }
    if site.count("/ab/a") != 1 || site.count("/ab/b") != 1 {
        report.push(format!("the loop A→B→A: {:?}", site.counts()));
    }
    let lines = skipped(&cd.dir);
    if !lines.iter().any(|l| code(l) == "fetch.redirect-limit") {
        report.push(format!(
            "the equivalent loop's end is not reported: {lines:?}"
        ));
    }
    log_verify(&cd.store(), &mut report);
    report.assert_clean(&stderr);
}
