//! The configuration: read from TOML, validated before anything runs.
//!
//! `config/optout.toml` documents every key and is embedded in the binary as the defaults,
//! so the defaults and their documentation cannot drift apart.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

use optout_evidence::Durability;
use optout_policy::Purpose;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

mod crawl;
mod crawler;
mod error;
mod fetch;
mod net;
mod politeness;
mod signals;

pub use crawl::Crawl;
pub use crawler::{Crawler, validate_product_token};
use error::syntax_message;
pub use error::{ConfigError, read_bounded};
pub use fetch::Fetch;
pub use net::Net;
pub use politeness::{HostKey, Politeness};
pub use signals::{Lists, Signals};

/// The documented default configuration, as shipped in `config/optout.toml`.
pub const DEFAULT_TOML: &str = include_str!("../../../config/optout.toml");

/// RFC 9309 §2.5: "The parsing limit MUST be at least 500 kibibytes".
pub const MIN_ROBOTS_PARSE_LIMIT: usize = 500 * 1024;

/// The most bytes of a config file read: a config is a few kilobytes, and `--config
/// /dev/zero` must fail at once rather than fill the memory.
pub const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

/// The `[crawler_info]` table: the crawler page (`optout crawler-info`).
pub mod crawler_info;
/// The `[summary]` table: the provider's text for the EU public summary.
pub mod summary;

/// The most bytes of a list file (`signals.ai_crawlers_file`, `signals.excluded_domains_file`,
/// `--excluded-domains`) read: a million domains fit many times over.
pub const MAX_LIST_BYTES: u64 = 64 * 1024 * 1024;

/// The largest value each duration and count key takes. Past these, time arithmetic would
/// overflow (`Instant + Duration`, a rate limiter's nanoseconds) or a pool would not fit in
/// memory; no sensible deployment comes near them. `config/optout.toml` documents each.
pub mod max {
    /// One minute: `evidence.flush_every_ms` (records wait at most this long for the disk).
    pub const FLUSH_EVERY_MS: u64 = 60_000;
    /// `evidence.flush_records`.
    pub const FLUSH_RECORDS: u64 = 1_000_000;
    /// One hour: `net.connect_timeout_ms`, `net.read_timeout_ms`, `net.total_timeout_ms`.
    pub const TIMEOUT_MS: u64 = 3_600_000;
    /// 1 GiB: `net.max_body_bytes` (a body is held in memory).
    pub const BODY_BYTES: u64 = 1024 * 1024 * 1024;
    /// `net.cache_entries`.
    pub const CACHE_ENTRIES: u64 = 10_000_000;
    /// 64 GiB: `net.cache_bytes`.
    pub const CACHE_BYTES: u64 = 64 * 1024 * 1024 * 1024;
    /// One day: `net.retry_unreachable_s`, `net.retry_unreachable_max_s` (RFC 9309 §2.4 caps
    /// a cached file at 24 hours anyway).
    pub const RETRY_S: u64 = 86_400;
    /// `net.check_concurrency`.
    pub const CHECK_CONCURRENCY: u64 = 4096;
    /// 64 MiB: `limits.robots_parse_limit` (RFC 9309 §2.5 asks for at least 500 KiB).
    pub const ROBOTS_PARSE_LIMIT: u64 = 64 * 1024 * 1024;
    /// One day: `politeness.min_interval_ms` and each `politeness.hosts` value.
    pub const INTERVAL_MS: u64 = 86_400_000;
    /// One day: `politeness.max_crawl_delay_s`, `politeness.idle_forget_s`,
    /// `politeness.backoff_s`, `politeness.max_backoff_s`.
    pub const POLITENESS_S: u64 = 86_400;
    /// `politeness.in_flight_per_host`.
    pub const IN_FLIGHT_PER_HOST: u64 = 1024;
    /// `politeness.max_in_flight`.
    pub const MAX_IN_FLIGHT: u64 = 65_536;
    /// `politeness.max_retries`.
    pub const RETRIES: u64 = 100;
    /// One minute: `politeness.precise_below_ms`.
    pub const PRECISE_BELOW_MS: u64 = 60_000;
    /// `fetch.max_redirects`.
    pub const REDIRECTS: u64 = 100;
}

/// A validated configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Who the crawler is and what it collects for.
    pub crawler: Crawler,
    /// Size limits.
    pub limits: Limits,
    /// Which reservation signals are read, and the lists they use.
    pub signals: Signals,
    /// How the evidence log is made durable.
    pub evidence: Durability,
    /// The network edge: timeouts, caps, the policy-source cache.
    pub net: Net,
    /// Per-host pacing of fetches.
    pub politeness: Politeness,
    /// What the fetch pipeline does with responses.
    pub fetch: Fetch,
    /// How `optout crawl` discovers, archives and checkpoints.
    pub crawl: Crawl,
    /// What a person writes in the EU public summary (`optout report --eu-summary`).
    pub summary: crate::summary::SummaryConfig,
    /// What `optout crawler-info` publishes about the crawler.
    pub crawler_info: crate::crawler_info::Settings,
}

/// The `[limits]` table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of a robots.txt that are parsed.
    pub robots_parse_limit: usize,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    crawler: RawCrawler,
    #[serde(default)]
    limits: RawLimits,
    #[serde(default)]
    signals: RawSignals,
    #[serde(default)]
    evidence: RawEvidence,
    #[serde(default)]
    net: Option<Net>,
    #[serde(default)]
    politeness: Option<Politeness>,
    #[serde(default)]
    fetch: Option<Fetch>,
    crawl: Option<Crawl>,
    summary: Option<crate::summary::SummaryConfig>,
    crawler_info: Option<crate::crawler_info::Settings>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawEvidence {
    flush_every_ms: Option<u64>,
    flush_records: Option<u64>,
    flush_per_record: Option<bool>,
}

impl RawEvidence {
    fn apply(&self, d: &mut Durability) {
        if let Some(ms) = self.flush_every_ms {
            d.flush_every = Duration::from_millis(ms);
        }
        if let Some(n) = self.flush_records {
            d.flush_records = n;
        }
        if let Some(p) = self.flush_per_record {
            d.per_record = p;
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawSignals {
    ai_crawler_blocks: Option<bool>,
    ai_crawlers_file: Option<PathBuf>,
    excluded_domains_file: Option<PathBuf>,
}

/// An empty path in the TOML means "none".
fn non_empty(path: Option<PathBuf>) -> Option<PathBuf> {
    path.filter(|p| !p.as_os_str().is_empty())
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawCrawler {
    product_token: Option<String>,
    contact_url: Option<String>,
    purpose: Option<Purpose>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    robots_parse_limit: Option<usize>,
}

impl Default for Config {
    /// The values of `config/optout.toml`.
    fn default() -> Config {
        let raw: RawConfig = toml::from_str(DEFAULT_TOML)
            .expect("config/optout.toml is valid (checked by the config tests)");
        Config {
            crawler: Crawler {
                product_token: raw.crawler.product_token.unwrap_or_default(),
                contact_url: raw.crawler.contact_url.unwrap_or_default(),
                purpose: raw.crawler.purpose.unwrap_or(Purpose::TrainAi),
            },
            limits: Limits {
                robots_parse_limit: raw.limits.robots_parse_limit.unwrap_or_default(),
            },
            signals: Signals {
                ai_crawler_blocks: raw.signals.ai_crawler_blocks.unwrap_or(true),
                ai_crawlers_file: non_empty(raw.signals.ai_crawlers_file),
                excluded_domains_file: non_empty(raw.signals.excluded_domains_file),
            },
            evidence: {
                let mut d = Durability::default();
                raw.evidence.apply(&mut d);
                d
            },
            net: raw.net.unwrap_or_default(),
            politeness: raw.politeness.unwrap_or_default(),
            fetch: raw.fetch.unwrap_or_default(),
            crawl: raw.crawl.unwrap_or_default(),
            summary: raw.summary.unwrap_or_default(),
            crawler_info: raw.crawler_info.unwrap_or_default(),
        }
    }
}

impl Config {
    /// Loads `path` over the defaults, or the defaults alone when `path` is `None`.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let Some(path) = path else {
            return Ok(Config::default());
        };
        let text = read_bounded(path, MAX_CONFIG_BYTES, "config file")?;
        Config::from_toml(&text).map_err(|e| match e {
            ConfigError::Syntax { message, .. } => ConfigError::Syntax {
                path: path.to_owned(),
                message,
            },
            other => other,
        })
    }

    /// Parses TOML text over the defaults and validates the result.
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Syntax {
            path: PathBuf::from("<text>"),
            message: syntax_message(text, &e),
        })?;
        let mut config = Config::default();
        if let Some(token) = raw.crawler.product_token {
            config.crawler.product_token = token;
        }
        if let Some(url) = raw.crawler.contact_url {
            config.crawler.contact_url = url;
        }
        if let Some(purpose) = raw.crawler.purpose {
            config.crawler.purpose = purpose;
        }
        if let Some(limit) = raw.limits.robots_parse_limit {
            config.limits.robots_parse_limit = limit;
        }
        raw.evidence.apply(&mut config.evidence);
        if let Some(net) = raw.net {
            config.net = net;
        }
        if let Some(politeness) = raw.politeness {
            config.politeness = politeness;
        }
        if let Some(crawl) = raw.crawl {
            config.crawl = crawl;
        }
        if let Some(fetch) = raw.fetch {
            config.fetch = fetch;
        }
        if let Some(summary) = raw.summary {
            config.summary = summary;
        }
        if let Some(crawler_info) = raw.crawler_info {
            config.crawler_info = crawler_info;
        }
        if let Some(on) = raw.signals.ai_crawler_blocks {
            config.signals.ai_crawler_blocks = on;
        }
        if raw.signals.ai_crawlers_file.is_some() {
            config.signals.ai_crawlers_file = non_empty(raw.signals.ai_crawlers_file);
        }
        if raw.signals.excluded_domains_file.is_some() {
            config.signals.excluded_domains_file = non_empty(raw.signals.excluded_domains_file);
        }
        config.validate()?;
        Ok(config)
    }

    /// Checks every value; called by [`Config::from_toml`].
    pub fn validate(&self) -> Result<(), ConfigError> {
        // Maxima first: a value over its maximum is named as such, not as out of order with
        // another key.
        self.within_maxima()?;
        validate_product_token(&self.crawler.product_token).map_err(ConfigError::Invalid)?;
        self.summary.validate().map_err(ConfigError::Invalid)?;
        if self.evidence.flush_every.is_zero() || self.evidence.flush_records == 0 {
            return Err(ConfigError::Invalid(
                "evidence.flush_every_ms and evidence.flush_records must be at least 1".into(),
            ));
        }
        let net = &self.net;
        if net.connect_timeout_ms == 0 || net.read_timeout_ms == 0 || net.total_timeout_ms == 0 {
            return Err(ConfigError::Invalid(
                "net timeouts must be at least 1 ms (a request without a timeout can hang forever)"
                    .into(),
            ));
        }
        if net.check_concurrency == 0 || net.cache_entries == 0 || net.max_body_bytes == 0 {
            return Err(ConfigError::Invalid(
                "net.check_concurrency, net.cache_entries and net.max_body_bytes must be at least 1"
                    .into(),
            ));
        }
        if net.retry_unreachable_s == 0 || net.retry_unreachable_max_s < net.retry_unreachable_s {
            return Err(ConfigError::Invalid(
                "net.retry_unreachable_s must be at least 1 and at most net.retry_unreachable_max_s"
                    .into(),
            ));
        }
        let p = &self.politeness;
        if p.in_flight_per_host == 0 || p.max_in_flight == 0 {
            return Err(ConfigError::Invalid(
                "politeness.in_flight_per_host and politeness.max_in_flight must be at least 1"
                    .into(),
            ));
        }
        if p.backoff_s == 0 || p.max_backoff_s < p.backoff_s {
            return Err(ConfigError::Invalid(
                "politeness.backoff_s must be at least 1 and at most politeness.max_backoff_s"
                    .into(),
            ));
        }
        let c = &self.crawl;
        if c.host_max_errors == 0
            || c.sitemap_max_urls == 0
            || c.sitemap_max_bytes == 0
            || c.max_links_per_page == 0
            || !(1..=max::INTERVAL_MS).contains(&c.checkpoint_every_ms)
            || c.warc_max_bytes < 1024
        {
            return Err(ConfigError::Invalid(
                "crawl.host_max_errors, crawl.sitemap_max_urls, crawl.sitemap_max_bytes and crawl.max_links_per_page must be at least 1, crawl.checkpoint_every_ms 1 to 86400000, crawl.warc_max_bytes at least 1024"
                    .into(),
            ));
        }
        if self.limits.robots_parse_limit < MIN_ROBOTS_PARSE_LIMIT {
            return Err(ConfigError::Invalid(format!(
                "limits.robots_parse_limit is {} bytes; RFC 9309 §2.5 requires at least {}",
                self.limits.robots_parse_limit, MIN_ROBOTS_PARSE_LIMIT
            )));
        }
        self.crawler_info.validate()?;
        Ok(())
    }

    /// Every duration and count against its maximum ([`max`]), in the order of the file.
    fn within_maxima(&self) -> Result<(), ConfigError> {
        let (e, n, p) = (&self.evidence, &self.net, &self.politeness);
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        let size = |v: usize| u64::try_from(v).unwrap_or(u64::MAX);
        let limits: [(&str, u64, u64); 22] = [
            (
                "limits.robots_parse_limit",
                size(self.limits.robots_parse_limit),
                max::ROBOTS_PARSE_LIMIT,
            ),
            (
                "evidence.flush_every_ms",
                ms(e.flush_every),
                max::FLUSH_EVERY_MS,
            ),
            (
                "evidence.flush_records",
                e.flush_records,
                max::FLUSH_RECORDS,
            ),
            (
                "net.connect_timeout_ms",
                n.connect_timeout_ms,
                max::TIMEOUT_MS,
            ),
            ("net.read_timeout_ms", n.read_timeout_ms, max::TIMEOUT_MS),
            ("net.total_timeout_ms", n.total_timeout_ms, max::TIMEOUT_MS),
            (
                "net.max_body_bytes",
                size(n.max_body_bytes),
                max::BODY_BYTES,
            ),
            (
                "net.cache_entries",
                size(n.cache_entries),
                max::CACHE_ENTRIES,
            ),
            ("net.cache_bytes", size(n.cache_bytes), max::CACHE_BYTES),
            (
                "net.retry_unreachable_s",
                n.retry_unreachable_s,
                max::RETRY_S,
            ),
            (
                "net.retry_unreachable_max_s",
                n.retry_unreachable_max_s,
                max::RETRY_S,
            ),
            (
                "net.check_concurrency",
                size(n.check_concurrency),
                max::CHECK_CONCURRENCY,
            ),
            (
                "politeness.min_interval_ms",
                p.min_interval_ms,
                max::INTERVAL_MS,
            ),
            (
                "politeness.max_crawl_delay_s",
                p.max_crawl_delay_s,
                max::POLITENESS_S,
            ),
            (
                "politeness.in_flight_per_host",
                size(p.in_flight_per_host),
                max::IN_FLIGHT_PER_HOST,
            ),
            (
                "politeness.max_in_flight",
                size(p.max_in_flight),
                max::MAX_IN_FLIGHT,
            ),
            (
                "politeness.idle_forget_s",
                p.idle_forget_s,
                max::POLITENESS_S,
            ),
            (
                "politeness.max_retries",
                u64::from(p.max_retries),
                max::RETRIES,
            ),
            ("politeness.backoff_s", p.backoff_s, max::POLITENESS_S),
            (
                "politeness.max_backoff_s",
                p.max_backoff_s,
                max::POLITENESS_S,
            ),
            (
                "politeness.precise_below_ms",
                p.precise_below_ms,
                max::PRECISE_BELOW_MS,
            ),
            (
                "fetch.max_redirects",
                size(self.fetch.max_redirects),
                max::REDIRECTS,
            ),
        ];
        let hosts = p
            .hosts
            .iter()
            .map(|(host, ms)| (format!("politeness.hosts.{host:?}"), *ms, max::INTERVAL_MS));
        let fixed = limits
            .into_iter()
            .map(|(key, value, max)| (key.to_owned(), value, max));
        match fixed.chain(hosts).find(|(_, value, max)| value > max) {
            Some((key, value, max)) => Err(ConfigError::OverMaximum { key, value, max }),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_file_is_the_default_and_valid() {
        let parsed = Config::from_toml(DEFAULT_TOML).unwrap();
        assert_eq!(parsed, Config::default());
        assert_eq!(parsed.crawler.product_token, "optout");
        assert_eq!(parsed.limits.robots_parse_limit, 512 * 1024);
        assert_eq!(parsed.crawler.purpose, Purpose::TrainAi);
        // The [net] table is read with serde defaults: those must be the shipped values.
        let raw: RawConfig = toml::from_str(DEFAULT_TOML).unwrap();
        assert_eq!(raw.net, Some(Net::default()));
        assert_eq!(raw.politeness, Some(Politeness::default()));
        assert_eq!(raw.fetch, Some(Fetch::default()));
    }

    #[test]
    fn net_section_overrides_and_validates() {
        let config = Config::from_toml("[net]\nallow_private_addresses = true\n").unwrap();
        assert!(config.net.allow_private_addresses);
        assert_eq!(config.net.read_timeout_ms, Net::default().read_timeout_ms);
        assert!(Config::from_toml("[net]\nread_timeout_ms = 0\n").is_err());
        assert!(Config::from_toml("[net]\nbogus = 1\n").is_err());
    }

    #[test]
    fn empty_file_means_defaults() {
        assert_eq!(Config::from_toml("").unwrap(), Config::default());
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let err = Config::from_toml("[crawler]\nproduct_tokn = \"x\"\n").unwrap_err();
        assert!(err.to_string().contains("product_tokn"), "{err}");
    }

    #[test]
    fn rfc9309_parse_limit_below_500_kib_is_rejected() {
        let err = Config::from_toml("[limits]\nrobots_parse_limit = 1000\n").unwrap_err();
        assert!(err.to_string().contains("at least 512000"), "{err}");
    }

    #[test]
    fn rfc9309_product_token_characters() {
        assert!(validate_product_token("Google-Extended").is_ok());
        assert!(validate_product_token("my_bot").is_ok());
        assert!(validate_product_token("bot2").is_err());
        assert!(validate_product_token("Foo Bar").is_err());
        assert!(validate_product_token("").is_err());
    }

    #[test]
    fn lists_from_config_files_replace_the_built_in_ones() {
        let dir = tempfile::tempdir().unwrap();
        let crawlers = dir.path().join("crawlers.txt");
        std::fs::write(&crawlers, "# mine\nMyTrainingBot\n").unwrap();
        let excluded = dir.path().join("excluded.txt");
        std::fs::write(&excluded, "pirate.example\n").unwrap();
        let toml = format!(
            "[signals]\nai_crawlers_file = {:?}\nexcluded_domains_file = {:?}\nai_crawler_blocks = false\n",
            crawlers, excluded
        );
        let config = Config::from_toml(&toml).unwrap();
        assert!(!config.signals.ai_crawler_blocks);
        let lists = config.signals.load_lists(None).unwrap();
        assert_eq!(lists.ai_crawlers.len(), 1);
        assert!(lists.excluded.reason_for("www.pirate.example").is_some());
        let defaults = Config::default().signals.load_lists(None).unwrap();
        assert!(defaults.ai_crawlers.len() > 50);
        assert!(defaults.excluded.is_empty());
        let missing = Config::from_toml("[signals]\nexcluded_domains_file = \"/nonexistent\"\n")
            .unwrap()
            .signals
            .load_lists(None);
        assert!(missing.is_err());
    }

    /// Each maximum is documented in the shipped file, and a value over it is one line
    /// naming the key, the value and the maximum.
    #[test]
    fn maxima_are_documented_and_enforced() {
        let doc = DEFAULT_TOML.replace(['\n', '#'], " ");
        let over = [
            ("limits", "robots_parse_limit", max::ROBOTS_PARSE_LIMIT),
            ("evidence", "flush_every_ms", max::FLUSH_EVERY_MS),
            ("evidence", "flush_records", max::FLUSH_RECORDS),
            ("net", "total_timeout_ms", max::TIMEOUT_MS),
            ("net", "max_body_bytes", max::BODY_BYTES),
            ("net", "cache_entries", max::CACHE_ENTRIES),
            ("net", "cache_bytes", max::CACHE_BYTES),
            ("net", "retry_unreachable_max_s", max::RETRY_S),
            ("net", "check_concurrency", max::CHECK_CONCURRENCY),
            ("politeness", "min_interval_ms", max::INTERVAL_MS),
            ("politeness", "max_crawl_delay_s", max::POLITENESS_S),
            ("politeness", "in_flight_per_host", max::IN_FLIGHT_PER_HOST),
            ("politeness", "max_in_flight", max::MAX_IN_FLIGHT),
            ("politeness", "max_retries", max::RETRIES),
            ("politeness", "precise_below_ms", max::PRECISE_BELOW_MS),
            ("fetch", "max_redirects", max::REDIRECTS),
        ];
        for (table, key, max) in over {
            assert!(
                doc.contains(&max.to_string()),
                "{table}.{key}: {max} undocumented"
            );
            let at = Config::from_toml(&format!("[{table}]\n{key} = {max}\n"));
            if let Err(e) = at {
                // Only a relation with another key may refuse a value at its maximum.
                assert!(!matches!(e, ConfigError::OverMaximum { .. }), "{e}");
            }
            let err = Config::from_toml(&format!("[{table}]\n{key} = {}\n", max + 1)).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!(
                    "invalid config: {table}.{key} = {} is over its maximum of {max}",
                    max + 1
                )
            );
        }
        let err = Config::from_toml("[politeness.hosts]\n\"a.example\" = 86400001\n").unwrap_err();
        assert!(
            err.to_string()
                .contains("politeness.hosts.\"a.example\" = 86400001"),
            "{err}"
        );
    }

    #[test]
    fn files_are_read_up_to_their_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, "abcd").unwrap();
        assert_eq!(read_bounded(&path, 4, "list file").unwrap(), "abcd");
        let err = read_bounded(&path, 3, "list file").unwrap_err();
        assert!(
            matches!(err, ConfigError::TooLarge { limit: 3, .. }),
            "{err}"
        );
        let err = read_bounded(dir.path(), 3, "config file").unwrap_err();
        assert!(matches!(err, ConfigError::Directory { .. }), "{err}");
        let err = read_bounded(Path::new("/dev/zero"), 1024, "config file").unwrap_err();
        assert!(matches!(err, ConfigError::TooLarge { .. }), "{err}");
    }

    #[test]
    fn bad_purpose_is_rejected() {
        assert!(Config::from_toml("[crawler]\npurpose = \"spam\"\n").is_err());
    }
}
