//! The `[signals]` table: which reservation signals are read, and the lists they use.

use crate::{ConfigError, MAX_LIST_BYTES, read_bounded};
use optout_policy::crawlers::AiCrawlers;
use optout_policy::excluded::ExcludedDomains;
use std::path::{Path, PathBuf};

/// The `[signals]` table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signals {
    /// A disallow for a known AI-training crawler counts as an AI-training opt-out.
    pub ai_crawler_blocks: bool,
    /// The AI-crawler token list; `None` for the built-in one.
    pub ai_crawlers_file: Option<PathBuf>,
    /// The excluded-domains list; `None` for none.
    pub excluded_domains_file: Option<PathBuf>,
}

/// The lists named by `[signals]`, read and validated.
#[derive(Clone, Debug, Default)]
pub struct Lists {
    /// AI-training crawler tokens.
    pub ai_crawlers: AiCrawlers,
    /// Excluded domains.
    pub excluded: ExcludedDomains,
}

impl Signals {
    /// Reads the lists; `excluded_override` (a `--excluded-domains FILE` flag) replaces the
    /// configured excluded-domains file.
    pub fn load_lists(&self, excluded_override: Option<&Path>) -> Result<Lists, ConfigError> {
        let read = |path: &Path| read_bounded(path, MAX_LIST_BYTES, "list file");
        let ai_crawlers = match &self.ai_crawlers_file {
            Some(path) => AiCrawlers::parse(&read(path)?),
            None => AiCrawlers::default(),
        };
        let excluded = match excluded_override.or(self.excluded_domains_file.as_deref()) {
            Some(path) => ExcludedDomains::parse(&read(path)?).map_err(|e| {
                ConfigError::Invalid(format!("excluded domains {}: {e}", path.display()))
            })?,
            None => ExcludedDomains::default(),
        };
        Ok(Lists {
            ai_crawlers,
            excluded,
        })
    }
}
