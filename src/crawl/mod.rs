//! The crawler: a caller of the fetch pipeline ([`crate::fetcher`]) that discovers, queues,
//! archives and resumes.
//!
//! - [`frontier`]: what is left to fetch, per host, on disk, behind the [`frontier::Frontier`]
//!   trait;
//! - [`links`] and [`sitemap`]: discovery, from pages and from sitemaps;
//! - [`warc`]: the WARC/1.1 writer, its CDXJ index and the repair of a file cut mid-record.

pub mod frontier;
pub mod links;
pub mod sitemap;
pub mod warc;
