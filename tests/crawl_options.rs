//! `optout crawl`'s options against the site farm: `--max-depth`, `--max-pages`,
//! `--max-pages-per-host`, `--scope`, `--include`/`--exclude`, `--no-sitemaps`, `--store`
//! and `--recrawl`. The judges and the farm are those of `crawl_farm.rs`.

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

use farm::{
    Expect, Farm, FarmBuilder, Html, Page, Plan, Requests, Scope, Sitemap, config_toml, grid,
};
use judge::{CrawlDir, Report, judge_all};
use scenario::reserved_body;
use server::Reply;
use std::collections::BTreeSet;
use std::time::Duration;

const INTERVAL_MS: u64 = 50;
const LIMIT: Duration = Duration::from_secs(180);

fn args<'a>(seeds: &'a [String], extra: &[&'a str]) -> Vec<&'a str> {
    let mut v: Vec<&str> = seeds.iter().map(String::as_str).collect();
    v.extend_from_slice(extra);
    v
}

/// A farm of `hosts` × `pages` whose links form binary trees: page `i` links to `2i+1` and
/// `2i+2`, so page `i` is at depth `floor(log2(i + 1))` whatever the order of the crawl.
fn trees(hosts: usize, pages: usize) -> (Farm, Vec<String>) {
    let mut b = FarmBuilder::new(&vec![1; hosts]);
    let mut seeds = Vec::new();
    for h in 0..hosts {
        let base = b.base(h, 0);
        let url = |i: usize| format!("{base}/t/{i}.html");
        for i in 0..pages {
            let mut html = Html::new(&format!("tree {h} node {i}"));
            for j in [2 * i + 1, 2 * i + 2].into_iter().filter(|&j| j < pages) {
                html = html.a(&format!("/t/{j}.html"), &url(j));
            }
            b.page(&url(i), Page::kept(html));
        }
        seeds.push(url(0));
    }
    (b.build(), seeds)
}

#[test]
fn max_depth_stops_at_the_depth_and_reports_the_rest() {
    let (farm, seeds) = trees(2, 15);
    let cd = CrawlDir::new(&config_toml(INTERVAL_MS));
    // The seeds come from a file here (`--seeds`), one per line, with a blank line.
    let file = cd.tmp.path().join("seeds.txt");
    std::fs::write(&file, format!("{}\n\n{}\n", seeds[0], seeds[1])).unwrap();
    let file = file.to_str().unwrap();
    let out = cd.run(&["--seeds", file, "--max-depth", "2", "-q"], LIMIT);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let plan = Plan {
        max_depth: Some(2),
        ..Plan::new(&seeds)
    };
    let expected = farm.expect(&plan);
    assert_eq!(
        expected.kept().len(),
        14,
        "the model: nodes 0..=6 of two trees"
    );
    let mut report = Report::default();
    let (_, skipped) = judge_all(&cd, &farm, &expected, true, INTERVAL_MS, &mut report);
    for s in skipped
        .iter()
        .filter(|s| s.reasons.iter().any(|r| r == "crawl.max-depth"))
    {
        let node: usize = s
            .url
            .rsplit('/')
            .next()
            .unwrap()
            .trim_end_matches(".html")
            .parse()
            .unwrap();
        let parent = s.url.replace(
            &format!("/{node}.html"),
            &format!("/{}.html", (node - 1) / 2),
        );
        if s.depth != Some(3) || s.found_on.as_deref() != Some(parent.as_str()) {
            report.push(format!(
                "{}: depth {:?} found on {:?}, expected 3 and {parent}",
                s.url, s.depth, s.found_on
            ));
        }
    }
    report.assert_clean(&stderr);
}

/// Kept responses of a crawl whose exact set depends on its order (page limits): each one a
/// page of the farm, byte for byte, and how many per host.
fn kept_by_host(
    cd: &CrawlDir,
    farm: &Farm,
    report: &mut Report,
) -> std::collections::BTreeMap<String, usize> {
    let records = warc_check::read_dir(&cd.dir)
        .unwrap_or_else(|e| panic!("the WARC does not read back: {e}"));
    report.0.extend(warc_check::problems(&records));
    let mut per_host = std::collections::BTreeMap::new();
    for r in records.iter().filter(|r| r.kind == "response") {
        let url = r.target.clone().unwrap_or_default();
        match farm.page(&url) {
            Some(page)
                if r.http
                    .as_ref()
                    .is_some_and(|h| h.payload == page.body.as_ref()) => {}
            _ => report.push(format!(
                "{}: not a page of the farm byte for byte",
                r.place()
            )),
        }
        *per_host.entry(Farm::host_of(&url)).or_insert(0) += 1;
    }
    per_host
}

#[test]
fn max_pages_keeps_exactly_that_many_and_requests_no_more() {
    let (farm, seeds) = grid(2, 20, false);
    let farm = farm.build();
    let cd = CrawlDir::new(&config_toml(INTERVAL_MS));
    let out = cd.run(
        &args(&seeds, &["--max-pages", "7", "--no-sitemaps", "-q"]),
        LIMIT,
    );
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let mut report = Report::default();
    let kept: usize = kept_by_host(&cd, &farm, &mut report).values().sum();
    let requested: usize = judge::page_requests(&farm).values().sum();
    if kept != 7 || requested != 7 {
        report.push(format!(
            "--max-pages 7: {kept} kept, {requested} pages requested"
        ));
    }
    let skipped = judge::read_skipped(&cd.dir, &mut report);
    if !skipped
        .iter()
        .any(|s| s.verdict == "skipped" && s.reasons.iter().any(|r| r == "crawl.max-pages"))
    {
        report.push("no skipped.jsonl line with crawl.max-pages".into());
    }
    judge::judge_politeness(&farm, INTERVAL_MS, &mut report);
    judge::log_verify(&cd.store(), &mut report);
    report.assert_clean(&stderr);
}

#[test]
fn max_pages_per_host_is_a_budget_per_host() {
    let (farm, seeds) = grid(2, 12, false);
    let farm = farm.build();
    let cd = CrawlDir::new(&config_toml(INTERVAL_MS));
    let out = cd.run(
        &args(
            &seeds,
            &["--max-pages-per-host", "4", "--no-sitemaps", "-q"],
        ),
        LIMIT,
    );
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let mut report = Report::default();
    let per_host = kept_by_host(&cd, &farm, &mut report);
    for host in &farm.hosts {
        let kept = per_host.get(&host.ip.to_string()).copied().unwrap_or(0);
        let requested: usize = host
            .servers
            .iter()
            .map(|s| {
                s.total()
                    - s.count("/robots.txt")
                    - s.count("/.well-known/tdmrep.json")
                    - s.count("/ai.txt")
            })
            .sum();
        if kept != 4 || requested != 4 {
            report.push(format!(
                "host {}: {kept} kept, {requested} pages requested, budget 4",
                host.ip
            ));
        }
    }
    let skipped = judge::read_skipped(&cd.dir, &mut report);
    if !skipped
        .iter()
        .any(|s| s.reasons.iter().any(|r| r == "crawl.host-budget"))
    {
        report.push("no skipped.jsonl line with crawl.host-budget".into());
    }
    report.assert_clean(&stderr);
}

/// Two hosts linking to each other, seeded with host 0 only.
fn two_linked_hosts() -> (Farm, Vec<String>) {
    let mut b = FarmBuilder::new(&[1, 1]);
    let (h0, h1) = (b.base(0, 0), b.base(1, 0));
    b.page(
        &format!("{h0}/"),
        Page::kept(
            Html::new("h0")
                .a(&format!("{h1}/"), &format!("{h1}/"))
                .a("/a.html", &format!("{h0}/a.html")),
        ),
    );
    b.page(&format!("{h0}/a.html"), Page::kept(Html::new("h0 a")));
    b.page(
        &format!("{h1}/"),
        Page::kept(
            Html::new("h1")
                .a(&format!("{h0}/"), &format!("{h0}/"))
                .a("/b.html", &format!("{h1}/b.html")),
        ),
    );
    b.page(&format!("{h1}/b.html"), Page::kept(Html::new("h1 b")));
    (b.build(), vec![format!("{h0}/")])
}

#[test]
fn scope_host_stays_on_the_seed_hosts_and_scope_any_follows_every_link() {
    for (scope, flag) in [(Scope::Host, "host"), (Scope::Any, "any")] {
        let (farm, seeds) = two_linked_hosts();
        let cd = CrawlDir::new(&config_toml(INTERVAL_MS));
        let out = cd.run(&args(&seeds, &["--scope", flag, "-q"]), LIMIT);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(0), "--scope {flag}: {stderr}");
        let expected = farm.expect(&Plan {
            scope,
            ..Plan::new(&seeds)
        });
        assert_eq!(
            expected.kept().len(),
            if scope == Scope::Any { 4 } else { 2 }
        );
        let mut report = Report::default();
        judge_all(&cd, &farm, &expected, true, INTERVAL_MS, &mut report);
        report.assert_clean(&format!("--scope {flag}\n{stderr}"));
    }
}

#[test]
fn include_and_exclude_patterns_filter_what_is_requested() {
    let mut b = FarmBuilder::new(&[1]);
    let h = b.base(0, 0);
    let u = |p: &str| format!("{h}{p}");
    b.page(
        &u("/a/index.html"),
        Page::kept(
            Html::new("a")
                .a("/a/1.html", &u("/a/1.html"))
                .a("/a/secret.html", &u("/a/secret.html"))
                .a("/b/1.html", &u("/b/1.html")),
        ),
    );
    b.page(
        &u("/a/1.html"),
        Page::kept(Html::new("a1").a("/a/2.html", &u("/a/2.html"))),
    );
    b.page(&u("/a/2.html"), Page::kept(Html::new("a2")));
    for (p, m) in [
        ("/a/secret.html", "MARK-excluded-1"),
        ("/b/1.html", "MARK-notincluded-2"),
    ] {
        b.page(
            &u(p),
            Page::dropped(
                Reply::ok(reserved_body(m)),
                m,
                Expect::Kept,
                Requests::Between(1, 1),
            ),
        );
    }
    let farm = b.build();
    let seeds = vec![u("/a/index.html")];
    let cd = CrawlDir::new(&config_toml(INTERVAL_MS));
    let out = cd.run(
        &args(
            &seeds,
            &[
                "--include",
                "/a/",
                "--exclude",
                "secret",
                "--no-sitemaps",
                "-q",
            ],
        ),
        LIMIT,
    );
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let plan = Plan {
        include: vec![regex::Regex::new("/a/").unwrap()],
        exclude: vec![regex::Regex::new("secret").unwrap()],
        sitemaps: false,
        ..Plan::new(&seeds)
    };
    let expected = farm.expect(&plan);
    assert_eq!(expected.kept().len(), 3);
    let mut report = Report::default();
    judge_all(&cd, &farm, &expected, false, INTERVAL_MS, &mut report);
    report.assert_clean(&stderr);
}

#[test]
fn no_sitemaps_requests_no_sitemap_and_finds_no_orphan() {
    let mut b = FarmBuilder::new(&[1]);
    let h = b.base(0, 0);
    let u = |p: &str| format!("{h}{p}");
    b.page(
        &u("/"),
        Page::kept(Html::new("home").a("/linked.html", &u("/linked.html"))),
    );
    b.page(&u("/linked.html"), Page::kept(Html::new("linked")));
    // Kept when sitemaps are read; with --no-sitemaps nothing finds it, so a request for it
    // is reported by `judge_requests`.
    b.page(
        &u("/orphan.html"),
        Page::kept(Html::new("only in the sitemaps")),
    );
    let listed = vec![u("/orphan.html")];
    b.sitemap(
        &u("/sitemap.xml"),
        Sitemap {
            reply: Reply::ok(farm::sitemap_xml(&listed)),
            urls: listed.clone(),
            children: vec![],
        },
    );
    b.sitemap(
        &u("/listed.txt"),
        Sitemap {
            reply: Reply::ok(listed[0].clone()),
            urls: listed,
            children: vec![],
        },
    );
    b.origin(&h).robots_sitemaps = vec![u("/listed.txt")];
    let farm = b.build();
    let seeds = vec![u("/")];
    for sitemaps in [false, true] {
        farm.clear_logs();
        let cd = CrawlDir::new(&config_toml(INTERVAL_MS));
        let extra: &[&str] = if sitemaps {
            &["-q"]
        } else {
            &["--no-sitemaps", "-q"]
        };
        let out = cd.run(&args(&seeds, extra), LIMIT);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(0), "{stderr}");
        let expected = farm.expect(&Plan {
            sitemaps,
            ..Plan::new(&seeds)
        });
        assert_eq!(expected.kept().len(), if sitemaps { 3 } else { 2 });
        let mut report = Report::default();
        judge::judge_requests(&farm, &expected, sitemaps, &mut report);
        judge::judge_warc(&cd.dir, &farm, &expected.kept(), 0, &mut report);
        report.assert_clean(&format!("sitemaps {sitemaps}\n{stderr}"));
    }
}

#[test]
fn a_store_given_with_the_global_flag_holds_the_evidence() {
    let (farm, seeds) = grid(1, 3, false);
    let farm = farm.build();
    let cd = CrawlDir::new(&config_toml(INTERVAL_MS));
    let store = cd.tmp.path().join("elsewhere");
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_optout"));
    cmd.arg("--store")
        .arg(&store)
        .arg("--config")
        .arg(&cd.config)
        .arg("--allow-private-addresses")
        .arg("crawl")
        .args(&seeds)
        .args(["-q", "-o"])
        .arg(&cd.dir);
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let out = judge::wait_output(cmd.spawn().unwrap(), LIMIT, "crawl --store");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let mut report = Report::default();
    judge::log_verify(&store, &mut report);
    if cd.dir.join("store").exists() {
        report.push("DIR/store exists although --store was given".into());
    }
    judge::judge_warc(
        &cd.dir,
        &farm,
        &farm.expect(&Plan::new(&seeds)).kept(),
        0,
        &mut report,
    );
    report.assert_clean(&stderr);
}

/// A page that answers `304` to a request carrying its validators, else `200` with them.
fn conditional(body: axum::body::Bytes, etag: String, modified: &'static str) -> Reply {
    Reply::dynamic(move |seen| {
        let matches = seen.header("if-none-match") == Some(etag.as_str())
            || (seen.header("if-none-match").is_none()
                && seen.header("if-modified-since") == Some(modified));
        let reply = if matches {
            Reply::status(304)
        } else {
            Reply::ok(body.clone()).header("Content-Type", "text/html")
        };
        reply
            .header("ETag", &etag)
            .header("Last-Modified", modified)
    })
}

#[test]
fn recrawl_sends_validators_records_revisits_and_leaves_old_warcs_alone() {
    const MODIFIED: &str = "Tue, 01 Dec 2026 10:00:00 GMT";
    let (mut b, seeds) = grid(1, 5, false);
    let base = b.base(0, 0);
    let plain = format!("{base}/p/4.html");
    let paths: Vec<String> = b.origin(&base).pages.keys().cloned().collect();
    for path in paths {
        let page = b.origin(&base).pages.get_mut(&path).unwrap();
        if format!("{base}{path}") != plain {
            page.reply = conditional(page.body.clone(), format!("\"{path}-v1\""), MODIFIED);
        }
    }
    let farm = b.build();
    let cd = CrawlDir::new(&config_toml(INTERVAL_MS));
    let first = cd.run(&args(&seeds, &["-q"]), LIMIT);
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let before: Vec<(std::path::PathBuf, Vec<u8>)> = warc_check::warc_files(&cd.dir)
        .into_iter()
        .map(|p| (p.clone(), std::fs::read(&p).unwrap()))
        .collect();
    assert!(!before.is_empty(), "the first crawl wrote no WARC file");
    farm.clear_logs();

    let second = cd.run(&["--recrawl", "-q"], LIMIT);
    let stderr = String::from_utf8_lossy(&second.stderr).into_owned();
    assert_eq!(second.status.code(), Some(0), "--recrawl: {stderr}");
    let mut report = Report::default();
    for (path, bytes) in &before {
        if std::fs::read(path).ok().as_ref() != Some(bytes) {
            report.push(format!("{} changed during the re-crawl", path.display()));
        }
    }
    let server = farm.server(&base).unwrap();
    for (url, _) in farm.expect(&Plan::new(&seeds)).found {
        let path = farm::split(&url).1;
        let seen = server.requests_for(&path);
        let validators = (
            seen.first().and_then(|s| s.header("if-none-match")),
            seen.first().and_then(|s| s.header("if-modified-since")),
        );
        let want_conditional = url != plain;
        if seen.len() != 1 {
            report.push(format!(
                "{url} requested {} time(s) in the re-crawl, expected once",
                seen.len()
            ));
        } else if want_conditional
            && validators.0 != Some(format!("\"{path}-v1\"").as_str())
            && validators.1 != Some(MODIFIED)
        {
            report.push(format!(
                "{url}: re-crawl request without its validators: {validators:?}"
            ));
        } else if !want_conditional && (validators.0.is_some() || validators.1.is_some()) {
            report.push(format!(
                "{url} had no validators but was asked {validators:?}"
            ));
        }
    }
    let old: BTreeSet<_> = before.iter().map(|(p, _)| p.clone()).collect();
    let new_files: Vec<_> = warc_check::warc_files(&cd.dir)
        .into_iter()
        .filter(|p| !old.contains(p))
        .collect();
    if new_files.is_empty() {
        report.push("the re-crawl wrote no new WARC file".into());
    }
    let mut records = Vec::new();
    for file in &new_files {
        match warc_check::read_file(file) {
            Ok(r) => records.extend(r),
            Err(e) => report.push(format!("new WARC does not read back: {e}")),
        }
    }
    report.0.extend(warc_check::problems(&records));
    for (url, _) in farm.expect(&Plan::new(&seeds)).found {
        let kinds: Vec<&str> = records
            .iter()
            .filter(|r| r.target.as_deref() == Some(url.as_str()))
            .map(|r| r.kind.as_str())
            .collect();
        let want = if url == plain { "response" } else { "revisit" };
        if !kinds.contains(&want) {
            report.push(format!(
                "{url}: records {kinds:?} in the re-crawl's WARC, expected a {want}"
            ));
        }
        if let Some(r) = records
            .iter()
            .find(|r| r.kind == "revisit" && r.target.as_deref() == Some(url.as_str()))
            && !r
                .header("warc-profile")
                .is_some_and(|p| p.contains("server-not-modified"))
        {
            report.push(format!(
                "{}: revisit profile {:?}",
                r.place(),
                r.header("warc-profile")
            ));
        }
    }
    judge::log_verify(&cd.store(), &mut report);
    report.assert_clean(&stderr);
}
