//! Auditing decisions after the fact: [`replay`] re-decides evidence records from their
//! snapshots with today's engine ([`site`] rebuilds what their sources stood for).
//!
//! Layering: above `policy`, `net::compile` and `evidence`, which it only calls; nothing
//! below depends on it.

pub mod replay;
pub mod site;

pub use replay::{Deciding, Replayed, Replayer, Tally};
