//! Pure policy: bytes in, [`Decision`] out. No I/O, no async, nothing else of ours.
//!
//! The reason codes a decision can carry are documented in `docs/decisions.md`.

pub mod decision;
pub mod purpose;
pub mod robots;
pub mod target;

pub use decision::{Code, Decision, Reason, Verdict};
pub use purpose::Purpose;
pub use robots::RobotsTxt;
pub use target::parse_url;
