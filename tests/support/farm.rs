//! A generated site farm on loopback for the crawl's tests: hosts on `127.0.0.x` (x ≥ 2),
//! several origins per host by port, each a real [`Server`]. The farm keeps a **model** (plain
//! data: every page's reply, links, robots.txt rules, reservations, sitemaps) from which both
//! the servers' routes and the **expected crawl result** ([`Farm::expect`]) are computed, by
//! this file's own breadth-first walk, never by optout's code.
//!
//! A test builds a farm in three steps: [`FarmBuilder::new`] binds the servers (ports are
//! known only then), the test adds pages and policy files with URLs built from the origins,
//! and [`FarmBuilder::build`] installs the routes. The judges are in `judge.rs`.
//!
//! Used through `#[path = "support/server.rs"] mod server;` and
//! `#[path = "support/farm.rs"] mod farm;`.

#![allow(dead_code)]

use crate::server::{Reply, Server};
use axum::body::Bytes;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};

#[path = "farm_html.rs"]
mod html;
#[allow(unused_imports)]
pub use html::{Html, gzip, sitemap_index_xml, sitemap_xml};
#[path = "farm_expect.rs"]
mod expect;
#[allow(unused_imports)]
pub use expect::{Expected, Plan, Scope};

/// Paths a crawl requests for each origin it visits besides the pages (policy files and the
/// default sitemap): never counted as pages, but never allowed on an out-of-scope origin.
pub const POLICY_PATHS: &[&str] = &[
    "/robots.txt",
    "/.well-known/tdmrep.json",
    "/ai.txt",
    "/sitemap.xml",
];

/// How many times a URL's server may see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Requests {
    /// Never: refused before the request, out of scope, nofollow-only, or never found.
    Never,
    /// From `min` to `max` times (a kept page: once; a `429` first: twice).
    Between(usize, usize),
}

/// What the crawl must make of a URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expect {
    /// In the WARC, byte for byte the served body; its links followed.
    Kept,
    /// Not kept: a line in `skipped.jsonl` with one of `verdicts` and a reason code starting
    /// with one of `codes`. The body (its marker) appears nowhere under the crawl directory.
    NotKept {
        /// Acceptable verdicts (`refused`, `discarded`, `failed`, `skipped`).
        verdicts: &'static [&'static str],
        /// Acceptable code prefixes (`robots.disallow`, `tdmrep.`).
        codes: &'static [&'static str],
    },
    /// A redirect to this URL: the target is judged (scope included) before it is requested.
    Redirect(String),
}

impl Expect {
    /// Not kept, with one verdict and one code prefix.
    pub fn not_kept(verdict: &'static str, code: &'static str) -> Expect {
        let verdicts: &'static [&'static str] = Box::leak(Box::new([verdict]));
        let codes: &'static [&'static str] = Box::leak(Box::new([code]));
        Expect::NotKept { verdicts, codes }
    }
}

/// One page of the model.
#[derive(Clone, Debug)]
pub struct Page {
    /// What the server answers.
    pub reply: Reply,
    /// The body a kept page must have in the WARC.
    pub body: Bytes,
    /// Absolute URLs a crawler follows from this page (if it is kept).
    pub links: Vec<String>,
    /// Absolute URLs in the page that must not be followed (`rel=nofollow`, meta nofollow).
    pub nofollow: Vec<String>,
    /// What the crawl makes of it when the policy files let it be requested.
    pub expect: Expect,
    /// How many requests it may see once it is found and allowed.
    pub requests: Requests,
    /// A string only this page's body holds: if the page is not kept, it must appear nowhere.
    pub marker: Option<String>,
}

impl Page {
    /// A kept `200` page with `html` (see [`Html`]).
    pub fn kept(html: Html) -> Page {
        let body = Bytes::from(html.render());
        Page {
            reply: Reply::Fixed {
                status: 200,
                headers: vec![("Content-Type".into(), "text/html; charset=utf-8".into())],
                body: body.clone(),
            },
            body,
            links: html.follow.clone(),
            nofollow: html.nofollow.clone(),
            expect: Expect::Kept,
            requests: Requests::Between(1, 1),
            marker: None,
        }
    }

    /// A page that is fetched and not kept: `reply` holds `marker` in its body.
    pub fn dropped(reply: Reply, marker: &str, expect: Expect, requests: Requests) -> Page {
        Page {
            reply,
            body: Bytes::new(),
            links: Vec::new(),
            nofollow: Vec::new(),
            expect,
            requests,
            marker: Some(marker.to_owned()),
        }
    }

    /// A redirect (`status`) to the absolute URL `to`.
    pub fn redirect(status: u16, to: &str) -> Page {
        Page {
            reply: Reply::redirect(status, to),
            body: Bytes::new(),
            links: Vec::new(),
            nofollow: Vec::new(),
            expect: Expect::Redirect(to.to_owned()),
            requests: Requests::Between(1, 1),
            marker: None,
        }
    }
}

/// A sitemap document of the model.
#[derive(Clone, Debug)]
pub struct Sitemap {
    /// What the server answers.
    pub reply: Reply,
    /// Page URLs it lists.
    pub urls: Vec<String>,
    /// Sitemap URLs it lists (an index).
    pub children: Vec<String>,
}

/// One origin (`http://ip:port`) of the model.
#[derive(Debug, Default)]
pub struct Origin {
    /// `http://ip:port`.
    pub base: String,
    /// Path prefixes robots.txt disallows for everyone (`Disallow:` lines).
    pub disallow: Vec<String>,
    /// Path prefixes robots.txt reserves with `Content-Signal: <path> ai-train=no`.
    pub content_signal: Vec<String>,
    /// Path prefixes `/.well-known/tdmrep.json` reserves (`"location": "<prefix>*"`).
    pub tdmrep: Vec<String>,
    /// `Crawl-delay` in milliseconds (written in seconds).
    pub crawl_delay_ms: Option<u64>,
    /// robots.txt `Sitemap:` lines (absolute URLs).
    pub robots_sitemaps: Vec<String>,
    /// Pages by path.
    pub pages: BTreeMap<String, Page>,
    /// Sitemap documents by path.
    pub sitemaps: BTreeMap<String, Sitemap>,
    /// Every request fails: nothing listens (connection refused).
    pub refused: bool,
    /// Every path, robots.txt included, answers `500`.
    pub always_500: bool,
}

impl Origin {
    /// The robots.txt text for the model's rules.
    pub fn robots_txt(&self) -> String {
        let mut s = String::new();
        for sitemap in &self.robots_sitemaps {
            let _ = writeln!(s, "Sitemap: {sitemap}");
        }
        s.push_str("User-agent: *\n");
        if let Some(ms) = self.crawl_delay_ms {
            let _ = writeln!(s, "Crawl-delay: {}", ms as f64 / 1000.0);
        }
        for path in &self.content_signal {
            let _ = writeln!(s, "Content-Signal: {path} ai-train=no");
        }
        for path in &self.disallow {
            let _ = writeln!(s, "Disallow: {path}");
        }
        if self.disallow.is_empty() {
            s.push_str("Allow: /\n");
        }
        s
    }
}

/// One host (an IP address) and its origins.
pub struct Host {
    /// `127.0.0.x`.
    pub ip: Ipv4Addr,
    /// The running servers, one per origin that listens.
    pub servers: Vec<Server>,
}

/// The addresses of a farm's origins, before any page exists.
pub struct FarmBuilder {
    /// Hosts with their servers.
    pub hosts: Vec<Host>,
    /// Origins by base URL.
    pub origins: BTreeMap<String, Origin>,
}

/// `127.0.0.(2 + index)`.
pub fn host_ip(index: usize) -> Ipv4Addr {
    assert!(index < 250, "the farm has at most 250 hosts");
    Ipv4Addr::new(127, 0, 0, 2 + index as u8)
}

impl FarmBuilder {
    /// Hosts `127.0.0.2 ..`, host `i` with `origins_per_host[i]` listening origins.
    pub fn new(origins_per_host: &[usize]) -> FarmBuilder {
        let mut builder = FarmBuilder {
            hosts: Vec::new(),
            origins: BTreeMap::new(),
        };
        for (i, &count) in origins_per_host.iter().enumerate() {
            let ip = host_ip(i);
            let servers: Vec<Server> = (0..count)
                .map(|_| Server::start_on(IpAddr::V4(ip)))
                .collect();
            for server in &servers {
                builder.origins.insert(
                    server.origin(),
                    Origin {
                        base: server.origin(),
                        ..Origin::default()
                    },
                );
            }
            builder.hosts.push(Host { ip, servers });
        }
        builder
    }

    /// The base URL of origin `origin` of host `host`.
    pub fn base(&self, host: usize, origin: usize) -> String {
        self.hosts[host].servers[origin].origin()
    }

    /// An origin on host `host` where nothing listens (connection refused).
    pub fn refused_origin(&mut self, host: usize) -> String {
        let ip = self.hosts[host].ip;
        let port = std::net::TcpListener::bind((ip, 0))
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let base = format!("http://{ip}:{port}");
        self.origins.insert(
            base.clone(),
            Origin {
                base: base.clone(),
                refused: true,
                ..Origin::default()
            },
        );
        base
    }

    /// The model of the origin with base URL `base`.
    pub fn origin(&mut self, base: &str) -> &mut Origin {
        self.origins
            .get_mut(base)
            .unwrap_or_else(|| panic!("no origin {base} in the farm"))
    }

    /// Adds `page` at `url` (absolute).
    pub fn page(&mut self, url: &str, page: Page) -> &mut FarmBuilder {
        let (base, path) = split(url);
        self.origin(&base).pages.insert(path, page);
        self
    }

    /// Adds a sitemap document at `url`.
    pub fn sitemap(&mut self, url: &str, sitemap: Sitemap) -> &mut FarmBuilder {
        let (base, path) = split(url);
        self.origin(&base).sitemaps.insert(path, sitemap);
        self
    }

    /// Installs every route and returns the farm.
    pub fn build(self) -> Farm {
        for host in &self.hosts {
            for server in &host.servers {
                let origin = &self.origins[&server.origin()];
                install(server, origin);
            }
        }
        Farm {
            hosts: self.hosts,
            origins: self.origins,
        }
    }
}

fn install(server: &Server, origin: &Origin) {
    if origin.always_500 {
        server.fallback(Reply::text(500, "always failing"));
        return;
    }
    server.route("/robots.txt", Reply::ok(origin.robots_txt()));
    if !origin.tdmrep.is_empty() {
        let rules: Vec<String> = origin
            .tdmrep
            .iter()
            .map(|p| format!("{{\"location\":\"{p}*\",\"tdm-reservation\":1}}"))
            .collect();
        let json = format!("[{}]", rules.join(","));
        server.route(
            "/.well-known/tdmrep.json",
            Reply::ok(json).header("Content-Type", "application/json"),
        );
    }
    for (path, page) in &origin.pages {
        server.route(path, page.reply.clone());
    }
    for (path, sitemap) in &origin.sitemaps {
        server.route(path, sitemap.reply.clone());
    }
}

/// `http://ip:port/path?query` split into the base and the path with its query.
pub fn split(url: &str) -> (String, String) {
    let rest = url
        .strip_prefix("http://")
        .unwrap_or_else(|| panic!("farm URLs are http: {url}"));
    match rest.find('/') {
        Some(i) => (format!("http://{}", &rest[..i]), rest[i..].to_owned()),
        None => (url.to_owned(), "/".to_owned()),
    }
}

/// A running farm and its model.
pub struct Farm {
    /// Hosts with their servers.
    pub hosts: Vec<Host>,
    /// The model, by origin base URL.
    pub origins: BTreeMap<String, Origin>,
}

/// The crawl's configuration for a farm: politeness at `min_interval_ms`, loopback allowed,
/// one retry after a 1 s back-off, small caps.
pub fn config_toml(min_interval_ms: u64) -> String {
    format!(
        "[politeness]\nmin_interval_ms = {min_interval_ms}\nmax_retries = 1\nbackoff_s = 1\n\
         max_backoff_s = 2\n\n\
         [net]\nallow_private_addresses = true\nconnect_timeout_ms = 2000\n\
         read_timeout_ms = 5000\ntotal_timeout_ms = 20000\nmax_body_bytes = 67108864\n\
         retry_unreachable_s = 3600\n\n\
         [crawl]\nhonour_nofollow = true\nwarc_max_bytes = 1000000000\n\
         sitemap_max_urls = 50000\nsitemap_max_bytes = 52428800\nhost_max_errors = 5\n\
         checkpoint_every_ms = 200\n"
    )
}

/// A farm of `hosts` hosts, one origin each, `pages` linked pages per host: page `i` links
/// to `i+1`, `2i+1`, `2i+2` and back to `0`, so a walk from page 0 reaches them all; robots
/// allows everything; every page has an `ETag` and a `Last-Modified` unless `validators` is
/// false. Returns the farm (before [`FarmBuilder::build`]) and one seed per host.
pub fn grid(hosts: usize, pages: usize, validators: bool) -> (FarmBuilder, Vec<String>) {
    let mut builder = FarmBuilder::new(&vec![1; hosts]);
    let mut seeds = Vec::new();
    for h in 0..hosts {
        let base = builder.base(h, 0);
        let url = |i: usize| format!("{base}/p/{i}.html");
        for i in 0..pages {
            let mut html =
                Html::new(&format!("host {h} page {i}")).text(&format!("<p>grid {h}-{i}</p>"));
            for j in [i + 1, 2 * i + 1, 2 * i + 2, 0] {
                if j < pages && j != i {
                    html = html.a(&format!("/p/{j}.html"), &url(j));
                }
            }
            let mut page = Page::kept(html);
            if validators {
                page.reply = page
                    .reply
                    .header("ETag", &format!("\"v1-{h}-{i}\""))
                    .header("Last-Modified", "Tue, 01 Dec 2026 10:00:00 GMT");
            }
            builder.page(&url(i), page);
        }
        seeds.push(url(0));
    }
    (builder, seeds)
}
