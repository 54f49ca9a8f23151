//! optout: the fetch layer under AI training-data crawlers. It answers *may this agent fetch
//! this URL, for this purpose?*, explains every answer, and (in later layers) enforces it.
//!
//! # Layout
//!
//! Pure decisions in the middle, I/O at the edges, one pipeline that every caller shares.
//! Dependencies point inward.
//!
//! - [`policy`]: pure decisions. Bytes in, [`policy::Decision`] out. No I/O, no async, nothing
//!   else of ours. [`policy::robots`] is RFC 9309 robots.txt; [`policy::tdmrep`],
//!   [`policy::aipref`], [`policy::content_signal`], [`policy::tags`], [`policy::aitxt`],
//!   [`policy::crawlers`] and [`policy::excluded`] are the other reservations;
//!   [`policy::html`] reads a page's meta tags; [`policy::judge`] turns them all into one
//!   decision for a [`policy::Purpose`].
//! - [`evidence`]: records ([`evidence::record`]), their canonical bytes
//!   ([`evidence::canonical`]), the hash-chained log ([`evidence::log`]),
//!   [`evidence::verify`] and [`evidence::export`], and the interface a store's backend
//!   implements ([`evidence::backend`]).
//! - [`store`]: the embedded sled store, that backend: `Store::open(dir)` with
//!   [`store::Sled`] in scope; how records sit in sled values ([`evidence::block`]).
//! - [`config`]: the validated configuration (`config/optout.toml` documents the defaults).
//! - [`net`]: the network edge: the HTTP client ([`net::client`]), the private-address guard
//!   ([`net::guard`]), per-host politeness ([`net::politeness`]), and each origin's live
//!   policy files ([`net::sources`], fetched by [`net::follow`], classified by
//!   [`net::outcome`] and [`net::known`], compiled by [`net::compile`]; [`net::clock`] is
//!   their clock).
//! - [`engine`]: the one entry point for deciding on many URLs, online
//!   ([`engine::Engine::check_many`]) or on given files ([`engine::Engine::evaluate`]),
//!   shared by `optout check`, the Python package and `optout serve`.
//! - [`fetcher`]: the pipeline, pre-check → wait → fetch → re-check → record, over `net` and
//!   `policy`, recording into `evidence`.
//! - [`crawl`]: `optout crawl`, a caller of the pipeline: the frontier ([`crawl::frontier`],
//!   per-host queues on disk behind a trait), discovery ([`crawl::links`],
//!   [`crawl::sitemap`]), the loop ([`crawl::run`]), WARC/1.1 and CDXJ ([`crawl::warc`]), the
//!   skip report, checkpoints and resume.
//! - `middleware` (feature `reqwest-middleware`): the pipeline as a `reqwest-middleware`
//!   layer.
//! - [`report`]: compliance output from the configuration and the evidence log:
//!   `optout report`, the EU public summary (`--eu-summary`), and the crawler page with its
//!   IP ranges and Atom feed ([`report::crawler_info`]).
//! - [`audit`]: replay, re-deciding evidence records from their snapshots with today's
//!   engine (over `policy`, `net::compile` and `evidence`); the auditor's bundle itself is
//!   [`evidence::bundle`].
//! - [`serve`]: `optout serve`, the engine as an HTTP service (checks, fetches, evidence,
//!   metrics) for many workers in any language.
//! - [`cli`]: one module per subcommand ([`cli::check`], [`cli::fetch`], [`cli::crawl`],
//!   [`cli::log`], [`cli::report`], [`cli::crawler_info`]), thin over the library.
//!
//! # Example
//!
//! ```
//! use optout::policy::{RobotsTxt, parse_url};
//!
//! let robots = RobotsTxt::parse(b"User-agent: *\nDisallow: /private/\n");
//! let url = parse_url("https://example.com/private/report.pdf").unwrap();
//! let decision = robots.allowed("MyCrawler", &url);
//! assert!(!decision.is_allowed());
//! assert_eq!(
//!     decision.reasons[0].to_string(),
//!     r#"robots.disallow [robots.txt] line 2 "/private/" (user-agent: *)"#
//! );
//! ```
//!
#![forbid(unsafe_code)]
#![warn(missing_docs)]

// The library is the workspace's crates (docs/architecture.md); these re-exports keep the
// paths `optout::policy::RobotsTxt` and the like that users and tests have always written.
pub use optout_config as config;
pub use optout_crawl as crawl;
pub mod engine;
pub use optout_fetch as fetcher;
#[cfg(feature = "reqwest-middleware")]
pub use optout_fetch::middleware;
pub use optout_net as net;
pub use optout_policy as policy;
pub use optout_report as report;
pub use optout_report::audit;
pub use optout_serve as serve;
pub use optout_sled as store;

/// [`optout_evidence`], and the sled store's block layout under its old path.
pub mod evidence {
    pub use optout_evidence::*;
    pub use optout_sled::block::{self, BLOCK, BLOCK_BYTES};
}

pub mod cli;
