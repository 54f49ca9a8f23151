//! The network edge: one HTTP client, the private-address guard, and the live policy
//! sources of every origin with their cache.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod client;
pub mod clock;
pub mod compile;
pub mod follow;
pub mod guard;
pub mod known;
pub mod outcome;
pub mod politeness;
pub mod sources;

pub use client::{FetchError, Head, HttpClient};
pub use clock::{Clock, ManualClock, SystemClock};
pub use compile::OriginPolicy;
pub use politeness::{Backoff, Blocked, Politeness};
pub use sources::PolicySources;
