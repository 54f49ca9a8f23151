//! Pure policy: bytes in, [`Decision`] out. No I/O, no async, nothing else of ours.
//!
//! - [`robots`]: RFC 9309 robots.txt, compiled once, decided many times.
//! - Reservations beyond Allow/Disallow, each judged for a [`Purpose`]: [`tdmrep`],
//!   [`aipref`] (`Content-Usage`), [`content_signal`], [`tags`] (`noai`), [`robots_tag`] (the `Robots-Tag` header), [`aitxt`],
//!   AI-crawler blocks ([`crawlers`]) and [`excluded`] domains.
//! - [`site`] bundles what one origin's files say; [`judge`] turns it, and what a response
//!   says, into one decision.
//!
//! The reason codes a decision can carry are documented in `docs/decisions.md`.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod aipref;
pub mod aitxt;
pub mod content_signal;
pub mod crawlers;
pub mod decision;
pub mod excluded;
pub mod html;
pub mod judge;
pub mod path_rules;
pub mod pref;
pub mod purpose;
pub mod robots;
pub mod robots_tag;
pub mod site;
pub mod tags;
pub mod target;
pub mod tdmrep;

pub use decision::{Code, Decision, Reason, Verdict};
pub use purpose::Purpose;
pub use robots::RobotsTxt;
pub use target::parse_url;
