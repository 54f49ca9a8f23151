//! [`optout_engine`], and opening an engine on a store directory.
//!
//! The engine takes a store whatever its backend ([`Engine::open_with`]); choosing the
//! backend from what the user gave is the binary's and the facade's business, so that no
//! library crate names sled.

pub use optout_engine::*;

use crate::config::Config;
use crate::store::{Sled, Store};
use std::path::Path;

/// [`Engine::open`]: an engine on the sled store in a directory.
pub trait OpenEngine: Sized {
    /// Opens the store at `store` (taking its lock) and builds the client, the policy cache
    /// and, when recording, the evidence log and the fetcher ([`Engine::open_with`]).
    /// Without a store nothing is recorded and the policy cache is in memory only.
    fn open(
        config: &Config,
        store: Option<&Path>,
        options: EngineOptions,
    ) -> Result<Self, EngineError>;
}

impl OpenEngine for Engine {
    fn open(
        config: &Config,
        store: Option<&Path>,
        options: EngineOptions,
    ) -> Result<Engine, EngineError> {
        Engine::open_with(config, options, || store.map(Store::open).transpose())
    }
}
