//! The `[politeness]` table: per-host pacing of fetches, and what counts as one host.

use serde::Deserialize;

/// What a per-host politeness key is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HostKey {
    /// The URL's host name: what a site owner sees as one site.
    Host,
    /// The registrable domain (`a.example.co.uk` and `b.example.co.uk` are one).
    Domain,
    /// The first address the host name resolves to (shared hosting counts as one).
    Ip,
}

/// The `[politeness]` table; defaults as in `config/optout.toml` (a test keeps them equal).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Politeness {
    /// Pace requests at all (off only for benchmarks and your own servers).
    pub enabled: bool,
    /// The least time between two requests to one host, in milliseconds.
    pub min_interval_ms: u64,
    /// Per-host overrides of `min_interval_ms` (host name → milliseconds).
    pub hosts: std::collections::BTreeMap<String, u64>,
    /// The longest robots.txt `Crawl-delay` honoured, in seconds; a site asking for more is
    /// skipped (and the record says so), never fetched faster than it asked.
    pub max_crawl_delay_s: u64,
    /// Requests in flight to one host at once.
    pub in_flight_per_host: usize,
    /// Requests in flight at once, over all hosts.
    pub max_in_flight: usize,
    /// What counts as one host.
    pub key: HostKey,
    /// Seconds after which an idle host's pacing state is forgotten.
    pub idle_forget_s: u64,
    /// Tries again after a 429 or 503, each after backing off.
    pub max_retries: u32,
    /// Seconds to back off after a 429/503 without `Retry-After`, doubling each time.
    pub backoff_s: u64,
    /// The longest back-off honoured, in seconds; a longer `Retry-After` gives up on the URL.
    pub max_backoff_s: u64,
    /// Hosts paced at intervals shorter than this (milliseconds) are woken within about
    /// 0.1 ms of their slot instead of tokio's 1 ms, at some CPU per request; 0 never.
    pub precise_below_ms: u64,
}

impl Default for Politeness {
    fn default() -> Politeness {
        Politeness {
            enabled: true,
            min_interval_ms: 1000,
            hosts: Default::default(),
            max_crawl_delay_s: 60,
            in_flight_per_host: 1,
            max_in_flight: 256,
            key: HostKey::Host,
            idle_forget_s: 300,
            max_retries: 2,
            backoff_s: 5,
            max_backoff_s: 600,
            precise_below_ms: 250,
        }
    }
}
