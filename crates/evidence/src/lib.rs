//! The evidence log: one record per decision, hash-chained, with the exact bytes of every
//! policy file used stored once as a snapshot. Anyone can verify it, from the store or from
//! an export, without optout (`docs/evidence.md`).
//!
//! Modelled on Certificate Transparency logs (RFC 9162): append-only, and every entry's hash
//! covers the one before, so a change, removal or reordering shows.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod backend;
mod bound;
pub mod bundle;
pub mod canonical;
pub mod checkpoint;
mod encode;
pub mod export;
pub mod log;
pub mod reason_json;
pub mod record;
pub mod show;
pub mod verify;

pub use backend::{Backend, Store, StoreError};
pub use checkpoint::{Checkpoint, NotACheckpoint, checkpoint};
pub use log::{Appended, Durability, EvidenceLog, Head};
pub use record::{Record, SourceRef};
pub use verify::{Broken, Verified, verify_export, verify_store};
