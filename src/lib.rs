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
//! Dependencies point inward: `cli` uses `config` and `policy`; `policy` uses nothing else of
//! ours.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod cli;
pub mod config;
pub mod evidence;
pub mod policy;
pub mod store;
