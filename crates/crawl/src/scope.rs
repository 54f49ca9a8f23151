//! What a crawl may queue: its scope (the seeds' hosts, their registrable domains, or any
//! host), the operator's `--include` / `--exclude` patterns, and the depth limit. A URL
//! outside is counted and reported, never requested.

use crate::frontier::queue_host;
use regex::Regex;
use std::collections::HashSet;
use url::Url;

/// How far from its seeds a crawl may go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScopeKind {
    /// The seeds' hosts (ports of a host included).
    Host,
    /// The seeds' registrable domains (`www.example.com` and `blog.example.com` are one),
    /// per the Public Suffix List.
    Domain,
    /// Any host.
    Any,
}

/// Why a URL is not queued: the skip report's code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Skip {
    /// `crawl.out-of-scope`: another host or domain than the seeds'.
    OutOfScope,
    /// `crawl.excluded`: it matches an `--exclude`, or none of the `--include` patterns.
    Excluded,
    /// `crawl.max-depth`: more links from a seed than `--max-depth`.
    MaxDepth,
}

impl Skip {
    /// The stable code (`docs/decisions.md`).
    pub fn code(self) -> &'static str {
        match self {
            Skip::OutOfScope => "crawl.out-of-scope",
            Skip::Excluded => "crawl.excluded",
            Skip::MaxDepth => "crawl.max-depth",
        }
    }
}

/// The scope of one crawl.
#[derive(Clone, Debug)]
pub struct Scope {
    kind: ScopeKind,
    hosts: HashSet<String>,
    include: Vec<Regex>,
    exclude: Vec<Regex>,
    max_depth: Option<u32>,
}

/// The registrable domain of a host, or the host itself (an address, a name with no
/// public suffix).
fn domain(host: &str) -> String {
    if host.parse::<std::net::IpAddr>().is_ok() || host.starts_with('[') {
        return host.to_owned();
    }
    psl::domain_str(host).unwrap_or(host).to_owned()
}

impl Scope {
    /// The scope of seeds `seeds`; patterns match the whole URL as found.
    pub fn new(
        kind: ScopeKind,
        seeds: &[Url],
        include: Vec<Regex>,
        exclude: Vec<Regex>,
        max_depth: Option<u32>,
    ) -> Scope {
        let hosts = seeds
            .iter()
            .filter_map(queue_host)
            .map(|h| match kind {
                ScopeKind::Domain => domain(&h),
                _ => h,
            })
            .collect();
        Scope {
            kind,
            hosts,
            include,
            exclude,
            max_depth,
        }
    }

    /// Whether URLs `depth` links from a seed may be queued at all (`--max-depth`).
    pub fn admits_depth(&self, depth: u32) -> bool {
        self.max_depth.is_none_or(|max| depth <= max)
    }

    /// Whether `url`, `depth` links from a seed, may be queued. Seeds are always in scope
    /// of their own host, but patterns and depth apply to them too.
    pub fn admit(&self, url: &Url, depth: u32) -> Result<(), Skip> {
        if self.max_depth.is_some_and(|max| depth > max) {
            return Err(Skip::MaxDepth);
        }
        let host = queue_host(url).ok_or(Skip::OutOfScope)?;
        let inside = match self.kind {
            ScopeKind::Any => true,
            ScopeKind::Host => self.hosts.contains(&host),
            ScopeKind::Domain => self.hosts.contains(&domain(&host)),
        };
        if !inside {
            return Err(Skip::OutOfScope);
        }
        let text = url.as_str();
        if self.exclude.iter().any(|r| r.is_match(text))
            || (!self.include.is_empty() && !self.include.iter().any(|r| r.is_match(text)))
        {
            return Err(Skip::Excluded);
        }
        Ok(())
    }

    /// Adds the host of a seed given later (a resumed crawl's seeds are its first ones).
    pub fn add_seed(&mut self, url: &Url) {
        if let Some(h) = queue_host(url) {
            let h = match self.kind {
                ScopeKind::Domain => domain(&h),
                _ => h,
            };
            self.hosts.insert(h);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn host_scope_keeps_the_seed_hosts_on_any_port() {
        let scope = Scope::new(
            ScopeKind::Host,
            &[url("http://127.0.0.2:8080/")],
            vec![],
            vec![],
            None,
        );
        assert_eq!(scope.admit(&url("http://127.0.0.2:9/x"), 3), Ok(()));
        assert_eq!(
            scope.admit(&url("http://127.0.0.3:8080/"), 1),
            Err(Skip::OutOfScope)
        );
    }

    #[test]
    fn domain_scope_follows_the_public_suffix_list() {
        let seeds = [url("https://www.example.co.uk/")];
        let scope = Scope::new(ScopeKind::Domain, &seeds, vec![], vec![], None);
        assert_eq!(scope.admit(&url("https://blog.example.co.uk/a"), 1), Ok(()));
        assert_eq!(
            scope.admit(&url("https://other.co.uk/"), 1),
            Err(Skip::OutOfScope)
        );
    }

    #[test]
    fn patterns_and_depth() {
        let include = vec![Regex::new("/docs/").unwrap()];
        let exclude = vec![Regex::new(r"\.pdf$").unwrap()];
        let seeds = [url("http://a.example/")];
        let scope = Scope::new(ScopeKind::Any, &seeds, include, exclude, Some(2));
        assert_eq!(scope.admit(&url("http://b.example/docs/x"), 2), Ok(()));
        assert_eq!(
            scope.admit(&url("http://b.example/docs/x.pdf"), 1),
            Err(Skip::Excluded)
        );
        assert_eq!(
            scope.admit(&url("http://b.example/blog"), 1),
            Err(Skip::Excluded)
        );
        assert_eq!(
            scope.admit(&url("http://b.example/docs/y"), 3),
            Err(Skip::MaxDepth)
        );
    }
}
