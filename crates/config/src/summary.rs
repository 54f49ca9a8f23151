//! The `[summary]` table: what only a person can write in the public summary of training
//! content (AI Office template, C(2025) 5235, sections 2.3 and 3.1). optout computes what
//! the evidence log proves; these fields say what it cannot. An empty field is printed as
//! "to be completed", never filled in with invented text. `config/optout.toml` documents
//! each key.

use serde::Deserialize;

/// The modalities the template offers for "Type of modality covered:".
pub const MODALITIES: [&str; 5] = ["Text", "Image", "Video", "Audio", "Other"];

/// The longest prose field read, in bytes: a summary field is a few paragraphs.
pub const MAX_FIELD_BYTES: usize = 64 * 1024;

/// The `[summary]` table.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SummaryConfig {
    /// The provider's name, for the heading.
    pub provider: String,
    /// The model (or models) the summary is for.
    pub model: String,
    /// 3.1: "Are you a Signatory to the Code of Practice ...?" (unset: to be completed).
    pub signatory: Option<bool>,
    /// 2.3: "Purposes of the crawler(s):".
    pub purposes: String,
    /// 2.3: "General description of crawler behaviour:" (what the configuration and the log
    /// show is added below it).
    pub crawler_behaviour: String,
    /// 2.3: "Period of data collection:", when the log's own period is not the one to
    /// publish (for example when older crawls were logged elsewhere).
    pub period: String,
    /// 2.3: "Comprehensive description of the type of content and online sources crawled:".
    pub content_description: String,
    /// 2.3: "Type of modality covered:", each one of [`MODALITIES`].
    pub modalities: Vec<String>,
    /// 2.3: "Additional comments (optional):".
    pub comments_crawling: String,
    /// 3.1: the measures taken, in the provider's words (the protocols honoured and the
    /// refusals are computed and added).
    pub measures: String,
    /// 3.1: "Additional comments (optional):".
    pub comments_reservations: String,
}

impl SummaryConfig {
    /// Checks the modalities and the field sizes; the message names the key.
    pub fn validate(&self) -> Result<(), String> {
        for m in &self.modalities {
            if !MODALITIES.contains(&m.as_str()) {
                return Err(format!(
                    "summary.modalities: {m:?} is not one of {}",
                    MODALITIES.join(", ")
                ));
            }
        }
        for (key, value) in [
            ("provider", &self.provider),
            ("model", &self.model),
            ("purposes", &self.purposes),
            ("crawler_behaviour", &self.crawler_behaviour),
            ("period", &self.period),
            ("content_description", &self.content_description),
            ("comments_crawling", &self.comments_crawling),
            ("measures", &self.measures),
            ("comments_reservations", &self.comments_reservations),
        ] {
            if value.len() > MAX_FIELD_BYTES {
                return Err(format!(
                    "summary.{key} is longer than {MAX_FIELD_BYTES} bytes"
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modalities_are_the_templates() {
        let mut c = SummaryConfig {
            modalities: vec!["Text".into(), "Image".into()],
            ..SummaryConfig::default()
        };
        assert!(c.validate().is_ok());
        c.modalities.push("text".into());
        assert!(c.validate().unwrap_err().contains("summary.modalities"));
        let long = SummaryConfig {
            measures: "x".repeat(MAX_FIELD_BYTES + 1),
            ..SummaryConfig::default()
        };
        assert!(long.validate().unwrap_err().contains("summary.measures"));
    }
}
