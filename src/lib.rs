//! optout: the fetch layer under AI training-data crawlers. It answers *may this agent fetch
//! this URL, for this purpose?*, explains every answer, and (in later layers) enforces it.
//!
//! # Layout
//! - [`policy`]: pure decisions. Bytes in, [`policy::Decision`] out. No I/O, no async.
//!   [`policy::robots`] is RFC 9309 robots.txt.
//! - [`store`]: the embedded sled store; bytes and keys.
//! - [`evidence`]: records, snapshots, the hash chain, verification and export.
//! - [`config`]: the validated configuration (`config/optout.toml` documents the defaults).
//! - [`cli`]: one module per subcommand, thin over the library.
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
//! Dependencies point inward: `cli` uses `config` and `policy`; `policy` uses nothing else of
//! ours.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod cli;
pub mod config;
pub mod evidence;
pub mod fetcher;
#[cfg(feature = "reqwest-middleware")]
pub mod middleware;
pub mod net;
pub mod policy;
pub mod store;
