//! What content is collected for. A reservation is judged for a purpose: robots.txt
//! `Allow`/`Disallow` applies to every purpose, other signals to the purposes they name.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The purpose a decision is made for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Purpose {
    /// Collecting training data for AI models (the default).
    TrainAi,
    /// Retrieval or grounding: content used as input to an AI model at inference time.
    AiInput,
    /// Building a search index.
    Search,
}

impl Purpose {
    /// Every purpose.
    pub const ALL: [Purpose; 3] = [Purpose::TrainAi, Purpose::AiInput, Purpose::Search];

    /// The stable name (`train-ai`, `ai-input`, `search`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Purpose::TrainAi => "train-ai",
            Purpose::AiInput => "ai-input",
            Purpose::Search => "search",
        }
    }
}

impl fmt::Display for Purpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A purpose name that is not one of [`Purpose::ALL`].
#[derive(Debug, thiserror::Error)]
#[error("unknown purpose {0:?} (expected train-ai, ai-input or search)")]
pub struct UnknownPurpose(String);

impl FromStr for Purpose {
    type Err = UnknownPurpose;

    fn from_str(s: &str) -> Result<Purpose, UnknownPurpose> {
        Purpose::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| UnknownPurpose(s.to_owned()))
    }
}
