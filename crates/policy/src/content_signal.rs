//! Cloudflare Content Signals (draft-romm-aipref-contentsignals-00): `Content-Signal:
//! search=yes, ai-train=no, ai-input=no` inside a robots.txt group, optionally after a path.
//!
//! Values are read leniently, as deployed: comma-separated `key=value` pairs, keys and values
//! case-insensitive, `yes`/`no` (also `y`/`n`). Anything else leaves that signal unknown.

use crate::pref::Pref;

/// The signals one line gives.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ContentSignals {
    /// `search`.
    pub search: Pref,
    /// `ai-input`: retrieval, grounding.
    pub ai_input: Pref,
    /// `ai-train`: training or fine-tuning.
    pub ai_train: Pref,
}

impl ContentSignals {
    /// Parses one `Content-Signal` value (without its path).
    pub fn parse(value: &str) -> ContentSignals {
        let mut signals = ContentSignals::default();
        for part in value.split([',', ';']) {
            let Some((key, val)) = part.split_once('=') else {
                continue;
            };
            let pref = match val.trim().to_ascii_lowercase().as_str() {
                "yes" | "y" => Pref::Allow,
                "no" | "n" => Pref::Disallow,
                _ => Pref::Unknown,
            };
            let slot = match key.trim().to_ascii_lowercase().as_str() {
                "search" => &mut signals.search,
                "ai-input" => &mut signals.ai_input,
                "ai-train" => &mut signals.ai_train,
                _ => continue,
            };
            *slot = slot.most_restrictive(pref);
        }
        signals
    }

    /// Combines two lines to the most restrictive.
    pub fn combine(self, other: ContentSignals) -> ContentSignals {
        ContentSignals {
            search: self.search.most_restrictive(other.search),
            ai_input: self.ai_input.most_restrictive(other.ai_input),
            ai_train: self.ai_train.most_restrictive(other.ai_train),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contentsignals_example_line() {
        let s = ContentSignals::parse("search=yes, ai-train=no, ai-input=no");
        assert_eq!(s.search, Pref::Allow);
        assert_eq!(s.ai_train, Pref::Disallow);
        assert_eq!(s.ai_input, Pref::Disallow);
    }

    #[test]
    fn unknown_values_and_keys_are_unknown() {
        let s = ContentSignals::parse("ai-train=maybe, foo=no, garbage");
        assert_eq!(s, ContentSignals::default());
        assert_eq!(
            ContentSignals::parse("AI-Train = NO").ai_train,
            Pref::Disallow
        );
    }
}
