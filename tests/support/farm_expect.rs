//! The expected result of a crawl over the farm: a breadth-first walk over the model's kept
//! pages, honouring scope, filters, depth, robots.txt rules, reservations, nofollow and
//! sitemaps. This is the test's own reading of the rules, never optout's code.

use super::{Expect, Farm, Origin, Page, Requests, split};
use crate::server::Server;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// The scope of a crawl, as `--scope` says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// The seeds' hosts (IP literals here; every port of them).
    Host,
    /// Everything.
    Any,
}

/// What a crawl is asked to do, as far as the expected result depends on it.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The seeds.
    pub seeds: Vec<String>,
    /// `--scope`.
    pub scope: Scope,
    /// `--max-depth`.
    pub max_depth: Option<usize>,
    /// Sitemaps read (no `--no-sitemaps`).
    pub sitemaps: bool,
    /// `--include` patterns (a URL must match one, when there are any).
    pub include: Vec<regex::Regex>,
    /// `--exclude` patterns.
    pub exclude: Vec<regex::Regex>,
}

impl Plan {
    /// A crawl of `seeds` in host scope with sitemaps, no limits.
    pub fn new(seeds: &[String]) -> Plan {
        Plan {
            seeds: seeds.to_vec(),
            scope: Scope::Host,
            max_depth: None,
            sitemaps: true,
            include: Vec::new(),
            exclude: Vec::new(),
        }
    }
}

/// The expected result of a crawl, computed from the model.
#[derive(Debug, Default)]
pub struct Expected {
    /// Every URL found, with its depth, what must become of it, and how often its server may
    /// see it.
    pub found: BTreeMap<String, (usize, Expect, Requests)>,
    /// Origins the crawl must visit (policy files may be requested there).
    pub visited: BTreeSet<String>,
    /// Sitemap URLs the crawl must request, exactly once each.
    pub sitemaps: BTreeSet<String>,
}

impl Expected {
    /// The URLs that must be in the WARC.
    pub fn kept(&self) -> BTreeSet<String> {
        self.found
            .iter()
            .filter(|(_, (_, e, _))| *e == Expect::Kept)
            .map(|(u, _)| u.clone())
            .collect()
    }
}

impl Farm {
    /// The host part (`ip`) of a farm URL.
    pub fn host_of(url: &str) -> String {
        let (base, _) = split(url);
        let authority = &base["http://".len()..];
        authority.split(':').next().unwrap().to_owned()
    }

    /// The page at `url`, if the model has one.
    pub fn page(&self, url: &str) -> Option<&Page> {
        let (base, path) = split(url);
        self.origins.get(&base)?.pages.get(&path)
    }

    /// The expected result of `plan`: a breadth-first walk over kept pages.
    pub fn expect(&self, plan: &Plan) -> Expected {
        let seed_hosts: BTreeSet<String> = plan.seeds.iter().map(|s| Farm::host_of(s)).collect();
        let mut out = Expected::default();
        let mut queue: VecDeque<(String, usize)> =
            plan.seeds.iter().map(|s| (s.clone(), 0)).collect();
        let mut seen: BTreeSet<String> = plan.seeds.iter().cloned().collect();
        let mut nofollowed: BTreeMap<String, usize> = BTreeMap::new();
        let push =
            |url: &String, depth: usize, seen: &mut BTreeSet<String>, q: &mut VecDeque<_>| {
                if seen.insert(url.clone()) {
                    q.push_back((url.clone(), depth));
                }
            };
        while let Some((url, depth)) = queue.pop_front() {
            let skip =
                |code: &'static str| (depth, Expect::not_kept("skipped", code), Requests::Never);
            if plan.scope == Scope::Host && !seed_hosts.contains(&Farm::host_of(&url)) {
                out.found.insert(url, skip("crawl.out-of-scope"));
                continue;
            }
            let included = plan.include.is_empty() || plan.include.iter().any(|r| r.is_match(&url));
            if !included || plan.exclude.iter().any(|r| r.is_match(&url)) {
                out.found.insert(url, skip("crawl.excluded"));
                continue;
            }
            if plan.max_depth.is_some_and(|max| depth > max) {
                out.found.insert(url, skip("crawl.max-depth"));
                continue;
            }
            let (base, path) = split(&url);
            let origin = &self.origins[&base];
            if out.visited.insert(base.clone())
                && plan.sitemaps
                && !origin.refused
                && !origin.always_500
            {
                let mut docs: Vec<String> = origin.robots_sitemaps.clone();
                if origin.sitemaps.contains_key("/sitemap.xml") {
                    docs.push(format!("{base}/sitemap.xml"));
                }
                while let Some(doc) = docs.pop() {
                    if !out.sitemaps.insert(doc.clone()) {
                        continue;
                    }
                    let (doc_base, doc_path) = split(&doc);
                    let sitemap = &self.origins[&doc_base].sitemaps[&doc_path];
                    docs.extend(sitemap.children.iter().cloned());
                    for listed in &sitemap.urls {
                        push(listed, 1, &mut seen, &mut queue);
                    }
                }
            }
            out.found
                .insert(url.clone(), self.judge_found(origin, &path, depth));
            let Some(page) = origin.pages.get(&path) else {
                continue;
            };
            if !matches!(out.found[&url].2, Requests::Between(..)) {
                continue;
            }
            match &page.expect {
                Expect::Kept => {
                    for link in &page.links {
                        push(link, depth + 1, &mut seen, &mut queue);
                    }
                    nofollowed.extend(page.nofollow.iter().map(|u| (u.clone(), depth + 1)));
                }
                Expect::Redirect(to) => push(to, depth, &mut seen, &mut queue),
                Expect::NotKept { .. } => {}
            }
        }
        for (url, depth) in nofollowed {
            out.found.entry(url).or_insert((
                depth,
                Expect::not_kept("skipped", "crawl.nofollow"),
                Requests::Never,
            ));
        }
        out
    }

    /// What becomes of `path` of `origin` when it is found in scope at `depth`.
    fn judge_found(&self, origin: &Origin, path: &str, depth: usize) -> (usize, Expect, Requests) {
        const DOWN: Expect = Expect::NotKept {
            verdicts: &["refused", "failed", "skipped"],
            codes: &[
                "robots.unreachable",
                "fetch.",
                "crawl.host-gave-up",
                "politeness.",
            ],
        };
        if origin.refused || origin.always_500 {
            return (depth, DOWN, Requests::Never);
        }
        let under = |prefixes: &[String]| prefixes.iter().any(|p| path.starts_with(p.as_str()));
        if under(&origin.disallow) {
            return (
                depth,
                Expect::not_kept("refused", "robots.disallow"),
                Requests::Never,
            );
        }
        if under(&origin.content_signal) {
            return (
                depth,
                Expect::not_kept("refused", "content-signal."),
                Requests::Never,
            );
        }
        if under(&origin.tdmrep) {
            return (
                depth,
                Expect::not_kept("refused", "tdmrep.reserved"),
                Requests::Never,
            );
        }
        match origin.pages.get(path) {
            Some(page) => (depth, page.expect.clone(), page.requests),
            None => panic!(
                "the model links to {}{path}, which has no page",
                origin.base
            ),
        }
    }

    /// Every server of host `ip`, with the origin it serves.
    pub fn servers_of(&self, host: usize) -> &[Server] {
        &self.hosts[host].servers
    }

    /// The server of origin `base`, if one listens.
    pub fn server(&self, base: &str) -> Option<&Server> {
        self.hosts
            .iter()
            .flat_map(|h| h.servers.iter())
            .find(|s| s.origin() == base)
    }

    /// Requests that reached the farm so far.
    pub fn total_requests(&self) -> usize {
        self.hosts
            .iter()
            .flat_map(|h| h.servers.iter())
            .map(Server::total)
            .sum()
    }

    /// Forgets every server's request log.
    pub fn clear_logs(&self) {
        for server in self.hosts.iter().flat_map(|h| h.servers.iter()) {
            server.clear_log();
        }
    }
}
