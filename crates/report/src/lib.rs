//! Compliance output from the evidence log alone: `optout report` (totals by verdict,
//! reason and protocol, decisions over time, per-domain figures, as JSON, Markdown or one
//! self-contained HTML file) and `optout report --eu-summary` (sections 2.3 and 3.1 of the
//! AI Office's template for the public summary of training content, C(2025) 5235).
//! `docs/report.md` says what each figure means.
//!
//! - [`figures`]: one pass over the records `optout log export` gives, every count.
//! - [`protocol`]: the protocol and role of every reason code.
//! - [`domain`]: the registrable domain a record counts under.
//! - [`render`], [`tables`], [`chart`], [`escape`]: writing the report.
//! - [`eu_summary`], [`eu_render`], [`template`], [`summary_config`]: the EU summary.
//! - [`crawler_info`]: `optout crawler-info`, the crawler's public page, its IP ranges and
//!   the Atom feed of changes and checkpoints.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod chart;
pub mod crawler_info;
pub mod domain;
pub mod escape;
pub mod eu_render;
pub mod eu_summary;
pub mod figures;
pub mod protocol;
pub mod render;
pub use optout_config::summary as summary_config;
pub mod audit;
pub mod tables;
pub mod template;

pub use eu_summary::Cut;
pub use figures::{Figures, compute};
